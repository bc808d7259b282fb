// An incremental multipart/form-data reader (RFC 7578 over RFC 2046): bytes
// go in as they arrive, in pieces of any size, and come out as part
// boundaries and part data, so that a file part is passed on without the
// whole form ever being held. Only what HTTP forms use is accepted: part
// headers Content-Disposition (form-data; name; filename) and Content-Type.
//
//   ASSIGN_OR_RETURN(std::string boundary, MultipartBoundary(content_type));
//   MultipartReader reader(boundary);
//   for (piece : body) {
//     ASSIGN_OR_RETURN(auto events, reader.Feed(piece));
//     ...
//   }
//   RETURN_IF_ERROR(reader.Finish());
#ifndef COUNSEL_GATEWAY_HTTP_MULTIPART_H_
#define COUNSEL_GATEWAY_HTTP_MULTIPART_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel::gateway {

struct MultipartPart {
  std::string name;          // the form field
  std::string filename;      // set for a file part (may be "")
  bool has_filename = false;
  std::string content_type;  // "" when the part names none
};

struct MultipartEvent {
  enum class Kind { kPartStart, kData, kPartEnd };
  Kind kind;
  MultipartPart part;  // kPartStart
  std::string data;    // kData
};

// The boundary of a `multipart/form-data; boundary=…` content type;
// INVALID_ARGUMENT when it is another type or has no valid boundary.
absl::StatusOr<std::string> MultipartBoundary(absl::string_view content_type);

class MultipartReader {
 public:
  static constexpr size_t kMaxPartHeaderBytes = 8 << 10;
  static constexpr size_t kMaxParts = 16;

  explicit MultipartReader(std::string boundary);

  // The events the next piece of the body completes, in order. Data of one
  // part may arrive as several kData events. INVALID_ARGUMENT on a
  // malformed form (and every later call fails the same way).
  absl::StatusOr<std::vector<MultipartEvent>> Feed(absl::string_view bytes);

  // The body has ended: OK only if the closing boundary was read.
  absl::Status Finish() const;

 private:
  enum class State { kPreamble, kHeaders, kData, kAfterBoundary, kEpilogue, kFailed };

  absl::Status Fail(absl::string_view why);
  absl::Status ParseHeaders(absl::string_view block, MultipartPart* part) const;

  const std::string delimiter_;  // "\r\n--" + boundary
  State state_ = State::kPreamble;
  std::string pending_;  // bytes not yet decided
  size_t parts_ = 0;
  absl::Status failure_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_MULTIPART_H_
