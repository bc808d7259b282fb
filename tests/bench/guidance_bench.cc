// Benchmarks of guidance-svc's read paths on a synthetic corpus that the
// benchmark generates itself (never shipped as law): by default 100 statutes
// x 300 articles x 3 versions; COUNSEL_BENCH_STATUTES scales it down for the
// smoke run in the test suite.
//
//   build/release/tests/bench/guidance_bench --benchmark_counters_tabular=true
//
// BM_Grpc* compare a point-in-time GetProvision through the real gRPC server
// with a bare gRPC echo server (callback API, same payload size) measured in
// the same run: the target is >= 0.8x the echo rate.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/server.h"
#include "counsel/guidance/v1/guidance.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "guidance-svc/citation/citation_parser.h"
#include "guidance-svc/citation/numerals.h"
#include "guidance-svc/guidance_service.h"
#include "guidance-svc/statute/search.h"
#include "guidance-svc/statute/statute_file.h"

namespace counsel::guidance {
namespace {

int Statutes() {
  const char* env = std::getenv("COUNSEL_BENCH_STATUTES");
  return env != nullptr ? std::max(1, std::atoi(env)) : 100;
}
constexpr int kArticles = 300;
constexpr int kVersions = 3;

// Filler text built from common statute vocabulary, deterministic.
std::string Filler(std::mt19937& rng, int chars) {
  static const std::vector<std::string> kWords = {
      "违反", "规定", "处罚", "拘留", "罚款", "公安机关", "个人信息", "隐私", "泄露", "他人",
      "情节", "较重", "依照", "本法", "有关", "单位", "责令", "改正", "没收", "非法", "提供",
      "出售", "收集", "使用", "保护", "权益", "损害", "赔偿", "责任", "人民法院"};
  std::string out;
  int n = 0;
  while (n < chars) {
    const std::string& w = kWords[rng() % kWords.size()];
    out += w;
    n += static_cast<int>(w.size() / 3);
    if (rng() % 7 == 0) {
      out += "，";
      ++n;
    }
  }
  return out + "。";
}

struct Corpus {
  std::string dir;
  std::unique_ptr<StatuteStore> store;
  std::unique_ptr<AdviceStore> advice;
  std::shared_ptr<const Catalog> catalog;
  ~Corpus() { std::filesystem::remove_all(dir); }
};

Corpus& GetCorpus() {
  static Corpus* corpus = [] {
    auto* c = new Corpus();
    c->dir = std::filesystem::temp_directory_path() / absl::StrCat("counsel-bench-", getpid());
    std::filesystem::create_directories(c->dir);
    // The corpus lives for the whole run; its folder goes when the run ends.
    static std::string folder = c->dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(folder, ec);
    });
    c->store = std::move(*OpenStatuteStore(c->dir + "/g.db"));
    c->advice = std::move(*OpenAdviceStore(c->dir + "/g.db"));
    std::mt19937 rng(42);
    for (int s = 0; s < Statutes(); ++s) {
      for (int v = 0; v < kVersions; ++v) {
        ParsedStatuteVersion p;
        p.statute.set_name(absl::StrCat("statutes/bench-", s));
        p.statute.set_title(absl::StrCat("合成测试法", ToChineseNumeral(s + 1)));
        p.statute.set_short_title(p.statute.title());
        const std::string vid = absl::StrCat(2000 + v * 5, "-01-01");
        p.version.set_version_id(vid);
        p.version.set_effective_date(vid);
        p.version.set_content_sha256(absl::StrCat("synthetic-", s, "-", v));
        for (int a = 1; a <= kArticles; ++a) {
          v1::Provision art;
          art.set_eid(ArticleEid(a, 0));
          art.set_name(absl::StrCat(p.statute.name(), "/provisions/", art.eid()));
          art.set_label(absl::StrCat("第", ToChineseNumeral(a), "条"));
          art.set_kind(v1::Provision::KIND_ARTICLE);
          art.set_text(Filler(rng, 60 + static_cast<int>(rng() % 120)));
          auto* para = art.add_children();
          para->set_eid(art.eid() + "__para_1");
          para->set_text(art.text());
          p.articles.push_back(std::move(art));
        }
        if (!c->store->ImportVersion(p).ok()) abort();
      }
    }
    c->catalog = Catalog::Build(*c->store->LoadAll());
    return c;
  }();
  return *corpus;
}

const absl::CivilDay kToday(2026, 11, 28);

