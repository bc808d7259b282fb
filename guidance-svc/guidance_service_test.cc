// GuidanceService through a real gRPC server on an ephemeral port.
#include "guidance-svc/guidance_service.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/server.h"
#include "common/testing/status_matchers.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace counsel::guidance {
namespace {

constexpr char kStatute[] = "statutes/public-security-administration-punishments";

std::string ReadContent(const std::string& relative) {
  std::ifstream in(std::string(COUNSEL_CONTENT_DIR) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class GuidanceServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-guidance-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = OpenSqliteStatuteStore(dir_ + "/guidance.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    service_ = std::make_unique<GuidanceServiceImpl>(&key_, &clock_, store_.get());
    ASSERT_TRUE(service_->Reload().ok());
    ServerConfig config;
    config.program = "test";
    config.listen = "127.0.0.1:0";
    config.drain_timeout = absl::Seconds(1);
    auto runner = ServerRunner::Start(config, {service_.get()});
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);
    stub_ = v1::GuidanceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(runner_->port()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    runner_.reset();
    service_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  // A client context signed for `method` with `scopes`.
  std::unique_ptr<grpc::ClientContext> Signed(const std::string& method,
                                              std::vector<std::string> scopes) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    CallContext cc;
    cc.set_tenant("firm-a");
    cc.set_key_id("key1");
    for (auto& s : scopes) cc.add_scopes(s);
    cc.set_method("/counsel.guidance.v1.GuidanceService/" + method);
    cc.set_expire_unix_micros(absl::ToUnixMicros(clock_.Now() + absl::Seconds(30)));
    key_.Attach(cc, ctx.get());
    return ctx;
  }

  grpc::Status Import(const std::string& content, v1::ImportStatuteVersionResponse* out) {
    v1::ImportStatuteVersionRequest req;
    req.set_content(content);
    req.set_source_name("2013-01-01.md");
    auto ctx = Signed("ImportStatuteVersion", {kScopeGuidanceWrite});
    return stub_->ImportStatuteVersion(ctx.get(), req, out);
  }

  std::string dir_;
  ContextKey key_{std::string(32, 'k')};
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2026, 11, 28, 10, 0, 0), absl::UTCTimeZone())};
  std::unique_ptr<StatuteStore> store_;
  std::unique_ptr<GuidanceServiceImpl> service_;
  std::unique_ptr<ServerRunner> runner_;
  std::unique_ptr<v1::GuidanceService::Stub> stub_;
};

TEST_F(GuidanceServiceTest, ImportThenReadArticle42AsOf2020) {
  const std::string content =
      ReadContent("statutes/public-security-administration-punishments/2013-01-01.md");
  v1::ImportStatuteVersionResponse imported;
  ASSERT_TRUE(Import(content, &imported).ok());
  EXPECT_TRUE(imported.created());
  EXPECT_EQ(imported.article_count(), 119);

  v1::GetProvisionRequest req;
  req.set_name(std::string(kStatute) + "/provisions/art_42");
  req.set_as_of("2020-01-01");
  v1::Provision p;
  auto ctx = Signed("GetProvision", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetProvision(ctx.get(), req, &p).ok());
  EXPECT_EQ(p.label(), "第四十二条");
  ASSERT_EQ(p.children(0).children_size(), 6);
  EXPECT_EQ(p.children(0).children(5).eid(), "art_42__para_1__item_6");
  EXPECT_EQ(p.version().version_id(), "2013-01-01");
  EXPECT_EQ(p.version().status(), v1::StatuteVersion::STATUS_SUPERSEDED);
  EXPECT_EQ(p.statute_title(), "中华人民共和国治安管理处罚法");

  req.set_name(std::string(kStatute) + "/provisions/art_42__para_1__item_6");
  v1::Provision item;
  auto ctx2 = Signed("GetProvision", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetProvision(ctx2.get(), req, &item).ok());
  EXPECT_EQ(item.text(), "（六）偷窥、偷拍、窃听、散布他人隐私的。");
}

TEST_F(GuidanceServiceTest, ImportIsIdempotentAndVersionsAreImmutable) {
  const std::string content =
      ReadContent("statutes/public-security-administration-punishments/2013-01-01.md");
  v1::ImportStatuteVersionResponse r;
  ASSERT_TRUE(Import(content, &r).ok());
  ASSERT_TRUE(Import(content, &r).ok());
  EXPECT_FALSE(r.created());
  // Same version id, different text: refused, nothing changes.
  std::string changed = content;
  changed.replace(changed.find("body_sha256:"), 12, "note_removed:");
  changed.replace(changed.find("制定本法。"), 15, "制定此法。");
  const grpc::Status s = Import(changed, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  v1::GetProvisionRequest req;
  req.set_name(std::string(kStatute) + "/provisions/art_1");
  req.set_as_of("2020-01-01");
  v1::Provision p;
  auto ctx = Signed("GetProvision", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetProvision(ctx.get(), req, &p).ok());
  EXPECT_NE(p.text().find("制定本法。"), std::string::npos);
}

TEST_F(GuidanceServiceTest, RefusesUnsignedCallsAndMissingScopes) {
  v1::ListStatutesRequest req;
  v1::ListStatutesResponse resp;
  grpc::ClientContext unsigned_ctx;
  EXPECT_EQ(stub_->ListStatutes(&unsigned_ctx, req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto wrong_method = Signed("GetStatute", {kScopeGuidanceRead});
  EXPECT_EQ(stub_->ListStatutes(wrong_method.get(), req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto no_scope = Signed("ListStatutes", {kScopeCasesRead});
  EXPECT_EQ(stub_->ListStatutes(no_scope.get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ImportStatuteVersionResponse r;
  v1::ImportStatuteVersionRequest import;
  import.set_content("x");
  auto read_only = Signed("ImportStatuteVersion", {kScopeGuidanceRead});
  EXPECT_EQ(stub_->ImportStatuteVersion(read_only.get(), import, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(GuidanceServiceTest, UnbuiltMethodsAnswerUnimplemented) {
  v1::ListAdviceRequest req;
  v1::ListAdviceResponse resp;
  auto ctx = Signed("ListAdvice", {kScopeGuidanceRead});
  EXPECT_EQ(stub_->ListAdvice(ctx.get(), req, &resp).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(GuidanceServiceTest, BadImportNamesTheLineAndStoresNothing) {
  v1::ImportStatuteVersionResponse r;
  const grpc::Status s = Import("format: counsel-statute/1\nbogus: 1\n\n第一条 x\n", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("2013-01-01.md:2"), std::string::npos);
  v1::ListStatutesResponse list;
  auto ctx = Signed("ListStatutes", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListStatutes(ctx.get(), {}, &list).ok());
  EXPECT_EQ(list.statutes_size(), 0);
}

}  // namespace
}  // namespace counsel::guidance
