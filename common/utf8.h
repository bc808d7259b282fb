// UTF-8: one decoder for the whole project, with one rule for invalid input.
//
//   size_t i = 0;
//   char32_t cp;
//   while (i < s.size()) {
//     if (!utf8::Next(s, &i, &cp)) { ... }  // s[i-1] was not valid UTF-8
//   }
//
// Rule: a byte that does not start a well-formed sequence (truncated,
// overlong, a surrogate, beyond U+10FFFF) is invalid on its own; decoding
// resumes at the next byte. `Sanitize` replaces each such byte by U+FFFD.
#ifndef COUNSEL_COMMON_UTF8_H_
#define COUNSEL_COMMON_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace counsel::utf8 {

// Decodes the code point at `*pos` into `*cp` and advances `*pos` past it.
// On invalid input advances one byte, sets `*cp` to U+FFFD and returns false.
// REQUIRES: *pos < s.size().
bool Next(absl::string_view s, size_t* pos, char32_t* cp);

// Whether all of `s` is valid UTF-8.
bool IsValid(absl::string_view s);

// `s` with every invalid byte replaced by U+FFFD.
std::string Sanitize(absl::string_view s);

// The number of code points (an invalid byte counts as one).
size_t Length(absl::string_view s);

// Appends the UTF-8 encoding of `cp`.
void Append(char32_t cp, std::string* out);

// Characters that must never reach a name or a log raw: C0 and C1 controls
// and DEL, and the bidirectional embeddings, overrides and isolates
// (U+202A–U+202E, U+2066–U+2069) that make text display in another order
// than it is stored. `allow_newline_tab` keeps \n and \t (free text).
bool IsForbiddenControl(char32_t cp, bool allow_newline_tab);

}  // namespace counsel::utf8

#endif  // COUNSEL_COMMON_UTF8_H_
