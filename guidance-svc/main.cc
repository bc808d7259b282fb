// counsel-guidance: serves statutes and advice; `import` loads content files.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/key_file.h"
#include "common/logging.h"
#include "common/server.h"
#include "common/server_flags.h"
#include "guidance-svc/content_paths.h"
#include "guidance-svc/guidance_service.h"
#include "guidance-svc/store/schema.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC listen address; port 0 picks one");
ABSL_FLAG(std::string, db, "var/guidance.db",
          "SQLite database file, or a postgresql:// URI shared by every replica");
ABSL_FLAG(std::string, from, "", "migrate: the SQLite database file to move");
ABSL_FLAG(std::string, to, "", "migrate: the postgresql:// URI to move it to");
ABSL_FLAG(std::string, context_key_file, "var/context.key",
          "Key that verifies gateway-signed call contexts (>= 32 bytes, mode 0600)");

namespace counsel::guidance {
namespace {

constexpr char kUsage[] =
    "counsel-guidance: statutes and advice.\n"
    "  counsel-guidance [--listen=ADDR] [--db=PATH] [--context_key_file=PATH]\n"
    "  counsel-guidance import PATH... [--db=PATH]   (files or folders of *.md)\n"
    "  counsel-guidance migrate --from=var/guidance.db --to=postgresql://...";

int Fail(const absl::Status& status) {
  log::Error("fatal", {{"program", "counsel-guidance"}, {"error", status.ToString()}});
  std::fprintf(stderr, "counsel-guidance: %s\n", std::string(status.message()).c_str());
  return 1;
}

void Progress(size_t done, size_t total, const std::string& file) {
  if (!isatty(STDERR_FILENO)) return;
  constexpr int kWidth = 30;
  const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu %-40.40s", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done, total, file.c_str());
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

int RunImport(const std::vector<std::string>& paths) {
  auto files = ExpandContentPaths(paths);
  if (!files.ok()) return Fail(files.status());
  if (files->empty()) return Fail(absl::InvalidArgumentError("import: no files given"));
  // Imports into one database run one at a time (every replica's init
  // container may run one): an advice file's revisions are read, then
  // published, and two imports in between would publish them twice.
  auto import_lock = HoldImportLock(absl::GetFlag(FLAGS_db));
  if (!import_lock.ok()) return Fail(import_lock.status());
  auto store = OpenStatuteStore(absl::GetFlag(FLAGS_db));
  if (!store.ok()) return Fail(store.status());
  auto advice_store = OpenAdviceStore(absl::GetFlag(FLAGS_db));
  if (!advice_store.ok()) return Fail(advice_store.status());
  // Import runs offline: no call context is involved.
  GuidanceServiceImpl service(nullptr, RealClock::Get(), store->get(), advice_store->get());
  if (auto st = service.Reload(); !st.ok()) return Fail(st);
  int created = 0, replaced = 0, unchanged = 0, failed = 0;
  for (size_t i = 0; i < files->size(); ++i) {
    const std::string& file = (*files)[i];
    Progress(i, files->size(), file);
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (absl::EndsWith(file, ".json")) {
      auto added = service.ImportAdvice(ss.str(), file);
      if (!added.ok()) {
        ++failed;
        if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
        std::fprintf(stderr, "%s\n", std::string(added.status().message()).c_str());
        continue;
      }
      (*added > 0 ? created : unchanged)++;
      log::Info("imported", {{"file", file}, {"revisions_published", *added}});
      continue;
    }
    v1::ImportStatuteVersionRequest request;
    request.set_content(ss.str());
    request.set_source_name(file);
    auto result = service.Import(request);
    if (!result.ok()) {
      ++failed;
      if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
      std::fprintf(stderr, "%s\n", std::string(result.status().message()).c_str());
      continue;
    }
    (result->replaced() ? replaced : result->created() ? created : unchanged)++;
    log::Info("imported", {{"file", file},
                           {"statute", result->statute()},
                           {"version_id", result->version_id()},
                           {"articles", result->article_count()},
                           {"created", result->created()},
                           {"replaced", result->replaced()}});
  }
  Progress(files->size(), files->size(), "done");
  std::fprintf(stderr, "import: %d new, %d replaced, %d unchanged, %d failed\n", created, replaced,
               unchanged, failed);
  return failed == 0 ? 0 : 1;
}

int RunMigrate() {
  auto moved = MoveGuidanceToPostgres(absl::GetFlag(FLAGS_from), absl::GetFlag(FLAGS_to));
  if (!moved.ok()) return Fail(moved.status());
  for (const auto& [table, rows] : *moved) std::printf("%-18s %lld rows\n", table.c_str(),
                                                       static_cast<long long>(rows));
  std::printf("moved and checked: every table's rows are at the destination\n");
  return 0;
}

int Serve() {
  auto key = LoadKeyFile(absl::GetFlag(FLAGS_context_key_file));
  if (!key.ok()) return Fail(key.status());
  ContextKey context_key(std::move(*key));
  auto store = OpenStatuteStore(absl::GetFlag(FLAGS_db));
  if (!store.ok()) return Fail(store.status());
  auto advice_store = OpenAdviceStore(absl::GetFlag(FLAGS_db));
  if (!advice_store.ok()) return Fail(advice_store.status());
  GuidanceServiceImpl service(&context_key, RealClock::Get(), store->get(), advice_store->get());
  // Replicas sharing PostgreSQL: an import through any of them (or the
  // import command) reaches this catalogue when it commits. Listening
  // starts before the first load, so nothing committed in between is
  // missed. Advice is read from the database on every call.
  auto watch = (*store)->WatchImports([&service] {
    if (auto st = service.Reload(); !st.ok()) {
      log::Warning("catalogue reload failed", {{"error", st.ToString()}});
    }
  });
  if (!watch.ok()) return Fail(watch.status());
  if (auto st = service.Reload(); !st.ok()) return Fail(st);
  auto runner = ServerRunner::Start(
      ServerConfigFromFlags("counsel-guidance", absl::GetFlag(FLAGS_listen)), {&service});
  if (!runner.ok()) return Fail(runner.status());
  (*runner)->RunUntilSignal();
  return 0;
}

}  // namespace
}  // namespace counsel::guidance

int main(int argc, char** argv) {
  counsel::InitProcess();
  counsel::BlockTerminationSignals();
  std::vector<std::string> args =
      counsel::ParseFlags(argc, argv, counsel::guidance::kUsage);
  if (!args.empty() && args[0] == "import") {
    return counsel::guidance::RunImport({args.begin() + 1, args.end()});
  }
  if (args.size() == 1 && args[0] == "migrate") return counsel::guidance::RunMigrate();
  if (!args.empty()) {
    std::fprintf(stderr, "%s\n", counsel::guidance::kUsage);
    return 2;
  }
  return counsel::guidance::Serve();
}
