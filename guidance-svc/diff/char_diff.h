// Character-level diff for Chinese text (code points, not bytes), with an
// option to treat full-width and half-width punctuation (，/, ；/; （/( …)
// as equal.
//
//   auto ops = CharDiff("处五百元以下罚款", "处一千元以下罚款", {});
//   // EQUAL 处, DELETE 五百, INSERT 一千, EQUAL 元以下罚款
#ifndef COUNSEL_GUIDANCE_DIFF_CHAR_DIFF_H_
#define COUNSEL_GUIDANCE_DIFF_CHAR_DIFF_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace counsel::guidance {

struct DiffOp {
  enum Kind { kEqual, kInsert, kDelete } kind;
  std::string text;
};

struct DiffOptions {
  // When false, punctuation differing only in width compares equal (EQUAL
  // segments then carry the newer text).
  bool strict_punctuation = false;
};

std::vector<DiffOp> CharDiff(absl::string_view from, absl::string_view to,
                             const DiffOptions& options);

// True when the texts are equal under `options`.
bool TextsEqual(absl::string_view a, absl::string_view b, const DiffOptions& options);

// Splits UTF-8 into code points (invalid bytes become U+FFFD).
std::vector<char32_t> DecodeUtf8(absl::string_view s);
void AppendUtf8(char32_t cp, std::string* out);

// The half-width form of full-width ASCII punctuation and of the ideographic
// space; other code points unchanged.
char32_t FoldWidth(char32_t c);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_DIFF_CHAR_DIFF_H_
