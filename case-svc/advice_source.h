// Where case-svc gets the advice a new case pins: the latest published
// revision for an incident type, from guidance-svc.
#ifndef COUNSEL_CASES_ADVICE_SOURCE_H_
#define COUNSEL_CASES_ADVICE_SOURCE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/server.h"
#include "counsel/guidance/v1/guidance.grpc.pb.h"

namespace counsel::cases {

// The advice is shared, never changed: revisions are immutable.
using SharedAdvice = std::shared_ptr<const guidance::v1::Advice>;

class AdviceSource {
 public:
  virtual ~AdviceSource() = default;
  // nullptr when no advice serves the incident type; UNAVAILABLE when
  // guidance-svc cannot be reached.
  virtual absl::StatusOr<SharedAdvice> LatestFor(const std::string& tenant,
                                                 const std::string& incident_type) = 0;
};

// Calls guidance-svc as the service principal `service:case-svc`, signing
// its own call context with the shared context key. Asks which revision is
// the latest on every call (its name only) and fetches a revision's content
// once, since revisions never change.
class GrpcAdviceSource final : public AdviceSource {
 public:
  GrpcAdviceSource(std::shared_ptr<grpc::Channel> channel, const ContextKey* key,
                   const Clock* clock, absl::Duration timeout = absl::Seconds(3));
  absl::StatusOr<SharedAdvice> LatestFor(const std::string& tenant,
                                         const std::string& incident_type) override;

 private:
  static constexpr size_t kMaxRevisions = 256;

  void Sign(const std::string& tenant, absl::string_view method, grpc::ClientContext* ctx) const;
  static absl::Status Unreachable(const grpc::Status& s);

  std::unique_ptr<guidance::v1::GuidanceService::Stub> stub_;
  const ContextKey* key_;
  const Clock* clock_;
  absl::Duration timeout_;
  absl::Mutex mu_;
  // Revisions already fetched, by `advice/{id}@{revision}`: immutable.
  absl::flat_hash_map<std::string, SharedAdvice> revisions_ ABSL_GUARDED_BY(mu_);
};

// Shares fetches among creates that ask together, never answering from
// before a caller asked: a caller joins the next fetch that starts after it
// arrived (the one in flight may predate a publish the caller has already
// seen), so a case still pins the latest revision published before its
// create began, as with one fetch per create, while the creates that
// arrive during one fetch cost one more between them. Fetching and parsing
// the advice was half of case-svc's CPU per create. Per tenant and incident
// type; thread-safe.
class CoalescingAdviceSource final : public AdviceSource {
 public:
  // Does not take ownership.
  explicit CoalescingAdviceSource(AdviceSource* source) : source_(source) {}
  absl::StatusOr<SharedAdvice> LatestFor(const std::string& tenant,
                                         const std::string& incident_type) override;

  // Whether `n` callers came to wait on a fetch that had not started when
  // they came, within a minute (tests).
  bool AwaitWaiting(int n);

 private:
  bool EnoughWaiting() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_ >= want_waiting_; }

  struct Round {
    absl::Notification done;
    absl::StatusOr<SharedAdvice> result;
  };
  struct Slot {
    std::shared_ptr<Round> running;  // fetching now
    std::shared_ptr<Round> next;     // its callers arrived during `running`
  };

  AdviceSource* const source_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, Slot> slots_ ABSL_GUARDED_BY(mu_);
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int want_waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_ADVICE_SOURCE_H_
