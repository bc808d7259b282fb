#include "gateway/loop_health.h"

#include <vector>

#include "common/grpc_util.h"
#include "gateway/limits.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"

namespace counsel::gateway {
namespace {

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// What the server holds on to: it deletes this when it goes, while the
// LoopHealth stays with its owner.
class Interface final : public grpc::HealthCheckServiceInterface {
 public:
  explicit Interface(LoopHealth* health) : health_(health) {}
  void SetServingStatus(const std::string& service, bool serving) override {
    health_->SetServingStatus(service, serving);
  }
  void SetServingStatus(bool serving) override { health_->SetServingStatus(serving); }
  void Shutdown() override { health_->Shutdown(); }

 private:
  LoopHealth* health_;
};

}  // namespace

class LoopHealth::Service final : public grpc::Service {
 public:
  Service() {
    AddMethod(new grpc::internal::RpcServiceMethod(
        "/grpc.health.v1.Health/Check", grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    AddMethod(new grpc::internal::RpcServiceMethod(
        "/grpc.health.v1.Health/Watch", grpc::internal::RpcMethod::SERVER_STREAMING, nullptr));
    MarkMethodRaw(0);
    MarkMethodRaw(1);
  }
  void RequestCheck(grpc::ServerContext* ctx, grpc::ByteBuffer* request,
                    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* responder,
                    grpc::ServerCompletionQueue* queue, void* tag) {
    RequestAsyncUnary(0, ctx, request, responder, queue, queue, tag);
  }
  void RequestWatch(grpc::ServerContext* ctx, grpc::ByteBuffer* request,
                    grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                    grpc::ServerCompletionQueue* queue, void* tag) {
    RequestAsyncServerStreaming(1, ctx, request, writer, queue, queue, tag);
  }
};

// One Check; replaced by a new request when it arrives.
class CheckCall {
 public:
  CheckCall(LoopHealth* health, int shard) : health_(health), shard_(shard), responder_(&ctx_) {
    health_->service_->RequestCheck(&ctx_, &request_, &responder_,
                                    health_->loop_->queue(shard_), &requested_tag_);
  }

 private:
  void Requested(bool ok) {
    // Stopping: nothing more is sent (the call ends with the server).
    if (!ok || !health_->loop_->Enter()) {
      delete this;
      return;
    }
    new CheckCall(health_, shard_);
    std::string service;
    LoopHealth::Status status;
    if (!LoopHealth::ParseRequest(Flatten(request_), &service)) {
      responder_.FinishWithError(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "could not parse request"),
          &answered_tag_);
    } else if (!health_->Get(service, &status)) {
      responder_.FinishWithError(grpc::Status(grpc::StatusCode::NOT_FOUND, "service name unknown"),
                                 &answered_tag_);
    } else {
      responder_.Finish(Buffer(LoopHealth::Response(status)), grpc::Status::OK, &answered_tag_);
    }
  }
  void Answered(bool /*ok*/) {
    health_->loop_->Leave();
    delete this;
  }

  LoopHealth* health_;
  const int shard_;
  grpc::ServerContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
  MemberTag<CheckCall, &CheckCall::Requested> requested_tag_{this};
  MemberTag<CheckCall, &CheckCall::Answered> answered_tag_{this};
};

// One Watch: the current status, then each change, one write in flight
// (a change that comes meanwhile is sent after it; only the latest counts).
// It lasts until the caller cancels or the server shuts down.
class LoopHealth::Watcher {
 public:
  Watcher(LoopHealth* health, int shard) : health_(health), shard_(shard), writer_(&ctx_) {
    ctx_.AsyncNotifyWhenDone(&over_tag_);
    health_->service_->RequestWatch(&ctx_, &request_, &writer_, health_->loop_->queue(shard_),
                                    &requested_tag_);
  }

  const std::string& service() const { return service_; }

  // Called with the health's lock held.
  void Send(Status status) {
    absl::MutexLock lock(&mu_);
    if (over_) return;
    if (writing_) {
      queued_ = status;
      has_queued_ = true;
      return;
    }
    WriteLocked(status);
  }

