// counsel-cases: client incidents, sealed at rest.
#include <cstdio>

#include "absl/flags/flag.h"
#include "case-svc/advice_source.h"
#include "case-svc/case_service.h"
#include "grpcpp/create_channel.h"
#include "case-svc/crypto/pii_vault.h"
#include "common/call_context.h"
#include "common/config.h"
#include "common/key_file.h"
#include "common/logging.h"
#include "common/server.h"
#include "common/server_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50052", "gRPC listen address; port 0 picks one");
ABSL_FLAG(std::string, db, "var/cases.db", "SQLite database file");
ABSL_FLAG(std::string, master_key_file, "var/master.key",
          "Master key that wraps the per-client data keys (>= 32 bytes, mode 0600)");
ABSL_FLAG(std::string, guidance_addr, "127.0.0.1:50051", "guidance-svc address");
ABSL_FLAG(std::string, context_key_file, "var/context.key",
          "Key that verifies and signs call contexts (>= 32 bytes, mode 0600)");
ABSL_FLAG(bool, group_commit, true,
          "Batch concurrent writes into one transaction (false: one commit per write)");
ABSL_FLAG(absl::Duration, change_retention, absl::Hours(24 * 30),
          "How far back a change-feed cursor can resume");
ABSL_FLAG(absl::Duration, bookmark_interval, absl::Seconds(15),
          "How often an idle WatchChanges stream receives a bookmark");

namespace counsel::cases {
namespace {

constexpr char kUsage[] =
    "counsel-cases: client incidents.\n"
    "  counsel-cases [--listen=ADDR] [--db=PATH] [--master_key_file=PATH]\n"
    "                [--guidance_addr=ADDR] [--context_key_file=PATH]";

int Fail(const absl::Status& status) {
  log::Error("fatal", {{"program", "counsel-cases"}, {"error", status.ToString()}});
  std::fprintf(stderr, "counsel-cases: %s\n", std::string(status.message()).c_str());
  return 1;
}

int Serve() {
  auto context_key = LoadKeyFile(absl::GetFlag(FLAGS_context_key_file));
  if (!context_key.ok()) return Fail(context_key.status());
  auto master_key = LoadKeyFile(absl::GetFlag(FLAGS_master_key_file));
  if (!master_key.ok()) return Fail(master_key.status());
  ContextKey key(std::move(*context_key));
  PiiVault vault({std::move(*master_key)});
  SqliteCaseStoreOptions store_options;
  store_options.max_batch = absl::GetFlag(FLAGS_group_commit) ? 256 : 1;
  auto store = OpenSqliteCaseStore(absl::GetFlag(FLAGS_db), &vault, RealClock::Get(),
                                   store_options);
  if (!store.ok()) return Fail(store.status());
  auto creds = MakeChannelCredentials(TlsFilesFromFlags());
  if (!creds.ok()) return Fail(creds.status());
  GrpcAdviceSource advice(grpc::CreateChannel(absl::GetFlag(FLAGS_guidance_addr), *creds), &key,
                          RealClock::Get());
  CaseServiceOptions options;
  options.change_retention = absl::GetFlag(FLAGS_change_retention);
  options.bookmark_interval = absl::GetFlag(FLAGS_bookmark_interval);
  CaseServiceImpl service(&key, RealClock::Get(), store->get(), &advice, options);
  auto runner = ServerRunner::Start(
      ServerConfigFromFlags("counsel-cases", absl::GetFlag(FLAGS_listen)), {&service});
  if (!runner.ok()) return Fail(runner.status());
  (*runner)->RunUntilSignal();
  return 0;
}

}  // namespace
}  // namespace counsel::cases

int main(int argc, char** argv) {
  counsel::BlockTerminationSignals();
  std::vector<std::string> args = counsel::ParseFlags(argc, argv, counsel::cases::kUsage);
  if (!args.empty()) {
    std::fprintf(stderr, "%s\n", counsel::cases::kUsage);
    return 2;
  }
  return counsel::cases::Serve();
}
