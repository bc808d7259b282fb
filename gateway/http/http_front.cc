#include "gateway/http/http_front.h"

#include <atomic>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/logging.h"
#include "counsel/cases/v1/cases.grpc.pb.h"
#include "gateway/metrics.h"
#include "gateway/openapi/openapi.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/generic/generic_stub.h"

namespace counsel::gateway {
namespace {

constexpr char kJson[] = "application/json; charset=utf-8";

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

google::rpc::Status RpcStatusOf(const grpc::Status& s) {
  google::rpc::Status out;
  if (!s.error_details().empty() && out.ParseFromString(s.error_details())) return out;
  out.Clear();
  out.set_code(s.error_code());
  out.set_message(s.error_message());
  return out;
}

std::string ErrorJson(int http_status, absl::string_view message) {
  // The gRPC code HTTP clients expect beside each status the server itself
  // answers (AIP-193's mapping, read backwards).
  const int code = http_status == 404   ? 5    // NOT_FOUND
                   : http_status == 405 ? 12   // UNIMPLEMENTED
                   : http_status == 413 ? 8    // RESOURCE_EXHAUSTED
                   : http_status == 429 ? 8
                   : http_status == 503 ? 14   // UNAVAILABLE
                   : http_status >= 500 ? 13   // INTERNAL
                                        : 3;   // INVALID_ARGUMENT (400, 415, 431)
  google::rpc::Status status;
  status.set_code(code);
  status.set_message(ValidUtf8(message));
  return RenderStatusJson(status);
}

// The front's state shared by every request it answers.
struct Front {
  const Gateway* gateway;
  const Transcoder* transcoder;
  std::vector<std::string> cors_origins;
  bool secure_cookies = false;
  // Calls to the backends not yet finished: Stop waits for them, since their
  // completions reach the server's connections.
  std::atomic<int> active{0};
  absl::Mutex mu;
  absl::CondVar idle;

  void Enter() { active.fetch_add(1); }
  void Leave() {
    if (active.fetch_sub(1) == 1) {
      absl::MutexLock lock(&mu);
      idle.SignalAll();
    }
  }
};

// What every answer to one request shares: CORS headers, the request id,
// and the access-log line written when it is answered.
class Answer {
 public:
  Answer(Front* front, std::shared_ptr<HttpResponder> res, HttpHeaders base)
      : front_(front), res_(std::move(res)), base_(std::move(base)),
        start_(front->gateway->clock()->Now()) {}

  void set_method(std::string m) { method_ = std::move(m); }
  void set_context(const CallContext& cc) { context_ = cc; has_context_ = true; }
  const std::string& request_id() const { return request_id_; }
  void set_request_id(std::string id) {
    request_id_ = id;
    base_.emplace_back("x-request-id", std::move(id));
  }
  HttpResponder& responder() { return *res_; }
  std::shared_ptr<HttpResponder> responder_ptr() { return res_; }

  void Json(int status, std::string body) { Send(status, kJson, std::move(body), {}); }
  void Send(int status, absl::string_view content_type, std::string body, HttpHeaders extra) {
    HttpHeaders headers = base_;
    headers.emplace_back("content-type", std::string(content_type));
    for (auto& h : extra) headers.push_back(std::move(h));
    Log(status);
    res_->Reply(status, std::move(headers), std::move(body));
  }
  void Status(const google::rpc::Status& status) {
    HttpHeaders extra;
    // RESOURCE_EXHAUSTED carries RetryInfo; HTTP clients read Retry-After.
    for (const auto& any : status.details()) {
      google::rpc::RetryInfo retry;
      if (any.UnpackTo(&retry)) {
        const int64_t seconds =
            retry.retry_delay().seconds() + (retry.retry_delay().nanos() > 0 ? 1 : 0);
        extra.emplace_back("retry-after", absl::StrCat(std::max<int64_t>(1, seconds)));
      }
    }
    Send(HttpStatusForCode(status.code()), kJson, RenderStatusJson(status), std::move(extra));
  }
  void Error(const absl::Status& status) { Status(ToRpcStatus(status)); }

