#include "gateway/http/http_server.h"

#include <atomic>
#include <deque>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace counsel::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string HttpRequest::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

namespace {

constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

}  // namespace

class Connection;

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<int> connections{0};
  std::atomic<int> answering{0};  // requests handed to the handler, not yet answered
  int port = 0;
  absl::Mutex mu;
  std::vector<std::weak_ptr<Connection>> live ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;

  void Accept();
};

// One client connection. Every member is touched on the connection's strand
// only; the HttpResponder methods post there from whatever thread calls.
class Connection final : public HttpResponder, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server), write_timer_(stream_.get_executor()) {}
  ~Connection() override { server_->connections.fetch_sub(1); }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(true); });
  }

  // Ends the connection from outside (the server stopping); `closed` runs
  // once it is.
  void Shut(std::function<void()> closed) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), closed = std::move(closed)] {
      self->Close();
      closed();
    });
  }

  void Reply(int status, HttpHeaders headers, std::string body) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), status,
                                        headers = std::move(headers),
                                        body = std::move(body)]() mutable {
      self->DoReply(status, std::move(headers), std::move(body));
    });
  }

  void StartStream(int status, HttpHeaders headers) override {
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), status, headers = std::move(headers)]() mutable {
                 self->DoStartStream(status, std::move(headers));
               });
  }

  void Write(std::string data, std::function<void(bool)> done) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), data = std::move(data),
                                        done = std::move(done)]() mutable {
      if (self->state_ != State::kStreaming || self->gone_) {
        if (done) done(false);
        return;
      }
      self->queue_.emplace_back(std::move(data), std::move(done));
      self->WriteNext();
    });
  }

  void EndStream() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->ending_ = true;
      if (self->queue_.empty() && !self->writing_) self->Close();
    });
  }

  void ReadBody(std::function<void(absl::Status, std::string, bool)> done) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), done = std::move(done)]() mutable {
      self->DoReadBody(std::move(done));
    });
  }

  void Post(std::function<void()> f) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), f = std::move(f)] { f(); });
  }

  void OnClientGone(std::function<void()> gone) override {
    asio::post(stream_.get_executor(), [self = shared_from_this(), gone = std::move(gone)]() mutable {
      if (self->gone_) {
        gone();
      } else {
        self->on_gone_ = std::move(gone);
      }
    });
  }

 private:
  enum class State { kReading, kAnswering, kWriting, kStreaming, kClosed };

  const HttpServerOptions& options() const { return server_->options; }

  void ReadHeader(bool first) {
    if (state_ == State::kClosed) return;
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    // The whole header within the deadline: a client dripping one header
    // line at a time is cut off, and it never held a thread meanwhile.
    stream_.expires_after(Chrono(first ? options().header_timeout : options().idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return Refuse(431, "the request's headers are larger than the limit");
    }
    if (ec == http::error::body_limit) {  // a Content-Length beyond the limit
      return Refuse(413, absl::StrCat("the request body is larger than ",
                                      options().max_body_bytes, " bytes"));
    }
    if (ec) return Close();
    auto& msg = parser_->get();
    request_ = HttpRequest();
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    size_t fields = 0;
    for (const auto& f : msg) {
      request_.headers.emplace_back(absl::AsciiStrToLower(std::string(f.name_string())),
                                    std::string(f.value()));
      ++fields;
    }
    beast::error_code peer_ec;
    const auto remote = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) request_.peer = remote.address().to_string();
    keep_alive_ = msg.keep_alive();
    if (fields > options().max_header_fields) {
      return Refuse(431, absl::StrCat("the request has more than ", options().max_header_fields,
                                      " header fields"));
    }
    const std::string encoding = request_.Header("content-encoding");
    if (!encoding.empty() && !absl::EqualsIgnoreCase(encoding, "identity")) {
      // Nothing is ever inflated: a small compressed body can stand for
      // gigabytes.
      return Refuse(415, "compressed request bodies are not accepted: send the body without "
                         "Content-Encoding");
    }
    if (options().check_headers) {
      if (auto refusal = options().check_headers(request_)) {
        return Refuse(refusal->first, refusal->second);
      }
    }
    if (parser_->is_done()) return Dispatch();
    const bool expect_continue = absl::EqualsIgnoreCase(request_.Header("expect"), "100-continue");
    if (options().stream_body && options().stream_body(request_)) {
      // The header is read and no body byte yet: the parser changes its
      // body type, and the handler pulls the body as it can use it.
      stream_parser_.emplace(std::move(*parser_));
      stream_parser_->body_limit(options().max_body_bytes);
      parser_.reset();
      body_open_ = true;
      expect_continue_ = expect_continue;
      request_.body_streamed = true;
      return Dispatch();
    }
    if (expect_continue) {
      stream_.expires_after(Chrono(options().body_timeout));
      asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(Chrono(options().body_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec == http::error::body_limit) {
                         return self->Refuse(413, absl::StrCat(
                             "the request body is larger than ", self->options().max_body_bytes,
                             " bytes"));
                       }
                       if (ec) return self->Close();
                       self->request_.body = std::move(self->parser_->get().body());
                       self->Dispatch();
                     });
  }

  void Dispatch() {
    // The handler answers in its own time; the gateway's deadlines bound it.
    stream_.expires_never();
    state_ = State::kAnswering;
    server_->answering.fetch_add(1);
    server_->handler(std::move(request_), shared_from_this());
  }

  void DoReadBody(std::function<void(absl::Status, std::string, bool)> done) {
    if (state_ == State::kClosed || !stream_parser_) {
      return done(absl::UnavailableError("the connection is closed"), "", false);
    }
    if (reading_body_ || state_ != State::kAnswering) {
      // One read at a time, and none once the request is answered.
      return done(absl::FailedPreconditionError("the body is not readable now"), "", false);
    }
    if (stream_parser_->is_done()) return done(absl::OkStatus(), "", true);
    if (expect_continue_) {
      // Asked for only now, so a refused request never made the client
      // send its body.
      expect_continue_ = false;
      stream_.expires_after(Chrono(options().body_timeout));
      asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                        [self = shared_from_this(), done = std::move(done)](
                            beast::error_code ec, std::size_t) mutable {
                          if (ec) {
                            return done(absl::UnavailableError("the client went away"), "", false);
                          }
                          self->DoReadBody(std::move(done));
                        });
      return;
    }
    piece_.resize(kPieceBytes);
    auto& body = stream_parser_->get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    body.more = true;
    stream_.expires_after(Chrono(options().body_timeout));
    reading_body_ = true;
    http::async_read(stream_, buffer_, *stream_parser_,
                     [self = shared_from_this(), done = std::move(done)](beast::error_code ec,
                                                                         std::size_t) {
                       self->stream_.expires_never();
                       self->reading_body_ = false;
                       if (self->deferred_reply_) {
                         auto reply = std::move(self->deferred_reply_);
                         self->deferred_reply_ = nullptr;
                         done(absl::CancelledError("the request was answered"), "", false);
                         return reply();
                       }
                       if (ec == http::error::need_buffer) ec = {};
                       if (ec) {
                         self->keep_alive_ = false;
                         if (ec == http::error::body_limit) {
                           return done(absl::ResourceExhaustedError(absl::StrCat(
                                           "the request body is larger than ",
                                           self->options().max_body_bytes, " bytes")),
                                       "", false);
                         }
                         if (ec == beast::error::timeout) {
                           return done(absl::DeadlineExceededError(
                                           "the request body arrived too slowly"),
                                       "", false);
                         }
                         return done(absl::UnavailableError("the client went away"), "", false);
                       }
                       const size_t got =
                           self->piece_.size() - self->stream_parser_->get().body().size;
                       const bool last = self->stream_parser_->is_done();
                       if (last) self->body_open_ = false;
                       done(absl::OkStatus(), self->piece_.substr(0, got), last);
                     });
  }

  // After answering a request whose body was not read to its end: stop
  // sending, then read and drop what the client still sends for a moment,
  // so that closing does not reset the connection before the client has
  // read the answer.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    // One deadline for the whole linger: a client dripping bytes does not
    // extend it.
    stream_.expires_after(std::chrono::seconds(2));
    LingerRead();
  }

  void LingerRead() {
    stream_.async_read_some(asio::buffer(peer_scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > (8u << 20)) return self->Close();
                              self->LingerRead();
                            });
  }

  // An error the server answers itself; the connection closes after it.
  void Refuse(int status, const std::string& message) {
    keep_alive_ = false;
    state_ = State::kAnswering;
    server_->answering.fetch_add(1);
    DoReply(status, {{"content-type", "application/json; charset=utf-8"}},
            options().render_error ? options().render_error(status, message) : message);
  }

  void DoReply(int status, HttpHeaders headers, std::string body) {
    if (state_ != State::kAnswering) return;  // answered already, or closed
    if (reading_body_) {
      // One read at a time on a socket: the pending body read is cut short
      // and the answer written when it returns.
      deferred_reply_ = [self = shared_from_this(), status, headers = std::move(headers),
                         body = std::move(body)]() mutable {
        self->DoReply(status, std::move(headers), std::move(body));
      };
      beast::error_code ec;
      stream_.socket().cancel(ec);
      return;
    }
    server_->answering.fetch_sub(1);
    state_ = State::kWriting;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(status));
    for (auto& [k, v] : headers) res->insert(k, v);
    if (body_open_) keep_alive_ = false;  // the rest of the body is never read
    res->keep_alive(keep_alive_);
    // HEAD: the length the GET would have, and no body (a body here would be
    // read as the start of the next answer on a kept-alive connection).
    const bool head = request_.method == "HEAD";
    const size_t length = body.size();
    if (!head) res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->content_length(length);
    stream_.expires_after(Chrono(options().body_timeout));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec,
                                                                      std::size_t) {
      if (!ec && self->body_open_) return self->Linger();
      if (ec || !res->keep_alive()) return self->Close();
      self->stream_parser_.reset();
      self->ReadHeader(false);
    });
  }

  void DoStartStream(int status, HttpHeaders headers) {
    if (state_ != State::kAnswering) return;
    server_->answering.fetch_sub(1);
    state_ = State::kStreaming;
    // A stream may stay open for hours: keep nothing of the request.
    parser_.reset();
    buffer_.clear();
    buffer_.shrink_to_fit();
    // The body ends when the connection closes: no length, no chunking.
    std::string head = absl::StrCat("HTTP/1.1 ", status, " ",
                                    std::string(http::obsolete_reason(
                                        static_cast<http::status>(status))),
                                    "\r\n");
    for (const auto& [k, v] : headers) absl::StrAppend(&head, k, ": ", v, "\r\n");
    head.append("connection: close\r\n\r\n");
    queue_.emplace_front(std::move(head), nullptr);
    WriteNext();
    WatchPeer();
  }

  // While a stream is open the client sends nothing; a read that completes
  // means it closed (or broke) its side, and the stream's source is stopped
  // at once rather than at its next write.
  void WatchPeer() {
    stream_.socket().async_read_some(
        asio::buffer(peer_scratch_), [self = shared_from_this()](beast::error_code ec,
                                                                 std::size_t) {
          if (!ec) return self->WatchPeer();
          self->PeerGone();
        });
  }

  void PeerGone() {
    if (gone_) return;
    gone_ = true;
    if (on_gone_) {
      auto gone = std::move(on_gone_);
      on_gone_ = nullptr;
      gone();
    }
    Close();
  }

  void WriteNext() {
    if (writing_ || queue_.empty() || state_ == State::kClosed) return;
    writing_ = true;
    // A client that stops reading cannot hold a stream open forever.
    write_timer_.expires_after(Chrono(options().body_timeout));
    write_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->writing_) self->PeerGone();
    });
    asio::async_write(stream_.socket(), asio::buffer(queue_.front().first),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->write_timer_.cancel();
                        // Closed meanwhile: Close has answered every queued
                        // write, this one included.
                        if (self->queue_.empty()) return;
                        auto done = std::move(self->queue_.front().second);
                        self->queue_.pop_front();
                        if (ec) {
                          if (done) done(false);
                          return self->PeerGone();
                        }
                        if (done) done(true);
                        if (self->queue_.empty() && self->ending_) return self->Close();
                        self->WriteNext();
                      });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    if (state_ == State::kAnswering) server_->answering.fetch_sub(1);
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    write_timer_.cancel();
    for (auto& [data, done] : queue_) {
      if (done) done(false);
    }
    queue_.clear();
    // Whatever the state: a stream closed before it started must still
    // release whoever waits for its end.
    if (!gone_) {
      gone_ = true;
      if (on_gone_) {
        auto gone = std::move(on_gone_);
        on_gone_ = nullptr;
        gone();
      }
    }
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // A streamed body (ReadBody).
  static constexpr size_t kPieceBytes = 64 << 10;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::string piece_;
  bool body_open_ = false;
  bool expect_continue_ = false;
  bool reading_body_ = false;
  std::function<void()> deferred_reply_;
  size_t lingered_ = 0;
  HttpRequest request_;
  bool keep_alive_ = true;
  State state_ = State::kReading;
  // Streaming.
  std::deque<std::pair<std::string, std::function<void(bool)>>> queue_;
  bool writing_ = false;
  bool ending_ = false;
  bool gone_ = false;
  std::function<void()> on_gone_;
  asio::steady_timer write_timer_;
  char peer_scratch_[512];
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;  // stopping
    } else if (connections.load() >= options.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections.fetch_add(1);
      beast::error_code ignored;
      // Without it, a response written in two segments waits on the
      // client's delayed ACK.
      socket.set_option(tcp::no_delay(true), ignored);
      auto c = std::make_shared<Connection>(std::move(socket), this);
      {
        absl::MutexLock lock(&mu);
        if (live.size() > 1024 && live.size() > 2 * static_cast<size_t>(connections.load())) {
          live.erase(std::remove_if(live.begin(), live.end(),
                                    [](const auto& w) { return w.expired(); }),
                     live.end());
        }
        live.push_back(c);
      }
      c->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              HttpHandler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  const std::string& listen = impl->options.listen;
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError("the HTTP listen address must be host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("cannot parse the address ", host));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", ec.message()));
  impl->port = impl->acceptor.local_endpoint().port();
  impl->work.emplace(impl->ioc.get_executor());
  impl->Accept();
  for (int i = 0; i < std::max(1, impl->options.threads); ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port; }

void HttpServer::Stop(absl::Duration drain) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& w : impl_->live) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
    impl_->live.clear();
  }
  asio::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  // Requests being answered may finish.
  const absl::Time deadline = absl::Now() + drain;
  while (impl_->answering.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  // Streams end now: their sources are told the client left.
  auto unclosed = std::make_shared<std::atomic<int>>(static_cast<int>(live.size()));
  for (auto& c : live) c->Shut([unclosed] { unclosed->fetch_sub(1); });
  live.clear();
  const absl::Time shut_deadline = absl::Now() + absl::Seconds(2);
  while (unclosed->load() > 0 && absl::Now() < shut_deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace counsel::gateway
