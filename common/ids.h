// Random resource ids: never sequential, so that one id says nothing about
// another.
#ifndef COUNSEL_COMMON_IDS_H_
#define COUNSEL_COMMON_IDS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace counsel {

// `bytes` random bytes from libsodium, as lower-case RFC 4648 base32 without
// padding (16 bytes → 26 characters).
std::string RandomId(size_t bytes = 16);

// Lower-case base32 without padding.
std::string Base32Encode(absl::string_view data);
// The inverse of Base32Encode; false for any other text.
bool Base32Decode(absl::string_view text, std::string* data);

}  // namespace counsel

#endif  // COUNSEL_COMMON_IDS_H_