  HttpHeaders StreamHeaders(absl::string_view content_type) const {
    HttpHeaders headers = base_;
    headers.emplace_back("content-type", std::string(content_type));
    headers.emplace_back("cache-control", "no-store");
    return headers;
  }
  void Log(int status) {
    Gateway::LogAccess("http", method_, request_id_, has_context_ ? &context_ : nullptr, status,
                       front_->gateway->clock()->Now() - start_);
  }

 private:
  Front* front_;
  std::shared_ptr<HttpResponder> res_;
  HttpHeaders base_;
  absl::Time start_;
  std::string method_ = "-";
  std::string request_id_;
  CallContext context_;
  bool has_context_ = false;
};

// WatchChanges relayed to an HTTP stream: server-sent events when the client
// asks for text/event-stream, newline-delimited JSON otherwise. One message
// in flight: the next is read from case-svc once the previous is written.
// Each change event carries `id:` = the cursor that resumes after it.
class WatchRelay final : public grpc::ClientReadReactor<cases::v1::WatchChangesResponse> {
 public:
  WatchRelay(Front* front, std::shared_ptr<Answer> answer, Admission admission, bool sse)
      : front_(front), answer_(std::move(answer)), admission_(std::move(admission)), sse_(sse),
        ctx_(std::make_shared<grpc::ClientContext>()) {}

  void Start(const std::string& request_bytes) {
    front_->Enter();
    request_.ParseFromString(request_bytes);
    front_->gateway->Prepare(admission_, ctx_.get());
    HttpResponder& res = answer_->responder();
    res.StartStream(200, answer_->StreamHeaders(sse_ ? "text/event-stream"
                                                    : "application/x-ndjson"));
    // The client leaving cancels the call to case-svc at once.
    res.OnClientGone([ctx = ctx_] { ctx->TryCancel(); });
    if (sse_) res.Write("retry: 2000\n\n", nullptr);
    stub_ = cases::v1::CaseService::NewStub(front_->gateway->cases_channel());
    stub_->async()->WatchChanges(ctx_.get(), &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(message_, &json);
    std::string frame;
    if (!sse_) {
      frame = absl::StrCat(json, "\n");
    } else if (message_.has_change()) {
      frame = absl::StrCat("id: ", message_.change().cursor(), "\nevent: change\ndata: ", json,
                           "\n\n");
    } else {
      frame = absl::StrCat("id: ", message_.bookmark().cursor(), "\nevent: bookmark\ndata: ",
                           json, "\n\n");
    }
    AddHold();  // OnDone waits for the write
    answer_->responder().Write(std::move(frame), [this](bool written) {
      if (written) {
        StartRead(&message_);
      } else {
        ctx_->TryCancel();
      }
      RemoveHold();
    });
  }

  void OnDone(const grpc::Status& status) override {
    HttpResponder& res = answer_->responder();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      const std::string json = RenderStatusJson(RpcStatusOf(status));
      // `problem`, not `error`: EventSource fires its own `error` event on
      // every disconnect.
      res.Write(sse_ ? absl::StrCat("event: problem\ndata: ", json, "\n\n")
                     : absl::StrCat("{\"error\":", json, "}\n"),
                nullptr);
    }
    res.EndStream();
    answer_->Log(HttpStatusForCode(status.error_code()));
    Front* front = front_;
    delete this;
    front->Leave();
  }

 private:
  Front* front_;
  std::shared_ptr<Answer> answer_;
  Admission admission_;  // holds the stream's place until the end
  const bool sse_;
  std::shared_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<cases::v1::CaseService::Stub> stub_;
  cases::v1::WatchChangesRequest request_;
  cases::v1::WatchChangesResponse message_;
};

// AddEvidence from one JSON body (the attachment base64 in `chunk`).
class UploadRelay final : public grpc::ClientWriteReactor<cases::v1::AddEvidenceRequest> {
 public:
  UploadRelay(Front* front, std::shared_ptr<Answer> answer, Admission admission)
      : front_(front), answer_(std::move(answer)), admission_(std::move(admission)) {}

