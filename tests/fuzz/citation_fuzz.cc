// Fuzz target: the citation parser, provision labels and Chinese numerals on
// arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "guidance-svc/citation/citation_parser.h"
#include "guidance-svc/citation/numerals.h"
#include "guidance-svc/statute/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<counsel::guidance::StatuteNames> kNames = {
      {"psap", {"中华人民共和国治安管理处罚法", "治安管理处罚法", "治安处罚法"}},
      {"pipl", {"中华人民共和国个人信息保护法", "个人信息保护法", "个保法"}},
      {"criminal", {"中华人民共和国刑法", "刑法"}}};
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& c : counsel::guidance::ParseCitations(text, kNames, "pipl")) {
    // Spans must lie inside the text and name what they claim.
    if (c.start < 0 || c.end < c.start) __builtin_trap();
    if (c.article > 0 && counsel::guidance::ToChineseNumeral(c.article).empty()) __builtin_trap();
  }
  // A label that reads as one provision writes back to the same one.
  if (auto ref = counsel::guidance::ParseProvisionLabel(text)) {
    auto again = counsel::guidance::ParseProvisionLabel(counsel::guidance::CitationLabel(*ref, 2));
    if (!again || again->article != ref->article || again->article_suffix != ref->article_suffix ||
        again->paragraph != ref->paragraph || again->item != ref->item ||
        again->subitem != ref->subitem) {
      __builtin_trap();
    }
    // In an article of one paragraph the label leaves 第一款 out.
    auto single = counsel::guidance::ParseProvisionLabel(counsel::guidance::CitationLabel(*ref, 1));
    if (!single || single->article != ref->article || single->paragraph != 0 ||
        single->item != ref->item) {
      __builtin_trap();
    }
  }
  if (auto n = counsel::guidance::ParseChineseNumeral(text)) {
    if (*n < 1 || *n > counsel::guidance::kMaxNumeral) __builtin_trap();
  }
  return 0;
}
