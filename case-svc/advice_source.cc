#include "case-svc/advice_source.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace counsel::cases {

GrpcAdviceSource::GrpcAdviceSource(std::shared_ptr<grpc::Channel> channel, const ContextKey* key,
                                   const Clock* clock, absl::Duration timeout)
    : stub_(guidance::v1::GuidanceService::NewStub(std::move(channel))), key_(key), clock_(clock),
      timeout_(timeout) {}

absl::StatusOr<std::optional<guidance::v1::Advice>> GrpcAdviceSource::LatestFor(
    const std::string& tenant, const std::string& incident_type) {
  grpc::ClientContext ctx;
  const absl::Time now = clock_->Now();
  ctx.set_deadline(absl::ToChronoTime(now + timeout_));
  CallContext cc;
  cc.set_tenant(tenant);
  cc.set_key_id("service:case-svc");
  cc.add_scopes(kScopeGuidanceRead);
  cc.set_method("/counsel.guidance.v1.GuidanceService/ListAdvice");
  cc.set_expire_unix_micros(absl::ToUnixMicros(now + timeout_ + absl::Seconds(5)));
  key_->Attach(cc, &ctx);
  guidance::v1::ListAdviceRequest req;
  req.set_filter(absl::StrCat("incident_types:\"", incident_type, "\""));
  req.set_page_size(1);
  guidance::v1::ListAdviceResponse resp;
  const grpc::Status s = stub_->ListAdvice(&ctx, req, &resp);
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return absl::UnavailableError(
          "guidance-svc cannot be reached to pin the case's advice; nothing was stored, retry "
          "with the same request_id");
    }
    return FromGrpcStatus(s);
  }
  if (resp.advice_size() == 0) return std::optional<guidance::v1::Advice>();
  return std::optional<guidance::v1::Advice>(resp.advice(0));
}

}  // namespace counsel::cases
