// The gateway's one call path, shared by the gRPC and HTTP fronts: admit a
// call (authenticate the key, check the method's scopes, bind the client),
// sign the call context, and forward the request bytes to the backend that
// serves the method, within the method's deadline policy.
#ifndef COUNSEL_GATEWAY_GATEWAY_H_
#define COUNSEL_GATEWAY_GATEWAY_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/executor.h"
#include "common/server.h"
#include "gateway/breaker.h"
#include "gateway/grpc_loop.h"
#include "gateway/keys/authenticator.h"
#include "gateway/limits.h"
#include "gateway/policy.h"
#include "gateway/upstream.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"

namespace counsel::gateway {

// Header names callers use.
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kOnBehalfOfHeader[] = "x-counsel-on-behalf-of";
inline constexpr char kRequestIdHeader[] = "x-request-id";

// What a front knows about an incoming call before it reaches the backend.
struct CallInput {
  const MethodPolicy* policy = nullptr;
  absl::string_view transport;  // "grpc" or "http"
  absl::string_view authorization;
  absl::string_view on_behalf_of;
  absl::string_view request_id;
  // The caller's network address, and the X-Forwarded-For it sent (believed
  // only when `peer` is a trusted proxy). Only a failed authentication needs
  // the address: a front that has to build it (gRPC makes a new peer string
  // each time it is asked) gives `peer_source` instead.
  absl::string_view peer;
  std::function<std::string()> peer_source;
  absl::string_view forwarded_for;
  // A browser session's cookie value, used when `authorization` is empty
  // (the bearer header wins when both are sent); a call that changes state
  // (`safe` false) must carry the session's CSRF token.
  absl::string_view session;
  absl::string_view csrf_token;
  bool safe = true;
  // The caller's own deadline, InfiniteFuture() when it set none.
  absl::Time client_deadline = absl::InfiniteFuture();
};

// An admitted call: who calls, and until when.
struct Admission {
  CallContext context;
  absl::Time deadline;
  // Holds a place among the calls in flight (and, for a stream, among the
  // key's and the tenant's open streams) until the last copy goes.
  std::shared_ptr<void> in_flight;
  std::shared_ptr<void> stream_slot;
};

struct GatewayOptions {
  std::string guidance_addr;
  std::string cases_addr;
  TlsFiles backend_tls;
  // Per-key quota when the key sets none: calls per second and burst.
  double default_rate = 50;
  double default_burst = 100;
  // Failed authentications allowed per presented key id, and per source
  // address for tokens that name no known key. A valid key is never refused
  // by these.
  double failed_auth_rate = 1;
  double failed_auth_burst = 20;
  // Addresses whose X-Forwarded-For names the source (ingresses).
  absl::flat_hash_set<std::string> trusted_proxies;
  // Calls in flight beyond which new ones are refused at once.
  int max_in_flight = 1000;
  // Streaming calls one key (unless it sets its own) and one tenant may
  // hold open at once.
  int max_streams_per_key = 32;
  int max_streams_per_tenant = 256;
  // When set (replicas on PostgreSQL: KeyStore::LeaseTokens), per-key
  // quotas are shared through it; else each process keeps its own.
  TokenBuckets::Leaser quota_leaser;
};

// Thread-safe.
class Gateway {
 public:
  // Does not take ownership. Creates the backend channels (once); every
  // backend call is made on `loop`.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(const GatewayOptions& options,
                                                         const Authenticator* authenticator,
                                                         const ContextKey* context_key,
                                                         const Clock* clock, GrpcLoop* loop);

  // UNAUTHENTICATED for a bad key (RESOURCE_EXHAUSTED once the key id, or
  // the source for tokens naming no known key, failed too often);
  // PERMISSION_DENIED for a missing scope, a delegate key that names no
  // client, or a client-bound key naming another client; INVALID_ARGUMENT for
  // x-counsel-on-behalf-of on a key without cases.delegate;
  // RESOURCE_EXHAUSTED (with RetryInfo) over the key's quota, beyond the cap
  // on calls in flight, or beyond the key's or the tenant's open streams.
  absl::StatusOr<Admission> Admit(const CallInput& input) const;

  // Forwards ex->request to the method's backend on loop thread ex->shard
  // (or serves a local method on the gateway's executor); runs `done` with
  // the status (details included) once ex->response is filled, on that
  // thread (the executor's for a local method; the caller's when the
  // circuit is open).
  void Forward(const MethodPolicy& policy, const Admission& admission, Exchange* ex,
               std::function<void(grpc::Status)> done) const;

