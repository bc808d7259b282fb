// counsel-gateway: the one door (gRPC and HTTP/JSON); `keys` manages API keys.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/postgres.h"
#include "common/process.h"
#include "common/call_context.h"
#include "common/config.h"
#include "common/key_file.h"
#include "common/logging.h"
#include "common/server.h"
#include "common/server_flags.h"
#include "counsel/cases/v1/cases.pb.h"
#include "gateway/gateway.h"
#include "gateway/grpc_front.h"
#include "gateway/grpc_loop.h"
#include "gateway/loop_health.h"
#include "gateway/http/http_front.h"
#include "gateway/http/transcoder.h"
#include "gateway/keys/authenticator.h"
#include "gateway/keys/key_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50050", "gRPC listen address; port 0 picks one");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8080", "HTTP/JSON listen address; port 0 picks one");
ABSL_FLAG(std::string, db, "var/gateway.db", "SQLite database of API keys, or a postgresql:// URI shared by every replica");
ABSL_FLAG(std::string, guidance_addr, "127.0.0.1:50051", "guidance-svc address");
ABSL_FLAG(std::string, cases_addr, "127.0.0.1:50052", "case-svc address");
ABSL_FLAG(std::string, context_key_file, "var/context.key",
          "Key that signs call contexts for the backends (>= 32 bytes, mode 0600)");
ABSL_FLAG(std::string, keys_seed, "",
          "If --db does not exist yet, start from a copy of this key database (e.g. a "
          "read-only Secret in Kubernetes)");
ABSL_FLAG(int, grpc_threads, 0,
          "gRPC threads: each serves the calls it takes and makes their backend calls; "
          "0: one per core");
ABSL_FLAG(int, health_watchers, counsel::gateway::LoopHealth::kMaxWatchers,
          "grpc.health.v1 Watch streams open at once (they need no key); more are refused");
ABSL_FLAG(int, http_threads, 2,
          "HTTP event-loop threads; every connection, request and stream is served by these, "
          "none holds a thread while it waits");
ABSL_FLAG(absl::Duration, http_header_timeout, absl::Seconds(10),
          "A request's headers must arrive whole within this of its first byte");
ABSL_FLAG(absl::Duration, http_idle_timeout, absl::Seconds(30),
          "A kept-alive HTTP connection with no request for this long is closed");
ABSL_FLAG(double, default_rate, 50, "Calls per second a key may make when it sets no rate");
ABSL_FLAG(double, default_burst, 100, "Burst a key may make when it sets none");
ABSL_FLAG(int, max_in_flight, 1000, "Calls in flight beyond which new calls are refused at once");
ABSL_FLAG(int, max_streams_per_key, 32,
          "Streams (watches, uploads) one key may hold open at once unless the key sets its own");
ABSL_FLAG(int, max_streams_per_tenant, 256,
          "Streams all keys of one tenant may hold open at once");
ABSL_FLAG(std::string, trusted_proxies, "",
          "Comma-separated addresses of proxies (ingresses) whose X-Forwarded-For is believed "
          "for the failed-authentication limit; none by default");
ABSL_FLAG(int, max_concurrent_streams, 100,
          "Calls one client connection may have open at once (HTTP/2 "
          "SETTINGS_MAX_CONCURRENT_STREAMS); bounds the memory a fast client can claim");
ABSL_FLAG(bool, http_secure_cookies, false,
          "Mark session cookies Secure (set it when a TLS-terminating ingress is in front)");
ABSL_FLAG(std::string, cors_origins, "",
          "Comma-separated origins allowed to call the HTTP front from a browser");
// keys create
ABSL_FLAG(std::string, from, "", "migrate: the SQLite key database to move");
ABSL_FLAG(std::string, to, "", "migrate: the postgresql:// URI to move it to");
ABSL_FLAG(std::string, tenant, "", "keys create: the firm the key belongs to");
ABSL_FLAG(std::string, scopes, "", "keys create: comma-separated scopes");
ABSL_FLAG(std::string, name, "", "keys create: a label for people");
ABSL_FLAG(std::string, client, "", "keys create: bind the key to this client id");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(), "keys create: expire after this long (0: never)");
ABSL_FLAG(double, rate, 0, "keys create: calls per second allowed (0: default)");
ABSL_FLAG(int, burst, 0, "keys create: burst size (0: default)");
ABSL_FLAG(int, max_streams, 0,
          "keys create: streams the key may hold open at once (0: --max_streams_per_key)");

