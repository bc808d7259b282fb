// CaseService through a real gRPC server on an ephemeral port.
#include "case-svc/case_service.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "common/server.h"
#include "common/sqlite.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

constexpr char kPhone[] = "13812345678";

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
    auto store = OpenSqliteCaseStore(dir_ + "/cases.db", &vault_, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    service_ = std::make_unique<CaseServiceImpl>(&key_, &clock_, store_.get());
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
  void TearDown() override {
    runner_.reset();
    service_.reset();
    store_.reset();
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
    cc.set_expire_unix_micros(absl::ToUnixMicros(clock_.Now() + absl::Seconds(30)));
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
  grpc::Status Get(const std::string& name, v1::Case* out, const Caller& caller = {}) {
    v1::GetCaseRequest r;
    r.set_name(name);
    auto ctx = Signed("GetCase", caller);
    return stub_->GetCase(ctx.get(), r, out);
  }
  int64_t CaseRows() {
    auto db = sqlite::Database::Open(dir_ + "/cases.db", {});
    auto q = (*db)->Prepare("SELECT count(*) FROM cases");
    (void)q->Step();
    return q->ColumnInt64(0);
  }

  std::string dir_;
  ContextKey key_{std::string(32, 'k')};
  PiiVault vault_{{std::string(32, 'm')}};
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<CaseStore> store_;
  std::unique_ptr<CaseServiceImpl> service_;
  std::unique_ptr<ServerRunner> runner_;
  std::unique_ptr<v1::CaseService::Stub> stub_;
};

TEST_F(CaseServiceTest, CreateThenGet) {
  v1::Case created;
  ASSERT_TRUE(Create(NewRequest(), &created).ok());
  EXPECT_EQ(created.name().size(), std::string("cases/").size() + 26);
  EXPECT_EQ(created.state(), v1::Case::STATE_NEW);
  EXPECT_EQ(created.severity(), v1::SEVERITY_CRITICAL);
  EXPECT_EQ(created.client().phone(), "+8613812345678");
  EXPECT_FALSE(created.etag().empty());
  v1::Case got;
  ASSERT_TRUE(Get(created.name(), &got).ok());
  EXPECT_EQ(got.client().display_name(), "王小明");
  EXPECT_EQ(got.summary(), created.summary());
  EXPECT_EQ(got.create_time().seconds(), 1800000000);
}

TEST_F(CaseServiceTest, CaseIdsAreRandom) {
  v1::Case a, b;
  ASSERT_TRUE(Create(NewRequest(), &a).ok());
  ASSERT_TRUE(Create(NewRequest(), &b).ok());
  EXPECT_NE(a.name(), b.name());
}

TEST_F(CaseServiceTest, WithoutPiiScopeClientDataIsMasked) {
  v1::Case created;
  ASSERT_TRUE(Create(NewRequest(), &created).ok());
  Caller dashboard;
  dashboard.scopes = {kScopeCasesRead};
  v1::Case got;
  ASSERT_TRUE(Get(created.name(), &got, dashboard).ok());
  EXPECT_TRUE(got.client().masked());
  EXPECT_EQ(got.client().phone(), "138****5678");
  EXPECT_EQ(got.client().national_id(), "110105********002X");
  EXPECT_EQ(got.client().display_name(), "王**");
}

TEST_F(CaseServiceTest, ForeignTenantAndMissingCaseLookTheSame) {
  v1::Case created;
  ASSERT_TRUE(Create(NewRequest(), &created).ok());
  Caller other;
  other.tenant = "firm-b";
  v1::Case got;
  const grpc::Status foreign = Get(created.name(), &got, other);
  const grpc::Status missing = Get("cases/doesnotexist", &got, other);
  EXPECT_EQ(foreign.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(foreign.error_details(), missing.error_details());
}

TEST_F(CaseServiceTest, ClientBoundCallerSeesOnlyItsClient) {
  v1::Case created;
  ASSERT_TRUE(Create(NewRequest(), &created).ok());
  Caller bound;
  bound.client_id = "someone-else";
  v1::Case got;
  EXPECT_EQ(Get(created.name(), &got, bound).error_code(), grpc::StatusCode::NOT_FOUND);
  bound.client_id = "crm-client-7";
  EXPECT_TRUE(Get(created.name(), &got, bound).ok());
  // Creating for another client is refused.
  bound.client_id = "someone-else";
  EXPECT_EQ(Create(NewRequest(), &got, bound).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CaseServiceTest, RetriedCreateReturnsTheSameCase) {
  v1::Case first, second;
  ASSERT_TRUE(Create(NewRequest("req-1"), &first).ok());
  ASSERT_TRUE(Create(NewRequest("req-1"), &second).ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(CaseRows(), 1);
  v1::CreateCaseRequest changed = NewRequest("req-1");
  changed.mutable_case_()->set_summary("另一件事");
  const grpc::Status s = Create(changed, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("request_id"), std::string::npos);
  EXPECT_EQ(CaseRows(), 1);
}

TEST_F(CaseServiceTest, ExternalRefConflictNamesTheExistingCase) {
  v1::CreateCaseRequest r = NewRequest();
  r.mutable_case_()->set_external_ref("CRM-1001");
  v1::Case first, second;
  ASSERT_TRUE(Create(r, &first).ok());
  const grpc::Status s = Create(r, &second);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(s.error_details()));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.metadata().at("case"), first.name());
  // Another tenant may use the same external_ref.
  Caller other;
  other.tenant = "firm-b";
  EXPECT_TRUE(Create(r, &second, other).ok());
}

TEST_F(CaseServiceTest, BadInputNamesTheFieldAndStoresNothing) {
  v1::CreateCaseRequest r = NewRequest();
  r.mutable_case_()->mutable_client()->set_national_id("110105194912310021");
  v1::Case out;
  const grpc::Status s = Create(r, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("case.client.national_id"), std::string::npos);
  EXPECT_EQ(s.error_message().find("110105194912310021"), std::string::npos)
      << "errors must not echo personal data";
  v1::GetCaseRequest get;
  get.set_name("projects/x");
  auto ctx = Signed("GetCase", {});
  EXPECT_EQ(stub_->GetCase(ctx.get(), get, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CaseRows(), 0);
}

TEST_F(CaseServiceTest, RefusesUnsignedAndUnscopedCalls) {
  v1::Case out;
  grpc::ClientContext plain;
  EXPECT_EQ(stub_->CreateCase(&plain, NewRequest(), &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  Caller reader;
  reader.scopes = {kScopeCasesRead};
  EXPECT_EQ(Create(NewRequest(), &out, reader).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CaseServiceTest, DatabaseHoldsNoPlaintextPersonalData) {
  v1::Case created;
  ASSERT_TRUE(Create(NewRequest(), &created).ok());
  store_.reset();  // close, so the WAL is checkpointed into the file
  for (const char* file : {"/cases.db", "/cases.db-wal"}) {
    std::ifstream in(dir_ + file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    for (const char* pii : {kPhone, "王小明", "11010519491231002X"}) {
      EXPECT_EQ(bytes.find(pii), std::string::npos) << file;
    }
  }
}

}  // namespace
}  // namespace counsel::cases