 private:
  void Requested(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      pending_ = 1;  // the server's notice that the call is over
      if (!health_->loop_->Enter()) {
        over_ = true;  // stopping: nothing is sent; that notice frees this
        return;
      }
      counted_ = true;
    }
    new Watcher(health_, shard_);
    if (!LoopHealth::ParseRequest(Flatten(request_), &service_)) {
      absl::MutexLock lock(&mu_);
      over_ = true;  // nothing is ever sent
      ++pending_;
      writer_.Finish(grpc::Status(grpc::StatusCode::INTERNAL, "could not parse request"),
                     &finished_tag_);
      return;
    }
    absl::MutexLock lock(&health_->mu_);
    peer_ = PeerAddress(ctx_.peer());
    int& from_peer = health_->watchers_by_peer_[peer_];
    if (static_cast<int>(health_->watchers_.size()) >= health_->max_watchers_ ||
        from_peer >= health_->max_watchers_per_peer_) {
      if (from_peer == 0) health_->watchers_by_peer_.erase(peer_);
      absl::MutexLock own(&mu_);
      over_ = true;
      ++pending_;
      writer_.Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  "too many health watchers; use Check"),
                     &finished_tag_);
      return;
    }
    ++from_peer;
    health_->watchers_.insert(this);
    Send(health_->StatusForWatchLocked(service_));
  }

  void WriteLocked(Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    ++pending_;
    response_ = Buffer(LoopHealth::Response(status));
    writer_.Write(response_, &written_tag_);
  }

  void Written(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok && has_queued_ && !over_) {
        has_queued_ = false;
        WriteLocked(queued_);
      }
    }
    Settle();
  }

  void Finished(bool /*ok*/) { Settle(); }

  void Over(bool /*ok*/) {
    {
      absl::MutexLock lock(&health_->mu_);
      if (health_->watchers_.erase(this) > 0 && --health_->watchers_by_peer_[peer_] == 0) {
        health_->watchers_by_peer_.erase(peer_);
      }
    }
    {
      absl::MutexLock lock(&mu_);
      over_ = true;
    }
    Settle();
  }

  // One operation ended: the watcher is freed after the last.
  void Settle() {
    bool last, counted;
    {
      absl::MutexLock lock(&mu_);
      last = --pending_ == 0;
      counted = counted_;
    }
    if (!last) return;
    if (counted) health_->loop_->Leave();
    delete this;
  }

  LoopHealth* health_;
  const int shard_;
  grpc::ServerContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_;
  std::string service_;
  std::string peer_;  // the caller's address, for the cap per address
  grpc::ByteBuffer response_;
  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool has_queued_ ABSL_GUARDED_BY(mu_) = false;
  Status queued_ ABSL_GUARDED_BY(mu_) = kUnknown;
  bool over_ ABSL_GUARDED_BY(mu_) = false;
  bool counted_ ABSL_GUARDED_BY(mu_) = false;
  MemberTag<Watcher, &Watcher::Requested> requested_tag_{this};
  MemberTag<Watcher, &Watcher::Written> written_tag_{this};
  MemberTag<Watcher, &Watcher::Finished> finished_tag_{this};
  MemberTag<Watcher, &Watcher::Over> over_tag_{this};
};

LoopHealth::LoopHealth(GrpcLoop* loop, int max_watchers, int max_watchers_per_peer)
    : loop_(loop), max_watchers_(max_watchers), max_watchers_per_peer_(max_watchers_per_peer),
      service_(std::make_unique<Service>()) {
  statuses_[""] = kServing;
}

LoopHealth::~LoopHealth() = default;

void LoopHealth::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(service_.get());
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(
      std::make_unique<Interface>(this)));
}

void LoopHealth::Start(int shard) {
  new CheckCall(this, shard);
  new CheckCall(this, shard);
  new Watcher(this, shard);
}

void LoopHealth::SetServingStatus(const std::string& service, bool serving) {
  absl::MutexLock lock(&mu_);
  // After Shutdown a name may still be added, never as serving.
  statuses_[service] = serving && !shut_down_ ? kServing : kNotServing;
  Changed(service);
}

void LoopHealth::SetServingStatus(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  SetAllLocked(serving ? kServing : kNotServing);
}

void LoopHealth::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  SetAllLocked(kNotServing);
}

void LoopHealth::SetAllLocked(Status status) {
  for (auto& [name, s] : statuses_) s = status;
  for (Watcher* w : watchers_) w->Send(StatusForWatchLocked(w->service()));
}

bool LoopHealth::Get(const std::string& service, Status* status) const {
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(service);
  if (it == statuses_.end()) return false;
  *status = it->second;
  return true;
}

LoopHealth::Status LoopHealth::StatusForWatchLocked(const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? kServiceUnknown : it->second;
}

void LoopHealth::Changed(const std::string& service) {
  for (Watcher* w : watchers_) {
    if (w->service() == service) w->Send(StatusForWatchLocked(service));
  }
}

bool LoopHealth::ParseRequest(const std::string& bytes, std::string* service) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  service->clear();
  for (;;) {
    const uint32_t tag = in.ReadTag();
    // 0: the end of the input, or an unreadable tag before it.
    if (tag == 0) return in.ConsumedEntireMessage();
    if (tag == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
      uint32_t len = 0;
      if (!in.ReadVarint32(&len) || len > 1024 || !in.ReadString(service, static_cast<int>(len))) {
        return false;
      }
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

std::string LoopHealth::Response(Status status) {
  if (status == kUnknown) return "";
  return std::string{'\x08', static_cast<char>(status)};
}

}  // namespace counsel::gateway