void BM_GetProvisionInProcess(benchmark::State& state) {
  const Catalog& catalog = *GetCorpus().catalog;
  std::mt19937 rng(1);
  for (auto _ : state) {
    v1::GetProvisionRequest r;
    r.set_name(absl::StrCat("statutes/bench-", rng() % Statutes(), "/provisions/art_",
                            1 + rng() % kArticles));
    r.set_as_of("2007-06-01");
    auto p = catalog.GetProvision(r, kToday);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetProvisionInProcess);

void BM_ParseCitations(benchmark::State& state) {
  std::vector<StatuteNames> names;
  for (int s = 0; s < Statutes(); ++s) {
    names.push_back({absl::StrCat("bench-", s), {absl::StrCat("合成测试法", ToChineseNumeral(s + 1))}});
  }
  names.push_back({"psap", {"中华人民共和国治安管理处罚法", "治安管理处罚法"}});
  const std::string text =
      "依照《中华人民共和国治安管理处罚法》第四十二条第六项、第五十条，参照本法第十条第二款，"
      "以及治安管理处罚法第二百五十三条之一的规定，当事人可以向公安机关报案。";
  for (auto _ : state) {
    auto c = ParseCitations(text, names, "");
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseCitations);

void BM_Search(benchmark::State& state, const char* query) {
  Corpus& c = GetCorpus();
  v1::SearchProvisionsRequest r;
  r.set_query(query);
  r.set_as_of("2007-06-01");
  size_t results = 0;
  for (auto _ : state) {
    auto out = SearchProvisions(*c.catalog, *c.store, r, kToday);
    if (!out.ok()) state.SkipWithError("search failed");
    results = static_cast<size_t>(out->results_size());
  }
  state.counters["results"] = static_cast<double>(results);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Search, two_chars, "隐私");
BENCHMARK_CAPTURE(BM_Search, four_chars, "个人信息");

// --- gRPC: GetProvision through the real server vs a bare echo server ---

class EchoService final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { StartRead(&buf_); }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        StartWriteAndFinish(&buf_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer buf_;
    };
    return new Reactor();
  }
};

struct Servers {
  ContextKey key{std::string(32, 'k')};
  FakeClock clock{absl::FromCivil(absl::CivilSecond(2026, 11, 28, 0, 0, 0), absl::UTCTimeZone())};
  std::unique_ptr<GuidanceServiceImpl> service;
  std::unique_ptr<ServerRunner> guidance;
  EchoService echo_service;
  std::unique_ptr<ServerRunner> echo;
  std::string request_bytes;
  size_t response_size = 0;
};

Servers& GetServers() {
  static Servers* s = [] {
    auto* s = new Servers();
    Corpus& c = GetCorpus();
    s->service = std::make_unique<GuidanceServiceImpl>(&s->key, &s->clock, c.store.get(),
                                                       c.advice.get());
    if (!s->service->Reload().ok()) abort();
    ServerConfig config;
    config.program = "bench";
    config.listen = "127.0.0.1:0";
    config.reflection = false;
    s->guidance = std::move(*ServerRunner::Start(config, {s->service.get()}));
    s->echo = std::move(*ServerRunner::Start(config, {}, [s](grpc::ServerBuilder& b) {
      b.RegisterCallbackGenericService(&s->echo_service);
    }));
    v1::GetProvisionRequest r;
    r.set_name("statutes/bench-0/provisions/art_42");
    r.set_as_of("2007-06-01");
    s->request_bytes = r.SerializeAsString();
    v1::Provision p = *c.catalog->GetProvision(r, kToday);
    s->response_size = p.ByteSizeLong();
    return s;
  }();
  return *s;
}

// Each benchmark thread keeps `depth` calls in flight on its own channel.
void RunCalls(benchmark::State& state, int port, const std::string& method,
              const std::string& payload, bool signed_context) {
  Servers& s = GetServers();
  grpc::ChannelArguments args;
  args.SetInt("counsel.bench.thread", state.thread_index());  // one connection per thread
  grpc::GenericStub stub(grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                                   grpc::InsecureChannelCredentials(), args));
  const int depth = 16;
  int64_t done = 0;
  for (auto _ : state) {
    absl::Mutex mu;
    int outstanding = depth;
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs(depth);
    std::vector<grpc::ByteBuffer> requests(depth), responses(depth);
    for (int i = 0; i < depth; ++i) {
      ctxs[i] = std::make_unique<grpc::ClientContext>();
      if (signed_context) {
        CallContext cc;
        cc.set_tenant("bench");
        cc.add_scopes(kScopeGuidanceRead);
        cc.set_method(method);
        cc.set_expire_unix_micros(absl::ToUnixMicros(s.clock.Now() + absl::Hours(1)));
        s.key.Attach(cc, ctxs[i].get());
      }
      grpc::Slice slice(payload);
      requests[i] = grpc::ByteBuffer(&slice, 1);
      stub.UnaryCall(ctxs[i].get(), method, grpc::StubOptions(), &requests[i], &responses[i],
                     [&](grpc::Status st) {
                       if (!st.ok()) abort();
                       absl::MutexLock lock(&mu);
                       --outstanding;
                     });
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int* n) { return *n == 0; }, &outstanding));
    done += depth;
  }
  state.SetItemsProcessed(done);
}

void BM_GrpcEcho(benchmark::State& state) {
  Servers& s = GetServers();
  // Echo a payload the size of a GetProvision answer: same bytes on the wire.
  RunCalls(state, s.echo->port(), "/bench.Echo/Echo", std::string(s.response_size, 'x'), false);
}
BENCHMARK(BM_GrpcEcho)->Threads(4)->UseRealTime();

void BM_GrpcGetProvision(benchmark::State& state) {
  Servers& s = GetServers();
  RunCalls(state, s.guidance->port(), "/counsel.guidance.v1.GuidanceService/GetProvision",
           s.request_bytes, true);
}
BENCHMARK(BM_GrpcGetProvision)->Threads(4)->UseRealTime();

}  // namespace
}  // namespace counsel::guidance

BENCHMARK_MAIN();
