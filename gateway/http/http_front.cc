#include "gateway/http/http_front.h"

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "counsel/cases/v1/cases.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "common/logging.h"
#include "gateway/metrics.h"
#include "gateway/openapi/openapi.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/generic/generic_stub.h"

namespace counsel::gateway {
namespace {

constexpr char kJson[] = "application/json; charset=utf-8";

void SendStatus(httplib::Response& res, const google::rpc::Status& status) {
  res.status = HttpStatusForCode(status.code());
  // RESOURCE_EXHAUSTED carries RetryInfo; HTTP clients read Retry-After.
  for (const auto& any : status.details()) {
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&retry)) {
      const int64_t seconds = retry.retry_delay().seconds() + (retry.retry_delay().nanos() > 0);
      res.set_header("retry-after", std::to_string(std::max<int64_t>(1, seconds)));
    }
  }
  res.set_content(RenderStatusJson(status), kJson);
}

void SendError(httplib::Response& res, const absl::Status& status) {
  SendStatus(res, ToRpcStatus(status));
}

google::rpc::Status RpcStatusOf(const grpc::Status& s) {
  google::rpc::Status out;
  if (!s.error_details().empty() && out.ParseFromString(s.error_details())) return out;
  out.Clear();
  out.set_code(s.error_code());
  out.set_message(s.error_message());
  return out;
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// WatchChanges over HTTP: server-sent events when the client asks for
// text/event-stream, newline-delimited JSON otherwise. An error ends the
// stream with a final error frame.
void ServeWatch(const Gateway& gateway, const Route& route, const Admission& admission,
                const std::string& request_bytes, const httplib::Request& req,
                httplib::Response& res) {
  const bool sse = absl::StrContains(req.get_header_value("accept"), "text/event-stream");
  struct Call {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<cases::v1::WatchChangesResponse>> reader;
  };
  auto call = std::make_shared<Call>();
  gateway.Prepare(admission, &call->ctx);
  cases::v1::WatchChangesRequest request;
  request.ParseFromString(request_bytes);
  auto stub = cases::v1::CaseService::NewStub(gateway.cases_channel());
  call->reader = stub->WatchChanges(&call->ctx, request);
  res.status = 200;
  res.set_header("cache-control", "no-store");
  res.set_chunked_content_provider(
      sse ? "text/event-stream" : "application/x-ndjson",
      [call, sse, &route](size_t, httplib::DataSink& sink) {
        cases::v1::WatchChangesResponse msg;
        while (call->reader->Read(&msg)) {
          std::string json;
          (void)google::protobuf::util::MessageToJsonString(msg, &json);
          const std::string frame = sse ? absl::StrCat("event: ",
                                                       msg.has_change() ? "change" : "bookmark",
                                                       "\ndata: ", json, "\n\n")
                                        : absl::StrCat(json, "\n");
          if (!sink.write(frame.data(), frame.size())) {
            call->ctx.TryCancel();  // the client went away
            (void)call->reader->Finish();
            return false;
          }
        }
        const grpc::Status status = call->reader->Finish();
        if (!status.ok()) {
          const std::string json = RenderStatusJson(RpcStatusOf(status));
          const std::string frame = sse ? absl::StrCat("event: error\ndata: ", json, "\n\n")
                                        : absl::StrCat("{\"error\":", json, "}\n");
          sink.write(frame.data(), frame.size());
        }
        (void)route;
        sink.done();
        return true;
      },
      [call](bool) { call->ctx.TryCancel(); });
}

// AddEvidence over HTTP: the whole upload in one JSON body (chunk base64).
void ServeUpload(const Gateway& gateway, const Admission& admission,
                 const std::string& request_bytes, httplib::Response& res) {
  grpc::ClientContext ctx;
  gateway.Prepare(admission, &ctx);
  cases::v1::AddEvidenceRequest request;
  request.ParseFromString(request_bytes);
  cases::v1::Evidence evidence;
  auto stub = cases::v1::CaseService::NewStub(gateway.cases_channel());
  auto writer = stub->AddEvidence(&ctx, &evidence);
  writer->Write(request);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) {
    SendStatus(res, RpcStatusOf(status));
    return;
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(evidence, &json);
  res.status = 200;
  res.set_content(json, kJson);
}

void ServeStreaming(const Gateway& gateway, const Route& route, const Admission& admission,
                    const std::string& request_bytes, const httplib::Request& req,
                    httplib::Response& res) {
  const std::string& method = route.policy->method;
  if (method == "/counsel.cases.v1.CaseService/WatchChanges") {
    ServeWatch(gateway, route, admission, request_bytes, req, res);
  } else if (method == "/counsel.cases.v1.CaseService/AddEvidence") {
    ServeUpload(gateway, admission, request_bytes, res);
  } else {
    SendError(res, absl::UnimplementedError("this streaming method is not served over HTTP"));
  }
}

// True when a backend answers its health check as SERVING within 500 ms.
bool BackendServing(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status.ok() && Flatten(response) == std::string("\x08\x01", 2);
}

void Handle(const Gateway& gateway, const Transcoder& transcoder, const httplib::Request& req,
            httplib::Response& res) {
  const absl::Time start = gateway.clock()->Now();
  const std::string request_id = Gateway::RequestIdFrom(req.get_header_value(kRequestIdHeader));
  res.set_header(kRequestIdHeader, request_id);
  std::string method_name = "-";
  const CallContext* context = nullptr;
  Admission admission;
  auto finish_log = [&] {
    Gateway::LogAccess("http", method_name, request_id, context, res.status,
                       gateway.clock()->Now() - start);
  };
  const std::string path = req.target.substr(0, req.target.find('?'));
  auto match = transcoder.Find(req.method, path);
  if (!match) {
    if (transcoder.PathExists(path)) {
      res.status = 405;
      res.set_content(R"({"code":12,"message":"method not allowed on this path"})", kJson);
    } else {
      SendError(res, absl::NotFoundError(absl::StrCat("no route for ", req.method, " ", path)));
    }
    finish_log();
    return;
  }
  const MethodPolicy& policy = *match->route->policy;
  method_name = policy.method;
  CallInput input;
  input.policy = &policy;
  input.transport = "http";
  const std::string authorization = req.get_header_value(kAuthorizationHeader);
  const std::string on_behalf_of = req.get_header_value(kOnBehalfOfHeader);
  input.authorization = authorization;
  input.on_behalf_of = on_behalf_of;
  input.request_id = request_id;
  input.peer = req.remote_addr;
  const std::string forwarded_for = req.get_header_value("X-Forwarded-For");
  input.forwarded_for = forwarded_for;
  auto admitted = gateway.Admit(input);
  if (!admitted.ok()) {
    SendError(res, admitted.status());
    finish_log();
    return;
  }
  admission = std::move(*admitted);
  context = &admission.context;
  // The query string of the target only: httplib also folds form bodies
  // into req.params, and our bodies are JSON whatever the content type.
  QueryParams query;
  const size_t q = req.target.find('?');
  if (q != std::string::npos &&
      !ParseQueryString(absl::string_view(req.target).substr(q + 1), &query)) {
    SendError(res, absl::InvalidArgumentError("malformed query string"));
    finish_log();
    return;
  }
  auto bytes = transcoder.BuildRequest(*match, query, req.body);
  if (!bytes.ok()) {
    SendError(res, bytes.status());
    finish_log();
    return;
  }
  if (policy.descriptor->server_streaming() || policy.descriptor->client_streaming()) {
    ServeStreaming(gateway, *match->route, admission, *bytes, req, res);
    finish_log();
    return;
  }
  Exchange ex;
  grpc::Slice slice(*bytes);
  ex.request = grpc::ByteBuffer(&slice, 1);
  grpc::Status status;
  absl::Notification done;
  gateway.Forward(policy, admission, &ex, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (!status.ok()) {
    SendStatus(res, RpcStatusOf(status));
  } else if (auto json = transcoder.RenderResponse(*match->route, Flatten(ex.response)); json.ok()) {
    res.status = 200;
    res.set_content(*json, kJson);
  } else {
    SendError(res, json.status());
  }
  finish_log();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpFront>> HttpFront::Start(const HttpOptions& options,
                                                            const Gateway* gateway,
                                                            const Transcoder* transcoder) {
  std::unique_ptr<HttpFront> front(new HttpFront());
  front->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *front->server_;
  const int threads = options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(options.max_body_bytes);
  server.set_keep_alive_max_count(1000);
  // cpp-httplib serves a kept-alive connection on one pool thread; a short
  // idle timeout returns threads to waiting connections sooner.
  server.set_keep_alive_timeout(2);
  server.set_read_timeout(30, 0);
  // Without it, a response written in two segments waits on the client's
  // delayed ACK (tens of milliseconds per request).
  server.set_tcp_nodelay(true);
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/readyz", [gateway](const httplib::Request&, httplib::Response& res) {
    const bool guidance = BackendServing(gateway->guidance_channel());
    const bool cases = BackendServing(gateway->cases_channel());
    res.status = guidance && cases ? 200 : 503;
    res.set_content(absl::StrCat("{\"guidance\":", guidance ? "true" : "false",
                                 ",\"cases\":", cases ? "true" : "false", "}"),
                    kJson);
  });
  server.Get("/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kOpenApiJson, kJson);
  });
  server.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(Metrics::Get().Render(), "text/plain; version=0.0.4");
  });
  // Before any body is read: compressed bodies are refused (the library
  // would inflate a gzip or brotli body whole before any size check: 64 KiB
  // became 64 MiB), then CORS for the configured origins, preflights
  // answered here.
  const std::vector<std::string> origins = options.cors_origins;
  server.set_pre_routing_handler([origins](const httplib::Request& req, httplib::Response& res) {
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && !absl::EqualsIgnoreCase(encoding, "identity")) {
      res.status = 415;
      res.set_header("connection", "close");
      res.set_content(R"({"code":3,"message":"compressed request bodies are not accepted: send )"
                      R"(the body without Content-Encoding"})",
                      kJson);
      return httplib::Server::HandlerResponse::Handled;
    }
    const std::string origin = req.get_header_value("origin");
    if (origin.empty() ||
        std::find(origins.begin(), origins.end(), origin) == origins.end()) {
      return req.method == "OPTIONS" ? (res.status = 403, httplib::Server::HandlerResponse::Handled)
                                     : httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("access-control-allow-origin", origin);
    res.set_header("vary", "origin");
    res.set_header("access-control-expose-headers", "x-request-id, retry-after");
    if (req.method == "OPTIONS") {
      res.set_header("access-control-allow-methods", "GET, POST, PATCH, PUT, DELETE");
      res.set_header("access-control-allow-headers",
                     "authorization, content-type, x-request-id, x-counsel-on-behalf-of");
      res.set_header("access-control-max-age", "600");
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto handler = [gateway, transcoder](const httplib::Request& req, httplib::Response& res) {
    Handle(*gateway, *transcoder, req, res);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Patch(".*", handler);
  server.Put(".*", handler);
  server.Delete(".*", handler);
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("--http_listen must be host:port");
  }
  const std::string host = options.listen.substr(0, colon);
  const int wanted = std::atoi(options.listen.c_str() + colon + 1);
  front->port_ = wanted == 0 ? server.bind_to_any_port(host)
                             : (server.bind_to_port(host, wanted) ? wanted : -1);
  if (front->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  front->thread_ = std::thread([&server] { server.listen_after_bind(); });
  log::Info("listening", {{"program", "counsel-gateway"},
                          {"transport", "http"},
                          {"address", absl::StrCat(host, ":", front->port_)},
                          {"port", front->port_}});
  return front;
}

HttpFront::~HttpFront() { Stop(); }

void HttpFront::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace counsel::gateway