  void Start(const std::string& request_bytes) {
    front_->Enter();
    request_.ParseFromString(request_bytes);
    front_->gateway->Prepare(admission_, &ctx_);
    stub_ = cases::v1::CaseService::NewStub(front_->gateway->cases_channel());
    stub_->async()->AddEvidence(&ctx_, &evidence_, this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartCall();
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok()) {
      answer_->Status(RpcStatusOf(status));
    } else {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(evidence_, &json);
      answer_->Json(200, std::move(json));
    }
    Front* front = front_;
    delete this;
    front->Leave();
  }

 private:
  Front* front_;
  std::shared_ptr<Answer> answer_;
  Admission admission_;
  grpc::ClientContext ctx_;
  std::unique_ptr<cases::v1::CaseService::Stub> stub_;
  cases::v1::AddEvidenceRequest request_;
  cases::v1::Evidence evidence_;
};

// /readyz: both backends asked at once; answered when both have replied.
void ServeReady(Front* front, std::shared_ptr<Answer> answer) {
  struct Probe {
    std::shared_ptr<Answer> answer;
    absl::Mutex mu;
    int pending = 2;
    bool guidance = false, cases = false;
  };
  auto probe = std::make_shared<Probe>();
  probe->answer = std::move(answer);
  auto ask = [front, probe](const std::shared_ptr<grpc::Channel>& channel, bool Probe::*result) {
    struct Call {
      grpc::GenericStub stub;
      grpc::ClientContext ctx;
      grpc::ByteBuffer request, response;
      explicit Call(std::shared_ptr<grpc::Channel> c) : stub(std::move(c)) {}
    };
    auto call = std::make_shared<Call>(channel);
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    grpc::Slice empty("");
    call->request = grpc::ByteBuffer(&empty, 1);
    front->Enter();
    call->stub.UnaryCall(&call->ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                         &call->request, &call->response,
                         [front, probe, call, result](grpc::Status s) {
                           const bool serving = s.ok() && Flatten(call->response) ==
                                                              std::string("\x08\x01", 2);
                           bool last;
                           {
                             absl::MutexLock lock(&probe->mu);
                             (*probe).*result = serving;
                             last = --probe->pending == 0;
                           }
                           if (last) {
                             probe->answer->Json(
                                 probe->guidance && probe->cases ? 200 : 503,
                                 absl::StrCat("{\"guidance\":", probe->guidance ? "true" : "false",
                                              ",\"cases\":", probe->cases ? "true" : "false",
                                              "}"));
                           }
                           front->Leave();
                         });
  };
  ask(front->gateway->guidance_channel(), &Probe::guidance);
  ask(front->gateway->cases_channel(), &Probe::cases);
}

// Content types whose bodies are read as JSON: JSON itself, none, and what
// curl sends by default with -d (form-encoded, though the body is JSON).
bool JsonContentType(absl::string_view content_type) {
  const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      content_type.substr(0, content_type.find(';'))));
  return type.empty() || type == "application/json" ||
         type == "application/x-www-form-urlencoded";
}

HttpHeaders CorsHeaders(const Front& front, const HttpRequest& req) {
  const std::string origin = req.Header("origin");
  if (origin.empty() ||
      std::find(front.cors_origins.begin(), front.cors_origins.end(), origin) ==
          front.cors_origins.end()) {
    return {};
  }
  return {{"access-control-allow-origin", origin},
          {"vary", "origin"},
          {"access-control-expose-headers", "x-request-id, retry-after"}};
}

// The value of the counsel_session cookie, "" when absent.
std::string SessionCookie(const HttpRequest& req) {
  for (const auto& [name, value] : req.headers) {
    if (name != "cookie") continue;
    for (absl::string_view part : absl::StrSplit(value, ';')) {
      part = absl::StripAsciiWhitespace(part);
      if (absl::ConsumePrefix(&part, "counsel_session=")) return std::string(part);
    }
  }
  return "";
}

