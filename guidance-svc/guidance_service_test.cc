// GuidanceService through a real gRPC server on an ephemeral port.
#include "guidance-svc/guidance_service.h"
#include "guidance-svc/diff/char_diff.h"

#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "common/errors.h"
#include "common/server.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/testing/postgres_test_db.h"
#include "common/testing/status_matchers.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
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
    // The same tests on PostgreSQL when COUNSEL_PG_ENV names the test
    // server: a database of their own there.
    db_ = dir_ + "/guidance.db";
    if (std::getenv("COUNSEL_PG_ENV") != nullptr) {
      auto pg = testing::PostgresTestDb::Create();
      ASSERT_TRUE(pg.ok()) << pg.status();
      pg_ = std::move(*pg);
      db_ = pg_->uri();
    }
    auto store = OpenStatuteStore(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto advice = OpenAdviceStore(db_);
    ASSERT_TRUE(advice.ok()) << advice.status();
    advice_store_ = std::move(*advice);
    service_ = std::make_unique<GuidanceServiceImpl>(&key_, &clock_, store_.get(),
                                                     advice_store_.get());
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
    advice_store_.reset();
    store_.reset();
    pg_.reset();
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

  // GetProvision of a full provision name as of a date.
  grpc::Status ProvisionAsOf(const std::string& name, const std::string& as_of,
                             v1::Provision* p) {
    v1::GetProvisionRequest req;
    req.set_name(name);
    req.set_as_of(as_of);
    auto ctx = Signed("GetProvision", {kScopeGuidanceRead});
    return stub_->GetProvision(ctx.get(), req, p);
  }

  grpc::Status Import(const std::string& content, v1::ImportStatuteVersionResponse* out) {
    v1::ImportStatuteVersionRequest req;
    req.set_content(content);
    req.set_source_name("2013-01-01.md");
    auto ctx = Signed("ImportStatuteVersion", {kScopeGuidanceWrite});
    return stub_->ImportStatuteVersion(ctx.get(), req, out);
  }

  std::string dir_;
  std::string db_;  // the guidance database: a file in dir_, or a PostgreSQL URI
  std::unique_ptr<testing::PostgresTestDb> pg_;
  ContextKey key_{std::string(32, 'k')};
  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2026, 11, 28, 10, 0, 0), absl::UTCTimeZone())};
  std::unique_ptr<StatuteStore> store_;
  std::unique_ptr<AdviceStore> advice_store_;
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

// An excerpt of the civil code holding only 第一百八十八条, cut from the full
// text (`text_188` replaces that article's text when given).
std::string CivilCodeExcerpt(const std::string& full, const std::string& text_188 = "") {
  std::string head = full.substr(0, full.find("\n\n"));
  head.replace(head.find("body_sha256:"), 12, "note_removed:");
  const size_t at = full.find("第一百八十八条 ");
  const size_t end = full.find("\n\n第一百八十九条");
  std::string article = full.substr(at, end - at);
  if (!text_188.empty()) article = text_188;
  return head + "\n\n# 中华人民共和国民法典\n\n## 第九章  诉讼时效\n\n" + article + "\n";
}

TEST_F(GuidanceServiceTest, AnExcerptIsCompletedByTheFullTextOfTheSameVersion) {
  const std::string full = ReadContent("statutes/civil-code/2021-01-01.md");
  v1::ImportStatuteVersionResponse r;
  ASSERT_TRUE(Import(CivilCodeExcerpt(full), &r).ok());
  EXPECT_EQ(r.article_count(), 1);
  const grpc::Status s = Import(full, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.article_count(), 350);
  v1::Provision p;
  ASSERT_TRUE(ProvisionAsOf("statutes/civil-code/provisions/art_995", "2022-01-01", &p).ok());
  EXPECT_EQ(p.label(), "第九百九十五条");
}

