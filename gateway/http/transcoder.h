// HTTP/JSON ↔ gRPC transcoding built at start-up from the google.api.http
// rules compiled into the binary: path templates with variables and verbs,
// query parameters, `body: "*"` and field bodies. JSON uses protobuf's own
// mapping (lowerCamelCase out; both spellings in).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Transcoder> t, Transcoder::Build());
//   auto match = t->Find("GET", "/v1/statutes/x/provisions/art_42");
//   ASSIGN_OR_RETURN(std::string bytes, t->BuildRequest(*match, {{"asOf", "2020-01-01"}}, ""));
#ifndef COUNSEL_GATEWAY_HTTP_TRANSCODER_H_
#define COUNSEL_GATEWAY_HTTP_TRANSCODER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/string_view.h"
#include "gateway/policy.h"
#include "google/rpc/status.pb.h"

namespace counsel::gateway {

struct Route {
  const MethodPolicy* policy = nullptr;
  std::string http_method;  // GET, POST, PATCH, PUT, DELETE
  std::string pattern;      // as written in the rule
  // Path segments: a literal, or "*" / "**" wildcards.
  std::vector<std::string> segments;
  std::string verb;
  struct Variable {
    std::string field_path;  // e.g. "case.name"
    size_t begin = 0, end = 0;  // segment range it captures
  };
  std::vector<Variable> variables;
  std::string body;  // "", "*" or a field name
};

struct RouteMatch {
  const Route* route = nullptr;
  // field path → value
  std::vector<std::pair<std::string, std::string>> bindings;
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Thread-safe (immutable but for the render cache).
class Transcoder {
 public:
  // The routes of every method in PolicyTable. Fails when a rule is invalid.
  static absl::StatusOr<std::unique_ptr<Transcoder>> Build();

  // The route for a request, or nullopt. `path` is the raw request path
  // (no query); variable segments are percent-decoded here.
  std::optional<RouteMatch> Find(absl::string_view http_method, absl::string_view path) const;
  // True when some route matches the path with another method (HTTP 405).
  bool PathExists(absl::string_view path) const;

  // The serialized request message. INVALID_ARGUMENT naming the parameter
  // or body position on bad input.
  absl::StatusOr<std::string> BuildRequest(const RouteMatch& match, const QueryParams& query,
                                           absl::string_view body) const;

  // The response message as JSON. Answers of guidance-svc (statute text
  // and advice: public, never personal data) are kept rendered, keyed by
  // their exact bytes (up to kRenderCacheBytes): the same bytes always give
  // the same JSON, and rendering was most of the HTTP front's CPU.
  absl::StatusOr<std::string> RenderResponse(const Route& route, absl::string_view bytes) const;
  static constexpr size_t kRenderCacheBytes = 8 << 20;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  Transcoder() = default;
  std::vector<Route> routes_;  // verbs and literals first
  // The rendered guidance answers; emptied whole when full.
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::string> rendered_ ABSL_GUARDED_BY(cache_mu_);
  mutable size_t rendered_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

// The standard gRPC → HTTP status mapping.
int HttpStatusForCode(int grpc_code);

// google.rpc.Status as JSON, details included.
std::string RenderStatusJson(const google::rpc::Status& status);

// Parses a path template such as "/v1/{name=statutes/*}:compare".
absl::StatusOr<Route> ParsePathTemplate(absl::string_view pattern);

// Splits a raw query string into decoded pairs ('+' is a space). False on a
// malformed escape.
bool ParseQueryString(absl::string_view query, QueryParams* out);

// Decodes %XX escapes; false on a malformed escape.
bool PercentDecode(absl::string_view in, std::string* out);

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_TRANSCODER_H_
