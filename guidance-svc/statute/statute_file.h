// The import format of one statute version (docs/content-format.md): header
// lines `key: value`, one empty line, then the statute text as published,
// in LawRefBook-style Markdown (`##` chapters, `###` sections, one paragraph
// a line, articles starting with 第X条).
//
//   ASSIGN_OR_RETURN(ParsedStatuteVersion v,
//                    ParseStatuteFile(content, "治安管理处罚法(2012).md"));
//   v.articles[41].label() == "第四十二条"
#ifndef COUNSEL_GUIDANCE_STATUTE_STATUTE_FILE_H_
#define COUNSEL_GUIDANCE_STATUTE_STATUTE_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "counsel/guidance/v1/guidance.pb.h"

namespace counsel::guidance {

struct ParsedStatuteVersion {
  // Statute-level fields: name, title, short_title, aliases, issuing_body.
  v1::Statute statute;
  // Version fields; status is left for the catalogue to compute.
  v1::StatuteVersion version;
  // Articles in order, with paragraphs and items as children; wids are left
  // empty unless the file maps them (`wid_map`).
  std::vector<v1::Provision> articles;
  // Explicit wId assignments from the header: eid → wid.
  std::vector<std::pair<std::string, std::string>> wid_map;
  // `wid_parts: listed`: a paragraph or item continues an earlier one only
  // when wid_map lists it (matched by text); otherwise the parts of a mapped
  // article follow it by position.
  bool wid_parts_listed = false;
  // Merges and splits from the header: article eid → wid of an earlier
  // provision whose content it also took over.
  std::vector<std::pair<std::string, std::string>> also_continues;
};

// Parses one file. Errors are InvalidArgument naming `source_name` and the
// line, e.g. "x.md:12: unknown header key 'titel'".
absl::StatusOr<ParsedStatuteVersion> ParseStatuteFile(absl::string_view content,
                                                      absl::string_view source_name);

// The articles of `parsed` with every wid set: an article's from wid_map
// or `{version_id}/{eid}`; a part's from wid_map, else (wid_parts listed)
// `{version_id}/{eid}`, else its article's wid plus its own suffix; and each
// article's also_continues from the header. Pure: every store assigns wids
// through it.
std::vector<v1::Provision> ArticlesWithWids(const ParsedStatuteVersion& parsed);

// eid of an article number and its 之N suffix: (42, 0) → "art_42",
// (253, 1) → "art_253-1".
std::string ArticleEid(int number, int suffix);

// Statute slug check: [a-z0-9-]{1,63}, starting with a letter.
bool IsValidSlug(absl::string_view id);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STATUTE_STATUTE_FILE_H_