  // A backend call the gateway makes for itself (the composed brief, the
  // HTTP feed's catch-up): `request` sent as the public method `method`,
  // signed for the caller of `admission` until its deadline, with the
  // breaker, metrics and retries of a forwarded call. `response` is filled
  // before `done` runs (on loop thread ex->shard, which this picks); `ex`
  // and `response` live until then.
  void Fetch(absl::string_view method, const Admission& admission,
             const google::protobuf::Message& request, google::protobuf::Message* response,
             Exchange* ex, std::function<void(grpc::Status)> done) const;

  // Where every backend call runs.
  GrpcLoop& loop() const { return *loop_; }

  // The backend serving `policy`; nullptr for local methods.
  const Upstream* UpstreamFor(const MethodPolicy& policy) const;
  // Every call to a backend goes through one of these (breaker, metrics).
  const Upstream& guidance() const { return *guidance_; }
  const Upstream& cases() const { return *cases_; }
  // Sets deadline and signed context on an outgoing call.
  void Prepare(const Admission& admission, grpc::ClientContext* client) const;
  // The same for a forwarded unary call (each of its attempts).
  void Prepare(const Admission& admission, Exchange* ex) const;
  const ContextKey& context_key() const { return *context_key_; }

  // Signs a browser in with an API key: the key is checked (and failures
  // counted) as Admit does, then a session standing for exactly that key is
  // stored (hashed). The key itself is not kept.
  struct SessionStart {
    NewSession session;
    std::shared_ptr<const KeyRecord> key;
    std::string csrf_token;
  };
  absl::StatusOr<SessionStart> StartSession(absl::string_view api_key, absl::string_view peer,
                                            absl::string_view forwarded_for) const;
  // The key a session stands for, or UNAUTHENTICATED.
  absl::StatusOr<std::shared_ptr<const KeyRecord>> SessionKey(absl::string_view session) const;
  absl::Status EndSession(absl::string_view session) const;
  // The CSRF token of a session: derived from it under the context key, so
  // every replica computes the same one and nothing more is stored.
  std::string CsrfTokenFor(absl::string_view session) const;

  // A request id from the caller's, or a fresh one when it is missing or
  // unusable (over 128 characters, or not printable ASCII).
  static std::string RequestIdFrom(absl::string_view given);

  // One JSON access-log line: no key secret, no personal data, no body.
  static void LogAccess(absl::string_view transport, absl::string_view method,
                        absl::string_view request_id, const CallContext* context, int code,
                        absl::Duration latency);

  const Clock* clock() const { return clock_; }

 private:
  Gateway(const Authenticator* authenticator, const ContextKey* context_key, const Clock* clock,
          const GatewayOptions& options, GrpcLoop* loop)
      : authenticator_(authenticator), context_key_(context_key), clock_(clock),
        options_(options), in_flight_(options.max_in_flight),
        csrf_(context_key->Derive("session-csrf")), loop_(loop) {}

  // A key (or session) checked with failures counted against the key id
  // presented, or the source for tokens naming no key.
  absl::StatusOr<std::shared_ptr<const KeyRecord>> AuthenticateCounted(
      const CallInput& input, absl::Time now) const;

  const Authenticator* authenticator_;
  const ContextKey* context_key_;
  const Clock* clock_;
  GatewayOptions options_;
  mutable TokenBuckets quotas_;
  mutable TokenBuckets failed_auth_;
  mutable InFlight in_flight_;
  mutable StreamSlots streams_;
  crypto::Hmac csrf_;
  GrpcLoop* loop_;
  std::unique_ptr<Upstream> guidance_;
  std::unique_ptr<Upstream> cases_;
  // Composed methods block on backends here; last, so it drains first.
  std::unique_ptr<Executor> local_;
};

// Binds the call to the client a key acts for: the key's own client, or for
// a cases.delegate key the one named in x-counsel-on-behalf-of (client-scoped
// methods only). The header on a key that cannot use it is INVALID_ARGUMENT;
// on a client-bound key naming another client, PERMISSION_DENIED.
absl::Status BindClient(const KeyRecord& key, CallContext& cc, absl::string_view on_behalf_of,
                        bool client_scoped);


}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_GATEWAY_H_
