// The gateway's gRPC front: one generic service that receives every method
// as bytes and forwards it through Gateway without parsing the payload.
#ifndef COUNSEL_GATEWAY_GRPC_FRONT_H_
#define COUNSEL_GATEWAY_GRPC_FRONT_H_

#include "gateway/gateway.h"
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/impl/codegen/service_type.h"

namespace counsel::gateway {

// Stands in for a public service: its unary methods are registered and
// forwarded as bytes (UnaryForward), its streaming methods are left to the
// generic service (GrpcFront). Registration also makes server reflection
// list the service.
class VisibleService final : public grpc::Service {
 public:
  VisibleService(const google::protobuf::ServiceDescriptor* service, const Gateway* gateway);

 private:
  std::vector<std::unique_ptr<std::string>> names_;
};

class GrpcFront final : public grpc::CallbackGenericService {
 public:
  explicit GrpcFront(const Gateway* gateway) : gateway_(gateway) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;

 private:
  const Gateway* gateway_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_GRPC_FRONT_H_
