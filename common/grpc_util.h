// Small helpers for callback-API handlers.
#ifndef COUNSEL_COMMON_GRPC_UTIL_H_
#define COUNSEL_COMMON_GRPC_UTIL_H_

#include <functional>

#include "absl/status/status.h"
#include "common/errors.h"
#include "common/executor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace counsel {

// Finishes a unary call inline with `status`.
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                             const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Runs `work` on `executor` and finishes the call with its result.
inline grpc::ServerUnaryReactor* FinishUnaryOn(Executor& executor,
                                               grpc::CallbackServerContext* context,
                                               std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  executor.Schedule([reactor, work = std::move(work)] {
    reactor->Finish(ToGrpcStatus(work()));
  });
  return reactor;
}

}  // namespace counsel

#endif  // COUNSEL_COMMON_GRPC_UTIL_H_