std::string SessionJson(const KeyRecord& key, absl::Time expire, const std::string& csrf) {
  google::protobuf::Struct out;
  auto& f = *out.mutable_fields();
  f["tenant"].set_string_value(key.tenant);
  auto* scopes = f["scopes"].mutable_list_value();
  for (const std::string& s : key.scopes) scopes->add_values()->set_string_value(s);
  if (!key.client_id.empty()) f["clientId"].set_string_value(key.client_id);
  f["expireTime"].set_string_value(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", expire,
                                                    absl::UTCTimeZone()));
  f["csrfToken"].set_string_value(csrf);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(out, &json);
  return json;
}

// POST /v1/sessions {"apiKey": "ck_…"}: 201, the HttpOnly cookie and the
// CSRF token; GET /v1/sessions/current: who the cookie is; DELETE ends it.
void ServeSessions(Front* front, const HttpRequest& req, const std::string& path,
                   const std::shared_ptr<Answer>& answer) {
  const Gateway& gateway = *front->gateway;
  answer->set_method(absl::StrCat("session:", req.method));
  const std::string cookie_attrs = absl::StrCat("; HttpOnly; SameSite=Strict; Path=/",
                                                front->secure_cookies ? "; Secure" : "");
  if (path == "/v1/sessions" && req.method == "POST") {
    google::protobuf::Struct body;
    google::protobuf::util::JsonParseOptions options;
    if (!google::protobuf::util::JsonStringToMessage(req.body, &body, options).ok() ||
        !body.fields().contains("apiKey") ||
        body.fields().at("apiKey").kind_case() != google::protobuf::Value::kStringValue) {
      return answer->Error(InvalidArgumentField("apiKey", "is required: {\"apiKey\": \"ck_…\"}"));
    }
    auto started = gateway.StartSession(body.fields().at("apiKey").string_value(), req.peer,
                                        req.Header("x-forwarded-for"));
    if (!started.ok()) return answer->Error(started.status());
    const absl::Duration max_age = started->session.record.expire_time - gateway.clock()->Now();
    answer->Send(201, kJson,
                 SessionJson(*started->key, started->session.record.expire_time,
                             started->csrf_token),
                 {{"set-cookie", absl::StrCat("counsel_session=", started->session.token,
                                              cookie_attrs, "; Max-Age=",
                                              absl::ToInt64Seconds(max_age))},
                  {"cache-control", "no-store"}});
    return;
  }
  if (path == "/v1/sessions/current" && (req.method == "GET" || req.method == "DELETE")) {
    const std::string session = SessionCookie(req);
    auto key = gateway.SessionKey(session);
    if (!key.ok()) return answer->Error(key.status());
    if (req.method == "GET") {
      answer->Send(200, kJson,
                   SessionJson(**key, gateway.clock()->Now() + Authenticator::kSessionIdle,
                               gateway.CsrfTokenFor(session)),
                   {{"cache-control", "no-store"}});
      return;
    }
    if (!crypto::ConstantTimeEquals(req.Header("x-csrf-token"), gateway.CsrfTokenFor(session))) {
      return answer->Error(absl::PermissionDeniedError("ending a session needs its x-csrf-token"));
    }
    if (auto st = gateway.EndSession(session); !st.ok()) return answer->Error(st);
    answer->Send(204, "text/plain", "",
                 {{"set-cookie", absl::StrCat("counsel_session=", cookie_attrs, "; Max-Age=0")}});
    return;
  }
  answer->Json(405, ErrorJson(405, absl::StrCat(req.method, " is not allowed on this path")));
}

