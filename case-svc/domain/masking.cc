#include "case-svc/domain/masking.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace counsel::cases {
namespace {

// UTF-8 code points of `s` as separate strings.
std::vector<std::string> CodePoints(absl::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    len = std::min(len, s.size() - i);
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

std::string MaskPhone(absl::string_view e164) {
  absl::string_view national = e164;
  if (absl::ConsumePrefix(&national, "+86") && national.size() == 11) {
    return absl::StrCat(national.substr(0, 3), "****", national.substr(7));
  }
  if (e164.size() <= 4) return std::string(e164.size(), '*');
  return absl::StrCat(std::string(e164.size() - 4, '*'), e164.substr(e164.size() - 4));
}

std::string MaskNationalId(absl::string_view id) {
  if (id.size() != 18) return std::string(id.size(), '*');
  return absl::StrCat(id.substr(0, 6), "********", id.substr(14));
}

std::string MaskName(absl::string_view name) {
  const std::vector<std::string> cps = CodePoints(name);
  if (cps.empty()) return "";
  std::string out = cps[0];
  for (size_t i = 1; i < cps.size(); ++i) out += "*";
  return out;
}

std::string MaskEmail(absl::string_view email) {
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || at == 0) return std::string(email.size(), '*');
  return absl::StrCat(email.substr(0, 1), "***", email.substr(at));
}

std::string MaskTail(absl::string_view value) {
  const std::vector<std::string> cps = CodePoints(value);
  if (cps.size() <= 4) return std::string(cps.size(), '*');
  std::string out(cps.size() - 4, '*');
  for (size_t i = cps.size() - 4; i < cps.size(); ++i) out += cps[i];
  return out;
}

void MaskClient(v1::Client& client) {
  client.set_display_name(MaskName(client.display_name()));
  if (!client.phone().empty()) client.set_phone(MaskPhone(client.phone()));
  if (!client.email().empty()) client.set_email(MaskEmail(client.email()));
  if (!client.national_id().empty()) client.set_national_id(MaskNationalId(client.national_id()));
  client.set_masked(true);
}

}  // namespace counsel::cases
