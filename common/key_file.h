// Loads secret key files (context key, master key). A key file holds at least
// 32 random bytes, e.g. made with `openssl rand -out var/context.key 32`, and
// must not be readable by other users.
#ifndef COUNSEL_COMMON_KEY_FILE_H_
#define COUNSEL_COMMON_KEY_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel {

inline constexpr size_t kMinKeyBytes = 32;

// Returns the file's bytes. FailedPrecondition, with a message that says what
// to do, when the file is missing, unreadable, shorter than `min_bytes`, or
// readable or writable by others. The message never contains key material.
absl::StatusOr<std::string> LoadKeyFile(absl::string_view path,
                                        size_t min_bytes = kMinKeyBytes);

// Writes `bytes` random bytes to a new file at `path`, mode 0600. Fails if the
// file exists.
absl::Status CreateKeyFile(absl::string_view path, size_t bytes = kMinKeyBytes);

}  // namespace counsel

#endif  // COUNSEL_COMMON_KEY_FILE_H_
