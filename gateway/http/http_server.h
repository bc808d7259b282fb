// An event-driven HTTP/1.1 server (Boost.Beast on Asio): a few event-loop
// threads serve every connection; no connection, request body or stream
// holds a thread while it waits. It knows nothing of gRPC: it reads
// requests (with deadlines and size limits) and hands each to a handler
// that answers, now or later, from any thread.
//
//   HttpServerOptions options;
//   options.listen = "127.0.0.1:0";
//   ASSIGN_OR_RETURN(auto server, HttpServer::Start(options,
//       [](HttpRequest req, std::shared_ptr<HttpResponder> res) {
//         res->Reply(200, {{"content-type", "text/plain"}}, "ok\n");
//       }));
//
// Limits, each answered before the body is read where it can be: header
// bytes (431) and fields (431), body bytes (413), a compressed body (415:
// nothing is inflated); the whole header must arrive within header_timeout
// of the first byte and the body within body_timeout (slow senders are cut
// off); a kept-alive connection idle for idle_timeout is closed.
#ifndef COUNSEL_GATEWAY_HTTP_HTTP_SERVER_H_
#define COUNSEL_GATEWAY_HTTP_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace counsel::gateway {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // GET, POST, ...
  std::string target;  // path and query, as sent
  HttpHeaders headers;  // names lower-cased, in order
  std::string body;    // empty when body_streamed
  // The body is read piece by piece with HttpResponder::ReadBody (see
  // HttpServerOptions::stream_body) instead of arriving here whole.
  bool body_streamed = false;
  std::string peer;  // the remote address, without port
  // The first value of a header (name in lower case), "" when absent.
  std::string Header(absl::string_view name) const;
};

// The answering side of one request. Thread-safe: calls from any thread are
// carried out in order on the connection's own strand. Either Reply once,
// or StartStream, then Write any number of times, then EndStream.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual void Reply(int status, HttpHeaders headers, std::string body) = 0;
  // A response whose body ends when the connection closes (server-sent
  // events, NDJSON): no thread is held while it stays open.
  virtual void StartStream(int status, HttpHeaders headers) = 0;
  // `done(true)` once `data` is written, `done(false)` if the client left.
  virtual void Write(std::string data, std::function<void(bool written)> done) = 0;
  virtual void EndStream() = 0;
  // Runs once if the client closes its side while a stream is open (or has
  // already, when set late), so that whatever feeds the stream stops at once.
  virtual void OnClientGone(std::function<void()> gone) = 0;
  // The next piece (at most 64 KiB) of a streamed request body; `last` on
  // the final one. One read at a time: the next is asked for once this one
  // is used, so a fast sender waits for a slow consumer and nothing piles
  // up. A status that is not OK ends the body: RESOURCE_EXHAUSTED past
  // max_body_bytes, DEADLINE_EXCEEDED when a piece takes longer than
  // body_timeout, UNAVAILABLE when the client went away. Answering before
  // the body has been read closes the connection after the answer.
  virtual void ReadBody(std::function<void(absl::Status, std::string piece, bool last)> done) = 0;
  // Runs `f` on the connection's own strand, never inline: work a caller
  // may not do where it stands (under a lock, say).
  virtual void Post(std::function<void()> f) = 0;
};

using HttpHandler = std::function<void(HttpRequest, std::shared_ptr<HttpResponder>)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks one
  int threads = 2;                         // event-loop threads
  size_t max_body_bytes = 32 << 20;
  size_t max_header_bytes = 16 << 10;
  size_t max_header_fields = 100;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(60);
  absl::Duration idle_timeout = absl::Seconds(30);
  // Connections beyond this are closed as soon as they are accepted.
  int max_connections = 20000;
  // Checks a request's headers before its body is read; a status and a
  // message refuse it (the connection is then closed).
  std::function<std::optional<std::pair<int, std::string>>(const HttpRequest&)> check_headers;
  // Whether a request's body is handed over piece by piece (ReadBody)
  // rather than read whole before the handler runs; asked after
  // check_headers passed.
  std::function<bool(const HttpRequest&)> stream_body;
  // The body of an error the server answers itself (413, 415, 431, 400).
  std::function<std::string(int http_status, absl::string_view message)> render_error;
};

class HttpServer {
 public:
  // Binds and starts serving on `options.threads` threads of its own.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           HttpHandler handler);
  ~HttpServer();

  int port() const;
  // Stops accepting, ends open streams, waits up to `drain` for requests
  // being answered, then stops the event loop. Idempotent.
  void Stop(absl::Duration drain = absl::Seconds(5));

  // The implementation (its connections reach it); opaque to users.
  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_HTTP_SERVER_H_
