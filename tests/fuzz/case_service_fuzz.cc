// Fuzz target: case-svc's request handling in process, on a fresh SQLite
// file with the real store (sealing, blind indexes, audit chain, feed). Each
// input is one call of a unary CaseService method (service_fuzz.h) with
// every case scope; the state grows as the fuzzer creates and edits cases.
// Case names are random, which a fuzzer cannot guess: a case is made at
// start, and `cases/` followed by 26 '@' in an input (the seeds use it)
// stands for its name, byte for byte.
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "case-svc/case_service.h"
#include "case-svc/testing/fixed_advice.h"
#include "common/clock.h"
#include "common/server.h"
#include "tests/fuzz/service_fuzz.h"

namespace counsel::cases {
namespace {

struct Service {
  std::string dir;
  ContextKey key{std::string(32, 'k')};
  PiiVault vault{{std::string(32, 'm')}};
  FixedAdvice advice{"fuzz"};
  std::unique_ptr<CaseStore> store;
  std::unique_ptr<CaseServiceImpl> service;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;
  CallContext base;

  Service() {
    dir = std::filesystem::temp_directory_path() / absl::StrCat("counsel-fuzz-cases-", getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    CaseStoreOptions options;
    options.audit_key = std::string(32, 'a');
    store = std::move(*OpenSqliteCaseStore(dir + "/cases.db", &vault, RealClock::Get(), options));
    service = std::make_unique<CaseServiceImpl>(&key, RealClock::Get(), store.get(), &advice);
    runner = fuzz::ServeInProcess(service.get(), &channel);
    base = fuzz::FuzzContext({kScopeCasesRead, kScopeCasesWrite, kScopeCasesPii, kScopeCasesAdmin});
    std::atexit([] { std::filesystem::remove_all(Get().dir); });
    auto stub = v1::CaseService::NewStub(channel);
    grpc::ClientContext ctx;
    CallContext cc = base;
    cc.set_method("/counsel.cases.v1.CaseService/CreateCase");
    cc.set_expire_unix_micros(absl::ToUnixMicros(absl::Now() + absl::Minutes(1)));
    key.Attach(cc, &ctx);
    v1::CreateCaseRequest r;
    r.mutable_case_()->mutable_client()->set_display_name("陈一");
    r.mutable_case_()->mutable_client()->set_phone("+8613800000000");
    r.mutable_case_()->add_leaked_data(v1::LEAKED_DATA_PHONE);
    v1::Case created;
    if (!stub->CreateCase(&ctx, r, &created).ok() || created.name().size() != kPlaceholder.size()) {
      abort();
    }
    known_case = created.name();
  }

  static constexpr absl::string_view kPlaceholder = "cases/@@@@@@@@@@@@@@@@@@@@@@@@@@";
  std::string known_case;

  static Service& Get() {
    static Service* s = new Service();
    return *s;
  }
};

}  // namespace
}  // namespace counsel::cases

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& s = counsel::cases::Service::Get();
  std::string input(reinterpret_cast<const char*>(data), size);
  const auto& placeholder = counsel::cases::Service::kPlaceholder;
  for (size_t at = input.find(placeholder.data(), 0, placeholder.size());
       at != std::string::npos; at = input.find(placeholder.data(), at, placeholder.size())) {
    input.replace(at, placeholder.size(), s.known_case);
  }
  counsel::fuzz::CallUnary(s.channel, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                               "counsel.cases.v1.CaseService"), s.key,
                           s.base, reinterpret_cast<const uint8_t*>(input.data()), input.size());
  return 0;
}
