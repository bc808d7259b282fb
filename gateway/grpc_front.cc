#include "gateway/grpc_front.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace counsel::gateway {
namespace {

std::string Metadata(const grpc::ServerContextBase& ctx, const char* key) {
  auto it = ctx.client_metadata().find(key);
  return it == ctx.client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
}

// Admits a call from its metadata. `authorization` and `on_behalf_of` back
// the views in the returned input.
absl::StatusOr<Admission> AdmitFromMetadata(const Gateway& gateway, const MethodPolicy& policy,
                                            const grpc::ServerContextBase& ctx,
                                            const std::string& request_id) {
  CallInput input;
  input.policy = &policy;
  input.transport = "grpc";
  const std::string authorization = Metadata(ctx, kAuthorizationHeader);
  const std::string on_behalf_of = Metadata(ctx, kOnBehalfOfHeader);
  input.authorization = authorization;
  input.on_behalf_of = on_behalf_of;
  input.request_id = request_id;
  const std::string peer = PeerAddress(ctx.peer());
  input.peer = peer;
  const std::string forwarded_for = Metadata(ctx, "x-forwarded-for");
  input.forwarded_for = forwarded_for;
  const auto deadline = ctx.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    input.client_deadline = absl::FromChrono(deadline);
  }
  return gateway.Admit(input);
}

// A forwarded streaming call: messages flow both ways as bytes, one in
// flight per direction (gRPC's flow control does the rest). Two holds keep
// the backend call open until each direction has ended; the object deletes
// itself once both the caller's and the backend's side are done.
class StreamProxy final : public grpc::ServerGenericBidiReactor {
 public:
  StreamProxy(grpc::GenericCallbackServerContext* ctx, const Gateway* gateway,
              const MethodPolicy* policy, Admission admission, std::string request_id,
              absl::Time start)
      : ctx_(ctx), gateway_(gateway), policy_(policy), admission_(std::move(admission)),
        request_id_(std::move(request_id)), start_(start), client_(this) {
    gateway_->Prepare(admission_, &client_ctx_);
    gateway_->UpstreamFor(*policy_)->generic()->PrepareBidiStreamingCall(
        &client_ctx_, policy_->method, grpc::StubOptions(), &client_);
    client_.AddMultipleHolds(2);  // the upstream and the downstream
    client_.StartRead(&down_);
    client_.StartCall();
    StartRead(&up_);
  }

  // Caller → backend.
  void OnReadDone(bool ok) override {
    if (ok && up_.Valid()) {
      client_.StartWrite(&up_);
    } else if (ctx_->IsCancelled()) {
      // A cancelled caller is not a finished one: the backend must not take
      // what arrived so far as the whole stream (a partial upload).
      client_ctx_.TryCancel();
      client_.RemoveHold();
    } else {
      client_.StartWritesDone();
      client_.RemoveHold();
    }
  }
  void UpWritten(bool ok) {
    if (ok) {
      StartRead(&up_);
    } else {
      client_.RemoveHold();
    }
  }

  // Backend → caller.
  void DownRead(bool ok) {
    if (ok && down_.Valid()) {
      StartWrite(&down_);
    } else {
      client_.RemoveHold();
    }
  }
  void OnWriteDone(bool ok) override {
    if (ok) {
      client_.StartRead(&down_);
    } else {
      client_ctx_.TryCancel();  // the caller went away
      client_.RemoveHold();
    }
  }

  // All backend operations are over, the downstream included.
  void BackendDone(const grpc::Status& status) {
    gateway_->UpstreamFor(*policy_)->Record(status);
    status_ = status;
    Finish(status);
    bool last;
    {
      absl::MutexLock lock(&mu_);
      backend_done_ = true;
      last = server_done_;
    }
    if (last) delete this;
  }

  void OnCancel() override { client_ctx_.TryCancel(); }

  void OnDone() override {
    Gateway::LogAccess("grpc", policy_->method, request_id_, &admission_.context,
                       status_.error_code(), gateway_->clock()->Now() - start_);
    bool last;
    {
      absl::MutexLock lock(&mu_);
      server_done_ = true;
      last = backend_done_;
    }
    if (last) delete this;
  }

 private:
  class Client final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Client(StreamProxy* proxy) : proxy_(proxy) {}
    void OnReadDone(bool ok) override { proxy_->DownRead(ok); }
    void OnWriteDone(bool ok) override { proxy_->UpWritten(ok); }
    void OnDone(const grpc::Status& status) override { proxy_->BackendDone(status); }

   private:
    StreamProxy* proxy_;
  };

  grpc::GenericCallbackServerContext* ctx_;
  const Gateway* gateway_;
  const MethodPolicy* policy_;
  Admission admission_;
  std::string request_id_;
  absl::Time start_;
  grpc::ClientContext client_ctx_;
  Client client_;
  grpc::ByteBuffer up_, down_;
  grpc::Status status_;
  absl::Mutex mu_;
  bool backend_done_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
};

