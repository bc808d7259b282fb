// Builders for absl::Status values that carry google.rpc error details, and
// the one mapping between absl::Status and grpc::Status.
//
// Details travel as absl::Status payloads keyed by their type URL
// (type.googleapis.com/google.rpc.BadRequest, ...). ToGrpcStatus packs every
// payload into google.rpc.Status.details, so a client sees them in the
// `grpc-status-details-bin` trailer and the HTTP front as JSON.
//
//   return InvalidArgumentField("case.client.phone", "not a phone number");
//   return NotFoundWithReason("NOT_IN_FORCE", "no version in force on 2001-01-01");
#ifndef COUNSEL_COMMON_ERRORS_H_
#define COUNSEL_COMMON_ERRORS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace counsel {

inline constexpr absl::string_view kErrorDomain = "counsel.law";

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
// Error helpers below pass what they put in messages and details through it.
std::string ValidUtf8(absl::string_view text);

// INVALID_ARGUMENT with one BadRequest field violation. The message names the
// field so that clients without detail support still see it.
absl::Status InvalidArgumentField(absl::string_view field,
                                  absl::string_view description);

// INVALID_ARGUMENT with several violations (field, description).
absl::Status InvalidArgumentFields(
    const std::vector<std::pair<std::string, std::string>>& violations);

// `code` with ErrorInfo{reason, domain "counsel.law", metadata}.
absl::Status ErrorWithReason(
    absl::StatusCode code, absl::string_view reason, absl::string_view message,
    const std::vector<std::pair<std::string, std::string>>& metadata = {});

// FAILED_PRECONDITION with one PreconditionFailure violation.
absl::Status FailedPreconditionViolation(absl::string_view type,
                                         absl::string_view subject,
                                         absl::string_view description);

// RESOURCE_EXHAUSTED with RetryInfo.
absl::Status ResourceExhaustedRetryAfter(absl::string_view message,
                                         absl::Duration retry_delay);

// Adds a detail message to an existing status.
void AttachDetail(absl::Status& status, const google::protobuf::Message& detail);

// The google.rpc.Status a status stands for, with every detail.
google::rpc::Status ToRpcStatus(const absl::Status& status);

// The one absl → grpc mapping used at the edge of every server.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc → absl, keeping the details, for calls between our own services.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The ErrorInfo reason a status carries, or "" when none.
std::string ErrorReason(const absl::Status& status);

// The ErrorInfo metadata a status carries (empty when none).
std::map<std::string, std::string> ErrorMetadata(const absl::Status& status);

// absl → grpc code (the numbering is the same; this keeps it checked).
grpc::StatusCode ToGrpcCode(absl::StatusCode code);

}  // namespace counsel

#endif  // COUNSEL_COMMON_ERRORS_H_
