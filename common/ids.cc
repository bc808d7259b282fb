#include "common/ids.h"

#include <sodium.h>

#include <string>

namespace counsel {

std::string Base32Encode(absl::string_view data) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

bool Base32Decode(absl::string_view text, std::string* data) {
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'a' && c <= 'z') {
      v = c - 'a';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return false;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Leftover bits are padding and must be zero (one text per value).
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return false;
  *data = std::move(out);
  return true;
}

std::string RandomId(size_t bytes) {
  if (sodium_init() < 0) abort();  // libsodium cannot fail to init on Linux.
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return Base32Encode(raw);
}

}  // namespace counsel
