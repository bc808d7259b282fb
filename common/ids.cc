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

std::string RandomId(size_t bytes) {
  if (sodium_init() < 0) abort();  // libsodium cannot fail to init on Linux.
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return Base32Encode(raw);
}

}  // namespace counsel
