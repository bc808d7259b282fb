// Small helpers for gRPC handlers and calls.
#ifndef COUNSEL_COMMON_GRPC_UTIL_H_
#define COUNSEL_COMMON_GRPC_UTIL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/errors.h"
#include "common/executor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"

namespace counsel {

// The bytes a ByteBuffer holds, in one string (empty when it holds none).
inline std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Valid() || !buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

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