void Handle(Front* front, HttpRequest req, std::shared_ptr<HttpResponder> res) {
  const Gateway& gateway = *front->gateway;
  auto answer = std::make_shared<Answer>(front, std::move(res), CorsHeaders(*front, req));
  answer->set_request_id(Gateway::RequestIdFrom(req.Header(kRequestIdHeader)));
  const size_t q = req.target.find('?');
  // Generated clients percent-encode a resource name's slashes
  // (/v1/cases%2Fabc): the same route as /v1/cases/abc.
  const std::string raw_path = absl::StrReplaceAll(req.target.substr(0, q),
                                                   {{"%2F", "/"}, {"%2f", "/"}});
  if (req.method == "OPTIONS") {
    if (CorsHeaders(*front, req).empty()) {
      return answer->Json(403, ErrorJson(403, "origin not allowed"));
    }
    answer->Send(204, "text/plain", "",
                 {{"access-control-allow-methods", "GET, POST, PATCH, PUT, DELETE"},
                  {"access-control-allow-headers",
                   "authorization, content-type, x-request-id, x-counsel-on-behalf-of, "
                   "x-csrf-token"},
                  {"access-control-max-age", "600"}});
    return;
  }
  if (req.method == "GET" || req.method == "HEAD") {
    if (raw_path == "/healthz") return answer->Send(200, "text/plain", "ok\n", {});
    if (raw_path == "/readyz") return ServeReady(front, std::move(answer));
    if (raw_path == "/openapi.json") return answer->Json(200, std::string(kOpenApiJson));
    if (raw_path == "/metrics") {
      return answer->Send(200, "text/plain; version=0.0.4", Metrics::Get().Render(), {});
    }
  }
  if (raw_path == "/v1/sessions" || raw_path == "/v1/sessions/current") {
    return ServeSessions(front, req, raw_path, answer);
  }
  const Transcoder& transcoder = *front->transcoder;
  auto match = transcoder.Find(req.method, raw_path);
  if (!match) {
    if (transcoder.PathExists(raw_path)) {
      return answer->Json(405, ErrorJson(405, absl::StrCat(req.method,
                                                           " is not allowed on this path")));
    }
    return answer->Json(404, ErrorJson(404, absl::StrCat("no route for ", req.method, " ",
                                                         ValidUtf8(raw_path))));
  }
  const MethodPolicy& policy = *match->route->policy;
  answer->set_method(policy.method);
  CallInput input;
  input.policy = &policy;
  input.transport = "http";
  const std::string authorization = req.Header(kAuthorizationHeader);
  const std::string on_behalf_of = req.Header(kOnBehalfOfHeader);
  const std::string forwarded_for = req.Header("x-forwarded-for");
  input.authorization = authorization;
  input.on_behalf_of = on_behalf_of;
  input.request_id = answer->request_id();
  input.peer = req.peer;
  input.forwarded_for = forwarded_for;
  const std::string session = SessionCookie(req);
  const std::string csrf = req.Header("x-csrf-token");
  input.session = session;
  input.csrf_token = csrf;
  input.safe = req.method == "GET" || req.method == "HEAD";
  auto admitted = gateway.Admit(input);
  if (!admitted.ok()) return answer->Error(admitted.status());
  Admission admission = *std::move(admitted);
  answer->set_context(admission.context);
  // The query string of the target only; bodies are JSON whatever the
  // content type says (the server refused other types before the body).
  QueryParams query;
  if (q != std::string::npos &&
      !ParseQueryString(absl::string_view(req.target).substr(q + 1), &query)) {
    return answer->Error(InvalidArgumentField("query", "is not a well-formed query string"));
  }
  const bool watch = policy.method == "/counsel.cases.v1.CaseService/WatchChanges";
  if (watch) {
    // EventSource reconnects with the last id it saw: resume right after it.
    const std::string last_event_id = req.Header("last-event-id");
    bool has_cursor = false;
    for (const auto& [k, v] : query) has_cursor = has_cursor || k == "cursor";
    if (!has_cursor && !last_event_id.empty()) query.emplace_back("cursor", last_event_id);
  }
  // A request with a `locale` takes the browser's Accept-Language when the
  // caller names none.
  const std::string accept_language = req.Header("accept-language");
  if (!accept_language.empty() &&
      policy.descriptor->input_type()->FindFieldByName("locale") != nullptr) {
    bool named = false;
    for (const auto& [k, v] : query) named = named || k == "locale";
    if (!named) query.emplace_back("locale", accept_language.substr(0, 200));
  }
  auto bytes = transcoder.BuildRequest(*match, query, req.body);
  if (!bytes.ok()) return answer->Error(bytes.status());
  if (watch) {
    const bool sse = absl::StrContains(req.Header("accept"), "text/event-stream");
    (new WatchRelay(front, std::move(answer), std::move(admission), sse))->Start(*bytes);
    return;
  }
  if (policy.method == "/counsel.cases.v1.CaseService/AddEvidence") {
    (new UploadRelay(front, std::move(answer), std::move(admission)))->Start(*bytes);
    return;
  }
  if (policy.descriptor->server_streaming() || policy.descriptor->client_streaming()) {
    return answer->Error(absl::UnimplementedError("this streaming method is not served over HTTP"));
  }
  struct Call {
    Exchange ex;
    Admission admission;
    const Route* route;
  };
  auto call = std::make_shared<Call>();
  call->admission = std::move(admission);
  call->route = match->route;
  grpc::Slice slice(*bytes);
  call->ex.request = grpc::ByteBuffer(&slice, 1);
  front->Enter();
  gateway.Forward(policy, call->admission, &call->ex,
                  [front, call, answer, &transcoder](grpc::Status status) {
                    if (!status.ok()) {
                      answer->Status(RpcStatusOf(status));
                    } else if (auto json = transcoder.RenderResponse(*call->route,
                                                                     Flatten(call->ex.response));
                               json.ok()) {
                      answer->Json(200, *std::move(json));
                    } else {
                      answer->Error(json.status());
                    }
                    front->Leave();
                  });
}

}  // namespace