TEST_F(GuidanceServiceTest, AFullTextThatChangesAnExcerptsArticleIsRefused) {
  const std::string full = ReadContent("statutes/civil-code/2021-01-01.md");
  v1::ImportStatuteVersionResponse r;
  ASSERT_TRUE(Import(CivilCodeExcerpt(full, "第一百八十八条 向人民法院请求保护民事权利的诉讼时效期间为二年。"),
                     &r).ok());
  const grpc::Status s = Import(full, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  v1::Provision p;
  EXPECT_EQ(ProvisionAsOf("statutes/civil-code/provisions/art_995", "2022-01-01", &p).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GuidanceServiceTest, TheSameTextWithAReviewedMapReplacesTheRecord) {
  v1::ImportStatuteVersionResponse r;
  ASSERT_TRUE(
      Import(ReadContent("statutes/public-security-administration-punishments/2013-01-01.md"), &r)
          .ok());
  // The 2026 text as first shipped: an article map whose parts followed
  // their article by position.
  const std::string reviewed =
      ReadContent("statutes/public-security-administration-punishments/2026-01-01.md");
  std::string first;
  for (absl::string_view line : absl::StrSplit(reviewed, '\n')) {
    if (absl::StartsWith(line, "wid_map:") || absl::StartsWith(line, "also_continues:") ||
        absl::StartsWith(line, "wid_parts:")) {
      if (absl::StartsWith(line, "wid_map: art_20=")) {
        absl::StrAppend(&first, "wid_map: art_20=2013-01-01/art_19\n");
      }
      continue;
    }
    absl::StrAppend(&first, line, "\n");
  }
  first.pop_back();
  ASSERT_TRUE(Import(first, &r).ok());
  EXPECT_TRUE(r.created());
  EXPECT_FALSE(r.replaced());
  v1::Provision p;
  const std::string item = std::string(kStatute) + "/provisions/art_20__para_1__item_3";
  ASSERT_TRUE(ProvisionAsOf(item, "2026-06-01", &p).ok());
  EXPECT_EQ(p.wid(), "2013-01-01/art_19__para_1__item_3") << "the false pair by position";
  // The reviewed file: same text, corrected header.
  // Advice published meanwhile pins 第二十条第三项 with the positional wid.
  const std::string advice = R"json({"adviceId": "pinned", "revisions": [{
      "publishTime": "2026-06-01T10:00:00+08:00", "author": "t", "changeNote": "n",
      "advice": {"title": "t", "summary": "s", "sections": [{"title": "s", "steps": [{
        "key": "k", "title": "t", "body": "b", "kind": "STEP_KIND_REMEDIATION",
        "citations": ["statutes/public-security-administration-punishments/provisions/art_20__para_1__item_3"]
      }]}]}}]})json";
  ASSERT_TRUE(service_->ImportAdvice(advice, "pinned.json").ok());
  ASSERT_TRUE(Import(reviewed, &r).ok());
  EXPECT_TRUE(r.replaced());
  // The citation follows its pinned provision, not the wid recorded before
  // the review (which now belongs to 第二十条第四项).
  v1::GetAdviceRequest get;
  get.set_name("advice/pinned");
  get.set_resolve_citations_as_of("2026-06-01");
  v1::Advice read;
  auto actx = Signed("GetAdvice", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetAdvice(actx.get(), get, &read).ok());
  const auto& cited = read.sections(0).steps(0).cited_provisions(0);
  EXPECT_EQ(cited.resolved_provision(), item);
  EXPECT_FALSE(cited.stale()) << cited.stale_detail();
  EXPECT_EQ(cited.label(), "第二十条第三项");
  ASSERT_TRUE(ProvisionAsOf(item, "2026-06-01", &p).ok());
  EXPECT_EQ(p.wid(), "2026-01-01/art_20__para_1__item_3");
  EXPECT_EQ(p.text(), "（三）取得被侵害人谅解的；") << "the text is unchanged";
  ASSERT_TRUE(Import(reviewed, &r).ok());
  EXPECT_FALSE(r.created()) << "idempotent";
  // A different text is still refused.
  std::string amended = reviewed;
  amended.replace(amended.find("取得被侵害人谅解的"), std::string("取得").size(), "获得");
  amended.erase(amended.find("body_sha256:"),
                amended.find('\n', amended.find("body_sha256:")) - amended.find("body_sha256:") + 1);
  EXPECT_EQ(Import(amended, &r).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Nor can a header re-import move the version's dates or repeal it.
  std::string ended = reviewed;
  ended.replace(ended.find("effective: 2026-01-01"), std::string("effective: 2026-01-01").size(),
                "effective: 2026-01-01\nended: 2026-03-31");
  EXPECT_EQ(Import(ended, &r).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(ProvisionAsOf(item, "2026-06-01", &p).ok()) << "still in force";
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

// The whole shipped corpus, through the real server.
class CorpusTest : public GuidanceServiceTest {
 protected:
  void SetUp() override {
    GuidanceServiceTest::SetUp();
    // Every shipped statute file, in name order (older versions first), as
    // `counsel-guidance import` loads them.
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             std::string(COUNSEL_CONTENT_DIR) + "/statutes")) {
      if (entry.path().extension() == ".md") {
        files.push_back(std::filesystem::relative(entry.path(), COUNSEL_CONTENT_DIR).string());
      }
    }
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 15u);
    for (const std::string& file : files) {
      v1::ImportStatuteVersionResponse r;
      const grpc::Status s = Import(ReadContent(file), &r);
      ASSERT_TRUE(s.ok()) << file << ": " << s.error_message();
    }
  }

  grpc::Status GetProvision(const std::string& eid, const std::string& as_of, v1::Provision* p) {
    return ProvisionAsOf(std::string(kStatute) + "/provisions/" + eid, as_of, p);
  }

  v1::ResolveCitationsResponse Resolve(const std::string& text, const std::string& as_of) {
    v1::ResolveCitationsRequest req;
    req.set_text(text);
    req.set_as_of(as_of);
    v1::ResolveCitationsResponse resp;
    auto ctx = Signed("ResolveCitations", {kScopeGuidanceRead});
    const grpc::Status s = stub_->ResolveCitations(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  v1::SearchProvisionsResponse Search(const std::string& query, const std::string& as_of,
                                      grpc::Status* status = nullptr) {
    v1::SearchProvisionsRequest req;
    req.set_query(query);
    req.set_as_of(as_of);
    v1::SearchProvisionsResponse resp;
    auto ctx = Signed("SearchProvisions", {kScopeGuidanceRead});
    const grpc::Status s = stub_->SearchProvisions(ctx.get(), req, &resp);
    if (status != nullptr) *status = s; else EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
};

std::string ReasonOf(const grpc::Status& s) { return ErrorReason(FromGrpcStatus(s)); }

TEST_F(CorpusTest, ListAdviceReturnsOnlyTheFieldsOfItsReadMask) {
  ASSERT_TRUE(service_->ImportAdvice(ReadContent("advice/personal-information-leak.json"),
                                     "personal-information-leak.json").ok());
  v1::ListAdviceRequest req;
  req.set_filter("incident_types:\"personal-information-leak\"");
  v1::ListAdviceResponse full;
  {
    auto ctx = Signed("ListAdvice", {kScopeGuidanceRead});
    ASSERT_TRUE(stub_->ListAdvice(ctx.get(), req, &full).ok());
  }
  ASSERT_EQ(full.advice_size(), 1);
  ASSERT_GT(full.advice(0).sections_size(), 0);
  req.mutable_read_mask()->add_paths("name");
  req.mutable_read_mask()->add_paths("revision_id");
  v1::ListAdviceResponse masked;
  {
    auto ctx = Signed("ListAdvice", {kScopeGuidanceRead});
    ASSERT_TRUE(stub_->ListAdvice(ctx.get(), req, &masked).ok());
  }
  ASSERT_EQ(masked.advice_size(), 1);
  v1::Advice expected;
  expected.set_name(full.advice(0).name());
  expected.set_revision_id(full.advice(0).revision_id());
  EXPECT_EQ(masked.advice(0).SerializeAsString(), expected.SerializeAsString());
  // A path to no field, or through a repeated one, is refused by name.
  for (const char* bad : {"nope", "sections.steps"}) {
    v1::ListAdviceRequest wrong = req;
    wrong.mutable_read_mask()->add_paths(bad);
    v1::ListAdviceResponse out;
    auto ctx = Signed("ListAdvice", {kScopeGuidanceRead});
    const grpc::Status s = stub_->ListAdvice(ctx.get(), wrong, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("read_mask.paths[2]"), std::string::npos) << s.error_message();
  }
}

TEST_F(CorpusTest, BeforeTheCorpusTextIsNotInCorpusNeverNotInForce) {
  // 治安管理处罚法 was in force from 2006-03-01; the corpus holds its text
  // from 2013-01-01 only. "No version in force" would be false.
  v1::Provision p;
  const grpc::Status s = GetProvision("art_42", "2010-01-01", &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "NOT_IN_CORPUS");
  EXPECT_NE(s.error_message().find("only from 2013-01-01"), std::string::npos);
  v1::GetStatuteRequest get;
  get.set_name(kStatute);
  v1::Statute statute;
  auto sctx = Signed("GetStatute", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetStatute(sctx.get(), get, &statute).ok());
  EXPECT_EQ(statute.corpus_from(), "2013-01-01");
  // 刑法 before the first text held (2009-02-28): the same.
  EXPECT_EQ(ReasonOf(ProvisionAsOf("statutes/criminal-law/provisions/art_253-1", "2008-01-01", &p)),
            "NOT_IN_CORPUS");
  v1::GetProvisionRequest req;
  // The civil code is held as three of its seven books: 第三百条 (物权编)
  // is law the corpus lacks, not law that does not exist.
  req.set_name("statutes/civil-code/provisions/art_300");
  req.set_as_of("2022-01-01");
  auto ctx = Signed("GetProvision", {kScopeGuidanceRead});
  EXPECT_EQ(ReasonOf(stub_->GetProvision(ctx.get(), req, &p)), "NOT_IN_CORPUS")
      << "the civil code is held as an excerpt";
}

TEST_F(CorpusTest, OldArticle42AndNewArticle50ShareOneWid) {
  v1::Provision old_42, new_50, new_42;
  ASSERT_TRUE(GetProvision("art_42", "2020-01-01", &old_42).ok());
  ASSERT_TRUE(GetProvision("art_50", "2026-06-01", &new_50).ok());
  ASSERT_TRUE(GetProvision("art_42", "2026-06-01", &new_42).ok());
  EXPECT_EQ(old_42.wid(), new_50.wid());
  EXPECT_NE(old_42.wid(), new_42.wid());
  EXPECT_EQ(new_50.version().version_id(), "2026-01-01");
  EXPECT_NE(new_42.text().find("铁路"), std::string::npos) << new_42.text();
  EXPECT_EQ(old_42.children(0).children(5).wid(), new_50.children(0).children(5).wid());
  EXPECT_EQ(new_50.children_size(), 2) << "2025 added a no-contact paragraph";
}

TEST_F(CorpusTest, ComparisonReportsRenumberedAndAmendedWithTheFineChange) {
  v1::CompareStatuteVersionsRequest req;
  req.set_name(kStatute);
  req.set_from_version("2013-01-01");
  req.set_to_version("2026-01-01");
  req.set_page_size(1000);
  v1::CompareStatuteVersionsResponse resp;
  auto ctx = Signed("CompareStatuteVersions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->CompareStatuteVersions(ctx.get(), req, &resp).ok());
  const v1::ProvisionChange* art50 = nullptr;
  for (const auto& c : resp.changes()) {
    if (c.to_eid() == "art_50") art50 = &c;
  }
  ASSERT_NE(art50, nullptr);
  EXPECT_EQ(art50->from_eid(), "art_42");
  EXPECT_THAT(std::vector<int>(art50->kinds().begin(), art50->kinds().end()),
              ::testing::ElementsAre(v1::ProvisionChange::KIND_RENUMBERED,
                                     v1::ProvisionChange::KIND_AMENDED));
  std::string deleted, inserted;
  for (const auto& seg : art50->diff()) {
    if (seg.op() == v1::DiffSegment::OP_DELETE) deleted += seg.text();
    if (seg.op() == v1::DiffSegment::OP_INSERT) inserted += seg.text();
  }
  EXPECT_NE(deleted.find("五百"), std::string::npos) << deleted;
  EXPECT_NE(inserted.find("一千"), std::string::npos) << inserted;
  EXPECT_EQ(inserted.find("："), std::string::npos) << "punctuation width is not an amendment";
}

TEST_F(CorpusTest, PunctuationWidthAloneIsNotAnAmendmentUnlessAsked) {
  // The 2012 text ends 第四十二条's lead-in with ':' and the 2025 text with
  // '：'; strict comparison sees the colon, the default does not.
  for (bool strict : {false, true}) {
    v1::CompareStatuteVersionsRequest req;
    req.set_name(kStatute);
    req.set_from_version("2013-01-01");
    req.set_to_version("2026-01-01");
    req.set_strict_punctuation(strict);
    req.set_page_size(1000);
    v1::CompareStatuteVersionsResponse resp;
    auto ctx = Signed("CompareStatuteVersions", {kScopeGuidanceRead});
    ASSERT_TRUE(stub_->CompareStatuteVersions(ctx.get(), req, &resp).ok());
    bool colon_changed = false;
    for (const auto& c : resp.changes()) {
      if (c.to_eid() != "art_50") continue;
      for (const auto& seg : c.diff()) {
        if (seg.op() != v1::DiffSegment::OP_EQUAL && seg.text().find(":") != std::string::npos) {
          colon_changed = true;
        }
      }
    }
    EXPECT_EQ(colon_changed, strict);
  }
}

TEST_F(CorpusTest, CitationResolvesAgainstTheDateAsked) {
  auto in_2020 = Resolve("《治安管理处罚法》第四十二条第六项", "2020-01-01");
  ASSERT_EQ(in_2020.citations_size(), 1);
  EXPECT_TRUE(in_2020.citations(0).resolved());
  EXPECT_EQ(in_2020.citations(0).eid(), "art_42__para_1__item_6");
  EXPECT_EQ(in_2020.citations(0).version_id(), "2013-01-01");
  EXPECT_EQ(in_2020.citations(0).label(), "第四十二条第六项");

  auto in_2026 = Resolve("《治安管理处罚法》第四十二条第六项", "2026-06-01");
  ASSERT_EQ(in_2026.citations_size(), 1);
  EXPECT_FALSE(in_2026.citations(0).resolved());
  EXPECT_EQ(in_2026.citations(0).unresolved_reason(), "NO_SUCH_PROVISION");
  EXPECT_EQ(in_2026.citations(0).version_id(), "2026-01-01");
  // Old 42(6) lives on as 50(1)(6): the answer names it.
  EXPECT_EQ(in_2026.citations(0).successor_provision(),
            "statutes/public-security-administration-punishments/provisions/art_50__para_1__item_6");
  EXPECT_EQ(in_2026.citations(0).successor_label(), "第五十条第一款第六项");
  EXPECT_NE(in_2026.citations(0).unresolved_detail().find("第五十条第一款第六项"), std::string::npos)
      << in_2026.citations(0).unresolved_detail();
}

std::map<std::string, std::string> MetadataOf(const grpc::Status& s) {
  return ErrorMetadata(FromGrpcStatus(s));
}

TEST_F(CorpusTest, LabelsReadAsALawyerWritesThemAndNameAProvision) {
  v1::Provision p;
  // 第五十条 has several paragraphs: the item's label names its paragraph.
  ASSERT_TRUE(GetProvision("第五十条第一款第六项", "2026-06-01", &p).ok());
  EXPECT_EQ(p.eid(), "art_50__para_1__item_6");
  EXPECT_EQ(p.citation_label(), "第五十条第一款第六项");
  EXPECT_EQ(p.label(), "第（六）项");
  // The item cited without its paragraph is in the first one that has it.
  ASSERT_TRUE(GetProvision("第50条第6项", "2026-06-01", &p).ok());
  EXPECT_EQ(p.eid(), "art_50__para_1__item_6");
  // Old 第四十二条 has one paragraph: practice leaves out 第一款.
  ASSERT_TRUE(GetProvision("第四十二条第六项", "2020-01-01", &p).ok());
  EXPECT_EQ(p.eid(), "art_42__para_1__item_6");
  EXPECT_EQ(p.citation_label(), "第四十二条第六项");
  ASSERT_TRUE(GetProvision("第四十二条", "2020-01-01", &p).ok());
  EXPECT_EQ(p.citation_label(), "第四十二条");
  EXPECT_EQ(p.children(0).children(5).citation_label(), "第四十二条第六项");
  ASSERT_TRUE(
      ProvisionAsOf("statutes/criminal-law/provisions/第二百五十三条之一第三款", "2020-01-01", &p)
          .ok());
  EXPECT_EQ(p.eid(), "art_253-1__para_3");
  EXPECT_EQ(p.citation_label(), "第二百五十三条之一第三款");
  // Something that is neither an eid nor one label is refused, naming the field.
  const grpc::Status bad = GetProvision("第五十条和第五十一条", "2026-06-01", &p);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("name"), std::string::npos);
}

TEST_F(CorpusTest, NoSuchProvisionNamesTheProvisionCarryingTheSameWid) {
  v1::Provision p;
  // Old 42(6) asked as of 2026: 第四十二条 is now railway safety, without
  // items; the privacy item lives on as 50(1)(6).
  grpc::Status s = GetProvision("art_42__para_1__item_6", "2026-06-01", &p);
  EXPECT_EQ(ReasonOf(s), "NO_SUCH_PROVISION");
  auto meta = MetadataOf(s);
  EXPECT_EQ(meta["successor"], std::string(kStatute) + "/provisions/art_50__para_1__item_6");
  EXPECT_EQ(meta["successor_label"], "第五十条第一款第六项");
  EXPECT_NE(s.error_message().find("第五十条第一款第六项"), std::string::npos) << s.error_message();
  // The same by label.
  s = GetProvision("第四十二条第六项", "2026-06-01", &p);
  EXPECT_EQ(MetadataOf(s)["successor_label"], "第五十条第一款第六项") << s.error_message();
  // Backwards too: 第一百四十条 exists only in the 2026 text; in 2020 its
  // provision was old 第一百一十七条.
  s = GetProvision("art_140", "2020-01-01", &p);
  EXPECT_EQ(ReasonOf(s), "NO_SUCH_PROVISION");
  EXPECT_EQ(MetadataOf(s)["successor_label"], "第一百一十七条") << s.error_message();
  // A part the old article never had is not its article: 第五十条第七项
  // names nothing in either version.
  auto r = Resolve("治安管理处罚法第五十条第七项", "2026-06-01");
  ASSERT_EQ(r.citations_size(), 1);
  EXPECT_EQ(r.citations(0).unresolved_reason(), "NO_SUCH_PROVISION");
  EXPECT_TRUE(r.citations(0).successor_provision().empty()) << r.citations(0).unresolved_detail();
  // A number no version has: nothing to name.
  s = GetProvision("art_150", "2020-01-01", &p);
  EXPECT_EQ(ReasonOf(s), "NO_SUCH_PROVISION");
  EXPECT_EQ(MetadataOf(s).count("successor"), 0u) << s.error_message();
  // A label naming an item an article lacks is not that article.
  s = GetProvision("第四十二条第九项", "2020-01-01", &p);
  EXPECT_EQ(ReasonOf(s), "NO_SUCH_PROVISION") << p.eid();
}

TEST_F(CorpusTest, ReviewedRenumberingPairsArticlesAndPartsByText) {
  auto wid = [&](const std::string& eid, const std::string& as_of) {
    v1::Provision p;
    const grpc::Status s = GetProvision(eid, as_of, &p);
    EXPECT_TRUE(s.ok()) << eid << " " << s.error_message();
    return p.wid();
  };
  // Continuations the text-similarity pass missed.
  EXPECT_EQ(wid("art_62", "2026-06-01"), "2013-01-01/art_51");    // 招摇撞骗
  EXPECT_EQ(wid("art_88", "2026-06-01"), "2013-01-01/art_58");    // noise
  EXPECT_EQ(wid("art_122", "2026-06-01"), "2013-01-01/art_103");  // detention
  EXPECT_NE(wid("art_56", "2026-06-01"), "2013-01-01/art_51") << "personal information is new";
  // Parts by text, never by position: new 20(3) 取得被侵害人谅解的 is new;
  // old 19(3) 出于他人胁迫或者诱骗的 is new 20(4).
  EXPECT_EQ(wid("art_20__para_1__item_3", "2026-06-01"), "2026-01-01/art_20__para_1__item_3");
  EXPECT_EQ(wid("art_20__para_1__item_4", "2026-06-01"), "2013-01-01/art_19__para_1__item_3");
  // New 第二条第一款 (party leadership) is new; old 第六条 is its 第二款.
  EXPECT_EQ(wid("art_2__para_1", "2026-06-01"), "2026-01-01/art_2__para_1");
  EXPECT_EQ(wid("art_2__para_2", "2026-06-01"), "2013-01-01/art_6__para_1");
  // A merge: old 第七十七条 and 第七十八条 → new 第九十条.
  v1::Provision p;
  ASSERT_TRUE(GetProvision("art_90", "2026-06-01", &p).ok());
  EXPECT_EQ(p.wid(), "2013-01-01/art_78");
  ASSERT_EQ(p.also_continues_size(), 1);
  EXPECT_EQ(p.also_continues(0), "2013-01-01/art_77");
  // A split: old 第四十九条 → new 第五十八条 and 第五十九条.
  ASSERT_TRUE(GetProvision("art_59", "2026-06-01", &p).ok());
  EXPECT_EQ(p.also_continues(0), "2013-01-01/art_49");
  // Comparing the versions reports old 51 as renumbered to 62, not removed.
  v1::CompareStatuteVersionsRequest cmp;
  cmp.set_name(kStatute);
  cmp.set_from_version("2013-01-01");
  cmp.set_to_version("2026-01-01");
  cmp.set_page_size(1000);
  v1::CompareStatuteVersionsResponse changes;
  auto ctx = Signed("CompareStatuteVersions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->CompareStatuteVersions(ctx.get(), cmp, &changes).ok());
  bool renumbered = false;
  for (const auto& c : changes.changes()) {
    if (c.from_eid() == "art_51") {
      EXPECT_EQ(c.to_eid(), "art_62");
      renumbered = true;
    }
  }
  EXPECT_TRUE(renumbered);
  // 网络安全法: two splits, one into an article that continues another.
  cmp.set_name("statutes/cybersecurity");
  cmp.set_from_version("2017-06-01");
  cmp.set_to_version("2026-01-01");
  v1::CompareStatuteVersionsResponse csl;
  auto cctx = Signed("CompareStatuteVersions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->CompareStatuteVersions(cctx.get(), cmp, &csl).ok());
  std::set<std::pair<std::string, std::string>> splits;
  for (const auto& c : csl.changes()) {
    for (int k : c.kinds()) {
      if (k == v1::ProvisionChange::KIND_SPLIT) splits.emplace(c.from_eid(), c.to_eid());
    }
  }
  EXPECT_EQ(splits, (std::set<std::pair<std::string, std::string>>{{"art_18", "art_20"},
                                                                   {"art_69", "art_69"}}));
  // The paragraph the split moved keeps its wid.
  ASSERT_TRUE(ProvisionAsOf("statutes/cybersecurity/provisions/art_20__para_2", "2026-06-01", &p)
                  .ok());
  EXPECT_EQ(p.wid(), "2017-06-01/art_18__para_2");
}

TEST_F(CorpusTest, UnconfirmedDatesAreFlaggedAndEveryVersionSaysWhereItsDatesComeFrom) {
  v1::GetStatuteRequest get;
  get.set_name("statutes/cybersecurity");
  v1::Statute csl;
  auto ctx = Signed("GetStatute", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetStatute(ctx.get(), get, &csl).ok());
  ASSERT_EQ(csl.versions_size(), 2);
  EXPECT_EQ(csl.kind(), v1::Statute::KIND_LAW);
  EXPECT_EQ(csl.versions(0).date_confidence(),
            v1::StatuteVersion::DATE_CONFIDENCE_CONFIRMED_BY_TEXT);
  EXPECT_EQ(csl.versions(1).date_confidence(), v1::StatuteVersion::DATE_CONFIDENCE_UNCONFIRMED);
  EXPECT_NE(csl.versions(1).date_source().find("secondary reports"), std::string::npos);
  EXPECT_EQ(csl.corpus_coverage(), "text known from 2017-06-01");
  v1::Provision p;
  ASSERT_TRUE(ProvisionAsOf("statutes/cybersecurity/provisions/art_44", "2026-06-01", &p).ok());
  EXPECT_EQ(p.version().version_id(), "2026-01-01");
  EXPECT_NE(p.date_caveat().find("not confirmed"), std::string::npos) << p.date_caveat();
  // The 2017 text's end follows from the unconfirmed start: also flagged.
  ASSERT_TRUE(ProvisionAsOf("statutes/cybersecurity/provisions/art_42", "2025-12-31", &p).ok());
  EXPECT_EQ(p.version().version_id(), "2017-06-01");
  EXPECT_FALSE(p.date_caveat().empty());
  // A date confirmed by its own text carries no caveat.
  ASSERT_TRUE(ProvisionAsOf("statutes/personal-information-protection/provisions/art_57",
                            "2024-01-01", &p).ok());
  EXPECT_TRUE(p.date_caveat().empty()) << p.date_caveat();
  // Every shipped version says where its dates come from.
  v1::ListStatutesRequest list;
  list.set_page_size(100);
  v1::ListStatutesResponse all;
  auto lctx = Signed("ListStatutes", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListStatutes(lctx.get(), list, &all).ok());
  EXPECT_EQ(all.statutes_size(), 12);
  for (const auto& st : all.statutes()) {
    EXPECT_NE(st.kind(), v1::Statute::KIND_UNSPECIFIED) << st.name();
    for (const auto& v : st.versions()) {
      EXPECT_NE(v.date_confidence(), v1::StatuteVersion::DATE_CONFIDENCE_UNSPECIFIED)
          << st.name() << " " << v.version_id();
      EXPECT_FALSE(v.date_source().empty()) << st.name() << " " << v.version_id();
    }
  }
}

TEST_F(CorpusTest, JudicialInterpretationsAreCitedLikeStatutes) {
  auto r = Resolve(
      "《最高人民法院、最高人民检察院关于办理侵犯公民个人信息刑事案件适用法律若干问题的解释》第五条",
      "2024-05-01");
  ASSERT_EQ(r.citations_size(), 1);
  EXPECT_TRUE(r.citations(0).resolved()) << r.citations(0).unresolved_reason();
  EXPECT_EQ(r.citations(0).provision(),
            "statutes/interpretation-personal-information-crimes/provisions/art_5");
  EXPECT_EQ(r.citations(0).statute_kind(), v1::Statute::KIND_JUDICIAL_INTERPRETATION);
  EXPECT_EQ(r.citations(0).label(), "第五条");
  // Its short title, and an interpretation beside a law in one sentence.
  r = Resolve("依照民事诉讼证据规定第九十四条第一款第二项和网络安全法第四十四条第二款", "2026-06-01");
  ASSERT_EQ(r.citations_size(), 2);
  EXPECT_EQ(r.citations(0).provision(),
            "statutes/provisions-civil-evidence/provisions/art_94__para_1__item_2");
  EXPECT_EQ(r.citations(0).label(), "第九十四条第一款第二项");
  EXPECT_TRUE(r.citations(0).date_caveat().empty());
  EXPECT_EQ(r.citations(1).provision(), "statutes/cybersecurity/provisions/art_44__para_2");
  EXPECT_FALSE(r.citations(1).date_caveat().empty()) << "the 2026 commencement is unconfirmed";
  // The regulation is its own kind.
  v1::GetStatuteRequest get;
  get.set_name("statutes/network-data-security-regulation");
  v1::Statute reg;
  auto ctx = Signed("GetStatute", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetStatute(ctx.get(), get, &reg).ok());
  EXPECT_EQ(reg.kind(), v1::Statute::KIND_ADMINISTRATIVE_REGULATION);
  EXPECT_EQ(reg.issuing_body(), "国务院");
}

TEST_F(CorpusTest, BeforeAnOriginalTextTheLawWasNotInForce) {
  v1::Provision p;
  // The civil code's first text is its original: before 2021 it did not
  // apply (NOT_IN_FORCE), unlike 治安管理处罚法, whose pre-2013 text the
  // corpus lacks (NOT_IN_CORPUS).
  const grpc::Status s =
      ProvisionAsOf("statutes/civil-code/provisions/art_995", "2020-06-01", &p);
  EXPECT_EQ(ReasonOf(s), "NOT_IN_FORCE");
  EXPECT_NE(s.error_message().find("took effect on 2021-01-01"), std::string::npos);
  EXPECT_EQ(ReasonOf(GetProvision("art_42", "2010-01-01", &p)), "NOT_IN_CORPUS");
}

TEST_F(CorpusTest, SearchScoresShareOneScaleAcrossBothPaths) {
  auto search = [&](const std::string& q) {
    v1::SearchProvisionsRequest req;
    req.set_query(q);
    req.set_as_of("2026-06-01");
    req.set_page_size(50);
    v1::SearchProvisionsResponse resp;
    auto ctx = Signed("SearchProvisions", {kScopeGuidanceRead});
    EXPECT_TRUE(stub_->SearchProvisions(ctx.get(), req, &resp).ok());
    return resp;
  };
  // Two characters take the scan, four the index: the score is the share
  // of the article's characters inside matches either way.
  for (const std::string q : {"隐私", "个人信息"}) {
    const auto r = search(q);
    ASSERT_GT(r.results_size(), 3) << q;
    double last = 2;
    for (const auto& hit : r.results()) {
      v1::Provision p;
      ASSERT_TRUE(ProvisionAsOf(hit.provision(), "2026-06-01", &p).ok());
      const std::u32string text = [&] {
        std::u32string out;
        for (char32_t c : DecodeUtf8(p.text())) out.push_back(c);
        return out;
      }();
      std::u32string needle;
      for (char32_t c : DecodeUtf8(q)) needle.push_back(c);
      size_t count = 0;
      for (size_t at = text.find(needle); at != std::u32string::npos;
           at = text.find(needle, at + needle.size())) {
        ++count;
      }
      const double want = std::min(1.0, static_cast<double>(count * needle.size()) /
                                             static_cast<double>(text.size()));
      EXPECT_NEAR(hit.score(), want, 1e-9) << q << " " << hit.provision();
      EXPECT_GT(hit.score(), 0);
      EXPECT_LE(hit.score(), 1);
      EXPECT_LE(hit.score(), last) << "ranked by score";
      last = hit.score();
    }
  }
}

TEST_F(CorpusTest, SentenceWithThreeCitations) {
  auto r = Resolve(
      "依照《中华人民共和国个人信息保护法》第四十七条和第六十九条，并参照《刑法》第二百五十三条之一，"
      "可以主张权利。",
      "2024-05-01");
  ASSERT_EQ(r.citations_size(), 3);
  EXPECT_EQ(r.citations(0).provision(), "statutes/personal-information-protection/provisions/art_47");
  EXPECT_EQ(r.citations(1).provision(), "statutes/personal-information-protection/provisions/art_69");
  EXPECT_EQ(r.citations(2).provision(), "statutes/criminal-law/provisions/art_253-1");
  EXPECT_EQ(r.citations(2).version_id(), "2015-11-01");
  for (const auto& c : r.citations()) EXPECT_TRUE(c.resolved()) << c.text();
  EXPECT_EQ(r.citations(0).start(), 2);
}

TEST_F(CorpusTest, TwoCharacterSearchFindsArticle42) {
  auto r = Search("隐私", "2020-01-01");
  std::vector<std::string> found;
  for (const auto& h : r.results()) found.push_back(h.provision());
  EXPECT_THAT(found, ::testing::Contains(std::string(kStatute) + "/provisions/art_42"));
  for (const auto& h : r.results()) {
    EXPECT_NE(h.snippet().find("【隐私】"), std::string::npos) << h.snippet();
    EXPECT_NE(h.version_id(), "2026-01-01") << "as of 2020 the 2026 text is not in force";
  }
}

TEST_F(CorpusTest, TrigramSearchIsFilteredByDate) {
  auto r2020 = Search("偷窥、偷拍", "2020-01-01");
  auto r2026 = Search("偷窥、偷拍", "2026-06-01");
  ASSERT_GE(r2020.results_size(), 1);
  ASSERT_GE(r2026.results_size(), 1);
  EXPECT_EQ(r2020.results(0).provision(), std::string(kStatute) + "/provisions/art_42");
  EXPECT_EQ(r2026.results(0).provision(), std::string(kStatute) + "/provisions/art_50");
  EXPECT_NE(r2026.results(0).snippet().find("【"), std::string::npos);
}

TEST_F(CorpusTest, GetProvisionRefusesBytesThatAreNotARequest) {
  // GetProvision is served from bytes (Catalog::GetProvisionBytes): it parses
  // the request itself.
  grpc::GenericStub generic(grpc::CreateChannel("127.0.0.1:" + std::to_string(runner_->port()),
                                                grpc::InsecureChannelCredentials()));
  auto ctx = Signed("GetProvision", {kScopeGuidanceRead});
  grpc::Slice garbage(std::string("\x0a\xff\xff\xff\x0f"));
  grpc::ByteBuffer in(&garbage, 1), out;
  grpc::Status status;
  absl::Notification done;
  generic.UnaryCall(ctx.get(), "/counsel.guidance.v1.GuidanceService/GetProvision",
                    grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  // And a real request still answers the typed message, unauthenticated
  // callers still refused.
  v1::Provision p;
  ASSERT_TRUE(GetProvision("art_42", "2020-01-01", &p).ok());
  EXPECT_EQ(p.eid(), "art_42");
  EXPECT_FALSE(p.text().empty());
  grpc::ClientContext anonymous;
  v1::GetProvisionRequest req;
  req.set_name(std::string(kStatute) + "/provisions/art_42");
  EXPECT_EQ(stub_->GetProvision(&anonymous, req, &p).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(CorpusTest, SearchRejectsBadQueries) {
  grpc::Status s;
  Search("", "", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Search(std::string(257, 'a'), "", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Invalid UTF-8 never reaches the handler: proto3 strings refuse it.
  Search("\xff\xfe", "", &s);
  EXPECT_FALSE(s.ok());
  Search("隐私", "2023-02-30", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("as_of"), std::string::npos);
  // FTS5 syntax in user input is text, not an operator.
  Search("隐私 OR \"x", "", &s);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // Found by the guidance_service fuzz target: a NUL inside the phrase made
  // FTS5 fail (INTERNAL); control characters are refused instead.
  Search(std::string("个人\0\0信息\"", 15), "", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("query"), std::string::npos);
  Search("个人\x01信息", "", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A pasted multi-line query is a query: line breaks and tabs are spaces.
  Search("个人信息\r\n保护\t", "", &s);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CorpusTest, TableOfContentsAsOfADateIsPaged) {
  v1::ListProvisionsRequest req;
  req.set_parent(kStatute);
  req.set_as_of("2026-06-01");
  req.set_page_size(100);
  v1::ListProvisionsResponse first, second;
  auto ctx = Signed("ListProvisions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListProvisions(ctx.get(), req, &first).ok());
  EXPECT_EQ(first.provisions_size(), 100);
  EXPECT_EQ(first.version().version_id(), "2026-01-01");
  req.set_page_token(first.next_page_token());
  auto ctx2 = Signed("ListProvisions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListProvisions(ctx2.get(), req, &second).ok());
  EXPECT_EQ(second.provisions_size(), 44);
  EXPECT_TRUE(second.next_page_token().empty());
  EXPECT_EQ(second.provisions(43).eid(), "art_144");
}

TEST_F(CorpusTest, AmendingActIsReadAsTheArticleItInserts) {
  v1::GetProvisionRequest req;
  req.set_name("statutes/criminal-law/provisions/art_253-1");
  req.set_as_of("2012-01-01");
  v1::Provision p;
  auto ctx = Signed("GetProvision", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->GetProvision(ctx.get(), req, &p).ok());
  EXPECT_EQ(p.label(), "第二百五十三条之一");
  EXPECT_EQ(p.children_size(), 3);
  EXPECT_EQ(p.children(0).text().rfind("国家机关或者金融", 0), 0u) << p.children(0).text();
  EXPECT_EQ(p.version().version_id(), "2009-02-28");
  EXPECT_EQ(p.version().end_date(), "2015-10-31");
}

class AdviceTest : public CorpusTest {
 protected:
  v1::Advice Call(const std::string& method, const google::protobuf::Message& req,
                  grpc::Status* status = nullptr, std::vector<std::string> scopes = {
                      kScopeGuidanceRead, kScopeGuidanceWrite}) {
    auto ctx = Signed(method, scopes);
    v1::Advice out;
    grpc::Status s;
    if (method == "GetAdvice") s = stub_->GetAdvice(ctx.get(), static_cast<const v1::GetAdviceRequest&>(req), &out);
    if (method == "CreateAdvice") s = stub_->CreateAdvice(ctx.get(), static_cast<const v1::CreateAdviceRequest&>(req), &out);
    if (method == "UpdateAdvice") s = stub_->UpdateAdvice(ctx.get(), static_cast<const v1::UpdateAdviceRequest&>(req), &out);
    if (method == "PublishAdvice") s = stub_->PublishAdvice(ctx.get(), static_cast<const v1::PublishAdviceRequest&>(req), &out);
    if (method == "RollbackAdvice") s = stub_->RollbackAdvice(ctx.get(), static_cast<const v1::RollbackAdviceRequest&>(req), &out);
    if (status != nullptr) *status = s; else EXPECT_TRUE(s.ok()) << method << ": " << s.error_message();
    return out;
  }

  v1::Advice Draft(const std::string& citation) {
    v1::Advice a;
    a.set_title("测试建议");
    auto* step = a.add_sections()->add_steps();
    step->set_key("report-to-police");
    step->set_title("报案");
    step->set_checklist(true);
    step->add_citations(citation);
    return a;
  }

  v1::Advice Get(const std::string& name, const std::string& locale = "",
                 const std::string& resolve_as_of = "") {
    v1::GetAdviceRequest r;
    r.set_name(name);
    r.set_locale(locale);
    r.set_resolve_citations_as_of(resolve_as_of);
    return Call("GetAdvice", r);
  }
};

TEST_F(AdviceTest, ShippedAdviceHasThreeRevisionsCitingEachLaw) {
  std::ifstream in(std::string(COUNSEL_CONTENT_DIR) + "/advice/personal-information-leak.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto added = service_->ImportAdvice(ss.str(), "personal-information-leak.json");
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 4);
  EXPECT_EQ(*service_->ImportAdvice(ss.str(), "again"), 0) << "import is idempotent";

  v1::ListAdviceRevisionsRequest list;
  list.set_name("advice/personal-information-leak");
  v1::ListAdviceRevisionsResponse revisions;
  auto ctx = Signed("ListAdviceRevisions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListAdviceRevisions(ctx.get(), list, &revisions).ok());
  ASSERT_EQ(revisions.revisions_size(), 4);
  const auto& newest = revisions.revisions(0);
  const auto& corrected = revisions.revisions(1);   // the civil-law correction
  const auto& renumbered = revisions.revisions(2);  // the 2026-01 revision
  const auto& oldest = revisions.revisions(3);
  EXPECT_EQ(newest.revision_number(), 4);
  auto pinned = [](const v1::Advice& a, const std::string& key, int i = 0) {
    for (const auto& s : a.sections()) {
      for (const auto& st : s.steps()) {
        if (st.key() == key && i < st.cited_provisions_size()) return st.cited_provisions(i);
      }
    }
    return v1::CitedProvision();
  };
  EXPECT_EQ(pinned(oldest, "report-to-police").version_id(), "2013-01-01");
  EXPECT_EQ(pinned(oldest, "report-to-police").label(), "第四十二条第六项");
  EXPECT_EQ(pinned(renumbered, "report-to-police").version_id(), "2026-01-01");
  EXPECT_EQ(pinned(renumbered, "report-to-police").label(), "第五十条第一款第六项");
  EXPECT_EQ(pinned(oldest, "report-to-police").wid(),
            pinned(renumbered, "report-to-police").wid());
  // The third revision no longer rests the police report on the privacy
  // item (an ordinary leaked number is not 散布隐私): it cites the personal
  // information article of the 2026 law first, and the suit step cites the
  // articles that say stopping an infringement is not time-barred.
  EXPECT_EQ(pinned(corrected, "report-to-police").label(), "第五十六条");
  EXPECT_EQ(pinned(corrected, "report-to-police").version_id(), "2026-01-01");
  EXPECT_EQ(pinned(corrected, "consult-lawyer", 2).label(), "第九百九十五条");
  EXPECT_EQ(pinned(corrected, "consult-lawyer", 2).version_id(), "2021-01-01");
  // The fourth draws on the judicial interpretations: the 2017 thresholds
  // for the crime, the evidence rules for electronic data.
  EXPECT_EQ(pinned(newest, "report-to-police", 2).provision(),
            "statutes/interpretation-personal-information-crimes/provisions/art_5__para_1");
  EXPECT_EQ(pinned(newest, "report-to-police", 2).label(), "第五条第一款");
  EXPECT_EQ(pinned(newest, "collect-evidence", 1).label(), "第十五条第二款");
  EXPECT_EQ(pinned(newest, "ask-the-holder", 1).provision(),
            "statutes/cybersecurity/provisions/art_44__para_2");

  // The 2024 revision cites the privacy item, never the 2026 railway article.
  v1::Advice old_resolved = Get("advice/personal-information-leak@" + oldest.revision_id(), "",
                                "2026-06-01");
  const auto cited = pinned(old_resolved, "report-to-police");
  EXPECT_EQ(cited.resolved_provision(),
            std::string(kStatute) + "/provisions/art_50__para_1__item_6");
  EXPECT_FALSE(cited.stale());
}

TEST_F(AdviceTest, ACitationOfAMergedArticleSaysWhereItsContentWent) {
  // 2020 advice citing old 第七十七条 (受理报案), which the 2025 revision
  // folded into 第九十条 (continuing old 第七十八条).
  const std::string advice = R"json({"adviceId": "merged", "revisions": [{
      "publishTime": "2020-06-01T10:00:00+08:00", "author": "t", "changeNote": "n",
      "advice": {"title": "t", "summary": "s", "sections": [{"title": "s", "steps": [{
        "key": "k", "title": "t", "body": "b", "kind": "STEP_KIND_REMEDIATION",
        "citations": ["statutes/public-security-administration-punishments/provisions/art_77"]
      }]}]}}]})json";
  ASSERT_TRUE(service_->ImportAdvice(advice, "merged.json").ok());
  const v1::Advice read = Get("advice/merged", "", "2026-06-01");
  const auto& cited = read.sections(0).steps(0).cited_provisions(0);
  EXPECT_TRUE(cited.stale());
  EXPECT_EQ(cited.stale_reason(), "MERGED");
  EXPECT_EQ(cited.resolved_provision(), std::string(kStatute) + "/provisions/art_90");
  EXPECT_EQ(cited.resolved_label(), "第九十条");
  EXPECT_NE(cited.stale_detail().find("merged into 第九十条"), std::string::npos)
      << cited.stale_detail();
  // As of 2020 it reads as cited.
  const v1::Advice then = Get("advice/merged", "", "2020-06-01");
  EXPECT_FALSE(then.sections(0).steps(0).cited_provisions(0).stale());
}

TEST_F(AdviceTest, LocaleFallsBackToChineseAndSaysSo) {
  std::ifstream in(std::string(COUNSEL_CONTENT_DIR) + "/advice/personal-information-leak.json");
  std::stringstream ss;
  ss << in.rdbuf();
  ASSERT_TRUE(service_->ImportAdvice(ss.str(), "x").ok());
  v1::Advice en = Get("advice/personal-information-leak", "en");
  EXPECT_EQ(en.locale(), "en");
  EXPECT_FALSE(en.locale_fallback());
  EXPECT_EQ(en.sections(0).steps(0).title(), "Deal with the exposed account first");
  EXPECT_TRUE(en.sections(0).steps(0).checklist());
  v1::Advice fr = Get("advice/personal-information-leak", "fr");
  EXPECT_EQ(fr.locale(), "zh-CN");
  EXPECT_TRUE(fr.locale_fallback());
}

TEST_F(AdviceTest, PublishRollbackHistoryAndStaleCitations) {
  clock_.Set(absl::FromCivil(absl::CivilSecond(2024, 5, 1, 9, 0, 0), ShanghaiTimeZone()));
  v1::CreateAdviceRequest create;
  create.set_advice_id("test-advice");
  *create.mutable_advice() = Draft(std::string(kStatute) + "/provisions/art_42");
  v1::Advice draft = Call("CreateAdvice", create);
  EXPECT_EQ(draft.state(), v1::Advice::STATE_DRAFT);

  v1::PublishAdviceRequest publish;
  publish.set_name("advice/test-advice");
  publish.set_change_note("first");
  publish.set_etag(draft.etag());
  v1::Advice rev1 = Call("PublishAdvice", publish);
  EXPECT_EQ(rev1.revision_number(), 1);

  // A stale etag is refused.
  grpc::Status s;
  Call("PublishAdvice", publish, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);

  clock_.Advance(absl::Hours(24));
  v1::UpdateAdviceRequest update;
  update.mutable_advice()->set_name("advice/test-advice");
  update.mutable_advice()->set_title("测试建议（修订）");
  update.mutable_update_mask()->add_paths("title");
  Call("UpdateAdvice", update);
  publish.clear_etag();
  publish.set_change_note("retitled");
  v1::Advice rev2 = Call("PublishAdvice", publish);
  EXPECT_EQ(rev2.title(), "测试建议（修订）");

  clock_.Advance(absl::Hours(24));
  v1::RollbackAdviceRequest rollback;
  rollback.set_name("advice/test-advice");
  rollback.set_revision_id(rev1.revision_id());
  v1::Advice rev3 = Call("RollbackAdvice", rollback);
  EXPECT_EQ(rev3.revision_number(), 3);
  EXPECT_EQ(rev3.title(), "测试建议");
  EXPECT_NE(rev3.revision_id(), rev1.revision_id());

  v1::ListAdviceRevisionsRequest list;
  list.set_name("advice/test-advice");
  v1::ListAdviceRevisionsResponse history;
  auto ctx = Signed("ListAdviceRevisions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListAdviceRevisions(ctx.get(), list, &history).ok());
  ASSERT_EQ(history.revisions_size(), 3);
  EXPECT_EQ(history.revisions(0).revision_number(), 3);
  EXPECT_EQ(history.revisions(2).change_note(), "first");

  // The 2024 citation of 第四十二条 resolves to 第五十条 in 2026, whose fine changed.
  v1::Advice resolved = Get("advice/test-advice@" + rev1.revision_id(), "", "2026-06-01");
  const auto& cited = resolved.sections(0).steps(0).cited_provisions(0);
  EXPECT_EQ(cited.resolved_provision(), std::string(kStatute) + "/provisions/art_50");
  EXPECT_TRUE(cited.stale());
  EXPECT_EQ(cited.stale_reason(), "AMENDED");
  const auto current = Get("advice/test-advice@" + rev1.revision_id(), "", "2024-06-01")
                           .sections(0).steps(0).cited_provisions(0);
  EXPECT_FALSE(current.stale());
  EXPECT_EQ(current.stale_reason(), "");
  // Before the corpus's first text there is no reading: stale, and why.
  const auto before = Get("advice/test-advice@" + rev1.revision_id(), "", "2010-06-01")
                          .sections(0).steps(0).cited_provisions(0);
  EXPECT_TRUE(before.stale());
  EXPECT_EQ(before.stale_reason(), "NOT_IN_CORPUS");
  EXPECT_EQ(before.resolved_provision(), "");

  // As of a time between revisions 1 and 2.
  v1::GetAdviceRequest as_of;
  as_of.set_name("advice/test-advice");
  as_of.mutable_as_of_time()->set_seconds(rev1.revision_create_time().seconds());
  EXPECT_EQ(Call("GetAdvice", as_of).revision_id(), rev1.revision_id());
}

TEST_F(AdviceTest, DeletedAdviceKeepsItsRevisionsReadable) {
  v1::CreateAdviceRequest create;
  create.set_advice_id("short-lived");
  *create.mutable_advice() = Draft(std::string(kStatute) + "/provisions/art_50");
  Call("CreateAdvice", create);
  v1::PublishAdviceRequest publish;
  publish.set_name("advice/short-lived");
  v1::Advice rev = Call("PublishAdvice", publish);
  v1::DeleteAdviceRequest del;
  del.set_name("advice/short-lived");
  google::protobuf::Empty empty;
  auto ctx = Signed("DeleteAdvice", {kScopeGuidanceWrite});
  ASSERT_TRUE(stub_->DeleteAdvice(ctx.get(), del, &empty).ok());
  grpc::Status s;
  v1::GetAdviceRequest get;
  get.set_name("advice/short-lived");
  Call("GetAdvice", get, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("advice/short-lived@" + rev.revision_id()).revision_id(), rev.revision_id());
  v1::ListAdviceResponse listed;
  auto lctx = Signed("ListAdvice", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListAdvice(lctx.get(), {}, &listed).ok());
  for (const auto& a : listed.advice()) EXPECT_NE(a.name(), "advice/short-lived");
}

TEST_F(AdviceTest, BadAdviceIsRefusedNamingTheStepAndStoresNothing) {
  v1::CreateAdviceRequest create;
  create.set_advice_id("bad-advice");
  v1::Advice a = Draft("statutes/public-security-administration-punishments/provisions/art_999");
  *create.mutable_advice() = a;
  Call("CreateAdvice", create);
  v1::PublishAdviceRequest publish;
  publish.set_name("advice/bad-advice");
  grpc::Status s;
  Call("PublishAdvice", publish, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("advice.sections[0].steps[0].citations[0]"), std::string::npos)
      << s.error_message();
  v1::ListAdviceRevisionsRequest list;
  list.set_name("advice/bad-advice");
  v1::ListAdviceRevisionsResponse history;
  auto ctx = Signed("ListAdviceRevisions", {kScopeGuidanceRead});
  ASSERT_TRUE(stub_->ListAdviceRevisions(ctx.get(), list, &history).ok());
  EXPECT_EQ(history.revisions_size(), 0);

  v1::CreateAdviceRequest dup;
  dup.set_advice_id("dup-keys");
  *dup.mutable_advice() = Draft(std::string(kStatute) + "/provisions/art_50");
  *dup.mutable_advice()->mutable_sections(0)->add_steps() = dup.advice().sections(0).steps(0);
  Call("CreateAdvice", dup, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("advice.sections[0].steps[1].key"), std::string::npos);

  v1::UpdateAdviceRequest update;
  update.mutable_advice()->set_name("advice/bad-advice");
  update.mutable_update_mask()->add_paths("revision_id");
  Call("UpdateAdvice", update, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("update_mask.paths[0]"), std::string::npos);

  v1::GetAdviceRequest draft;
  draft.set_name("advice/bad-advice@draft");
  Call("GetAdvice", draft, &s, {kScopeGuidanceRead});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call("GetAdvice", draft).state(), v1::Advice::STATE_DRAFT);
  for (const char* bad : {"advice/", "advice/Bad", "x/y", "advice/a@"}) {
    draft.set_name(bad);
    Call("GetAdvice", draft, &s);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
}

}  // namespace
}  // namespace counsel::guidance
