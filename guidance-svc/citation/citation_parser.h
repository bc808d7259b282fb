// Finds statute citations in free Chinese text:
//   《中华人民共和国治安管理处罚法》第四十二条第六项
//   治安管理处罚法第42条、第四十三条          (the second inherits the statute)
//   本法第十条第二款                          (本法: the last named statute)
//   《刑法》第二百五十三条之一第一款
// Positions are in Unicode code points.
#ifndef COUNSEL_GUIDANCE_CITATION_CITATION_PARSER_H_
#define COUNSEL_GUIDANCE_CITATION_CITATION_PARSER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace counsel::guidance {

// The names a statute may be cited by.
struct StatuteNames {
  std::string statute_id;
  std::vector<std::string> names;  // title, short title, aliases
};

struct RawCitation {
  int start = 0;
  int end = 0;
  std::string text;
  // The statute cited; empty when none was named or inherited.
  std::string statute_id;
  // A 《title》 that names no known statute.
  std::string unknown_title;
  int article = 0;
  int article_suffix = 0;  // 之N
  int paragraph = 0;       // 款
  int item = 0;            // 项
  int subitem = 0;         // 目
};

// Parses every citation of an article (第X条) in `text`. A bare 第X条 and
// 本法 take the last statute named before them, or `default_statute_id`.
std::vector<RawCitation> ParseCitations(absl::string_view text,
                                        const std::vector<StatuteNames>& statutes,
                                        absl::string_view default_statute_id);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_CITATION_CITATION_PARSER_H_
