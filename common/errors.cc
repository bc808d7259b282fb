#include "common/errors.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "google/protobuf/any.pb.h"
#include "google/rpc/error_details.pb.h"

namespace counsel {
namespace {

constexpr absl::string_view kTypeUrlPrefix = "type.googleapis.com/";

std::string TypeUrl(const google::protobuf::Message& m) {
  return absl::StrCat(kTypeUrlPrefix, m.GetDescriptor()->full_name());
}

}  // namespace

std::string ValidUtf8(absl::string_view text) { return utf8::Sanitize(text); }

void AttachDetail(absl::Status& status, const google::protobuf::Message& detail) {
  status.SetPayload(TypeUrl(detail), absl::Cord(detail.SerializeAsString()));
}

absl::Status InvalidArgumentFields(
    const std::vector<std::pair<std::string, std::string>>& violations) {
  google::rpc::BadRequest bad;
  std::string message;
  for (const auto& [field, description] : violations) {
    auto* v = bad.add_field_violations();
    // Descriptions may quote what the caller sent; details are proto3
    // strings that a client's parser rejects unless they are UTF-8.
    v->set_field(ValidUtf8(field));
    v->set_description(ValidUtf8(description));
    absl::StrAppend(&message, message.empty() ? "" : "; ", v->field(), ": ", v->description());
  }
  absl::Status status = absl::InvalidArgumentError(message);
  AttachDetail(status, bad);
  return status;
}

absl::Status InvalidArgumentField(absl::string_view field,
                                  absl::string_view description) {
  return InvalidArgumentFields({{std::string(field), std::string(description)}});
}

absl::Status ErrorWithReason(
    absl::StatusCode code, absl::string_view reason, absl::string_view message,
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[ValidUtf8(k)] = ValidUtf8(v);
  absl::Status status(code, ValidUtf8(message));
  AttachDetail(status, info);
  return status;
}

absl::Status FailedPreconditionViolation(absl::string_view type,
                                         absl::string_view subject,
                                         absl::string_view description) {
  google::rpc::PreconditionFailure failure;
  auto* v = failure.add_violations();
  v->set_type(ValidUtf8(type));
  v->set_subject(ValidUtf8(subject));
  v->set_description(ValidUtf8(description));
  absl::Status status = absl::FailedPreconditionError(v->description());
  AttachDetail(status, failure);
  return status;
}

absl::Status ResourceExhaustedRetryAfter(absl::string_view message,
                                         absl::Duration retry_delay) {
  google::rpc::RetryInfo retry;
  const int64_t nanos = absl::ToInt64Nanoseconds(retry_delay);
  retry.mutable_retry_delay()->set_seconds(nanos / 1000000000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  absl::Status status = absl::ResourceExhaustedError(message);
  AttachDetail(status, retry);
  return status;
}

grpc::StatusCode ToGrpcCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return grpc::StatusCode::OK;
    case absl::StatusCode::kCancelled: return grpc::StatusCode::CANCELLED;
    case absl::StatusCode::kUnknown: return grpc::StatusCode::UNKNOWN;
    case absl::StatusCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case absl::StatusCode::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case absl::StatusCode::kAborted: return grpc::StatusCode::ABORTED;
    case absl::StatusCode::kOutOfRange: return grpc::StatusCode::OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kInternal: return grpc::StatusCode::INTERNAL;
    case absl::StatusCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kDataLoss: return grpc::StatusCode::DATA_LOSS;
    case absl::StatusCode::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    default: return grpc::StatusCode::UNKNOWN;
  }
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(ToGrpcCode(status.code())));
  rpc.set_message(std::string(status.message()));
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& value) {
    auto* any = rpc.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(value));
  });
  return rpc;
}

namespace {

std::optional<google::rpc::ErrorInfo> FirstErrorInfo(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> found;
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& value) {
    google::rpc::ErrorInfo info;
    if (!found && type_url == absl::StrCat(kTypeUrlPrefix, info.GetDescriptor()->full_name()) &&
        info.ParseFromString(std::string(value))) {
      found = std::move(info);
    }
  });
  return found;
}

}  // namespace

std::string ErrorReason(const absl::Status& status) {
  auto info = FirstErrorInfo(status);
  return info ? info->reason() : std::string();
}

std::map<std::string, std::string> ErrorMetadata(const absl::Status& status) {
  auto info = FirstErrorInfo(status);
  if (!info) return {};
  return std::map<std::string, std::string>(info->metadata().begin(), info->metadata().end());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc = ToRpcStatus(status);
  if (rpc.details_size() == 0) {
    return grpc::Status(ToGrpcCode(status.code()), std::string(status.message()));
  }
  return grpc::Status(ToGrpcCode(status.code()), std::string(status.message()),
                      rpc.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int raw = static_cast<int>(status.error_code());
  const absl::StatusCode code = (raw >= 0 && raw <= 16)
                                    ? static_cast<absl::StatusCode>(raw)
                                    : absl::StatusCode::kUnknown;
  absl::Status out(code, status.error_message());
  google::rpc::Status rpc;
  if (!status.error_details().empty() &&
      rpc.ParseFromString(status.error_details())) {
    for (const auto& any : rpc.details()) {
      out.SetPayload(any.type_url(), absl::Cord(any.value()));
    }
  }
  return out;
}

}  // namespace counsel
