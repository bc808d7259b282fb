// The fixture of CaseService's tests: a real SQLite store in a temporary
// folder, the service on a loopback port, signed contexts for any caller.
#ifndef COUNSEL_CASES_CASE_SERVICE_TEST_FIXTURE_H_
#define COUNSEL_CASES_CASE_SERVICE_TEST_FIXTURE_H_

#include "case-svc/case_service.h"
#include "common/crypto.h"
#include "case-svc/store/maintenance.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "common/server.h"
#include "common/sqlite.h"
#include "common/testing/postgres_test_db.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace counsel::cases::service_test {

using google::protobuf::util::TimeUtil;

inline constexpr char kPhone[] = "13812345678";

// Advice that guidance-svc would return; can be made unreachable.
class FakeAdviceSource final : public AdviceSource {
 public:
  absl::StatusOr<SharedAdvice> LatestFor(
      const std::string&, const std::string& incident_type) override {
    absl::MutexLock lock(&mu_);
    ++held_;
    mu_.Await(absl::Condition(this, &FakeAdviceSource::Answering));
    --held_;
    if (!reachable_) return absl::UnavailableError("guidance-svc is down");
    if (incident_type != "personal-information-leak") return SharedAdvice();
    guidance::v1::Advice a;
    a.set_name("advice/personal-information-leak");
    a.set_revision_id("rev2");
    auto* section = a.add_sections();
    for (const auto& [key, hours, checklist] :
         std::vector<std::tuple<std::string, int, bool>>{{"change-passwords", 24, true},
                                                         {"report-to-police", 72, true},
                                                         {"ignore-noise", 0, false}}) {
      auto* step = section->add_steps();
      step->set_key(key);
      step->set_title(key);
      step->set_checklist(checklist);
      if (hours > 0) step->mutable_due_within()->set_seconds(hours * 3600);
    }
    for (int i = 0; i < extra_due_steps_; ++i) {
      auto* step = section->add_steps();
      step->set_key(absl::StrCat("extra-", i));
      step->set_title(step->key());
      step->set_checklist(true);
      step->mutable_due_within()->set_seconds(3600);
    }
    return SharedAdvice(std::make_shared<guidance::v1::Advice>(std::move(a)));
  }
  // Checklist steps due within an hour, beyond the three above.
  void SetExtraDueSteps(int n) {
    absl::MutexLock lock(&mu_);
    extra_due_steps_ = n;
  }
  // While held, callers wait (a guidance-svc that does not answer).
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    holding_ = hold;
  }
  // Whether `n` callers came to wait on the hold within a minute.
  bool AwaitHeld(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Minutes(1));
  }
  void SetReachable(bool r) {
    absl::MutexLock lock(&mu_);
    reachable_ = r;
  }

 private:
  absl::Mutex mu_;
  bool Answering() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !holding_; }

  bool reachable_ ABSL_GUARDED_BY(mu_) = true;
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  int extra_due_steps_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Caller {
  std::string tenant = "firm-a";
  std::vector<std::string> scopes = {kScopeCasesRead, kScopeCasesWrite, kScopeCasesPii};
  std::string client_id;
};

class CaseServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-cases-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    StartServer(CaseServiceOptions{});
  }
  void StartServer(CaseServiceOptions options) {
    runner_.reset();
    service_.reset();
    store_.reset();
    auto store = OpenStore();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    service_ = std::make_unique<CaseServiceImpl>(&key_, &clock_, store_.get(), &advice_, options);
    ServerConfig config;
    config.program = "test";
    config.listen = "127.0.0.1:0";
    config.drain_timeout = absl::Seconds(1);
    auto runner = ServerRunner::Start(config, {service_.get()});
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);
    stub_ = v1::CaseService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(runner_->port()), grpc::InsecureChannelCredentials()));
  }
  // The store under the service: SQLite in the test's folder, or, when
  // COUNSEL_PG_ENV names the test server, a database of its own there (the same tests, the other engine), unless a fixture says
  // otherwise.
  virtual absl::StatusOr<std::unique_ptr<CaseStore>> OpenStore() {
    CaseStoreOptions store_options;
    store_options.audit_key = std::string(32, 'a');
    if (OnPostgres()) {
      if (pg_ == nullptr) {
        auto db = testing::PostgresTestDb::Create();
        if (!db.ok()) return db.status();
        pg_ = std::move(*db);
      }
      return OpenPostgresCaseStore(pg_->uri(), &vault_, &clock_, store_options);
    }
    return OpenSqliteCaseStore(dir_ + "/cases.db", &vault_, &clock_, store_options);
  }
  // A connection to the store's own tables, around the service.
  absl::StatusOr<std::unique_ptr<sql::Database>> OpenDatabaseFile() {
    if (OnPostgres()) {
      ASSIGN_OR_RETURN(auto db, pg::Database::Open(pg_->uri(), "counsel_cases"));
      return std::unique_ptr<sql::Database>(std::move(db));
    }
    ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(dir_ + "/cases.db", {}));
    return std::unique_ptr<sql::Database>(std::move(db));
  }
  static bool OnPostgres() {
    const char* env = std::getenv("COUNSEL_PG_ENV");
    return env != nullptr && *env != '\0';
  }
  void TearDown() override {
    runner_.reset();
    service_.reset();
    store_.reset();
    pg_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  std::unique_ptr<grpc::ClientContext> Signed(const std::string& method, const Caller& caller) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    CallContext cc;
    cc.set_tenant(caller.tenant);
    cc.set_key_id("key-" + caller.tenant);
    for (const auto& s : caller.scopes) cc.add_scopes(s);
    cc.set_client_id(caller.client_id);
    cc.set_method("/counsel.cases.v1.CaseService/" + method);
    cc.set_expire_unix_micros(absl::ToUnixMicros(clock_.Now() + absl::Hours(1)));
    key_.Attach(cc, ctx.get());
    return ctx;
  }

  static v1::CreateCaseRequest NewRequest(const std::string& request_id = "") {
    v1::CreateCaseRequest r;
    r.set_request_id(request_id);
    v1::Case* c = r.mutable_case_();
    c->mutable_client()->set_id("crm-client-7");
    c->mutable_client()->set_display_name("王小明");
    c->mutable_client()->set_phone(kPhone);
    c->mutable_client()->set_national_id("11010519491231002X");
    c->add_leaked_data(v1::LEAKED_DATA_NATIONAL_ID);
    c->add_leaked_data(v1::LEAKED_DATA_BANK_ACCOUNT);
    c->set_summary("接到冒充客服的诈骗电话");
    return r;
  }

  grpc::Status Create(const v1::CreateCaseRequest& r, v1::Case* out, const Caller& caller = {}) {
    auto ctx = Signed("CreateCase", caller);
    return stub_->CreateCase(ctx.get(), r, out);
  }
  v1::Case MustCreate(const Caller& caller = {}) {
    v1::Case c;
    const grpc::Status s = Create(NewRequest(), &c, caller);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }
  grpc::Status Get(const std::string& name, v1::Case* out, const Caller& caller = {}) {
    v1::GetCaseRequest r;
    r.set_name(name);
    auto ctx = Signed("GetCase", caller);
    return stub_->GetCase(ctx.get(), r, out);
  }
  grpc::Status Transition(const v1::Case& c, v1::Case::State to, v1::Case* out,
                          const std::string& override_reason = "") {
    v1::TransitionCaseRequest r;
    r.set_name(c.name());
    r.set_state(to);
    r.set_reason("进展");
    r.set_override_reason(override_reason);
    auto ctx = Signed("TransitionCase", {});
    return stub_->TransitionCase(ctx.get(), r, out);
  }
  grpc::Status Update(const v1::Case& c, std::vector<std::string> paths, v1::Case* out,
                      const Caller& caller = {}) {
    v1::UpdateCaseRequest r;
    *r.mutable_case_() = c;
    for (auto& p : paths) r.mutable_update_mask()->add_paths(p);
    auto ctx = Signed("UpdateCase", caller);
    return stub_->UpdateCase(ctx.get(), r, out);
  }
  int64_t Rows(const std::string& table) {
    auto db = OpenDatabaseFile();
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return -1;
    auto q = (*db)->Prepare("SELECT count(*) FROM " + table);
    EXPECT_TRUE(q.ok() && q->Step().ok());
    return q.ok() ? q->ColumnInt64(0) : -1;
  }
  static std::string ReasonOf(const grpc::Status& s) { return ErrorReason(FromGrpcStatus(s)); }

  std::string dir_;
  std::unique_ptr<testing::PostgresTestDb> pg_;
  ContextKey key_{std::string(32, 'k')};
  PiiVault vault_{{std::string(32, 'm')}};
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  FakeAdviceSource advice_;
  std::unique_ptr<CaseStore> store_;
  std::unique_ptr<CaseServiceImpl> service_;
  std::unique_ptr<ServerRunner> runner_;
  std::unique_ptr<v1::CaseService::Stub> stub_;
};

}  // namespace counsel::cases::service_test

#endif  // COUNSEL_CASES_CASE_SERVICE_TEST_FIXTURE_H_