struct HttpFront::State {
  Front front;
};

absl::StatusOr<std::unique_ptr<HttpFront>> HttpFront::Start(const HttpOptions& options,
                                                            const Gateway* gateway,
                                                            const Transcoder* transcoder) {
  std::unique_ptr<HttpFront> out(new HttpFront());
  out->state_ = std::make_unique<State>();
  Front* front = &out->state_->front;
  front->gateway = gateway;
  front->transcoder = transcoder;
  front->cors_origins = options.cors_origins;
  front->secure_cookies = options.secure_cookies;
  HttpServerOptions server;
  server.listen = options.listen;
  server.threads = options.threads;
  server.max_body_bytes = options.max_body_bytes;
  server.header_timeout = options.header_timeout;
  server.idle_timeout = options.idle_timeout;
  server.render_error = ErrorJson;
  server.check_headers = [](const HttpRequest& req) -> std::optional<std::pair<int, std::string>> {
    const bool has_body = !req.Header("transfer-encoding").empty() ||
                          (!req.Header("content-length").empty() &&
                           req.Header("content-length") != "0");
    if (has_body && !JsonContentType(req.Header("content-type"))) {
      return std::make_pair(415, absl::StrCat("the body must be JSON (Content-Type: "
                                              "application/json), not ",
                                              ValidUtf8(req.Header("content-type"))));
    }
    return std::nullopt;
  };
  auto started = HttpServer::Start(std::move(server), [front](HttpRequest req,
                                                              std::shared_ptr<HttpResponder> res) {
    Handle(front, std::move(req), std::move(res));
  });
  if (!started.ok()) return started.status();
  out->server_ = *std::move(started);
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  log::Info("listening", {{"program", "counsel-gateway"},
                          {"transport", "http"},
                          {"address", absl::StrCat(host, ":", out->server_->port())},
                          {"port", out->server_->port()}});
  return out;
}

HttpFront::~HttpFront() { Stop(); }

int HttpFront::port() const { return server_ ? server_->port() : 0; }

void HttpFront::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
  // Completions of calls still in flight post to the server's connections:
  // wait for them (they end quickly once their streams are told to stop).
  Front& front = state_->front;
  absl::MutexLock lock(&front.mu);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (front.active.load() > 0 && !front.idle.WaitWithDeadline(&front.mu, deadline)) {
  }
  server_.reset();
}

}  // namespace counsel::gateway