namespace counsel::gateway {
namespace {

constexpr char kUsage[] =
    "counsel-gateway: the one door for firm systems.\n"
    "  counsel-gateway [--listen=ADDR] [--http_listen=ADDR] [--db=PATH]\n"
    "                  [--guidance_addr=ADDR] [--cases_addr=ADDR] [--context_key_file=PATH]\n"
    "  counsel-gateway keys create --tenant=T --scopes=a,b [--name=N] [--client=ID] [--ttl=720h]\n"
    "                              [--rate=R --burst=B] [--max_streams=N]\n"
    "  counsel-gateway keys list [--tenant=T]\n"
    "  counsel-gateway keys revoke KEY_ID\n"
    "  counsel-gateway migrate --from=var/gateway.db --to=postgresql://...";

int Fail(const absl::Status& status) {
  log::Error("fatal", {{"program", "counsel-gateway"}, {"error", status.ToString()}});
  std::fprintf(stderr, "counsel-gateway: %s\n", std::string(status.message()).c_str());
  return 1;
}

std::string FormatTime(std::optional<absl::Time> t) {
  return t ? absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *t, absl::UTCTimeZone()) : "-";
}

int RunKeys(const std::vector<std::string>& args) {
  auto store = OpenKeyStore(absl::GetFlag(FLAGS_db), RealClock::Get());
  if (!store.ok()) return Fail(store.status());
  const std::string verb = args.size() > 1 ? args[1] : "";
  if (verb == "create" && args.size() == 2) {
    KeySpec spec;
    spec.tenant = absl::GetFlag(FLAGS_tenant);
    spec.scopes = absl::StrSplit(absl::GetFlag(FLAGS_scopes), ',', absl::SkipWhitespace());
    spec.name = absl::GetFlag(FLAGS_name);
    spec.client_id = absl::GetFlag(FLAGS_client);
    if (absl::GetFlag(FLAGS_ttl) > absl::ZeroDuration()) spec.ttl = absl::GetFlag(FLAGS_ttl);
    spec.rate_per_second = absl::GetFlag(FLAGS_rate);
    spec.burst = absl::GetFlag(FLAGS_burst);
    spec.max_streams = absl::GetFlag(FLAGS_max_streams);
    auto key = (*store)->Create(spec);
    if (!key.ok()) return Fail(key.status());
    std::printf("key id:  %s\ntenant:  %s\nscopes:  %s\nclient:  %s\nexpires: %s\n",
                key->record.key_id.c_str(), key->record.tenant.c_str(),
                absl::StrJoin(key->record.scopes, ",").c_str(),
                key->record.client_id.empty() ? "-" : key->record.client_id.c_str(),
                FormatTime(key->record.expire_time).c_str());
    std::printf("Store this key now; it is not shown again:\n%s\n", key->token.c_str());
    return 0;
  }
  if (verb == "list" && args.size() == 2) {
    auto keys = (*store)->List(absl::GetFlag(FLAGS_tenant));
    if (!keys.ok()) return Fail(keys.status());
    std::printf("%-16s  %-16s  %-20s  %-8s  %-20s  %-20s  %s\n", "KEY ID", "TENANT", "NAME",
                "CLIENT", "CREATED", "EXPIRES", "STATE / SCOPES");
    for (const KeyRecord& k : *keys) {
      const absl::Time now = absl::Now();
      const char* state = k.revoke_time ? "revoked"
                          : (k.expire_time && *k.expire_time <= now) ? "expired"
                                                                     : "active";
      std::printf("%-16s  %-16s  %-20s  %-8s  %-20s  %-20s  %s %s\n", k.key_id.c_str(),
                  k.tenant.c_str(), k.name.empty() ? "-" : k.name.c_str(),
                  k.client_id.empty() ? "-" : k.client_id.c_str(),
                  FormatTime(k.create_time).c_str(), FormatTime(k.expire_time).c_str(), state,
                  absl::StrJoin(k.scopes, ",").c_str());
    }
    return 0;
  }
  if (verb == "revoke" && args.size() == 3) {
    if (auto st = (*store)->Revoke(args[2]); !st.ok()) return Fail(st);
    std::printf("revoked %s\n", args[2].c_str());
    return 0;
  }
  std::fprintf(stderr, "%s\n", kUsage);
  return 2;
}

int RunMigrate() {
  auto moved = MoveKeysToPostgres(absl::GetFlag(FLAGS_from), absl::GetFlag(FLAGS_to));
  if (!moved.ok()) return Fail(moved.status());
  for (const auto& [table, rows] : *moved) {
    std::printf("%-10s %lld rows\n", table.c_str(), static_cast<long long>(rows));
  }
  std::printf("moved and checked: every table's rows are at the destination\n");
  return 0;
}

int Serve() {
  auto context_key = LoadKeyFile(absl::GetFlag(FLAGS_context_key_file));
  if (!context_key.ok()) return Fail(context_key.status());
  ContextKey key(std::move(*context_key));
  const std::string seed = absl::GetFlag(FLAGS_keys_seed);
  if (!seed.empty() && !std::filesystem::exists(absl::GetFlag(FLAGS_db))) {
    std::error_code ec;
    std::filesystem::copy_file(seed, absl::GetFlag(FLAGS_db), ec);
    if (ec) return Fail(absl::FailedPreconditionError("cannot copy --keys_seed: " + ec.message()));
    std::filesystem::permissions(absl::GetFlag(FLAGS_db), std::filesystem::perms::owner_read |
                                                              std::filesystem::perms::owner_write);
  }
  auto store = OpenKeyStore(absl::GetFlag(FLAGS_db), RealClock::Get());
  if (!store.ok()) return Fail(store.status());
  Authenticator authenticator(store->get(), RealClock::Get());
  GatewayOptions options;
  options.guidance_addr = absl::GetFlag(FLAGS_guidance_addr);
  options.cases_addr = absl::GetFlag(FLAGS_cases_addr);
  options.backend_tls = TlsFilesFromFlags();
  options.default_rate = absl::GetFlag(FLAGS_default_rate);
  options.default_burst = absl::GetFlag(FLAGS_default_burst);
  options.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  options.max_streams_per_key = absl::GetFlag(FLAGS_max_streams_per_key);
  options.max_streams_per_tenant = absl::GetFlag(FLAGS_max_streams_per_tenant);
  if (pg::IsUri(absl::GetFlag(FLAGS_db))) {
    KeyStore* keys = store->get();
    options.quota_leaser = [keys](const std::string& name, double rate, double burst, double want,
                                  absl::Time now) {
      return keys->LeaseTokens(name, rate, burst, want, now);
    };
  }
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_trusted_proxies), ',',
                                            absl::SkipWhitespace())) {
    options.trusted_proxies.insert(std::string(absl::StripAsciiWhitespace(p)));
  }
  int threads = absl::GetFlag(FLAGS_grpc_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  GrpcLoop loop(std::min(threads, 64));
  auto gateway = Gateway::Create(options, &authenticator, &key, RealClock::Get(), &loop);
  if (!gateway.ok()) return Fail(gateway.status());
  auto transcoder = Transcoder::Build();
  if (!transcoder.ok()) return Fail(transcoder.status());

  GrpcFront front(gateway->get());
  LoopHealth health(&loop, absl::GetFlag(FLAGS_health_watchers));
  // --tls_ca authenticates the backends (and the gateway to them, mTLS); the
  // front serves TLS with --tls_cert/--tls_key but asks callers for no
  // client certificate: they authenticate with API keys.
  ServerConfig front_config =
      ServerConfigFromFlags("counsel-gateway", absl::GetFlag(FLAGS_listen));
  front_config.tls.ca.clear();
  front_config.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  auto runner = ServerRunner::Start(front_config, {}, [&](grpc::ServerBuilder& builder) {
    front.Register(builder);
    health.Register(builder);
    loop.AddQueues(builder);
  });
  if (!runner.ok()) return Fail(runner.status());
  loop.Start([&](int shard) {
    front.Start(shard);
    health.Start(shard);
  });
  HttpOptions http;
  http.listen = absl::GetFlag(FLAGS_http_listen);
  http.threads = absl::GetFlag(FLAGS_http_threads);
  http.header_timeout = absl::GetFlag(FLAGS_http_header_timeout);
  http.idle_timeout = absl::GetFlag(FLAGS_http_idle_timeout);
  http.secure_cookies = absl::GetFlag(FLAGS_http_secure_cookies);
  http.cors_origins = absl::StrSplit(absl::GetFlag(FLAGS_cors_origins), ',', absl::SkipWhitespace());
  auto http_front = HttpFront::Start(http, gateway->get(), transcoder->get());
  if (!http_front.ok()) {
    (*runner)->Shutdown();
    loop.Stop();
    return Fail(http_front.status());
  }
  (*runner)->RunUntilSignal();
  // The loop's queues drain once no call is left on them: the server's are
  // over, and the HTTP front's end with it.
  (*http_front)->Stop();
  if (const int left = loop.Stop(); left > 0) {
    log::Warning("stopped with calls still open", {{"calls", left}});
  }
  return 0;
}

}  // namespace
}  // namespace counsel::gateway

int main(int argc, char** argv) {
  counsel::InitProcess();
  counsel::BlockTerminationSignals();
  std::vector<std::string> args = counsel::ParseFlags(argc, argv, counsel::gateway::kUsage);
  if (!args.empty() && args[0] == "keys") return counsel::gateway::RunKeys(args);
  if (args.size() == 1 && args[0] == "migrate") return counsel::gateway::RunMigrate();
  if (!args.empty()) {
    std::fprintf(stderr, "%s\n", counsel::gateway::kUsage);
    return 2;
  }
  return counsel::gateway::Serve();
}
