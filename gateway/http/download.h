// The pure parts of serving an attachment over HTTP: the Range header
// (RFC 9110 §14), Content-Disposition (RFC 6266, RFC 8187 for non-ASCII
// names) and Repr-Digest (RFC 9530).
#ifndef COUNSEL_GATEWAY_HTTP_DOWNLOAD_H_
#define COUNSEL_GATEWAY_HTTP_DOWNLOAD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace counsel::gateway {

// One byte range: `bytes=first-last`, `bytes=first-` (last = -1) or the
// final `suffix` bytes (`bytes=-suffix`).
struct ByteRange {
  int64_t first = 0;
  int64_t last = -1;
  int64_t suffix = 0;  // > 0 for a suffix range
};

// A single range in bytes. Anything else (several ranges, another unit, a
// malformed value, last < first) is nullopt: the whole attachment is sent,
// as RFC 9110 §14.2 allows a server to ignore Range.
std::optional<ByteRange> ParseRange(absl::string_view header);

// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded`: the
// bytes are always offered for saving, never shown inline (an uploaded
// "image" may be HTML).
std::string AttachmentDisposition(absl::string_view filename);

// `sha-256=:base64:` from a hex SHA-256; "" when `hex` is not one.
std::string ReprDigest(absl::string_view hex_sha256);

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_DOWNLOAD_H_
