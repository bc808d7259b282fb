#include "common/locale.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace counsel {
namespace {

// Written-Chinese ranges as one tag: the content is zh-CN (simplified).
std::string Canonical(std::string tag) {
  tag = absl::AsciiStrToLower(tag);
  if (tag == "zh" || tag == "zh-hans" || tag == "zh-cn" || tag == "zh-sg" ||
      absl::StartsWith(tag, "zh-hans-") || absl::StartsWith(tag, "zh-cn-")) {
    return "zh-cn";
  }
  return tag;
}

}  // namespace

std::string MatchLocale(absl::string_view requested, const std::vector<std::string>& available) {
  struct Range {
    std::string tag;
    double q;
    size_t order;
  };
  std::vector<Range> ranges;
  for (absl::string_view part : absl::StrSplit(requested, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields = absl::StrSplit(part, ';');
    Range r{std::string(absl::StripAsciiWhitespace(fields[0])), 1.0, ranges.size()};
    for (size_t i = 1; i < fields.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(fields[i]);
      if (absl::ConsumePrefix(&p, "q=") && !absl::SimpleAtod(p, &r.q)) r.q = 0;
    }
    if (r.tag.empty() || r.tag.size() > 35 || r.q <= 0) continue;
    ranges.push_back(std::move(r));
  }
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const Range& a, const Range& b) { return a.q > b.q; });
  for (const Range& r : ranges) {
    std::string tag = Canonical(r.tag);
    if (tag == "*") return "";
    while (!tag.empty()) {
      for (const std::string& a : available) {
        if (Canonical(a) == tag) return a;
      }
      const size_t dash = tag.rfind('-');
      if (dash == std::string::npos) break;
      tag.resize(dash);
      // A single-letter subtag (an extension's singleton) goes with what follows.
      if (tag.size() >= 2 && tag[tag.size() - 2] == '-') tag.resize(tag.size() - 2);
    }
  }
  return "";
}

}  // namespace counsel
