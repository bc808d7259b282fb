#include "guidance-svc/diff/char_diff.h"

#include <algorithm>
#include <cstdint>

#include "common/utf8.h"

namespace counsel::guidance {

// The project's one UTF-8 decoder (common/utf8.h): an invalid byte is one
// U+FFFD.
std::vector<char32_t> DecodeUtf8(absl::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  char32_t cp;
  while (i < s.size()) {
    utf8::Next(s, &i, &cp);
    out.push_back(cp);
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) { utf8::Append(cp, out); }

char32_t FoldWidth(char32_t c) {
  if (c >= 0xFF01 && c <= 0xFF5E) return c - 0xFF01 + 0x21;  // full-width ASCII
  if (c == 0x3000) return 0x20;                              // ideographic space
  return c;
}

namespace {

bool Eq(char32_t a, char32_t b, const DiffOptions& o) {
  return a == b || (!o.strict_punctuation && FoldWidth(a) == FoldWidth(b));
}

void Push(std::vector<DiffOp>& ops, DiffOp::Kind kind, char32_t cp) {
  if (ops.empty() || ops.back().kind != kind) ops.push_back({kind, ""});
  AppendUtf8(cp, &ops.back().text);
}

}  // namespace

bool TextsEqual(absl::string_view a, absl::string_view b, const DiffOptions& options) {
  const auto x = DecodeUtf8(a), y = DecodeUtf8(b);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!Eq(x[i], y[i], options)) return false;
  }
  return true;
}

std::vector<DiffOp> CharDiff(absl::string_view from, absl::string_view to,
                             const DiffOptions& options) {
  const auto a = DecodeUtf8(from), b = DecodeUtf8(to);
  // Common prefix and suffix first: amendments are usually local.
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && Eq(a[pre], b[pre], options)) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         Eq(a[a.size() - 1 - suf], b[b.size() - 1 - suf], options)) {
    ++suf;
  }
  std::vector<DiffOp> ops;
  for (size_t i = 0; i < pre; ++i) Push(ops, DiffOp::kEqual, b[i]);
  const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  // LCS over the middle; an article is at most a few thousand characters,
  // and past a size bound the middle is reported as one replacement.
  constexpr size_t kMaxCells = 16u << 20;
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= kMaxCells) {
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        at(i, j) = Eq(a[pre + i], b[pre + j], options) ? at(i + 1, j + 1) + 1
                                                        : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    size_t i = 0, j = 0;
    while (i < n && j < m) {
      if (Eq(a[pre + i], b[pre + j], options)) {
        Push(ops, DiffOp::kEqual, b[pre + j]);
        ++i;
        ++j;
      } else if (at(i + 1, j) >= at(i, j + 1)) {
        Push(ops, DiffOp::kDelete, a[pre + i++]);
      } else {
        Push(ops, DiffOp::kInsert, b[pre + j++]);
      }
    }
    while (i < n) Push(ops, DiffOp::kDelete, a[pre + i++]);
    while (j < m) Push(ops, DiffOp::kInsert, b[pre + j++]);
  } else {
    for (size_t i = 0; i < n; ++i) Push(ops, DiffOp::kDelete, a[pre + i]);
    for (size_t j = 0; j < m; ++j) Push(ops, DiffOp::kInsert, b[pre + j]);
  }
  for (size_t k = b.size() - suf; k < b.size(); ++k) Push(ops, DiffOp::kEqual, b[k]);
  return ops;
}

}  // namespace counsel::guidance
