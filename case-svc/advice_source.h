// Where case-svc gets the advice a new case pins: the latest published
// revision for an incident type, from guidance-svc.
#ifndef COUNSEL_CASES_ADVICE_SOURCE_H_
#define COUNSEL_CASES_ADVICE_SOURCE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/server.h"
#include "counsel/guidance/v1/guidance.grpc.pb.h"

namespace counsel::cases {

class AdviceSource {
 public:
  virtual ~AdviceSource() = default;
  // nullopt when no advice serves the incident type; UNAVAILABLE when
  // guidance-svc cannot be reached.
  virtual absl::StatusOr<std::optional<guidance::v1::Advice>> LatestFor(
      const std::string& tenant, const std::string& incident_type) = 0;
};

// Calls guidance-svc as the service principal `service:case-svc`, signing
// its own call context with the shared context key.
class GrpcAdviceSource final : public AdviceSource {
 public:
  GrpcAdviceSource(std::shared_ptr<grpc::Channel> channel, const ContextKey* key,
                   const Clock* clock, absl::Duration timeout = absl::Seconds(3));
  absl::StatusOr<std::optional<guidance::v1::Advice>> LatestFor(
      const std::string& tenant, const std::string& incident_type) override;

 private:
  std::unique_ptr<guidance::v1::GuidanceService::Stub> stub_;
  const ContextKey* key_;
  const Clock* clock_;
  absl::Duration timeout_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_ADVICE_SOURCE_H_
