// Benchmarks of case-svc, through the real gRPC server on a real SQLite file
// with synchronous=FULL:
//
//   BM_CreateCase/group_commit vs /one_commit_per_request: 64 concurrent
//     callers; the ratio of the two is the point (target >= 5x).
//   BM_ListCases: a filtered page over COUNSEL_BENCH_CASES cases of one tenant
//     (default 1,000,000), in process; p50/p99 as counters (target p99 < 20 ms).
//   BM_WatchLag: time from a create's acknowledgement to its arrival on a
//     watcher, under write load; p50/p99 as counters.
//
//   BM_WatchLagAcrossReplicas (PostgreSQL only): the same, with the watcher
//     on a second replica of the store, woken by LISTEN/NOTIFY.
//
//   build/release/tests/bench/cases_bench --benchmark_counters_tabular=true
//
// With COUNSEL_BENCH_ENGINE=postgres each benchmark runs on a database of
// its own on the server COUNSEL_PG_ENV names (tests/tools/postgres_server.sh;
// tests/bench/postgres_report.sh runs it beside pgbench).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "case-svc/case_service.h"
#include "case-svc/testing/fixed_advice.h"
#include "common/server.h"
#include "common/testing/postgres_test_db.h"
#include "grpcpp/create_channel.h"

namespace counsel::cases {
namespace {

int64_t CorpusCases() {
  const char* env = std::getenv("COUNSEL_BENCH_CASES");
  return env != nullptr ? std::max<int64_t>(100, std::atoll(env)) : 1000000;
}

bool OnPostgres() {
  const char* env = std::getenv("COUNSEL_BENCH_ENGINE");
  return env != nullptr && std::string(env) == "postgres";
}

struct Server {
  std::string dir;
  std::unique_ptr<testing::PostgresTestDb> pg;
  ContextKey key{std::string(32, 'k')};
  PiiVault vault{{std::string(32, 'm')}};
  FixedAdvice advice{"bench"};
  std::unique_ptr<CaseStore> store;
  std::unique_ptr<CaseServiceImpl> service;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;

  // `replica_of`: a second replica on that database instead of a new one.
  explicit Server(int max_batch, testing::PostgresTestDb* replica_of = nullptr) {
    dir = std::filesystem::temp_directory_path() /
          absl::StrCat("counsel-cases-bench-", getpid(), "-", max_batch);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    CaseStoreOptions options;
    options.max_batch = max_batch;
    options.audit_key = std::string(32, 'a');
    if (replica_of != nullptr) {
      store = std::move(*OpenPostgresCaseStore(replica_of->uri(), &vault, RealClock::Get(), options));
    } else if (OnPostgres()) {
      auto db = testing::PostgresTestDb::Create();
      if (!db.ok()) {
        std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
        abort();
      }
      pg = std::move(*db);
      store = std::move(*OpenPostgresCaseStore(pg->uri(), &vault, RealClock::Get(), options));
    } else {
      store = std::move(*OpenSqliteCaseStore(dir + "/cases.db", &vault, RealClock::Get(), options));
    }
    service = std::make_unique<CaseServiceImpl>(&key, RealClock::Get(), store.get(), &advice);
    ServerConfig config;
    config.program = "bench";
    config.listen = "127.0.0.1:0";
    config.reflection = false;
    runner = std::move(*ServerRunner::Start(config, {service.get()}));
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", runner->port()),
                                  grpc::InsecureChannelCredentials());
  }
  ~Server() {
    runner.reset();
    service.reset();
    store.reset();
    pg.reset();
    std::filesystem::remove_all(dir);
  }
  void Sign(grpc::ClientContext* ctx, const std::string& method) {
    CallContext cc;
    cc.set_tenant("bench");
    cc.set_key_id("bench");
    cc.add_scopes(kScopeCasesRead);
    cc.add_scopes(kScopeCasesWrite);
    cc.set_method(absl::StrCat("/counsel.cases.v1.CaseService/", method));
    cc.set_expire_unix_micros(absl::ToUnixMicros(absl::Now() + absl::Hours(1)));
    key.Attach(cc, ctx);
  }
};

v1::CreateCaseRequest MakeRequest(int64_t i) {
  v1::CreateCaseRequest r;
  v1::Case* c = r.mutable_case_();
  c->mutable_client()->set_display_name("测试客户");
  c->mutable_client()->set_phone(absl::StrCat("+86138", 10000000 + i % 89999999));
  c->add_leaked_data(i % 3 == 0 ? v1::LEAKED_DATA_NATIONAL_ID : v1::LEAKED_DATA_PHONE);
  c->set_assignee(absl::StrCat("lawyer-", i % 20));
  return r;
}

// Keeps 64 creates in flight; each iteration completes 64.
void CreateCases(benchmark::State& state, int max_batch) {
  Server server(max_batch);
  auto stub = v1::CaseService::NewStub(server.channel);
  constexpr int kCallers = 64;
  int64_t n = 0;
  for (auto _ : state) {
    absl::BlockingCounter done(kCallers);
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs(kCallers);
    std::vector<v1::CreateCaseRequest> reqs(kCallers);
    std::vector<v1::Case> resps(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      ctxs[i] = std::make_unique<grpc::ClientContext>();
      server.Sign(ctxs[i].get(), "CreateCase");
      reqs[i] = MakeRequest(n++);
      stub->async()->CreateCase(ctxs[i].get(), &reqs[i], &resps[i], [&](grpc::Status s) {
        if (!s.ok()) abort();
        done.DecrementCount();
      });
    }
    done.Wait();
  }
  state.SetItemsProcessed(n);
}
void BM_CreateCase_GroupCommit(benchmark::State& state) { CreateCases(state, 256); }
void BM_CreateCase_OneCommitPerRequest(benchmark::State& state) { CreateCases(state, 1); }
BENCHMARK(BM_CreateCase_GroupCommit)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CreateCase_OneCommitPerRequest)->UseRealTime()->Unit(benchmark::kMillisecond);

