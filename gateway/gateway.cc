#include "gateway/gateway.h"

#include <algorithm>
#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "gateway/metrics.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"

namespace counsel::gateway {

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(const GatewayOptions& options,
                                                         const Authenticator* authenticator,
                                                         const ContextKey* context_key,
                                                         const Clock* clock, GrpcLoop* loop) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                   MakeChannelCredentials(options.backend_tls));
  std::unique_ptr<Gateway> gw(new Gateway(authenticator, context_key, clock, options, loop));
  if (options.quota_leaser) gw->quotas_.ShareThrough(options.quota_leaser);
  gw->local_ = std::make_unique<Executor>(4);
  auto channel = [&](const std::string& addr, bool bulk) {
    grpc::ChannelArguments args;
    if (bulk) {
      // Attachment streams: a fixed, small window per stream, so that the
      // bytes a slow downloader has not taken wait in case-svc, not here
      // (BDP probing grows the window to many MiB on a fast link).
      args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 256 << 10);
      // Its own connection, not shared with the other calls.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    }
    // Reads are retried by Upstream (gateway/retry.h), not by gRPC's retry
    // layer, which copies every call's metadata and messages in case.
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    // Reconnect quickly after a backend restart instead of backing off for
    // up to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // gRPC 1.51 reads this as the connect attempt's timeout (not a backoff):
    // at 100 ms a backend slow to send its SETTINGS frame on a loaded host
    // failed calls with UNAVAILABLE. A refused connection still fails at once.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    args.SetMaxReceiveMessageSize(64 << 20);
    return grpc::CreateCustomChannel(addr, creds, args);
  };
  gw->guidance_ = std::make_unique<Upstream>(
      "guidance", channel(options.guidance_addr, false), nullptr, clock);
  gw->cases_ = std::make_unique<Upstream>(
      "cases", channel(options.cases_addr, false), channel(options.cases_addr, true), clock);
  return gw;
}

absl::StatusOr<Admission> Gateway::Admit(const CallInput& input) const {
  const absl::Time now = clock_->Now();
  // The cap on calls in flight comes before the key check (a hash and a
  // cache lookup), so that under overload a refusal is the cheapest thing
  // the gateway does.
  Admission out;
  if (!in_flight_.Enter()) {
    Metrics::Get().RateLimited("in_flight");
    return ResourceExhaustedRetryAfter("the gateway is at its limit of calls in flight",
                                       absl::Milliseconds(100));
  }
  Metrics::Get().SetInFlight(in_flight_.count());
  out.in_flight = std::shared_ptr<void>(nullptr, [this](void*) {
    in_flight_.Leave();
    Metrics::Get().SetInFlight(in_flight_.count());
  });
  ASSIGN_OR_RETURN(std::shared_ptr<const KeyRecord> authenticated, AuthenticateCounted(input, now));
  const KeyRecord& key = *authenticated;
  const MethodPolicy& policy = *input.policy;
  CallContext& cc = out.context;
  cc.set_tenant(key.tenant);
  cc.set_key_id(key.key_id);
  for (const std::string& s : key.scopes) cc.add_scopes(s);
  RETURN_IF_ERROR(BindClient(key, cc, input.on_behalf_of, policy.client_scoped));
  // After the binding: cases.contribute stands in only on a call bound to
  // one client.
  const absl::string_view short_name =
      policy.descriptor != nullptr ? absl::string_view(policy.descriptor->name()) : "";
  for (const std::string& need : policy.scopes) {
    RETURN_IF_ERROR(RequireScopeFor(cc, short_name, need));
  }
  const double rate = key.rate_per_second > 0 ? key.rate_per_second : options_.default_rate;
  const double burst = key.burst > 0 ? key.burst : std::max(options_.default_burst, rate);
  if (auto st = quotas_.Take(key.key_id, rate, burst, now, "this key is over its quota");
      !st.ok()) {
    Metrics::Get().RateLimited("quota");
    return st;
  }
  if (policy.descriptor != nullptr &&
      (policy.descriptor->server_streaming() || policy.descriptor->client_streaming())) {
    auto slot = streams_.Take(key.key_id,
                              key.max_streams > 0 ? key.max_streams : options_.max_streams_per_key,
                              key.tenant, options_.max_streams_per_tenant);
    if (!slot.ok()) {
      Metrics::Get().RateLimited("streams");
      return slot.status();
    }
    out.stream_slot = *std::move(slot);
  }
  cc.set_request_id(std::string(input.request_id));
  cc.set_method(policy.method);
  out.deadline = input.client_deadline == absl::InfiniteFuture()
                     ? now + policy.default_deadline
                     : std::min(input.client_deadline, now + policy.max_deadline);
  // The context outlives the call by a little, for clock skew between hosts.
  cc.set_expire_unix_micros(absl::ToUnixMicros(out.deadline + absl::Seconds(5)));
  return out;
}

