#include "gateway/upstream.h"

#include "absl/strings/str_cat.h"
#include "absl/random/random.h"
#include "common/call_context.h"
#include "gateway/metrics.h"

namespace counsel::gateway {

Upstream::Upstream(std::string label, std::shared_ptr<grpc::Channel> channel,
                   std::shared_ptr<grpc::Channel> bulk, const Clock* clock, RetryRule rule)
    : label_(std::move(label)), channel_(std::move(channel)), bulk_(std::move(bulk)),
      generic_(std::make_unique<grpc::GenericStub>(channel_)), clock_(clock), rule_(rule) {}

grpc::Status Upstream::Admit() const {
  if (breaker_.Allow(clock_->Now())) return grpc::Status::OK;
  Metrics::Get().BackendError(label_);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat(label_, " is unavailable (circuit open); retry shortly"));
}

void Upstream::Record(const grpc::Status& status) const {
  const bool unavailable = status.error_code() == grpc::StatusCode::UNAVAILABLE;
  breaker_.Record(unavailable, clock_->Now());
  if (unavailable || status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Metrics::Get().BackendError(label_);
  }
}

void Upstream::Call(const std::string& method, GrpcLoop& loop, bool retry, Exchange* ex,
                    std::function<void(grpc::Status)> done) const {
  if (grpc::Status open = Admit(); !open.ok()) {
    done(std::move(open));
    return;
  }
  if (!loop.Enter()) return done(LoopStopping());
  ex->upstream_ = this;
  ex->method_ = &method;
  ex->loop_ = &loop;
  ex->queue_ = loop.queue(ex->shard);
  ex->retry_ = retry;
  ex->done_ = std::move(done);
  ex->Attempt();
}

void Exchange::Attempt() {
  ++attempts_;
  call_.reset();
  auto client = std::make_unique<grpc::ClientContext>();
  client->set_deadline(absl::ToChronoTime(deadline));
  // The request id travels inside the signed context only: a second,
  // per-call unique header would cost an HPACK literal on every hop.
  client->AddMetadata(kContextMetadataKey, context);
  grpc::ClientContext* ctx = client.get();
  {
    absl::MutexLock lock(&mu_);
    client_ = std::move(client);
    // A cancel that came between attempts: the context keeps it and
    // cancels the call as it starts.
    if (cancelled_) client_->TryCancel();
  }
  call_ = upstream_->generic_->PrepareUnaryCall(ctx, *method_, request, queue_);
  call_->StartCall();
  call_->Finish(&response, &status_, this);
}

void Exchange::Run(bool /*ok: always true for Finish*/) {
  const Upstream& up = *upstream_;
  // Only calls that may be retried spend and earn the budget, as gRPC's
  // throttling counts only methods with a retry policy.
  if (status_.error_code() != grpc::StatusCode::UNAVAILABLE) {
    if (retry_) up.budget_.OnSuccess();
    return End();
  }
  if (!retry_) return End();
  up.budget_.OnFailure();
  if (attempts_ >= up.rule_.max_attempts || !up.budget_.AllowRetry()) return End();
  thread_local absl::BitGen random;
  const absl::Time at =
      up.clock_->Now() + up.rule_.Backoff(attempts_, absl::Uniform<double>(random, 0, 1));
  if (at >= deadline) return End();
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      waiting_ = true;
      if (wait_ == nullptr) wait_ = std::make_unique<grpc::Alarm>();
      // The alarm fires on the loop thread, never inside Set: the lock
      // may be held across it.
      wait_->Set(queue_, absl::ToChronoTime(at), &resume_tag_);
      return;
    }
  }
  // Cancelled as the attempt failed: the caller asked to stop.
  status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  End();  // unlocked: `done` may free the exchange
}

void Exchange::Resume(bool ok) {
  bool cancelled;
  {
    absl::MutexLock lock(&mu_);
    waiting_ = false;
    // Not ok: TryCancel cancelled the wait.
    cancelled = !ok || cancelled_;
  }
  if (cancelled) {
    status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    return End();
  }
  response.Clear();
  Attempt();
}

void Exchange::TryCancel() {
  // Neither cancel completes anything inside the call: both post to the
  // loop's queue, so the lock is not held across our own callbacks.
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (waiting_) {
    wait_->Cancel();
  } else if (client_ != nullptr) {
    client_->TryCancel();
  }
}

void Exchange::End() {
  upstream_->Record(status_);
  loop_->Leave();
  // The owner may free the exchange in `done`: nothing is touched after.
  std::function<void(grpc::Status)> done = std::move(done_);
  done(std::move(status_));
}

}  // namespace counsel::gateway
