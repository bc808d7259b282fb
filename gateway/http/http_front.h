// The gateway's HTTP/JSON front (cpp-httplib): routes from the transcoder,
// the same admission and forwarding path as gRPC, errors as JSON
// google.rpc.Status with the standard HTTP status, /healthz.
#ifndef COUNSEL_GATEWAY_HTTP_HTTP_FRONT_H_
#define COUNSEL_GATEWAY_HTTP_HTTP_FRONT_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/gateway.h"
#include "gateway/http/transcoder.h"

namespace httplib {
class Server;
}

namespace counsel::gateway {

struct HttpOptions {
  // host:port; port 0 picks one.
  std::string listen = "127.0.0.1:8080";
  size_t max_body_bytes = 32 << 20;
  int threads = 8;
  // Origins allowed to call from a browser (CORS); empty allows none.
  std::vector<std::string> cors_origins;
};

class HttpFront {
 public:
  // Binds and starts serving on a thread of its own.
  static absl::StatusOr<std::unique_ptr<HttpFront>> Start(const HttpOptions& options,
                                                          const Gateway* gateway,
                                                          const Transcoder* transcoder);
  ~HttpFront();

  int port() const { return port_; }
  // Stops accepting, lets handlers finish, joins. Idempotent.
  void Stop();

 private:
  HttpFront() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_HTTP_FRONT_H_
