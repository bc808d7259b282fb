#include "gateway/http/download.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"

namespace counsel::gateway {
namespace {

bool Digits(absl::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 15) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(s, out);
}

}  // namespace

std::optional<ByteRange> ParseRange(absl::string_view header) {
  absl::string_view v = absl::StripAsciiWhitespace(header);
  if (!absl::ConsumePrefix(&v, "bytes=")) return std::nullopt;
  v = absl::StripAsciiWhitespace(v);
  if (v.find(',') != absl::string_view::npos) return std::nullopt;
  const size_t dash = v.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  const absl::string_view a = v.substr(0, dash), b = v.substr(dash + 1);
  ByteRange r;
  if (a.empty()) {
    if (!Digits(b, &r.suffix) || r.suffix == 0) return std::nullopt;
    return r;
  }
  if (!Digits(a, &r.first)) return std::nullopt;
  if (b.empty()) return r;
  if (!Digits(b, &r.last) || r.last < r.first) return std::nullopt;
  return r;
}

std::string AttachmentDisposition(absl::string_view filename) {
  if (filename.empty()) filename = "attachment";
  std::string ascii, encoded;
  for (unsigned char c : filename) {
    const bool plain = absl::ascii_isalnum(c) || absl::string_view("-._~").find(c) !=
                                                     absl::string_view::npos;
    ascii.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? static_cast<char>(c) : '_');
    if (plain) {
      encoded.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&encoded, "%", absl::AsciiStrToUpper(absl::BytesToHexString(
                                         absl::string_view(reinterpret_cast<char*>(&c), 1))));
    }
  }
  return absl::StrCat("attachment; filename=\"", ascii, "\"; filename*=UTF-8''", encoded);
}

std::string ReprDigest(absl::string_view hex_sha256) {
  std::string raw;
  if (hex_sha256.size() != 64 || !crypto::HexDecode(hex_sha256, &raw)) return "";
  return absl::StrCat("sha-256=:", crypto::Base64Encode(raw), ":");
}

}  // namespace counsel::gateway