absl::StatusOr<std::shared_ptr<const KeyRecord>> Gateway::AuthenticateCounted(
    const CallInput& input, absl::Time now) const {
  std::string failed_key_id;
  const bool by_session = input.authorization.empty() && !input.session.empty();
  auto authenticated = by_session ? authenticator_->AuthenticateSession(input.session)
                                  : authenticator_->Authenticate(input.authorization,
                                                                 &failed_key_id);
  // Only a refused credential counts: a key store that cannot answer (its
  // database restarting) is UNAVAILABLE for every caller, and counting it
  // would turn a valid key's retries into RESOURCE_EXHAUSTED.
  if (absl::IsUnauthenticated(authenticated.status())) {
    // Failures are counted against the key id they presented, so guessing
    // one key's secret never locks out the other keys behind the same
    // address (an ingress is one address for every firm); tokens naming no
    // key count against their source. A valid key is never refused here.
    const std::string peer = input.peer.empty() && input.peer_source ? input.peer_source()
                                                                       : std::string(input.peer);
    const std::string bucket =
        !failed_key_id.empty()
            ? absl::StrCat("key:", failed_key_id)
            : absl::StrCat("src:",
                           SourceAddress(peer, input.forwarded_for, options_.trusted_proxies));
    if (!failed_auth_.Take(bucket, options_.failed_auth_rate, options_.failed_auth_burst, now, "")
             .ok()) {
      Metrics::Get().RateLimited("failed_auth");
      return ResourceExhaustedRetryAfter(
          !failed_key_id.empty() ? "too many failed authentications with this key id"
                                 : "too many failed authentications from this address",
          absl::Seconds(1));
    }
    return authenticated.status();
  }
  // A cookie rides along with every request a browser makes, a forged one
  // included: a change of state needs the token only the page can read.
  if (by_session && !input.safe &&
      !crypto::ConstantTimeEquals(input.csrf_token, CsrfTokenFor(input.session))) {
    return absl::PermissionDeniedError(
        "a request with a session cookie that changes state needs the session's x-csrf-token");
  }
  return authenticated;
}

std::string Gateway::CsrfTokenFor(absl::string_view session) const {
  return Base32Encode(csrf_.Sign(absl::StrCat("csrf|", session)).substr(0, 20));
}

absl::StatusOr<Gateway::SessionStart> Gateway::StartSession(absl::string_view api_key,
                                                            absl::string_view peer,
                                                            absl::string_view forwarded_for) const {
  CallInput input;
  const std::string authorization = absl::StrCat("Bearer ", api_key);
  input.authorization = authorization;
  input.peer = peer;
  input.forwarded_for = forwarded_for;
  SessionStart out;
  ASSIGN_OR_RETURN(out.key, AuthenticateCounted(input, clock_->Now()));
  ASSIGN_OR_RETURN(out.session, authenticator_->StartSession(*out.key));
  out.csrf_token = CsrfTokenFor(out.session.token);
  return out;
}

absl::StatusOr<std::shared_ptr<const KeyRecord>> Gateway::SessionKey(
    absl::string_view session) const {
  return authenticator_->AuthenticateSession(session);
}

absl::Status Gateway::EndSession(absl::string_view session) const {
  return authenticator_->EndSession(session);
}

absl::Status BindClient(const KeyRecord& key, CallContext& cc, absl::string_view on_behalf_of,
                        bool client_scoped) {
  const bool delegate = HasScope(cc, kScopeCasesDelegate);
  // A header the key cannot use is an error, not silently ignored: a CRM key
  // that sends it must not believe it sees one client's cases only.
  if (!on_behalf_of.empty() && !delegate && key.client_id.empty()) {
    return InvalidArgumentField(kOnBehalfOfHeader,
                                "is only for keys with the cases.delegate scope");
  }
  if (!key.client_id.empty()) {
    if (!on_behalf_of.empty() && on_behalf_of != key.client_id) {
      return absl::PermissionDeniedError("this key is bound to another client");
    }
    if (client_scoped) cc.set_client_id(key.client_id);
    return absl::OkStatus();
  }
  if (!delegate || !client_scoped) return absl::OkStatus();
  if (on_behalf_of.empty() || on_behalf_of.size() > 200) {
    return absl::PermissionDeniedError(absl::StrCat(
        "this key acts for clients: name the client in the ", kOnBehalfOfHeader, " header"));
  }
  cc.set_client_id(std::string(on_behalf_of));
  return absl::OkStatus();
}

