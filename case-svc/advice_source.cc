#include "case-svc/advice_source.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace counsel::cases {

GrpcAdviceSource::GrpcAdviceSource(std::shared_ptr<grpc::Channel> channel, const ContextKey* key,
                                   const Clock* clock, absl::Duration timeout)
    : stub_(guidance::v1::GuidanceService::NewStub(std::move(channel))), key_(key), clock_(clock),
      timeout_(timeout) {}

// Signs a call context for `method` as the service principal.
void GrpcAdviceSource::Sign(const std::string& tenant, absl::string_view method,
                            grpc::ClientContext* ctx) const {
  const absl::Time now = clock_->Now();
  ctx->set_deadline(absl::ToChronoTime(now + timeout_));
  CallContext cc;
  cc.set_tenant(tenant);
  cc.set_key_id("service:case-svc");
  cc.add_scopes(kScopeGuidanceRead);
  cc.set_method(absl::StrCat("/counsel.guidance.v1.GuidanceService/", method));
  cc.set_expire_unix_micros(absl::ToUnixMicros(now + timeout_ + absl::Seconds(5)));
  key_->Attach(cc, ctx);
}

absl::Status GrpcAdviceSource::Unreachable(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(
        "guidance-svc cannot be reached to pin the case's advice; nothing was stored, retry "
        "with the same request_id");
  }
  return FromGrpcStatus(s);
}

absl::StatusOr<SharedAdvice> GrpcAdviceSource::LatestFor(const std::string& tenant,
                                                         const std::string& incident_type) {
  // Which revision is the latest: its name alone, every time (a publish is
  // seen at once). Its content is fetched only the first time: revisions
  // never change.
  guidance::v1::ListAdviceResponse latest;
  {
    grpc::ClientContext ctx;
    Sign(tenant, "ListAdvice", &ctx);
    guidance::v1::ListAdviceRequest req;
    req.set_filter(absl::StrCat("incident_types:\"", incident_type, "\""));
    req.set_page_size(1);
    req.mutable_read_mask()->add_paths("name");
    req.mutable_read_mask()->add_paths("revision_id");
    if (grpc::Status s = stub_->ListAdvice(&ctx, req, &latest); !s.ok()) return Unreachable(s);
  }
  if (latest.advice_size() == 0) return SharedAdvice();
  const std::string pinned =
      absl::StrCat(latest.advice(0).name(), "@", latest.advice(0).revision_id());
  {
    absl::MutexLock lock(&mu_);
    if (auto it = revisions_.find(pinned); it != revisions_.end()) return it->second;
  }
  auto advice = std::make_shared<guidance::v1::Advice>();
  {
    grpc::ClientContext ctx;
    Sign(tenant, "GetAdvice", &ctx);
    guidance::v1::GetAdviceRequest req;
    req.set_name(pinned);
    if (grpc::Status s = stub_->GetAdvice(&ctx, req, advice.get()); !s.ok()) return Unreachable(s);
  }
  absl::MutexLock lock(&mu_);
  // A handful of articles, a revision now and then: the bound only guards
  // against a guidance-svc that invents revisions.
  if (revisions_.size() >= kMaxRevisions) revisions_.clear();
  revisions_.emplace(pinned, advice);
  return SharedAdvice(std::move(advice));
}

absl::StatusOr<SharedAdvice> CoalescingAdviceSource::LatestFor(const std::string& tenant,
                                                               const std::string& incident_type) {
  const std::pair<std::string, std::string> key(tenant, incident_type);
  std::shared_ptr<Round> mine, before;
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    Slot& slot = slots_[key];
    if (slot.next != nullptr) {
      mine = slot.next;  // not started yet: it starts after this caller came
      ++waiting_;
    } else if (slot.running == nullptr) {
      mine = slot.running = std::make_shared<Round>();
      lead = true;
    } else {
      // The fetch in flight began before this caller: lead the next one.
      mine = slot.next = std::make_shared<Round>();
      before = slot.running;
      lead = true;
      ++waiting_;
    }
  }
  if (!lead) {
    mine->done.WaitForNotification();
    absl::MutexLock lock(&mu_);
    --waiting_;
    return mine->result;
  }
  if (before != nullptr) {
    before->done.WaitForNotification();
    absl::MutexLock lock(&mu_);
    --waiting_;
    Slot& slot = slots_[key];
    slot.running = mine;
    slot.next = nullptr;
  }
  mine->result = source_->LatestFor(tenant, incident_type);
  {
    absl::MutexLock lock(&mu_);
    auto it = slots_.find(key);
    if (it != slots_.end()) {
      if (it->second.running == mine) it->second.running = nullptr;
      if (it->second.running == nullptr && it->second.next == nullptr) slots_.erase(it);
    }
  }
  mine->done.Notify();
  return mine->result;
}

bool CoalescingAdviceSource::AwaitWaiting(int n) {
  absl::MutexLock lock(&mu_);
  want_waiting_ = n;
  return mu_.AwaitWithTimeout(absl::Condition(this, &CoalescingAdviceSource::EnoughWaiting),
                              absl::Minutes(1));
}

}  // namespace counsel::cases
