#include "gateway/grpc_front.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "grpcpp/alarm.h"

namespace counsel::gateway {
namespace {

// Requests kept waiting per method and loop thread: a call that arrives
// finds one, and each call taken is replaced before it is served. Calls
// that find none wait in gRPC's queue until the next request.
constexpr int kWaitingPerMethod = 2;
constexpr int kWaitingStreams = 16;

absl::string_view Metadata(const grpc::ServerContextBase& ctx, const char* key) {
  auto it = ctx.client_metadata().find(key);
  if (it == ctx.client_metadata().end()) return absl::string_view();
  return absl::string_view(it->second.data(), it->second.size());
}

// Admits a call from its metadata (views into the server context's, valid
// for the call).
absl::StatusOr<Admission> AdmitFromMetadata(const Gateway& gateway, const MethodPolicy& policy,
                                            const grpc::ServerContextBase& ctx,
                                            absl::string_view request_id) {
  CallInput input;
  input.policy = &policy;
  input.transport = "grpc";
  input.authorization = Metadata(ctx, kAuthorizationHeader);
  input.on_behalf_of = Metadata(ctx, kOnBehalfOfHeader);
  input.request_id = request_id;
  input.peer_source = [&ctx] { return PeerAddress(ctx.peer()); };
  input.forwarded_for = Metadata(ctx, "x-forwarded-for");
  const auto deadline = ctx.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    input.client_deadline = absl::FromChrono(deadline);
  }
  return gateway.Admit(input);
}

// A unary call: requested on one loop thread, admitted and forwarded there,
// answered in one batch. Three completions end it: the forwarded call's
// `done`, the answer's Finish, and the server's notice that the call is
// over (which also brings a caller's cancellation to the backend call). It
// frees itself after the last of the latter two, and is counted in the
// loop meanwhile.
class UnaryCall {
 public:
  UnaryCall(const Gateway* gateway, VisibleService* service, VisibleService::Unary method,
            int shard)
      : gateway_(gateway), service_(service), method_(method), shard_(shard),
        responder_(&ctx_) {
    ctx_.AsyncNotifyWhenDone(&over_tag_);
    service_->RequestUnary(method_.index, &ctx_, &ex_.request, &responder_,
                           gateway_->loop().queue(shard_), &requested_tag_);
  }

 private:
  // A call arrived (false: the server is shutting down; no other tag will
  // come for this object).
  void Requested(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    if (!gateway_->loop().Enter()) {
      // Stopping: nothing more is sent; the notice that the call is over
      // still comes, and frees this.
      remaining_ = 1;
      return;
    }
    counted_ = true;
    new UnaryCall(gateway_, service_, method_, shard_);
    const MethodPolicy& policy = *method_.policy;
    start_ = gateway_->clock()->Now();
    request_id_ = Gateway::RequestIdFrom(Metadata(ctx_, kRequestIdHeader));
    ctx_.AddInitialMetadata(kRequestIdHeader, request_id_);
    auto admission = AdmitFromMetadata(*gateway_, policy, ctx_, request_id_);
    if (!admission.ok()) return Answer(ToGrpcStatus(admission.status()));
    admission_ = *std::move(admission);
    admitted_ = true;
    ex_.shard = shard_;
    gateway_->Forward(policy, admission_, &ex_, [this](grpc::Status status) { Answer(status); });
  }

  // May run on another thread (a local method's executor); the answer's
  // completion comes back to this call's queue.
  void Answer(const grpc::Status& status) {
    code_ = status.error_code();
    if (status.ok()) {
      responder_.Finish(ex_.response, status, &answered_tag_);
    } else {
      responder_.FinishWithError(status, &answered_tag_);
    }
  }

  void Answered(bool /*ok: false when the caller had gone*/) {
    Gateway::LogAccess("grpc", method_.policy->method, request_id_,
                       admitted_ ? &admission_.context : nullptr, code_,
                       gateway_->clock()->Now() - start_);
    Release();
  }

  void Over(bool /*ok*/) {
    if (ctx_.IsCancelled()) ex_.TryCancel();
    Release();
  }

