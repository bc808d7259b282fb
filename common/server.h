// Server bootstrap shared by the three programs: listening (port 0 picks a
// free port, which is logged), TLS or mTLS, grpc.health.v1, reflection, and a
// drain on shutdown.
//
//   int main(int argc, char** argv) {
//     counsel::BlockTerminationSignals();   // before any thread starts
//     ...
//     ASSIGN_OR_DIE(auto runner, ServerRunner::Start(config, {&service}));
//     runner->RunUntilSignal();             // SIGTERM/SIGINT: drain, return
//     return 0;
//   }
#ifndef COUNSEL_COMMON_SERVER_H_
#define COUNSEL_COMMON_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace counsel {

// PEM file paths. With cert and key a server speaks TLS; adding a CA makes it
// require client certificates signed by that CA (mTLS). A client with a CA
// verifies the server, and presents cert/key when given.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& tls);

struct ServerConfig {
  // Program name for logs, e.g. "counsel-guidance".
  std::string program;
  // host:port; port 0 picks a free one.
  std::string listen;
  bool reflection = true;
  TlsFiles tls;
  // How long in-flight calls may run after SIGTERM.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Largest message accepted, in bytes.
  int max_receive_message_bytes = 32 << 20;
  // Streams one client connection may hold open at once (HTTP/2
  // SETTINGS_MAX_CONCURRENT_STREAMS); 0 leaves gRPC's default (no limit).
  // Calls a server has read but not yet answered cost memory, and without
  // this a fast client can open them faster than they are answered.
  int max_concurrent_streams = 0;
};

class ServerRunner {
 public:
  // Builds and starts the server. `services` are registered as they are;
  // `customize` may register more (a generic service) or set options.
  static absl::StatusOr<std::unique_ptr<ServerRunner>> Start(
      const ServerConfig& config, const std::vector<grpc::Service*>& services,
      const std::function<void(grpc::ServerBuilder&)>& customize = nullptr);
  ~ServerRunner();

  int port() const { return port_; }
  grpc::Server* server() const { return server_.get(); }

  // Marks health NOT_SERVING, refuses new calls, lets in-flight calls finish
  // until the drain timeout, then cancels the rest. Idempotent, any thread.
  void Shutdown();

  // Blocks until Shutdown() has completed.
  void Wait();

  // Blocks until SIGTERM or SIGINT (which must be blocked in every thread,
  // see BlockTerminationSignals) or Shutdown(), then shuts down.
  void RunUntilSignal();

 private:
  ServerRunner() = default;

  ServerConfig config_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Mutex mu_;
  bool shutting_down_ = false;
  absl::Notification done_;
};

// Blocks SIGTERM and SIGINT in the calling thread and all threads it starts
// later, so that only sigwait sees them. Call first thing in main.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT; returns the signal number.
int WaitForTerminationSignal();

}  // namespace counsel

#endif  // COUNSEL_COMMON_SERVER_H_
