// The gateway's gRPC front, served on the GrpcLoop: every public method is
// registered (so that reflection lists it); unary methods are raw async
// methods, read before the handler runs and answered in one batch, and
// forwarded as bytes through Gateway on the loop thread that took them;
// streams and unknown methods reach an async generic service that relays
// messages both ways. Nothing here parses a payload.
//
//   GrpcFront front(gateway);
//   ServerRunner::Start(config, {}, [&](grpc::ServerBuilder& b) {
//     front.Register(b);
//     loop.AddQueues(b);
//   });
//   loop.Start([&](int shard) { front.Start(shard); });
#ifndef COUNSEL_GATEWAY_GRPC_FRONT_H_
#define COUNSEL_GATEWAY_GRPC_FRONT_H_

#include <memory>
#include <string>
#include <vector>

#include "gateway/gateway.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/server_builder.h"

namespace counsel::gateway {

// Stands in for a public service: its unary methods with a policy are raw
// async methods the front requests; the rest are left to the generic
// service.
class VisibleService final : public grpc::Service {
 public:
  explicit VisibleService(const google::protobuf::ServiceDescriptor* service);

  struct Unary {
    int index;
    const MethodPolicy* policy;
  };
  const std::vector<Unary>& unary() const { return unary_; }

  void RequestUnary(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* responder,
                    grpc::ServerCompletionQueue* queue, void* tag) {
    RequestAsyncUnary(index, context, request, responder, queue, queue, tag);
  }

 private:
  std::vector<std::unique_ptr<std::string>> names_;
  std::vector<Unary> unary_;
};

class GrpcFront {
 public:
  explicit GrpcFront(const Gateway* gateway);
  GrpcFront(const GrpcFront&) = delete;
  GrpcFront& operator=(const GrpcFront&) = delete;

  // Registers the public services and the generic service.
  void Register(grpc::ServerBuilder& builder);
  // Requests the first calls on loop thread `shard`; each call taken is
  // replaced by a new request at once.
  void Start(int shard);

 private:
  const Gateway* gateway_;
  std::vector<std::unique_ptr<VisibleService>> services_;
  grpc::AsyncGenericService generic_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_GRPC_FRONT_H_