  void Release() {
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (counted_) gateway_->loop().Leave();
    delete this;
  }

  const Gateway* gateway_;
  VisibleService* service_;
  const VisibleService::Unary method_;
  const int shard_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
  Exchange ex_;
  absl::Time start_;
  std::string request_id_;
  Admission admission_;
  bool admitted_ = false;
  int code_ = 0;
  bool counted_ = false;
  std::atomic<int> remaining_{2};  // answered, over
  MemberTag<UnaryCall, &UnaryCall::Requested> requested_tag_{this};
  MemberTag<UnaryCall, &UnaryCall::Answered> answered_tag_{this};
  MemberTag<UnaryCall, &UnaryCall::Over> over_tag_{this};
};

// A stream, or a method no policy names, through the generic service. A
// stream is admitted, then relayed both ways as bytes on the loop thread
// that took it, one message in flight per direction (gRPC's flow control
// does the rest); anything else is refused. Every completion comes to this
// call's queue, so its state needs no lock; it frees itself when no
// operation is left.
class StreamCall {
 public:
  static constexpr absl::Duration kCancelNoticeWait = absl::Milliseconds(5);

  StreamCall(const Gateway* gateway, grpc::AsyncGenericService* service, int shard)
      : gateway_(gateway), service_(service), shard_(shard), stream_(&ctx_) {
    ctx_.AsyncNotifyWhenDone(&over_tag_);
    grpc::ServerCompletionQueue* queue = gateway_->loop().queue(shard_);
    service_->RequestCall(&ctx_, &stream_, queue, queue, &requested_tag_);
  }

 private:
  void Requested(bool ok) {
    if (!ok) {
      delete this;
      return;
    }
    pending_ = 1;  // the server's notice that the call is over
    if (!gateway_->loop().Enter()) return;  // stopping: that notice frees this
    counted_ = true;
    new StreamCall(gateway_, service_, shard_);
    start_ = gateway_->clock()->Now();
    policy_ = PolicyTable::Get().Find(ctx_.method());
    method_ = policy_ != nullptr ? policy_->method : ctx_.method();
    request_id_ = Gateway::RequestIdFrom(Metadata(ctx_, kRequestIdHeader));
    ctx_.AddInitialMetadata(kRequestIdHeader, request_id_);
    // Unary methods are registered (VisibleService): what reaches here is a
    // stream, or a method no policy names.
    const bool stream = policy_ != nullptr && (policy_->descriptor->client_streaming() ||
                                               policy_->descriptor->server_streaming());
    const grpc::Status unknown(grpc::StatusCode::UNIMPLEMENTED, "unknown method");
    if (!stream) return Refuse(unknown);
    auto admission = AdmitFromMetadata(*gateway_, *policy_, ctx_, request_id_);
    if (!admission.ok()) return Refuse(ToGrpcStatus(admission.status()));
    upstream_ = gateway_->UpstreamFor(*policy_);
    if (upstream_ == nullptr) return Refuse(unknown);
    // A stream is admitted by its backend's breaker too.
    if (grpc::Status open = upstream_->Admit(); !open.ok()) return Refuse(open);
    admission_ = *std::move(admission);
    admitted_ = true;
    gateway_->Prepare(admission_, &client_ctx_);
    client_ = upstream_->generic()->PrepareCall(&client_ctx_, policy_->method,
                                                gateway_->loop().queue(shard_));
    pending_ += 3;
    client_->StartCall(&client_started_tag_);  // the first write waits for it
    client_->Read(&down_, &down_read_tag_);
    stream_.Read(&up_, &up_read_tag_);
  }

  void Refuse(const grpc::Status& status) {
    code_ = status.error_code();
    finishing_ = true;
    ++pending_;
    stream_.Finish(status, &finished_tag_);
  }

