// Fuzz target: guidance-svc's request handling in process. The shipped
// content is imported once into a fresh database; each input is one call of
// a unary GuidanceService method (service_fuzz.h), reads and writes alike.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/server.h"
#include "guidance-svc/content_paths.h"
#include "guidance-svc/guidance_service.h"
#include "guidance-svc/store/advice_store.h"
#include "guidance-svc/store/statute_store.h"
#include "tests/fuzz/service_fuzz.h"

namespace counsel::guidance {
namespace {

struct Service {
  std::string dir;
  ContextKey key{std::string(32, 'k')};
  std::unique_ptr<StatuteStore> statutes;
  std::unique_ptr<AdviceStore> advice;
  std::unique_ptr<GuidanceServiceImpl> service;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;
  CallContext base;

  Service() {
    dir = std::filesystem::temp_directory_path() / absl::StrCat("counsel-fuzz-guidance-", getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string db = dir + "/guidance.db";
    statutes = std::move(*OpenStatuteStore(db));
    advice = std::move(*OpenAdviceStore(db));
    service = std::make_unique<GuidanceServiceImpl>(&key, RealClock::Get(), statutes.get(),
                                                    advice.get());
    if (!service->Reload().ok()) abort();
    auto files = ExpandContentPaths({std::string(COUNSEL_SOURCE_DIR) + "/guidance-svc/content"});
    if (!files.ok()) abort();
    for (const std::string& f : *files) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      if (absl::EndsWith(f, ".json")) {
        if (!service->ImportAdvice(ss.str(), f).ok()) abort();
      } else {
        v1::ImportStatuteVersionRequest r;
        r.set_content(ss.str());
        r.set_source_name(f);
        if (!service->Import(r).ok()) abort();
      }
    }
    runner = fuzz::ServeInProcess(service.get(), &channel);
    base = fuzz::FuzzContext({kScopeGuidanceRead, kScopeGuidanceWrite});
    std::atexit([] { std::filesystem::remove_all(Get().dir); });
  }

  static Service& Get() {
    static Service* s = new Service();
    return *s;
  }
};

}  // namespace
}  // namespace counsel::guidance

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& s = counsel::guidance::Service::Get();
  counsel::fuzz::CallUnary(
      s.channel, google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "counsel.guidance.v1.GuidanceService"), s.key, s.base, data, size);
  return 0;
}
