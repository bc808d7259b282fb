// counsel-cases: client incidents, sealed at rest.
#include <algorithm>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "case-svc/advice_source.h"
#include "case-svc/case_service.h"
#include "case-svc/store/maintenance.h"
#include "case-svc/webhooks/sender.h"
#include "grpcpp/create_channel.h"
#include "case-svc/crypto/pii_vault.h"
#include "common/postgres.h"
#include "common/process.h"
#include "common/call_context.h"
#include "common/config.h"
#include "common/key_file.h"
#include "common/logging.h"
#include "common/server.h"
#include "common/server_flags.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50052", "gRPC listen address; port 0 picks one");
ABSL_FLAG(std::string, db, "var/cases.db", "SQLite database file, or a postgresql:// URI shared by every replica");
ABSL_FLAG(std::string, master_key_file, "var/master.key",
          "Master key that wraps the per-client data keys (>= 32 bytes, mode 0600)");
ABSL_FLAG(std::string, guidance_addr, "127.0.0.1:50051", "guidance-svc address");
ABSL_FLAG(std::string, context_key_file, "var/context.key",
          "Key that verifies and signs call contexts (>= 32 bytes, mode 0600)");
ABSL_FLAG(std::string, audit_key_file, "var/audit.key",
          "Key of the audit chain and the blind indexes (>= 32 bytes, mode 0600); "
          "separate from the master key");
ABSL_FLAG(std::string, previous_master_key_file, "",
          "During a master-key rotation: the old key, still able to unwrap data keys");
ABSL_FLAG(std::string, new_key_file, "", "rotate-master-key: the new master key");
ABSL_FLAG(std::string, to, "", "backup: the file to write; migrate: the postgresql:// URI");
ABSL_FLAG(std::string, from, "", "migrate: the SQLite file to copy");
ABSL_FLAG(std::string, head, "",
          "audit verify: a head ({seq}:{mac}) of --tenant's chain exported earlier");
ABSL_FLAG(std::string, tenant, "", "audit head/verify: one tenant's chain (default: every tenant)");
ABSL_FLAG(std::string, erasure_ledger, "",
          "File listing every erased client key, applied whenever the database is opened (so "
          "a restored backup stays erased); default {db}.erasures. Never part of a backup");
ABSL_FLAG(bool, replace_lost_erasure_ledger, false,
          "Disaster recovery only: start a new erasure ledger for a database whose ledger is "
          "lost; erasures made after that database was copied are not re-applied");
ABSL_FLAG(bool, group_commit, true,
          "Batch concurrent writes into one transaction (false: one commit per write)");
ABSL_FLAG(absl::Duration, change_retention, absl::Hours(24 * 30),
          "How far back a change-feed cursor can resume");
ABSL_FLAG(absl::Duration, bookmark_interval, absl::Seconds(15),
          "How often an idle WatchChanges stream receives a bookmark");
ABSL_FLAG(std::string, webhook_db, "",
          "SQLite file of webhooks and their deliveries (default: webhooks.db beside --db)");
ABSL_FLAG(bool, webhook_allow_http, false,
          "Allow plain http:// webhook URLs (tests, on-premises CRMs)");
ABSL_FLAG(bool, webhook_allow_private_targets, false,
          "Allow webhook URLs on loopback and private addresses; link-local and cloud-metadata "
          "addresses stay refused");
ABSL_FLAG(int, webhook_workers, 4, "Webhook delivery threads");
ABSL_FLAG(absl::Duration, webhook_retry_initial, absl::Seconds(5),
          "Wait after a webhook's first failed attempt; doubles per failure");
ABSL_FLAG(absl::Duration, webhook_retry_max, absl::Hours(1), "Longest wait between attempts");
ABSL_FLAG(absl::Duration, webhook_timeout, absl::Seconds(15), "Timeout of one delivery attempt");
ABSL_FLAG(std::string, webhook_ca_file, "",
          "CA bundle that verifies webhook receivers instead of the system's (tests)");