// A unary method registered by name: gRPC reads the request before the
// handler runs and sends answer and status in one batch, which costs less
// than the generic bidi path; registration also lets reflection list the
// service. The reactor owns the backend call, so a caller's cancellation
// reaches the backend.
class UnaryForward final : public grpc::ServerUnaryReactor {
 public:
  UnaryForward(const Gateway* gateway, const MethodPolicy* policy,
               grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
               grpc::ByteBuffer* response)
      : gateway_(gateway), policy_(policy), start_(gateway->clock()->Now()) {
    request_id_ = Gateway::RequestIdFrom(Metadata(*ctx, kRequestIdHeader));
    ctx->AddInitialMetadata(kRequestIdHeader, request_id_);
    auto admission = AdmitFromMetadata(*gateway_, *policy_, *ctx, request_id_);
    if (!admission.ok()) {
      End(ToGrpcStatus(admission.status()));
      return;
    }
    admission_ = std::move(*admission);
    admitted_ = true;
    // A call whose deadline passed or that was cancelled before its message
    // arrived reaches here with no valid request: never forward it (sending
    // an invalid buffer aborts the process).
    if (request == nullptr || !request->Valid() || ctx->IsCancelled()) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended before its request"));
      return;
    }
    ex_.request = *request;
    gateway_->Forward(*policy_, admission_, &ex_, [this, response](grpc::Status status) {
      if (status.ok()) *response = ex_.response;
      End(status);
    });
  }

  void OnCancel() override { ex_.client.TryCancel(); }

  void OnDone() override {
    Gateway::LogAccess("grpc", policy_->method, request_id_,
                       admitted_ ? &admission_.context : nullptr, code_,
                       gateway_->clock()->Now() - start_);
    delete this;
  }

 private:
  void End(const grpc::Status& status) {
    code_ = status.error_code();
    Finish(status);
  }

  const Gateway* gateway_;
  const MethodPolicy* policy_;
  const absl::Time start_;
  std::string request_id_;
  Admission admission_;
  bool admitted_ = false;
  Exchange ex_;
  int code_ = 0;
};

}  // namespace

VisibleService::VisibleService(const google::protobuf::ServiceDescriptor* service,
                               const Gateway* gateway) {
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    names_.push_back(std::make_unique<std::string>(
        absl::StrCat("/", service->full_name(), "/", m->name())));
    const auto type = m->client_streaming()
                          ? (m->server_streaming() ? grpc::internal::RpcMethod::BIDI_STREAMING
                                                   : grpc::internal::RpcMethod::CLIENT_STREAMING)
                          : (m->server_streaming() ? grpc::internal::RpcMethod::SERVER_STREAMING
                                                   : grpc::internal::RpcMethod::NORMAL_RPC);
    // Mark* below insist on replacing a handler, so each method starts with
    // a placeholder that is never called.
    AddMethod(new grpc::internal::RpcServiceMethod(
        names_.back()->c_str(), type,
        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [](grpc::CallbackServerContext*, const grpc::ByteBuffer*, grpc::ByteBuffer*)
                -> grpc::ServerUnaryReactor* { return nullptr; })));
    const MethodPolicy* policy = PolicyTable::Get().Find(*names_.back());
    if (type == grpc::internal::RpcMethod::NORMAL_RPC && policy != nullptr) {
      MarkMethodRawCallback(
          i, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                 [gateway, policy](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                   grpc::ByteBuffer* resp) -> grpc::ServerUnaryReactor* {
                   return new UnaryForward(gateway, policy, ctx, req, resp);
                 }));
    } else {
      MarkMethodGeneric(i);  // streams: GrpcFront
    }
  }
}

grpc::ServerGenericBidiReactor* GrpcFront::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  // Unary methods are registered (VisibleService); what reaches here is a
  // stream, or a method no policy names.
  const MethodPolicy* policy = PolicyTable::Get().Find(context->method());
  const absl::Time start = gateway_->clock()->Now();
  std::string request_id = Gateway::RequestIdFrom(Metadata(*context, kRequestIdHeader));
  context->AddInitialMetadata(kRequestIdHeader, request_id);
  const bool stream = policy != nullptr && (policy->descriptor->client_streaming() ||
                                            policy->descriptor->server_streaming());
  auto admission = stream ? AdmitFromMetadata(*gateway_, *policy, *context, request_id)
                          : absl::StatusOr<Admission>(absl::UnimplementedError("unknown method"));
  // A stream is admitted by its backend's breaker too.
  if (admission.ok() && gateway_->UpstreamFor(*policy) == nullptr) {
    admission = absl::UnimplementedError("unknown method");
  }
  if (admission.ok()) {
    if (grpc::Status open = gateway_->UpstreamFor(*policy)->Admit(); !open.ok()) {
      admission = FromGrpcStatus(open);
    }
  }
  if (!admission.ok()) {
    // Refuses the call; logs when done.
    class Refusal final : public grpc::ServerGenericBidiReactor {
     public:
      Refusal(grpc::Status status, std::string method, std::string request_id, absl::Time start,
              const Gateway* gateway)
          : code_(status.error_code()), method_(std::move(method)),
            request_id_(std::move(request_id)), start_(start), gateway_(gateway) {
        Finish(status);
      }
      void OnDone() override {
        Gateway::LogAccess("grpc", method_, request_id_, nullptr, code_,
                           gateway_->clock()->Now() - start_);
        delete this;
      }

     private:
      int code_;
      std::string method_, request_id_;
      absl::Time start_;
      const Gateway* gateway_;
    };
    const grpc::Status status =
        admission.ok() ? grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not implemented yet")
                       : ToGrpcStatus(admission.status());
    return new Refusal(status, policy != nullptr ? policy->method : context->method(), request_id,
                       start, gateway_);
  }
  return new StreamProxy(context, gateway_, policy, std::move(*admission), std::move(request_id),
                         start);
}

}  // namespace counsel::gateway