  // Caller → backend. Writes, and the end of them, wait for the backend
  // call's start, which uses the same operation set.
  void ClientStarted(bool /*ok: a failed start fails the reads*/) {
    client_started_ = true;
    if (!client_done_) {
      if (up_ready_) WriteUp();
      else if (writes_done_wanted_) EndWrites();
    }
    Settle();
  }
  void UpRead(bool ok) {
    if (client_done_) {
      // The backend call has ended (its status is the answer): nothing more
      // goes to it.
    } else if (ok && up_.Valid()) {
      up_ready_ = true;
      if (client_started_) WriteUp();
    } else if (policy_->descriptor->client_streaming()) {
      // The caller's messages have ended: it finished, or it cancelled. The
      // async API tells which only once the notice that the call is over
      // has been taken off the queue; a cancellation posts that notice
      // with this failed read, a finished caller's comes only after the
      // answer. An upload must not be passed on as whole when it was cut
      // short, so the decision waits for that notice, up to a few
      // milliseconds (a margin over the transport posting both at once).
      ++pending_;
      up_closed_ = std::make_unique<grpc::Alarm>();
      up_closed_->Set(gateway_->loop().queue(shard_),
                      absl::ToChronoTime(absl::Now() + kCancelNoticeWait), &up_closed_tag_);
    } else {
      // One request, sent: the end of it is the end of the requests (a
      // cancellation follows in Over).
      CloseUp();
    }
    Settle();
  }
  void UpClosed(bool /*ok*/) {
    CloseUp();
    Settle();
  }
  void CloseUp() {
    if (client_done_) return;  // the backend call has ended: nothing goes to it
    if (over_ && ctx_.IsCancelled()) {
      // A cancelled caller is not a finished one: the backend must not take
      // what arrived so far as the whole stream (a partial upload).
      client_ctx_.TryCancel();
    } else if (!client_started_) {
      writes_done_wanted_ = true;
    } else {
      EndWrites();
    }
  }
  void EndWrites() {
    ++pending_;
    client_->WritesDone(&writes_done_tag_);
  }
  void WriteUp() {
    up_ready_ = false;
    ++pending_;
    client_->Write(up_, &up_written_tag_);
  }
  void UpWritten(bool ok) {
    // Not ok: the backend call has ended; its status comes from Finish.
    if (ok && !client_done_) {
      ++pending_;
      stream_.Read(&up_, &up_read_tag_);
    }
    Settle();
  }
  void WritesDone(bool /*ok*/) { Settle(); }

  // Backend → caller. The backend's status is asked for once its messages
  // have ended (a pending read and Finish would both ask for its initial
  // metadata); the caller's call is finished with it once that status is in
  // and no write to the caller is in flight.
  void DownRead(bool ok) {
    if (ok && down_.Valid()) {
      ++pending_;
      stream_.Write(down_, &down_written_tag_);
    } else {
      ++pending_;
      client_->Finish(&status_, &client_finished_tag_);
    }
    Settle();
  }
  void DownWritten(bool ok) {
    if (ok) {
      ++pending_;
      client_->Read(&down_, &down_read_tag_);
    } else {
      client_ctx_.TryCancel();  // the caller went away
      ++pending_;
      client_->Finish(&status_, &client_finished_tag_);
    }
    Settle();
  }
  void ClientFinished(bool /*ok: always*/) {
    client_done_ = true;
    upstream_->Record(status_);
    if (!finishing_) Refuse(status_);  // Refuse finishes with any status
    Settle();
  }

  void Finished(bool /*ok*/) { Settle(); }

  void Over(bool /*ok*/) {
    over_ = true;
    if (ctx_.IsCancelled() && client_ != nullptr) client_ctx_.TryCancel();
    Settle();
  }

  // One operation ended: the call is freed after the last.
  void Settle() {
    if (--pending_ > 0) return;
    if (counted_) {
      Gateway::LogAccess("grpc", method_, request_id_, admitted_ ? &admission_.context : nullptr,
                         code_, gateway_->clock()->Now() - start_);
      gateway_->loop().Leave();
    }
    delete this;
  }