const Upstream* Gateway::UpstreamFor(const MethodPolicy& policy) const {
  return policy.backend == Backend::kGuidance ? guidance_.get()
         : policy.backend == Backend::kCases  ? cases_.get()
                                              : nullptr;
}

void Gateway::Prepare(const Admission& admission, grpc::ClientContext* client) const {
  client->set_deadline(absl::ToChronoTime(admission.deadline));
  // The request id travels inside the signed context only: a second,
  // per-call unique header would cost an HPACK literal on every hop.
  context_key_->Attach(admission.context, client);
}

void Gateway::Prepare(const Admission& admission, Exchange* ex) const {
  ex->deadline = admission.deadline;
  ex->context = context_key_->Sign(admission.context);
}

void Gateway::Forward(const MethodPolicy& policy, const Admission& admission, Exchange* ex,
                      std::function<void(grpc::Status)> done) const {
  if (const Upstream* up = UpstreamFor(policy)) {
    Prepare(admission, ex);
    up->Call(policy.method, *loop_, policy.idempotent, ex, std::move(done));
    return;
  }
  if (policy.local == nullptr) {
    done(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not implemented"));
    return;
  }
  local_->Schedule([this, &policy, admission, ex, done = std::move(done)] {
    auto out = policy.local(*this, admission, Flatten(ex->request));
    if (!out.ok()) {
      done(ToGrpcStatus(out.status()));
      return;
    }
    grpc::Slice slice(*out);
    ex->response = grpc::ByteBuffer(&slice, 1);
    done(grpc::Status::OK);
  });
}

void Gateway::Fetch(absl::string_view method, const Admission& admission,
                    const google::protobuf::Message& request, google::protobuf::Message* response,
                    Exchange* ex, std::function<void(grpc::Status)> done) const {
  const MethodPolicy* policy = PolicyTable::Get().Find(method);
  const Upstream* up = policy == nullptr ? nullptr : UpstreamFor(*policy);
  if (up == nullptr) {
    done(grpc::Status(grpc::StatusCode::INTERNAL, "no backend serves this method"));
    return;
  }
  CallContext context = admission.context;
  context.set_method(policy->method);
  ex->deadline = admission.deadline;
  ex->context = context_key_->Sign(context);
  grpc::Slice slice(request.SerializeAsString());
  ex->request = grpc::ByteBuffer(&slice, 1);
  ex->shard = loop_->PickShard();
  up->Call(policy->method, *loop_, policy->idempotent, ex,
           [ex, response, done = std::move(done)](grpc::Status status) {
             if (status.ok() && !response->ParseFromString(Flatten(ex->response))) {
               status = grpc::Status(grpc::StatusCode::INTERNAL, "unreadable backend response");
             }
             done(std::move(status));
           });
}

std::string Gateway::RequestIdFrom(absl::string_view given) {
  bool usable = !given.empty() && given.size() <= 128;
  for (char c : given) usable = usable && c > 0x20 && c < 0x7f;
  if (usable) return std::string(given);
  // Request ids correlate logs; they guard nothing, so a per-thread PRNG
  // (no system call per request) is enough: 96 of its bits.
  thread_local absl::BitGen gen;
  const uint64_t high = absl::Uniform<uint64_t>(gen), low = absl::Uniform<uint64_t>(gen);
  char raw[12];
  std::memcpy(raw, &high, 8);
  std::memcpy(raw + 8, &low, 4);
  return Base32Encode(absl::string_view(raw, sizeof raw));
}

void Gateway::LogAccess(absl::string_view transport, absl::string_view method,
                        absl::string_view request_id, const CallContext* context, int code,
                        absl::Duration latency) {
  log::InfoBuffered("access", {{"request_id", request_id},
                       {"method", method},
                       {"transport", transport},
                       {"code", code},
                       {"latency_us", absl::ToInt64Microseconds(latency)},
                       {"tenant", context != nullptr ? context->tenant() : ""},
                       {"key_id", context != nullptr ? context->key_id() : ""}});
  // Metric labels come from the policy table only: a caller inventing
  // method names must not invent series.
  Metrics::Get().Call(PolicyTable::Get().Find(method) != nullptr ? method : "unknown", code,
                      transport, latency);
}

}  // namespace counsel::gateway