void Percentiles(benchmark::State& state, std::vector<double> us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
}

void BM_ListCases(benchmark::State& state, const char* filter) {
  static Server* server = [] {
    auto* s = new Server(256);
    // Fill through the store (the group-commit writer), in waves.
    const int64_t total = CorpusCases();
    const Actor actor{"bench", "bench", ""};
    int64_t i = 0;
    while (i < total) {
      const int64_t wave = std::min<int64_t>(4096, total - i);
      absl::BlockingCounter done(static_cast<int>(wave));
      for (int64_t k = 0; k < wave; ++k, ++i) {
        cases::NewCase nc;
        nc.c = MakeRequest(i).case_();
        nc.c.set_name(absl::StrCat("cases/b", i));
        nc.c.set_state(i % 5 == 0 ? v1::Case::STATE_IN_PROGRESS : v1::Case::STATE_NEW);
        nc.c.set_incident_type("personal-information-leak");
        *nc.c.mutable_discovered_time() = google::protobuf::Timestamp();
        s->store->CreateCase(actor, std::move(nc), [&](absl::StatusOr<v1::Case> c) {
          if (!c.ok()) abort();
          done.DecrementCount();
        });
      }
      done.Wait();
    }
    return s;
  }();
  const Actor actor{"bench", "bench", ""};
  v1::ListCasesRequest r;
  r.set_filter(filter);
  r.set_page_size(50);
  std::vector<double> us;
  for (auto _ : state) {
    const absl::Time t0 = absl::Now();
    auto page = server->store->ListCases(actor, r);
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
    if (!page.ok()) state.SkipWithError("list failed");
    benchmark::DoNotOptimize(page);
  }
  state.counters["cases"] = static_cast<double>(CorpusCases());
  Percentiles(state, std::move(us));
}
// A dashboard's question: a state and a category (about 1 in 15 cases).
BENCHMARK_CAPTURE(BM_ListCases, state_and_category,
                  "state = IN_PROGRESS AND leaked_data:NATIONAL_ID")
    ->Unit(benchmark::kMillisecond);
// One lawyer's open cases.
BENCHMARK_CAPTURE(BM_ListCases, assignee_and_state,
                  "assignee = \"lawyer-5\" AND state = IN_PROGRESS")
    ->Unit(benchmark::kMillisecond);
// Worst case: a conjunction nothing matches, so no page fills early.
BENCHMARK_CAPTURE(BM_ListCases, no_match,
                  "state = IN_PROGRESS AND assignee = \"lawyer-3\"")
    ->Unit(benchmark::kMillisecond);

// Writes through `server`, the watcher on `watched` (the same server, or a
// second replica of its database).
void WatchLag(benchmark::State& state, Server& server, Server& watched) {
  auto stub = v1::CaseService::NewStub(server.channel);
  auto watch_stub = v1::CaseService::NewStub(watched.channel);
  grpc::ClientContext watch_ctx;
  watched.Sign(&watch_ctx, "WatchChanges");
  auto reader = watch_stub->WatchChanges(&watch_ctx, {});
  absl::Mutex mu;
  absl::flat_hash_map<std::string, absl::Time> acked;
  std::vector<double> lag_us;
  std::thread watcher([&] {
    v1::WatchChangesResponse msg;
    while (reader->Read(&msg)) {
      if (!msg.has_change()) continue;
      const absl::Time now = absl::Now();
      absl::MutexLock lock(&mu);
      auto it = acked.find(msg.change().event().case_());
      if (it != acked.end()) lag_us.push_back(absl::ToDoubleMicroseconds(now - it->second));
    }
  });
  int64_t n = 0;
  constexpr int kCallers = 32;
  for (auto _ : state) {
    absl::BlockingCounter done(kCallers);
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs(kCallers);
    std::vector<v1::CreateCaseRequest> reqs(kCallers);
    std::vector<v1::Case> resps(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      ctxs[i] = std::make_unique<grpc::ClientContext>();
      server.Sign(ctxs[i].get(), "CreateCase");
      reqs[i] = MakeRequest(n++);
      stub->async()->CreateCase(ctxs[i].get(), &reqs[i], &resps[i], [&, i](grpc::Status s) {
        if (!s.ok()) abort();
        {
          absl::MutexLock lock(&mu);
          acked[resps[i].name()] = absl::Now();
        }
        done.DecrementCount();
      });
    }
    done.Wait();
  }
  // Let the watcher catch up, then stop it.
  {
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(
                            +[](std::vector<double>* v) { return !v->empty(); }, &lag_us),
                        absl::Seconds(5));
  }
  watch_ctx.TryCancel();
  watcher.join();
  (void)reader->Finish();
  absl::MutexLock lock(&mu);
  Percentiles(state, lag_us);
  state.SetItemsProcessed(n);
}

void BM_WatchLag(benchmark::State& state) {
  Server server(256);
  WatchLag(state, server, server);
}
BENCHMARK(BM_WatchLag)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_WatchLagAcrossReplicas(benchmark::State& state) {
  if (!OnPostgres()) {
    state.SkipWithError("PostgreSQL only (COUNSEL_BENCH_ENGINE=postgres)");
    return;
  }
  Server writer(256);
  Server watcher(256, writer.pg.get());
  WatchLag(state, writer, watcher);
}
BENCHMARK(BM_WatchLagAcrossReplicas)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace counsel::cases

BENCHMARK_MAIN();
