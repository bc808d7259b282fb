#include "tests/fuzz/service_fuzz.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"

namespace counsel::fuzz {

std::unique_ptr<ServerRunner> ServeInProcess(grpc::Service* service,
                                             std::shared_ptr<grpc::Channel>* channel) {
  ServerConfig config;
  config.program = "fuzz";
  config.listen = "127.0.0.1:0";
  config.reflection = false;
  auto runner = ServerRunner::Start(config, {service});
  if (!runner.ok()) abort();
  *channel = (*runner)->server()->InProcessChannel(grpc::ChannelArguments());
  return std::move(*runner);
}

CallContext FuzzContext(std::initializer_list<const char*> scopes) {
  CallContext cc;
  cc.set_tenant("fuzz");
  cc.set_key_id("fuzz");
  for (const char* s : scopes) cc.add_scopes(s);
  return cc;
}

void CallUnary(const std::shared_ptr<grpc::Channel>& channel, const google::protobuf::ServiceDescriptor* service,
               const ContextKey& key, const CallContext& base, const uint8_t* data,
               size_t size) {
  if (size == 0) return;
  std::vector<const google::protobuf::MethodDescriptor*> unary;
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* m = service->method(i);
    if (!m->client_streaming() && !m->server_streaming()) unary.push_back(m);
  }
  const google::protobuf::MethodDescriptor* method = unary[data[0] % unary.size()];
  const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(method->input_type())
          ->New());
  const bool parses = request->ParseFromString(bytes);

  CallContext cc = base;
  cc.set_method(path);
  cc.set_expire_unix_micros(absl::ToUnixMicros(absl::Now() + absl::Minutes(1)));
  grpc::ClientContext ctx;
  key.Attach(cc, &ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::GenericStub stub(channel);
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, path, grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  // For writing seeds: which method each input reached, and its answer.
  static const bool verbose = std::getenv("COUNSEL_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s parses=%d -> %d\n", path.c_str(), parses,
                 static_cast<int>(status.error_code()));
  }
  if (!parses) return;
  const auto code = status.error_code();
  if (code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::INTERNAL ||
      code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    // The method and code only: the request may hold anything.
    std::fprintf(stderr, "%s answered %d\n", path.c_str(), static_cast<int>(code));
    __builtin_trap();
  }
}

}  // namespace counsel::fuzz
