// The gateway's HTTP/JSON front on the event-driven server (http_server.h):
// routes from the transcoder, the same admission and forwarding path as
// gRPC, errors as JSON google.rpc.Status with the standard HTTP status,
// WatchChanges as server-sent events (or NDJSON), /healthz, /readyz,
// /metrics and /openapi.json. No request holds a thread while it waits for
// a backend: answers are written when the backend's completion arrives.
#ifndef COUNSEL_GATEWAY_HTTP_HTTP_FRONT_H_
#define COUNSEL_GATEWAY_HTTP_HTTP_FRONT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/gateway.h"
#include "gateway/http/http_server.h"
#include "gateway/http/transcoder.h"

namespace counsel::gateway {

struct HttpOptions {
  // host:port; port 0 picks one.
  std::string listen = "127.0.0.1:8080";
  size_t max_body_bytes = 32 << 20;
  // Event-loop threads; every connection is served by these.
  int threads = 2;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(30);
  // Origins allowed to call from a browser (CORS); empty allows none.
  std::vector<std::string> cors_origins;
  // Session cookies marked Secure (behind a TLS-terminating ingress).
  bool secure_cookies = false;
};

class HttpFront {
 public:
  // Binds and starts serving on threads of its own.
  static absl::StatusOr<std::unique_ptr<HttpFront>> Start(const HttpOptions& options,
                                                          const Gateway* gateway,
                                                          const Transcoder* transcoder);
  ~HttpFront();

  int port() const;
  // Stops accepting, ends open streams, lets calls in flight finish. Idempotent.
  void Stop();

 private:
  struct State;
  HttpFront() = default;
  std::unique_ptr<State> state_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_HTTP_FRONT_H_
