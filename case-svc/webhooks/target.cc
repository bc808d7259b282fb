#include "case-svc/webhooks/target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace counsel::cases::webhooks {
namespace {

constexpr size_t kMaxUrlBytes = 2048;

struct Range {
  std::array<uint8_t, 16> prefix;
  int bits;
  AddressClass cls;
};

bool InPrefix(const uint8_t* addr, const uint8_t* prefix, int bits) {
  for (int i = 0; i < bits / 8; ++i) {
    if (addr[i] != prefix[i]) return false;
  }
  if (bits % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return (addr[bits / 8] & mask) == (prefix[bits / 8] & mask);
}

AddressClass ClassifyV4(const uint8_t* a) {
  // Most specific first: the Alibaba Cloud metadata address lies inside the
  // shared range 100.64.0.0/10.
  static const Range kRanges[] = {
      {{100, 100, 100, 200}, 32, AddressClass::kForbidden},  // Alibaba Cloud metadata
      {{192, 0, 0, 192}, 32, AddressClass::kForbidden},      // Oracle Cloud metadata
      {{0}, 8, AddressClass::kForbidden},                     // "this network"
      {{169, 254}, 16, AddressClass::kForbidden},             // link-local, cloud metadata
      {{224}, 4, AddressClass::kForbidden},                   // multicast
      {{240}, 4, AddressClass::kForbidden},                   // reserved, broadcast
      {{10}, 8, AddressClass::kPrivate},
      {{127}, 8, AddressClass::kPrivate},
      {{172, 16}, 12, AddressClass::kPrivate},
      {{192, 168}, 16, AddressClass::kPrivate},
      {{100, 64}, 10, AddressClass::kPrivate},                // shared (CGNAT)
      {{192, 0, 0}, 24, AddressClass::kPrivate},              // IETF protocol assignments
      {{192, 0, 2}, 24, AddressClass::kPrivate},              // documentation
      {{198, 18}, 15, AddressClass::kPrivate},                // benchmarking
      {{198, 51, 100}, 24, AddressClass::kPrivate},           // documentation
      {{203, 0, 113}, 24, AddressClass::kPrivate},            // documentation
  };
  for (const Range& r : kRanges) {
    if (InPrefix(a, r.prefix.data(), r.bits)) return r.cls;
  }
  return AddressClass::kPublic;
}

AddressClass ClassifyV6(const uint8_t* a) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t kTranslated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};  // SIIT
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t kLocalNat64[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};  // 64:ff9b:1::/48
  if (InPrefix(a, kMapped, 96) || InPrefix(a, kTranslated, 96) || InPrefix(a, kNat64, 96)) {
    return ClassifyV4(a + 12);
  }
  if (InPrefix(a, kLocalNat64, 48)) {
    // Where the IPv4 address sits depends on the prefix length chosen
    // locally: at least private, forbidden if the usual place says so.
    const AddressClass inner = ClassifyV4(a + 12);
    return inner == AddressClass::kForbidden ? inner : AddressClass::kPrivate;
  }
  static const Range kRanges[] = {
      {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128,
       AddressClass::kForbidden},                                     // AWS metadata
      {{0xfd, 0x20, 0x00, 0xce, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128,
       AddressClass::kForbidden},                                     // Google Cloud metadata
      {{0}, 128, AddressClass::kForbidden},                           // unspecified
      {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, AddressClass::kPrivate},  // ::1
      {{0}, 96, AddressClass::kForbidden},                            // IPv4-compatible (deprecated)
      {{0xfe, 0x80}, 10, AddressClass::kForbidden},                   // link-local
      {{0xfe, 0xc0}, 10, AddressClass::kForbidden},                   // site-local (deprecated)
      {{0xff}, 8, AddressClass::kForbidden},                          // multicast
      {{0xfc}, 7, AddressClass::kPrivate},                            // unique local
      {{0x20, 0x01, 0x0d, 0xb8}, 32, AddressClass::kPrivate},         // documentation
      {{0x20, 0x01, 0, 0}, 32, AddressClass::kPrivate},               // Teredo
      {{0x20, 0x02}, 16, AddressClass::kPrivate},                     // 6to4 (embeds any IPv4)
      {{0x01, 0, 0, 0, 0, 0, 0, 0}, 64, AddressClass::kForbidden},    // discard
  };
  for (const Range& r : kRanges) {
    if (InPrefix(a, r.prefix.data(), r.bits)) return r.cls;
  }
  return AddressClass::kPublic;
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

// A host name whose last label is numeric would be read as an IPv4 address
// in some other form (`2130706433`, `0x7f.1`, `127.1`) by resolvers and
// browsers; only the dotted-quad form is accepted, as a literal.
bool LooksNumeric(absl::string_view host) {
  absl::string_view h = absl::StripSuffix(host, ".");
  const size_t dot = h.rfind('.');
  absl::string_view last = dot == absl::string_view::npos ? h : h.substr(dot + 1);
  if (last.empty()) return false;
  if (absl::StartsWithIgnoreCase(last, "0x")) return true;
  for (char c : last) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(family, bytes.data(), buf, sizeof(buf));
  return buf;
}

bool ParseIpAddress(absl::string_view text, IpAddress* out) {
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
  } else {
    return false;
  }
  *out = a;
  return true;
}

bool FromSockaddr(const sockaddr* sa, IpAddress* out) {
  IpAddress a;
  if (sa->sa_family == AF_INET) {
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
  } else {
    return false;
  }
  *out = a;
  return true;
}

AddressClass ClassifyAddress(const IpAddress& address) {
  if (address.family == AF_INET) return ClassifyV4(address.bytes.data());
  if (address.family == AF_INET6) return ClassifyV6(address.bytes.data());
  return AddressClass::kForbidden;
}

absl::Status CheckAddress(const IpAddress& address, const TargetPolicy& policy,
                          absl::string_view field) {
  switch (ClassifyAddress(address)) {
    case AddressClass::kPublic:
      return absl::OkStatus();
    case AddressClass::kPrivate:
      if (policy.allow_private) return absl::OkStatus();
      return InvalidArgumentField(
          field, "resolves to a loopback or private address; webhooks go to public addresses "
                 "unless the operator sets --webhook_allow_private_targets");
    case AddressClass::kForbidden:
      break;
  }
  return InvalidArgumentField(
      field, "resolves to a link-local, cloud-metadata, multicast or reserved address, "
             "which is never a webhook target");
}

absl::StatusOr<WebhookUrl> ParseWebhookUrl(absl::string_view url, const TargetPolicy& policy,
                                           absl::string_view field) {
  if (url.empty()) return InvalidArgumentField(field, "is required");
  if (url.size() > kMaxUrlBytes) return InvalidArgumentField(field, "is longer than 2048 bytes");
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return InvalidArgumentField(
          field, "has a space, control or non-ASCII character (percent-encode it)");
    }
  }
  WebhookUrl out;
  const size_t colon = url.find("://");
  if (colon == absl::string_view::npos) return InvalidArgumentField(field, "is not an absolute URL");
  out.scheme = absl::AsciiStrToLower(url.substr(0, colon));
  if (out.scheme != "https" && !(out.scheme == "http" && policy.allow_http)) {
    return InvalidArgumentField(field, out.scheme == "http"
                                           ? "must be https:// (the operator may allow http:// "
                                             "with --webhook_allow_http)"
                                           : "must be an https:// URL");
  }
  absl::string_view rest = url.substr(colon + 3);
  if (rest.find('#') != absl::string_view::npos) {
    return InvalidArgumentField(field, "must not have a fragment");
  }
  const size_t end = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, end);
  out.target = end == absl::string_view::npos ? "/" : std::string(rest.substr(end));
  if (absl::StartsWith(out.target, "?")) out.target = absl::StrCat("/", out.target);
  if (authority.find('@') != absl::string_view::npos) {
    return InvalidArgumentField(field, "must not carry user info (put credentials in the "
                                       "receiver's signature check, not the URL)");
  }
  absl::string_view host = authority, port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return InvalidArgumentField(field, "has a bad IPv6 host");
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!absl::StartsWith(after, ":")) return InvalidArgumentField(field, "has a bad port");
      port = after.substr(1);
    }
    IpAddress a;
    if (!ParseIpAddress(host, &a) || a.family != AF_INET6) {
      return InvalidArgumentField(field, "has a bad IPv6 host");
    }
    out.host_is_literal = true;
  } else {
    const size_t c = authority.rfind(':');
    if (c != absl::string_view::npos) {
      host = authority.substr(0, c);
      port = authority.substr(c + 1);
    }
  }
  if (host.empty()) return InvalidArgumentField(field, "has no host");
  out.host = absl::AsciiStrToLower(host);
  if (!out.host_is_literal) {
    // One spelling per name: the fully qualified form's dot goes (resolvers
    // and libcurl's address pin would otherwise disagree on the name).
    if (absl::EndsWith(out.host, ".")) out.host.pop_back();
    if (out.host.size() > 253) return InvalidArgumentField(field, "has a bad host name");
    for (absl::string_view label : absl::StrSplit(out.host, '.')) {
      if (label.empty() || label.size() > 63 || absl::StartsWith(label, "-") ||
          absl::EndsWith(label, "-")) {
        return InvalidArgumentField(field, "has a bad host name");
      }
    }
    for (char ch : out.host) {
      if (!IsHostChar(ch)) return InvalidArgumentField(field, "has a bad host name");
    }
    IpAddress a;
    if (ParseIpAddress(out.host, &a)) {
      out.host_is_literal = true;
    } else if (LooksNumeric(out.host)) {
      return InvalidArgumentField(field, "has a numeric host that is not a dotted IPv4 address");
    }
  }
  if (port.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    int p = 0;
    for (char ch : port) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(ch))) {
        return InvalidArgumentField(field, "has a bad port");
      }
    }
    if (port.size() > 5 || !absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
      return InvalidArgumentField(field, "has a bad port");
    }
    out.port = p;
  }
  if (out.host_is_literal) {
    IpAddress a;
    ParseIpAddress(out.host, &a);
    RETURN_IF_ERROR(CheckAddress(a, policy, field));
  }
  return out;
}

Resolver SystemResolver() {
  return [](const std::string& host) -> absl::StatusOr<std::vector<IpAddress>> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) return absl::UnavailableError("the webhook's host name does not resolve");
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(res, freeaddrinfo);
    std::vector<IpAddress> out;
    for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      IpAddress a;
      if (FromSockaddr(ai->ai_addr, &a)) out.push_back(a);
    }
    if (out.empty()) return absl::UnavailableError("the webhook's host name has no address");
    return out;
  };
}

absl::StatusOr<IpAddress> ResolveTarget(const WebhookUrl& url, const TargetPolicy& policy,
                                        const Resolver& resolver, absl::string_view field) {
  std::vector<IpAddress> addresses;
  if (url.host_is_literal) {
    IpAddress a;
    if (!ParseIpAddress(url.host, &a)) return InvalidArgumentField(field, "has a bad host");
    addresses.push_back(a);
  } else {
    auto resolved = resolver(url.host);
    if (!resolved.ok()) return resolved.status();
    addresses = *std::move(resolved);
  }
  for (const IpAddress& a : addresses) {
    const absl::Status st = CheckAddress(a, policy, field);
    if (!st.ok()) return st;
  }
  return addresses.front();
}

}  // namespace counsel::cases::webhooks
