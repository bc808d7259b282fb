// Shared by the per-service fuzz targets: one fuzz input is one call of a
// unary method of a service running in process, with a valid signed
// context, so that the fuzzer reaches the handlers rather than the
// authentication in front of them.
//
// Input: byte 0 picks the method (modulo the service's unary methods); the
// rest is the request as bytes, parseable or not. COUNSEL_FUZZ_VERBOSE=1
// prints each call's method and status code (for writing seeds).
#ifndef COUNSEL_TESTS_FUZZ_SERVICE_FUZZ_H_
#define COUNSEL_TESTS_FUZZ_SERVICE_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include <initializer_list>

#include "common/call_context.h"
#include "common/server.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/channel.h"

namespace counsel::fuzz {

// Starts `service` (loopback, port 0, no reflection); *channel reaches it
// in process. Aborts if it cannot start.
std::unique_ptr<ServerRunner> ServeInProcess(grpc::Service* service,
                                             std::shared_ptr<grpc::Channel>* channel);

// The context every fuzz call carries: tenant and key id "fuzz", `scopes`.
CallContext FuzzContext(std::initializer_list<const char*> scopes);

// Makes the call and checks what every handler promises whatever the
// request: a request that parses is never answered UNKNOWN or INTERNAL (a
// handler bug, or an error too large for the trailers), and never hangs
// until its deadline. Traps otherwise. `base` supplies tenant and scopes;
// the method and expiry are set per call.
void CallUnary(const std::shared_ptr<grpc::Channel>& channel, const google::protobuf::ServiceDescriptor* service,
               const ContextKey& key, const CallContext& base, const uint8_t* data,
               size_t size);

}  // namespace counsel::fuzz

#endif  // COUNSEL_TESTS_FUZZ_SERVICE_FUZZ_H_
