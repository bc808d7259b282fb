// One backend service as the gateway calls it: its channels (one, and one
// for large streams), its circuit breaker and its metrics label. Every
// outgoing call goes through one (forwarded calls, the composed brief, the
// HTTP front's streams, health probes), so that none skips the breaker or
// the error metric.
//
//   if (grpc::Status open = up.Admit(); !open.ok()) return fail(open);
//   auto call = up.Stub<CaseService>()->PrepareAsyncGetCase(ctx, req, loop.queue(shard));
//   StartUnary(std::move(call), &resp, [&up](const grpc::Status& s) {
//     up.Record(s);
//     ...
//   });
#ifndef COUNSEL_GATEWAY_UPSTREAM_H_
#define COUNSEL_GATEWAY_UPSTREAM_H_

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "gateway/breaker.h"
#include "gateway/grpc_loop.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace counsel::gateway {

class Upstream;

// One forwarded unary call: the caller fills `client` (deadline, signed
// context) and `request`, picks the loop thread (`shard`) that runs it,
// and keeps the exchange until Upstream::Call's `done` has run.
class Exchange final : public LoopTag {
 public:
  grpc::ClientContext client;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  int shard = 0;

 private:
  friend class Upstream;
  void Run(bool ok) override;

  const Upstream* upstream_ = nullptr;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call_;
  grpc::Status status_;
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
           std::shared_ptr<grpc::Channel> bulk, const Clock* clock);

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

  // Sends ex->request as `method` with `queue` (loop thread ex->shard's) and
  // runs `done` there with the status once ex->response is filled; admitted
  // and recorded. An open circuit runs `done` at once, on this thread.
  void Call(const std::string& method, grpc::CompletionQueue* queue, Exchange* ex,
            std::function<void(grpc::Status)> done) const;

 private:
  std::string label_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<grpc::Channel> bulk_;
  std::unique_ptr<grpc::GenericStub> generic_;
  const Clock* clock_;
  mutable CircuitBreaker breaker_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_UPSTREAM_H_
