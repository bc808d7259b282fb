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
  const auto deadline = ctx.deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    input.client_deadline = absl::FromChrono(deadline);
  }
  return gateway.Admit(input);
}

// One forwarded unary call. Deletes itself when gRPC is done with it.
class ForwardReactor final : public grpc::ServerGenericBidiReactor {
 public:
  ForwardReactor(const Gateway* gateway, grpc::GenericCallbackServerContext* ctx)
      : gateway_(gateway), start_(gateway->clock()->Now()) {
    method_ = ctx->method();
    request_id_ = Gateway::RequestIdFrom(Metadata(*ctx, kRequestIdHeader));
    ctx->AddInitialMetadata(kRequestIdHeader, request_id_);
    policy_ = PolicyTable::Get().Find(method_);
    if (policy_ == nullptr) {
      FinishWith(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method"));
      return;
    }
    if (policy_->descriptor->client_streaming() || policy_->descriptor->server_streaming()) {
      FinishWith(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                              "streaming methods are not served yet"));
      return;
    }
    auto admission = AdmitFromMetadata(*gateway_, *policy_, *ctx, request_id_);
    if (!admission.ok()) {
      FinishWith(ToGrpcStatus(admission.status()));
      return;
    }
    admission_ = std::move(*admission);
    admitted_ = true;
    StartRead(&ex_.request);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      FinishWith(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    gateway_->Forward(*policy_, admission_, &ex_, [this](grpc::Status status) {
      code_ = status.error_code();
      if (status.ok()) {
        StartWriteAndFinish(&ex_.response, grpc::WriteOptions(), status);
      } else {
        Finish(status);
      }
    });
  }

  void OnCancel() override { ex_.client.TryCancel(); }

  void OnDone() override {
    Gateway::LogAccess("grpc", method_, request_id_, admitted_ ? &admission_.context : nullptr,
                       code_, gateway_->clock()->Now() - start_);
    delete this;
  }

 private:
  void FinishWith(const grpc::Status& status) {
    code_ = status.error_code();
    Finish(status);
  }

  const Gateway* gateway_;
  const absl::Time start_;
  std::string method_;
  std::string request_id_;
  const MethodPolicy* policy_ = nullptr;
  Admission admission_;
  bool admitted_ = false;
  Exchange ex_;
  int code_ = 0;
};

// A unary method registered by name (so that reflection lists its service)
// and forwarded like the generic ones.
grpc::ServerUnaryReactor* ForwardRegisteredUnary(const Gateway* gateway,
                                                 const MethodPolicy* policy,
                                                 grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time start = gateway->clock()->Now();
  const std::string request_id = Gateway::RequestIdFrom(Metadata(*ctx, kRequestIdHeader));
  ctx->AddInitialMetadata(kRequestIdHeader, request_id);
  auto admission = AdmitFromMetadata(*gateway, *policy, *ctx, request_id);
  if (!admission.ok()) {
    const grpc::Status status = ToGrpcStatus(admission.status());
    Gateway::LogAccess("grpc", policy->method, request_id, nullptr, status.error_code(),
                       gateway->clock()->Now() - start);
    reactor->Finish(status);
    return reactor;
  }
  struct Call {
    Exchange ex;
    Admission admission;
  };
  auto* call = new Call{{}, std::move(*admission)};
  call->ex.request = *request;
  gateway->Forward(*policy, call->admission, &call->ex,
                   [=](grpc::Status status) {
                     if (status.ok()) *response = call->ex.response;
                     Gateway::LogAccess("grpc", policy->method, request_id,
                                        &call->admission.context, status.error_code(),
                                        gateway->clock()->Now() - start);
                     delete call;
                     reactor->Finish(status);
                   });
  return reactor;
}

}  // namespace

VisibleService::VisibleService(const google::protobuf::ServiceDescriptor* service,
                               const Gateway* gateway) {
  bool registered_one = false;
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
    if (!registered_one && type == grpc::internal::RpcMethod::NORMAL_RPC && policy != nullptr) {
      registered_one = true;
      MarkMethodRawCallback(
          i, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                 [gateway, policy](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                                   grpc::ByteBuffer* resp) {
                   return ForwardRegisteredUnary(gateway, policy, ctx, req, resp);
                 }));
    } else {
      MarkMethodGeneric(i);
    }
  }
}

grpc::ServerGenericBidiReactor* GrpcFront::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  return new ForwardReactor(gateway_, context);
}

}  // namespace counsel::gateway
