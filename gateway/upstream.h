// One backend service as the gateway calls it: its channels (one, and one
// for large streams), its circuit breaker and its metrics label. Every
// outgoing call goes through one (forwarded calls, the composed brief, the
// HTTP front's streams, health probes), so that none skips the breaker or
// the error metric.
//
//   if (grpc::Status open = up.Admit(); !open.ok()) return fail(open);
//   StartUnary(loop, [&] { return up.Stub<CaseService>()->PrepareAsyncGetCase(ctx, req, q); },
//              &resp, [&up](const grpc::Status& s) {
//     up.Record(s);
//     ...
//   });
//
// Unary reads go through Gateway::Forward or Gateway::Fetch instead, which
// add the retries (Upstream::Call).
#ifndef COUNSEL_GATEWAY_UPSTREAM_H_
#define COUNSEL_GATEWAY_UPSTREAM_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gateway/breaker.h"
#include "gateway/grpc_loop.h"
#include "gateway/retry.h"
#include "grpcpp/alarm.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace counsel::gateway {

class Upstream;

// One forwarded unary call, and its retries: the caller fills `request`,
// `deadline` and `context` (Gateway::Prepare), picks the loop thread
// (`shard`) that runs it, and keeps the exchange until Upstream::Call's
// `done` has run.
class Exchange final : public LoopTag {
 public:
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  int shard = 0;
  // Every attempt's deadline, and its signed call context (serialized).
  absl::Time deadline = absl::InfiniteFuture();
  std::string context;

  // Ends the call CANCELLED: the attempt in flight, or the wait for the
  // next. From any thread (the HTTP front cancels from its own).
  void TryCancel();

 private:
  friend class Upstream;
  void Attempt();
  void Run(bool ok) override;  // an attempt ended
  void Resume(bool ok);        // the wait before a retry ended
  void End();

  const Upstream* upstream_ = nullptr;
  const std::string* method_ = nullptr;
  GrpcLoop* loop_ = nullptr;
  grpc::CompletionQueue* queue_ = nullptr;
  bool retry_ = false;
  int attempts_ = 0;
  // Guards what TryCancel reaches from another thread: uncontended on the
  // loop, where everything else runs.
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The attempt's context, then its reader (which lives in the call's
  // arena, so goes first).
  std::unique_ptr<grpc::ClientContext> client_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call_;
  grpc::Status status_;
  // Made only for a retry: an alarm takes gRPC's global init lock.
  std::unique_ptr<grpc::Alarm> wait_ ABSL_GUARDED_BY(mu_);
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  MemberTag<Exchange, &Exchange::Resume> resume_tag_{this};
  std::function<void(grpc::Status)> done_;
};

// Thread-safe.
class Upstream {
 public:
  // `bulk` (may be null) is a connection of its own for large streams. Every
  // loop thread calls through the one `channel`: a backend coming back is
  // then back for every call at once (per-thread connections each waited
  // out their own reconnect backoff, and measured no faster).
  Upstream(std::string label, std::shared_ptr<grpc::Channel> channel,
           std::shared_ptr<grpc::Channel> bulk, const Clock* clock, RetryRule rule = {});

  // "guidance" or "cases": the metrics label.
  const std::string& label() const { return label_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const std::shared_ptr<grpc::Channel>& bulk_channel() const { return bulk_ ? bulk_ : channel_; }
  grpc::GenericStub* generic() const { return generic_.get(); }
  // A typed stub on this backend's channel (or its bulk channel).
  template <typename Service>
  std::unique_ptr<typename Service::Stub> Stub(bool bulk = false) const {
    return Service::NewStub(bulk ? bulk_channel() : channel_);
  }

  // OK, or UNAVAILABLE while the circuit is open: ask before starting a
  // call, and Record what it ended with.
  grpc::Status Admit() const;
  void Record(const grpc::Status& status) const;

  // Sends ex->request as `method` (which must outlive the call) on `loop`
  // (thread ex->shard), and runs `done` there with the status once
  // ex->response is filled; admitted and recorded once. With `retry`
  // (idempotent methods), an UNAVAILABLE attempt is tried again under
  // RetryRule and the backend's RetryBudget, which only such calls spend
  // and earn. An open circuit, or a stopping loop, runs `done` at once, on
  // this thread.
  void Call(const std::string& method, GrpcLoop& loop, bool retry, Exchange* ex,
            std::function<void(grpc::Status)> done) const;

 private:
  friend class Exchange;
  std::string label_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<grpc::Channel> bulk_;
  std::unique_ptr<grpc::GenericStub> generic_;
  const Clock* clock_;
  mutable CircuitBreaker breaker_;
  mutable RetryBudget budget_;
  const RetryRule rule_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_UPSTREAM_H_