namespace counsel::cases {
namespace {

std::string WebhookDbPath() {
  if (!absl::GetFlag(FLAGS_webhook_db).empty()) return absl::GetFlag(FLAGS_webhook_db);
  const std::string db = absl::GetFlag(FLAGS_db);
  // On PostgreSQL the subscriptions live beside the cases (schema
  // counsel_webhooks), shared by every replica.
  if (pg::IsUri(db)) return db;
  const size_t slash = db.rfind('/');
  return slash == std::string::npos ? "webhooks.db" : db.substr(0, slash + 1) + "webhooks.db";
}

constexpr char kUsage[] =
    "counsel-cases: client incidents.\n"
    "  counsel-cases [--listen=ADDR] [--db=PATH] [--master_key_file=PATH]\n"
    "                [--guidance_addr=ADDR] [--context_key_file=PATH] [--audit_key_file=PATH]\n"
    "  counsel-cases audit head [--tenant=T] [--db=PATH]\n"
    "  counsel-cases audit verify [--tenant=T [--head=SEQ:MAC]] [--db=PATH]\n"
    "  counsel-cases backup --to=PATH [--db=PATH]\n"
    "  counsel-cases migrate --from=PATH --to=postgresql://... [--audit_key_file=PATH]\n"
    "  counsel-cases rotate-master-key --new_key_file=PATH [--master_key_file=OLD] [--db=PATH]";

int Fail(const absl::Status& status) {
  log::Error("fatal", {{"program", "counsel-cases"}, {"error", status.ToString()}});
  std::fprintf(stderr, "counsel-cases: %s\n", std::string(status.message()).c_str());
  return 1;
}

absl::StatusOr<std::string> AuditKey() {
  return LoadKeyFile(absl::GetFlag(FLAGS_audit_key_file));
}

int RunAudit(const std::vector<std::string>& args) {
  auto key = AuditKey();
  if (!key.ok()) return Fail(key.status());
  const std::string tenant = absl::GetFlag(FLAGS_tenant);
  auto chains = VerifyAuditFile(absl::GetFlag(FLAGS_db), *key, tenant, absl::GetFlag(FLAGS_head));
  if (!chains.ok()) return Fail(chains.status());
  bool all_ok = true;
  if (args.size() == 2 && args[1] == "head") {
    for (const TenantAudit& t : *chains) {
      all_ok = all_ok && t.result.ok();
      if (tenant.empty()) {
        std::printf("%s %s\n", t.tenant.c_str(), t.result.head().c_str());
      } else {
        std::printf("%s\n", t.result.head().c_str());
      }
    }
    return all_ok ? 0 : 1;
  }
  if (args.size() == 2 && args[1] == "verify") {
    for (const TenantAudit& t : *chains) {
      const v1::VerifyAuditLogResponse& r = t.result;
      all_ok = all_ok && r.ok();
      if (r.ok()) {
        std::printf("ok %s: %lld entries, head %s\n", t.tenant.c_str(),
                    static_cast<long long>(r.entries_checked()), r.head().c_str());
      } else {
        std::printf("BROKEN %s at sequence %lld: %s\n", t.tenant.c_str(),
                    static_cast<long long>(r.first_bad_sequence()), r.problem().c_str());
      }
    }
    return all_ok ? 0 : 1;
  }
  std::fprintf(stderr, "%s\n", kUsage);
  return 2;
}

int RunBackup() {
  if (absl::GetFlag(FLAGS_to).empty()) return Fail(absl::InvalidArgumentError("backup needs --to"));
  const absl::Status st = BackupDatabase(absl::GetFlag(FLAGS_db), absl::GetFlag(FLAGS_to));
  if (!st.ok()) return Fail(st);
  std::printf("backup written to %s\n", absl::GetFlag(FLAGS_to).c_str());
  return 0;
}

int RunMigrate() {
  auto key = AuditKey();
  if (!key.ok()) return Fail(key.status());
  // The webhook database beside the cases' file (or --webhook_db), if any.
  std::string webhooks = absl::GetFlag(FLAGS_webhook_db);
  if (webhooks.empty()) {
    const std::string from = absl::GetFlag(FLAGS_from);
    const size_t slash = from.rfind('/');
    webhooks = slash == std::string::npos ? "webhooks.db" : from.substr(0, slash + 1) + "webhooks.db";
  }
  if (!std::filesystem::exists(webhooks)) webhooks.clear();
  auto report = MoveToPostgres(absl::GetFlag(FLAGS_from), absl::GetFlag(FLAGS_to), *key, webhooks);
  if (!report.ok()) return Fail(report.status());
  for (const auto& [table, rows] : report->rows) {
    std::printf("%s: %lld rows\n", table.c_str(), static_cast<long long>(rows));
  }
  std::printf("moved; row counts match and %d tenants' audit chains verify at the destination\n",
              report->tenants_verified);
  return 0;
}

int RunRotate() {
  auto old_key = LoadKeyFile(absl::GetFlag(FLAGS_master_key_file));
  if (!old_key.ok()) return Fail(old_key.status());
  auto new_key = LoadKeyFile(absl::GetFlag(FLAGS_new_key_file));
  if (!new_key.ok()) return Fail(new_key.status());
  PiiVault vault({std::move(*new_key), std::move(*old_key)});
  auto rewrapped = RewrapDataKeys(absl::GetFlag(FLAGS_db), vault);
  if (!rewrapped.ok()) return Fail(rewrapped.status());
  auto webhook_keys = webhooks::RewrapWebhookKeys(WebhookDbPath(), vault);
  if (!webhook_keys.ok()) return Fail(webhook_keys.status());
  std::printf("re-wrapped %lld data keys and %lld webhook keys under master key %s\n",
              static_cast<long long>(*rewrapped), static_cast<long long>(*webhook_keys),
              vault.current_key_id().c_str());
  return 0;
}

int Serve() {
  auto context_key = LoadKeyFile(absl::GetFlag(FLAGS_context_key_file));
  if (!context_key.ok()) return Fail(context_key.status());
  auto master_key = LoadKeyFile(absl::GetFlag(FLAGS_master_key_file));
  if (!master_key.ok()) return Fail(master_key.status());
  auto audit_key = AuditKey();
  if (!audit_key.ok()) return Fail(audit_key.status());
  ContextKey key(std::move(*context_key));
  std::vector<std::string> master_keys = {std::move(*master_key)};
  if (!absl::GetFlag(FLAGS_previous_master_key_file).empty()) {
    auto previous = LoadKeyFile(absl::GetFlag(FLAGS_previous_master_key_file));
    if (!previous.ok()) return Fail(previous.status());
    master_keys.push_back(std::move(*previous));
  }
  PiiVault vault(std::move(master_keys));
  CaseStoreOptions store_options;
  store_options.max_batch = absl::GetFlag(FLAGS_group_commit) ? 256 : 1;
  store_options.audit_key = *audit_key;
  store_options.erasure_ledger = absl::GetFlag(FLAGS_erasure_ledger);
  store_options.replace_lost_erasure_ledger = absl::GetFlag(FLAGS_replace_lost_erasure_ledger);
  auto store = OpenCaseStore(absl::GetFlag(FLAGS_db), &vault, RealClock::Get(), store_options);
  if (!store.ok()) return Fail(store.status());
  auto creds = MakeChannelCredentials(TlsFilesFromFlags());
  if (!creds.ok()) return Fail(creds.status());
  GrpcAdviceSource guidance(grpc::CreateChannel(absl::GetFlag(FLAGS_guidance_addr), *creds), &key,
                            RealClock::Get());
  CoalescingAdviceSource advice(&guidance);
  CaseServiceOptions options;
  options.change_retention = absl::GetFlag(FLAGS_change_retention);
  options.bookmark_interval = absl::GetFlag(FLAGS_bookmark_interval);

  auto webhook_store = webhooks::OpenWebhookStore(WebhookDbPath(), &vault);
  if (!webhook_store.ok()) return Fail(webhook_store.status());
  webhooks::TargetPolicy policy;
  policy.allow_http = absl::GetFlag(FLAGS_webhook_allow_http);
  policy.allow_private = absl::GetFlag(FLAGS_webhook_allow_private_targets);
  webhooks::SenderOptions sender_options;
  sender_options.timeout = absl::GetFlag(FLAGS_webhook_timeout);
  sender_options.ca_file = absl::GetFlag(FLAGS_webhook_ca_file);
  auto sender = webhooks::NewCurlSender(policy, sender_options);
  const CursorCodec cursors = CursorCodec::ForContextKey(key);
  webhooks::DelivererOptions deliverer_options;
  deliverer_options.workers = std::max(1, absl::GetFlag(FLAGS_webhook_workers));
  deliverer_options.retry.initial = absl::GetFlag(FLAGS_webhook_retry_initial);
  deliverer_options.retry.max = absl::GetFlag(FLAGS_webhook_retry_max);
  deliverer_options.retention = options.change_retention;
  // On a SQLite file: stable across restarts of this replica, so a kill -9
  // leaves no lease that keeps its own successor waiting. On PostgreSQL,
  // where replicas share the subscriptions, each process is its own owner
  // (random): a dead replica's leases pass to the others when they expire.
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  if (!pg::IsUri(WebhookDbPath())) {
    deliverer_options.owner = absl::StrCat(host, "|", WebhookDbPath());
  }
  auto epoch = (*webhook_store)->NextEpoch();
  if (!epoch.ok()) return Fail(epoch.status());
  deliverer_options.epoch = *epoch;
  // A lease outlasts one send (timeout) with room for name resolution.
  deliverer_options.lease = std::max(absl::Seconds(40), 2 * sender_options.timeout + absl::Seconds(10));
  auto feed = webhooks::CaseStoreFeed(store->get());
  webhooks::Deliverer deliverer(webhook_store->get(), feed.get(), &cursors, sender.get(),
                                RealClock::Get(), policy, deliverer_options);
  webhooks::WebhookBookOptions book_options;
  book_options.policy = policy;
  book_options.change_retention = options.change_retention;
  webhooks::WebhookBook book(webhook_store->get(), store->get(), &deliverer, &cursors,
                             key.Derive("webhook-pages"), RealClock::Get(), book_options);
  CaseServiceImpl service(&key, RealClock::Get(), store->get(), &advice, options, &book,
                          &deliverer);
  deliverer.Start();
  auto runner = ServerRunner::Start(
      ServerConfigFromFlags("counsel-cases", absl::GetFlag(FLAGS_listen)), {&service});
  if (!runner.ok()) return Fail(runner.status());
  (*runner)->RunUntilSignal();
  return 0;
}

}  // namespace
}  // namespace counsel::cases

int main(int argc, char** argv) {
  counsel::InitProcess();
  counsel::BlockTerminationSignals();
  std::vector<std::string> args = counsel::ParseFlags(argc, argv, counsel::cases::kUsage);
  if (!args.empty() && args[0] == "audit") return counsel::cases::RunAudit(args);
  if (args.size() == 1 && args[0] == "backup") return counsel::cases::RunBackup();
  if (args.size() == 1 && args[0] == "migrate") return counsel::cases::RunMigrate();
  if (args.size() == 1 && args[0] == "rotate-master-key") return counsel::cases::RunRotate();
  if (!args.empty()) {
    std::fprintf(stderr, "%s\n", counsel::cases::kUsage);
    return 2;
  }
  return counsel::cases::Serve();
}
