#include "common/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace counsel {

absl::StatusOr<std::string> LoadKeyFile(absl::string_view path, size_t min_bytes) {
  const std::string p(path);
  const std::string how = absl::StrCat(
      " (create one with `openssl rand -out ", p, " 32 && chmod 600 ", p, "`)");
  if (p.empty()) {
    return absl::FailedPreconditionError("no key file given: set the key file flag");
  }
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("key file ", p, " does not exist", how));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open key file ", p, ": ", std::strerror(err)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("key file ", p, " is not a regular file"));
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "key file %s is accessible to other users (mode %04o): run `chmod 600 %s`",
        p, st.st_mode & 07777, p));
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  bytes.resize(got);
  if (bytes.size() < min_bytes) {
    sodium_memzero(bytes.data(), bytes.size());
    return absl::FailedPreconditionError(absl::StrCat(
        "key file ", p, " holds ", got, " bytes; at least ", min_bytes,
        " are needed", how));
  }
  return bytes;
}

absl::Status CreateKeyFile(absl::string_view path, size_t bytes) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  const std::string p(path);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create key file ", p, ": ", std::strerror(errno)));
  }
  std::string key(bytes, '\0');
  randombytes_buf(key.data(), key.size());
  const ssize_t n = ::write(fd, key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  const bool ok = n == static_cast<ssize_t>(bytes) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write key file ", p));
  return absl::OkStatus();
}

}  // namespace counsel
