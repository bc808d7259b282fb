#include "case-svc/audit/audit_chain.h"

#include "absl/strings/str_cat.h"
#include "common/sqlite.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

const std::string kKey(32, 'a');

// The first schema's global chain, written as that release wrote it.
std::unique_ptr<sqlite::Database> LegacyLog(
    const std::vector<std::pair<std::string, std::string>>& entries) {
  auto db = *sqlite::Database::Open(":memory:", {});
  EXPECT_TRUE(db->Exec(kAuditSchema).ok());
  crypto::Hmac hmac(kKey);
  std::string prev;
  int64_t seq = 0;
  for (const auto& [tenant, resource] : entries) {
    ++seq;
    const std::string canonical = absl::StrCat(1000 + seq, "|", tenant.size(), ":", tenant,
                                               "|1:k|6:CREATE|", resource.size(), ":", resource);
    const std::string mac = hmac.Sign(absl::StrCat(prev.size(), ":", prev, "|", seq, "|",
                                                   canonical));
    auto ins = *db->Prepare(
        "INSERT INTO audit_log (seq, time, tenant, actor, action, resource, mac) "
        "VALUES (?1, ?2, ?3, 'k', 'CREATE', ?4, ?5)");
    ins.Bind(1, seq).Bind(2, 1000 + seq).Bind(3, tenant).Bind(4, resource).BindBlob(5, mac);
    EXPECT_TRUE(ins.Run().ok());
    prev = mac;
  }
  return db;
}

TEST(AuditChainTest, ChainsAreSeparatePerTenant) {
  auto db = *sqlite::Database::Open(":memory:", {});
  ASSERT_TRUE(db->Exec(kAuditSchema).ok());
  ASSERT_TRUE(db->Exec(kAuditPerTenantSchema).ok());
  ASSERT_TRUE(db->Exec("DROP TABLE audit_log_global").ok());
  AuditChain chain(kKey);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(chain.Append(*db, "firm-a", "k", "A", "r", i).ok());
  ASSERT_TRUE(chain.Append(*db, "firm-b", "k", "A", "r", 9).ok());
  auto a = *chain.Verify(*db, "firm-a", std::nullopt);
  auto b = *chain.Verify(*db, "firm-b", std::nullopt);
  EXPECT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.entries_checked(), 3);
  EXPECT_EQ(b.entries_checked(), 1);
  EXPECT_EQ(b.head().substr(0, 2), "1:") << "a firm's head counts its own entries only";
  EXPECT_EQ(*chain.Tenants(*db), (std::vector<std::string>{"firm-a", "firm-b"}));
}

TEST(AuditChainTest, AGlobalChainIsVerifiedThenSplitPerTenant) {
  auto db = LegacyLog({{"firm-a", "cases/1"}, {"firm-b", "cases/2"}, {"firm-a", "cases/3"}});
  AuditChain chain(kKey);
  ASSERT_TRUE(db->Exec(kAuditPerTenantSchema).ok());
  ASSERT_TRUE(chain.AdoptGlobalLog(*db).ok());
  EXPECT_EQ(chain.Verify(*db, "firm-a", std::nullopt)->entries_checked(), 2);
  EXPECT_EQ(chain.Verify(*db, "firm-b", std::nullopt)->entries_checked(), 1);
  EXPECT_FALSE(db->Exec("SELECT 1 FROM audit_log_global").ok()) << "the global order is gone";
  EXPECT_FALSE(db->Exec("UPDATE audit_log SET actor = 'x'").ok()) << "still append-only";
}

TEST(AuditChainTest, ATamperedGlobalChainIsNotLaunderedIntoNewChains) {
  auto db = LegacyLog({{"firm-a", "cases/1"}, {"firm-b", "cases/2"}});
  ASSERT_TRUE(db->Exec("DROP TRIGGER audit_log_no_update; "
                       "UPDATE audit_log SET resource = 'cases/9' WHERE seq = 2").ok());
  // Recreate what the migration drops, then run it.
  ASSERT_TRUE(db->Exec("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                       "BEGIN SELECT RAISE(ABORT, 'x'); END;").ok());
  ASSERT_TRUE(db->Exec(kAuditPerTenantSchema).ok());
  const absl::Status st = AuditChain(kKey).AdoptGlobalLog(*db);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("entry 2"), absl::string_view::npos) << st;
}

}  // namespace
}  // namespace counsel::cases
