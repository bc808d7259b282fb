// The framework's reference points for the load report, with no Counsel
// code in the path:
//   bare_proxy echo  --listen=ADDR           a callback-API server that echoes
//                    [--response_bytes=N]     (or answers N bytes: the size of
//                                              the answer it stands in for)
//   bare_proxy proxy --listen=ADDR --to=ADDR  a callback-API generic proxy that
//                                              forwards bytes, no auth, no policy
// Each logs its port ("listening") and runs until SIGTERM/SIGINT.
#include <cstdio>

#include "absl/flags/flag.h"
#include "common/config.h"
#include "common/server.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "listen address");
ABSL_FLAG(std::string, to, "", "proxy: where to forward");
ABSL_FLAG(int, response_bytes, -1, "echo: answer this many bytes instead of the request");
ABSL_FLAG(bool, forward_metadata, false,
          "proxy: copy the caller's metadata onto the forwarded call (so that it can front "
          "guidance-svc with a signed context: the same backend as the gateway)");

namespace {

class Echo final : public grpc::CallbackGenericService {
 public:
  Echo() {
    const int n = absl::GetFlag(FLAGS_response_bytes);
    if (n >= 0) {
      grpc::Slice slice(std::string(static_cast<size_t>(n), 'x'));
      fixed_ = grpc::ByteBuffer(&slice, 1);
    }
  }

 private:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class R : public grpc::ServerGenericBidiReactor {
     public:
      explicit R(const grpc::ByteBuffer* fixed) : fixed_(fixed) { StartRead(&buf_); }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        if (fixed_->Valid()) buf_ = *fixed_;  // shares the slices, copies no bytes
        StartWriteAndFinish(&buf_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      const grpc::ByteBuffer* fixed_;
      grpc::ByteBuffer buf_;
    };
    return new R(&fixed_);
  }

  grpc::ByteBuffer fixed_;
};

class Proxy final : public grpc::CallbackGenericService {
 public:
  explicit Proxy(const std::string& to)
      : stub_(grpc::CreateChannel(to, grpc::InsecureChannelCredentials())) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    class R : public grpc::ServerGenericBidiReactor {
     public:
      R(grpc::GenericStub* stub, grpc::GenericCallbackServerContext* ctx)
          : stub_(stub), method_(ctx->method()) {
        if (absl::GetFlag(FLAGS_forward_metadata)) {
          for (const auto& [k, v] : ctx->client_metadata()) {
            client_.AddMetadata(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
          }
        }
        StartRead(&req_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
          return;
        }
        stub_->UnaryCall(&client_, method_, grpc::StubOptions(), &req_, &resp_,
                         [this](grpc::Status s) {
                           if (s.ok()) StartWriteAndFinish(&resp_, grpc::WriteOptions(), s);
                           else Finish(s);
                         });
      }
      void OnCancel() override { client_.TryCancel(); }
      void OnDone() override { delete this; }

     private:
      grpc::GenericStub* stub_;
      std::string method_;
      grpc::ClientContext client_;
      grpc::ByteBuffer req_, resp_;
    };
    return new R(&stub_, ctx);
  }

 private:
  grpc::GenericStub stub_;
};

}  // namespace

int main(int argc, char** argv) {
  counsel::BlockTerminationSignals();
  std::vector<std::string> args = counsel::ParseFlags(argc, argv, "bare_proxy echo|proxy");
  if (args.size() != 1 || (args[0] != "echo" && args[0] != "proxy")) return 2;
  Echo echo;
  std::unique_ptr<Proxy> proxy;
  grpc::CallbackGenericService* service = &echo;
  if (args[0] == "proxy") {
    proxy = std::make_unique<Proxy>(absl::GetFlag(FLAGS_to));
    service = proxy.get();
  }
  counsel::ServerConfig config;
  config.program = "bare-" + args[0];
  config.listen = absl::GetFlag(FLAGS_listen);
  config.reflection = false;
  auto runner = counsel::ServerRunner::Start(
      config, {}, [service](grpc::ServerBuilder& b) { b.RegisterCallbackGenericService(service); });
  if (!runner.ok()) return 1;
  (*runner)->RunUntilSignal();
  return 0;
}