  const Gateway* gateway_;
  grpc::AsyncGenericService* service_;
  const int shard_;
  grpc::GenericServerContext ctx_;
  grpc::GenericServerAsyncReaderWriter stream_;
  const MethodPolicy* policy_ = nullptr;
  const Upstream* upstream_ = nullptr;
  std::string method_;
  absl::Time start_;
  std::string request_id_;
  Admission admission_;
  bool admitted_ = false;
  grpc::ClientContext client_ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> client_;
  grpc::ByteBuffer up_, down_;
  bool counted_ = false;
  bool over_ = false;
  bool client_started_ = false;
  bool client_done_ = false;
  bool writes_done_wanted_ = false;
  std::unique_ptr<grpc::Alarm> up_closed_;
  bool up_ready_ = false;
  bool finishing_ = false;
  grpc::Status status_;
  int code_ = 0;
  int pending_ = 0;
  MemberTag<StreamCall, &StreamCall::Requested> requested_tag_{this};
  MemberTag<StreamCall, &StreamCall::ClientStarted> client_started_tag_{this};
  MemberTag<StreamCall, &StreamCall::UpRead> up_read_tag_{this};
  MemberTag<StreamCall, &StreamCall::UpClosed> up_closed_tag_{this};
  MemberTag<StreamCall, &StreamCall::UpWritten> up_written_tag_{this};
  MemberTag<StreamCall, &StreamCall::WritesDone> writes_done_tag_{this};
  MemberTag<StreamCall, &StreamCall::DownRead> down_read_tag_{this};
  MemberTag<StreamCall, &StreamCall::DownWritten> down_written_tag_{this};
  MemberTag<StreamCall, &StreamCall::ClientFinished> client_finished_tag_{this};
  MemberTag<StreamCall, &StreamCall::Finished> finished_tag_{this};
  MemberTag<StreamCall, &StreamCall::Over> over_tag_{this};
};

}  // namespace

VisibleService::VisibleService(const google::protobuf::ServiceDescriptor* service) {
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    names_.push_back(std::make_unique<std::string>(
        absl::StrCat("/", service->full_name(), "/", m->name())));
    const auto type = m->client_streaming()
                          ? (m->server_streaming() ? grpc::internal::RpcMethod::BIDI_STREAMING
                                                   : grpc::internal::RpcMethod::CLIENT_STREAMING)
                          : (m->server_streaming() ? grpc::internal::RpcMethod::SERVER_STREAMING
                                                   : grpc::internal::RpcMethod::NORMAL_RPC);
    const MethodPolicy* policy = PolicyTable::Get().Find(*names_.back());
    if (type == grpc::internal::RpcMethod::NORMAL_RPC && policy != nullptr) {
      AddMethod(new grpc::internal::RpcServiceMethod(names_.back()->c_str(), type, nullptr));
      MarkMethodRaw(i);
      unary_.push_back({i, policy});
    } else {
      // Streams go to the generic service. MarkMethodGeneric drops the
      // method, but insists on a handler to drop: one that is never run.
      struct Unused final : grpc::internal::MethodHandler {
        void RunHandler(const HandlerParameter&) override {}
      };
      AddMethod(new grpc::internal::RpcServiceMethod(names_.back()->c_str(), type, new Unused));
      MarkMethodGeneric(i);
    }
  }
}

GrpcFront::GrpcFront(const Gateway* gateway) : gateway_(gateway) {
  for (const std::string& name : PublicServices()) {
    services_.push_back(std::make_unique<VisibleService>(
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name)));
  }
}

void GrpcFront::Register(grpc::ServerBuilder& builder) {
  for (auto& s : services_) builder.RegisterService(s.get());
  builder.RegisterAsyncGenericService(&generic_);
}

void GrpcFront::Start(int shard) {
  for (auto& s : services_) {
    for (const VisibleService::Unary& m : s->unary()) {
      for (int i = 0; i < kWaitingPerMethod; ++i) new UnaryCall(gateway_, s.get(), m, shard);
    }
  }
  for (int i = 0; i < kWaitingStreams; ++i) new StreamCall(gateway_, &generic_, shard);
}

}  // namespace counsel::gateway
