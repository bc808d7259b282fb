// CaseService through a real gRPC server on an ephemeral port.
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
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kPhone[] = "13812345678";

// Advice that guidance-svc would return; can be made unreachable.
class FakeAdviceSource final : public AdviceSource {
 public:
  absl::StatusOr<std::optional<guidance::v1::Advice>> LatestFor(
      const std::string&, const std::string& incident_type) override {
    absl::MutexLock lock(&mu_);
    if (!reachable_) return absl::UnavailableError("guidance-svc is down");
    if (incident_type != "personal-information-leak") return std::optional<guidance::v1::Advice>();
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
    return std::optional<guidance::v1::Advice>(a);
  }
  void SetReachable(bool r) {
    absl::MutexLock lock(&mu_);
    reachable_ = r;
  }

 private:
  absl::Mutex mu_;
  bool reachable_ = true;
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
    SqliteCaseStoreOptions store_options;
    store_options.audit_key = std::string(32, 'a');
    auto store = OpenSqliteCaseStore(dir_ + "/cases.db", &vault_, &clock_, store_options);
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
    auto db = sqlite::Database::Open(dir_ + "/cases.db", {});
    auto q = (*db)->Prepare("SELECT count(*) FROM " + table);
    (void)q->Step();
    return q->ColumnInt64(0);
  }
  static std::string ReasonOf(const grpc::Status& s) { return ErrorReason(FromGrpcStatus(s)); }

  std::string dir_;
  ContextKey key_{std::string(32, 'k')};
  PiiVault vault_{{std::string(32, 'm')}};
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  FakeAdviceSource advice_;
  std::unique_ptr<CaseStore> store_;
  std::unique_ptr<CaseServiceImpl> service_;
  std::unique_ptr<ServerRunner> runner_;
  std::unique_ptr<v1::CaseService::Stub> stub_;
};

TEST_F(CaseServiceTest, CreatePinsAdviceAndCopiesItsChecklist) {
  v1::Case created = MustCreate();
  EXPECT_EQ(created.name().size(), std::string("cases/").size() + 26);
  EXPECT_EQ(created.state(), v1::Case::STATE_NEW);
  EXPECT_EQ(created.severity(), v1::SEVERITY_CRITICAL);
  EXPECT_EQ(created.client().phone(), "+8613812345678");
  EXPECT_EQ(created.advice(), "advice/personal-information-leak@rev2");
  ASSERT_EQ(created.checklist_size(), 2) << "only checklist steps are copied";
  EXPECT_EQ(created.checklist(0).name(), created.name() + "/checklist/change-passwords");
  EXPECT_EQ(created.checklist(0).state(), v1::ChecklistItem::STATE_PENDING);
  EXPECT_EQ(TimeUtil::TimestampToSeconds(created.checklist(1).due_time()),
            created.discovered_time().seconds() + 72 * 3600);
  v1::Case got;
  ASSERT_TRUE(Get(created.name(), &got).ok());
  EXPECT_EQ(got.client().display_name(), "王小明");
  EXPECT_EQ(got.checklist_size(), 2);
}

TEST_F(CaseServiceTest, GuidanceDownFailsUnavailableStoresNothingAndRetrySucceeds) {
  advice_.SetReachable(false);
  v1::Case c;
  EXPECT_EQ(Create(NewRequest("req-9"), &c).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Rows("cases"), 0);
  advice_.SetReachable(true);
  ASSERT_TRUE(Create(NewRequest("req-9"), &c).ok());
  EXPECT_EQ(Rows("cases"), 1);
}

TEST_F(CaseServiceTest, WithoutPiiScopeClientDataIsMasked) {
  v1::Case created = MustCreate();
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
  v1::Case created = MustCreate();
  Caller other;
  other.tenant = "firm-b";
  v1::Case got;
  const grpc::Status foreign = Get(created.name(), &got, other);
  const grpc::Status missing = Get("cases/doesnotexist", &got, other);
  EXPECT_EQ(foreign.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(foreign.error_details(), missing.error_details());
  // Nor can it update, list or transition it.
  v1::Case edit = created;
  edit.set_summary("x");
  EXPECT_EQ(Update(edit, {"summary"}, &got, other).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListCasesResponse list;
  auto ctx = Signed("ListCases", other);
  ASSERT_TRUE(stub_->ListCases(ctx.get(), {}, &list).ok());
  EXPECT_EQ(list.cases_size(), 0);
}

TEST_F(CaseServiceTest, ClientBoundCallerSeesOnlyItsClient) {
  v1::Case created = MustCreate();
  Caller bound;
  bound.client_id = "someone-else";
  v1::Case got;
  EXPECT_EQ(Get(created.name(), &got, bound).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListCasesResponse list;
  auto ctx = Signed("ListCases", bound);
  ASSERT_TRUE(stub_->ListCases(ctx.get(), {}, &list).ok());
  EXPECT_EQ(list.cases_size(), 0);
  bound.client_id = "crm-client-7";
  EXPECT_TRUE(Get(created.name(), &got, bound).ok());
  bound.client_id = "someone-else";
  EXPECT_EQ(Create(NewRequest(), &got, bound).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CaseServiceTest, RetriedCreateReturnsTheSameCase) {
  v1::Case first, second;
  ASSERT_TRUE(Create(NewRequest("req-1"), &first).ok());
  ASSERT_TRUE(Create(NewRequest("req-1"), &second).ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(Rows("cases"), 1);
  v1::CreateCaseRequest changed = NewRequest("req-1");
  changed.mutable_case_()->set_summary("另一件事");
  const grpc::Status s = Create(changed, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("request_id"), std::string::npos);
  EXPECT_EQ(Rows("cases"), 1);
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
  // A discovery time past protobuf's range of times (due times are added to it).
  v1::CreateCaseRequest far = NewRequest();
  far.mutable_case_()->mutable_discovered_time()->set_seconds(253402300799);
  const grpc::Status f = Create(far, &out);
  EXPECT_EQ(f.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(f.error_message().find("case.discovered_time"), std::string::npos);
  EXPECT_EQ(Rows("cases"), 0);
  EXPECT_EQ(Rows("events"), 0);
}

TEST_F(CaseServiceTest, EveryAllowedTransitionAndForbiddenOnesFail) {
  using S = v1::Case;
  v1::Case c = MustCreate();
  // A police report receipt is needed before REPORTED_TO_POLICE.
  v1::Case out;
  ASSERT_TRUE(Transition(c, S::STATE_TRIAGED, &c).ok());
  ASSERT_TRUE(Transition(c, S::STATE_IN_PROGRESS, &c).ok());
  grpc::Status s = Transition(c, S::STATE_REPORTED_TO_POLICE, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(s.error_details()));
  google::rpc::PreconditionFailure failure;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&failure));
  EXPECT_EQ(failure.violations(0).type(), "POLICE_REPORT");
  c.mutable_police_report()->set_receipt_number("京公(朝)受案字[2026]1234号");
  ASSERT_TRUE(Update(c, {"police_report"}, &c).ok());
  ASSERT_TRUE(Transition(c, S::STATE_REPORTED_TO_POLICE, &c).ok());
  ASSERT_TRUE(Transition(c, S::STATE_RESOLVED, &c).ok());
  // Closing with PENDING items needs an override.
  s = Transition(c, S::STATE_CLOSED, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Transition(c, S::STATE_CLOSED, &c, "客户不再跟进").ok());
  EXPECT_TRUE(c.has_close_time());
  ASSERT_TRUE(Transition(c, S::STATE_IN_PROGRESS, &c).ok());
  EXPECT_FALSE(c.has_close_time());
  ASSERT_TRUE(Transition(c, S::STATE_IN_LITIGATION, &c).ok());
  ASSERT_TRUE(Transition(c, S::STATE_RESOLVED, &c).ok());
  ASSERT_TRUE(Transition(c, S::STATE_IN_PROGRESS, &c).ok());
  // Forbidden: skipping, going back, staying.
  for (auto to : {S::STATE_NEW, S::STATE_TRIAGED, S::STATE_CLOSED, S::STATE_IN_PROGRESS}) {
    s = Transition(c, to, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << S::State_Name(to);
  }
  v1::Case fresh = MustCreate();
  EXPECT_EQ(Transition(fresh, S::STATE_RESOLVED, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Transition(fresh, S::STATE_UNSPECIFIED, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CaseServiceTest, UpdateWithMaskEtagAndDerivedFields) {
  v1::Case c = MustCreate();
  v1::Case edit = c;
  edit.clear_leaked_data();
  edit.add_leaked_data(v1::LEAKED_DATA_EMAIL);
  edit.set_damage_known_on("2024-02-29");
  edit.set_liable_party_identified_on("2024-01-10");
  edit.set_summary("不应改变");
  v1::Case updated;
  ASSERT_TRUE(Update(edit, {"leaked_data", "damage_known_on", "liable_party_identified_on"},
                     &updated).ok());
  EXPECT_EQ(updated.severity(), v1::SEVERITY_LOW);
  EXPECT_EQ(updated.limitation_ends_on(), "2027-02-28") << "no 29 February: the month's last day";
  EXPECT_EQ(updated.summary(), c.summary()) << "fields outside the mask are kept";
  EXPECT_NE(updated.etag(), c.etag());
  // The old etag is stale now.
  v1::Case out;
  EXPECT_EQ(Update(edit, {"summary"}, &out).error_code(), grpc::StatusCode::ABORTED);
  // Output-only and immutable fields are refused by name.
  edit.set_etag(updated.etag());
  grpc::Status s = Update(edit, {"severity"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("severity"), std::string::npos);
  s = Update(edit, {"incidentType"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("incident_type"), std::string::npos);
  // Bad values are refused and change nothing.
  edit.mutable_client()->set_phone("garbage");
  s = Update(edit, {"client.phone"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::Case now;
  ASSERT_TRUE(Get(c.name(), &now).ok());
  EXPECT_EQ(now.etag(), updated.etag());
}

TEST_F(CaseServiceTest, ChecklistItemsUpdate) {
  v1::Case c = MustCreate();
  v1::UpdateChecklistItemRequest r;
  r.mutable_item()->set_name(c.name() + "/checklist/change-passwords");
  r.mutable_item()->set_state(v1::ChecklistItem::STATE_DONE);
  r.mutable_item()->set_note("已全部修改");
  v1::ChecklistItem item;
  auto ctx = Signed("UpdateChecklistItem", {});
  ASSERT_TRUE(stub_->UpdateChecklistItem(ctx.get(), r, &item).ok());
  EXPECT_EQ(item.state(), v1::ChecklistItem::STATE_DONE);
  EXPECT_TRUE(item.has_complete_time());
  r.mutable_item()->set_name(c.name() + "/checklist/nope");
  auto ctx2 = Signed("UpdateChecklistItem", {});
  EXPECT_EQ(stub_->UpdateChecklistItem(ctx2.get(), r, &item).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CaseServiceTest, ListCasesFiltersOrdersAndPagesStably) {
  for (int i = 0; i < 7; ++i) {
    v1::CreateCaseRequest r = NewRequest();
    if (i % 2 == 0) {
      r.mutable_case_()->clear_leaked_data();
      r.mutable_case_()->add_leaked_data(v1::LEAKED_DATA_PHONE);
      r.mutable_case_()->set_assignee("lawyer-li");
    }
    v1::Case c;
    ASSERT_TRUE(Create(r, &c).ok());
    clock_.Advance(absl::Seconds(1));
  }
  auto list = [&](const std::string& filter, const std::string& token, int size,
                  v1::ListCasesResponse* out) {
    v1::ListCasesRequest r;
    r.set_filter(filter);
    r.set_page_token(token);
    r.set_page_size(size);
    auto ctx = Signed("ListCases", {});
    return stub_->ListCases(ctx.get(), r, out);
  };
  v1::ListCasesResponse page1, page2, page3;
  ASSERT_TRUE(list("assignee = \"lawyer-li\" AND leaked_data:PHONE", "", 2, &page1).ok());
  EXPECT_EQ(page1.cases_size(), 2);
  // A case created between pages does not shift what the next page holds.
  v1::Case extra;
  ASSERT_TRUE(Create(NewRequest(), &extra).ok());
  ASSERT_TRUE(list("assignee = \"lawyer-li\" AND leaked_data:PHONE", page1.next_page_token(), 2,
                   &page2).ok());
  EXPECT_EQ(page2.cases_size(), 2);
  EXPECT_TRUE(page2.next_page_token().empty());
  EXPECT_GT(page1.cases(1).create_time().seconds(), page2.cases(0).create_time().seconds());
  ASSERT_TRUE(list("severity >= HIGH OR NOT state = NEW", "", 100, &page3).ok());
  EXPECT_EQ(page3.cases_size(), 4);
  // Malformed filters point at the position; tokens belong to their query.
  v1::ListCasesResponse bad;
  grpc::Status s = list("state = ", "", 10, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("position"), std::string::npos) << s.error_message();
  s = list("colour = red", "", 10, &bad);
  EXPECT_NE(s.error_message().find("colour"), std::string::npos);
  s = list("state = NEW", page1.next_page_token(), 10, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = list("state = \"NEW'; DROP TABLE cases; --\"", "", 10, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Rows("cases"), 8);
}

TEST_F(CaseServiceTest, EvidenceUploadChecksShaAndSupersedes) {
  v1::Case c = MustCreate();
  const std::string bytes(300000, 'p');
  const std::string sha = crypto::HexEncode(crypto::Sha256(bytes));
  auto upload = [&](const std::string& claimed_sha, const std::string& supersedes,
                    v1::Evidence* out) {
    auto ctx = Signed("AddEvidence", {});
    auto writer = stub_->AddEvidence(ctx.get(), out);
    v1::AddEvidenceRequest first;
    first.set_parent(c.name());
    first.mutable_evidence()->set_kind(v1::Evidence::KIND_SCREENSHOT);
    first.mutable_evidence()->set_counterpart("139-0000-1111");
    first.mutable_evidence()->set_supersedes(supersedes);
    first.set_attachment_sha256(claimed_sha);
    writer->Write(first);
    for (size_t off = 0; off < bytes.size(); off += 65536) {
      v1::AddEvidenceRequest chunk;
      chunk.set_chunk(bytes.substr(off, 65536));
      writer->Write(chunk);
    }
    writer->WritesDone();
    return writer->Finish();
  };
  v1::Evidence e;
  grpc::Status s = upload(std::string(64, '0'), "", &e);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("attachment_sha256"), std::string::npos);
  EXPECT_EQ(Rows("evidence"), 0);
  ASSERT_TRUE(upload(sha, "", &e).ok());
  EXPECT_EQ(e.attachment().sha256(), sha);
  EXPECT_EQ(e.attachment().size_bytes(), 300000);
  EXPECT_EQ(e.counterpart(), "+8613900001111");
  v1::Evidence correction;
  ASSERT_TRUE(upload("", e.name(), &correction).ok());
  v1::ListEvidenceRequest lr;
  lr.set_parent(c.name());
  v1::ListEvidenceResponse all;
  auto ctx = Signed("ListEvidence", {});
  ASSERT_TRUE(stub_->ListEvidence(ctx.get(), lr, &all).ok());
  ASSERT_EQ(all.evidence_size(), 2) << "both entries are kept";
  EXPECT_EQ(all.evidence(0).superseded_by(), correction.name());
  // Lookup by counterpart, written another way, through the blind index.
  v1::ListEvidenceRequest by_counterpart;
  by_counterpart.set_parent(c.name());
  by_counterpart.set_filter("counterpart = \"+86 139 0000 1111\"");
  v1::ListEvidenceResponse found;
  auto fctx = Signed("ListEvidence", {});
  ASSERT_TRUE(stub_->ListEvidence(fctx.get(), by_counterpart, &found).ok());
  EXPECT_EQ(found.evidence_size(), 2) << "the entry and its correction name that counterpart";
  by_counterpart.set_filter("counterpart = \"13900002222\"");
  auto octx = Signed("ListEvidence", {});
  ASSERT_TRUE(stub_->ListEvidence(octx.get(), by_counterpart, &found).ok());
  EXPECT_EQ(found.evidence_size(), 0);
  by_counterpart.set_filter("counterpart ~ 1");
  auto bctx = Signed("ListEvidence", {});
  EXPECT_EQ(stub_->ListEvidence(bctx.get(), by_counterpart, &found).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  Caller dashboard;
  dashboard.scopes = {kScopeCasesRead};
  auto dctx = Signed("ListEvidence", dashboard);
  ASSERT_TRUE(stub_->ListEvidence(dctx.get(), lr, &all).ok());
  EXPECT_EQ(all.evidence(0).counterpart(), "139****1111");
}

TEST_F(CaseServiceTest, TimelineRecordsEveryChangeWithoutPersonalData) {
  v1::Case c = MustCreate();
  v1::AddNoteRequest note;
  note.set_parent(c.name());
  note.mutable_note()->set_text("客户来电，手机号13812345678已停用");
  v1::Note n;
  auto ctx = Signed("AddNote", {});
  ASSERT_TRUE(stub_->AddNote(ctx.get(), note, &n).ok());
  ASSERT_TRUE(Transition(c, v1::Case::STATE_TRIAGED, &c).ok());
  v1::ListCaseEventsRequest r;
  r.set_parent(c.name());
  v1::ListCaseEventsResponse events;
  auto ectx = Signed("ListCaseEvents", {});
  ASSERT_TRUE(stub_->ListCaseEvents(ectx.get(), r, &events).ok());
  ASSERT_EQ(events.events_size(), 3);
  EXPECT_EQ(events.events(0).type(), v1::CaseEvent::TYPE_CASE_CREATED);
  EXPECT_EQ(events.events(1).type(), v1::CaseEvent::TYPE_NOTE_ADDED);
  EXPECT_EQ(events.events(2).from_state(), v1::Case::STATE_NEW);
  EXPECT_EQ(events.events(2).actor(), "key-firm-a");
  EXPECT_EQ(events.DebugString().find("13812345678"), std::string::npos);
}

TEST_F(CaseServiceTest, DatabaseHoldsNoPlaintextPersonalData) {
  v1::Case c = MustCreate();
  v1::AddNoteRequest note;
  note.set_parent(c.name());
  note.mutable_note()->set_text("王小明 13812345678");
  v1::Note n;
  auto ctx = Signed("AddNote", {});
  ASSERT_TRUE(stub_->AddNote(ctx.get(), note, &n).ok());
  runner_.reset();
  service_.reset();
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

// --- change feed ---

std::vector<v1::Change> ListAllChanges(CaseServiceTest*, v1::CaseService::Stub* stub,
                                       std::function<std::unique_ptr<grpc::ClientContext>()> ctx,
                                       std::string cursor, std::string* next) {
  std::vector<v1::Change> out;
  while (true) {
    v1::ListChangesRequest r;
    r.set_cursor(cursor);
    r.set_page_size(500);
    v1::ListChangesResponse resp;
    auto c = ctx();
    const grpc::Status s = stub->ListChanges(c.get(), r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || resp.changes_size() == 0) break;
    for (const auto& ch : resp.changes()) out.push_back(ch);
    cursor = resp.next_cursor();
  }
  *next = cursor;
  return out;
}

TEST_F(CaseServiceTest, WatcherResumedAcrossConcurrentWritesSeesEachChangeOnceInOrder) {
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 125;  // 1,000 creates
  std::string cursor;
  std::vector<std::string> seen;
  absl::Mutex mu;
  // A watcher that reads `limit` changes and then goes away.
  auto watch = [&](int limit) {
    grpc::ClientContext ctx_holder;
    auto ctx = Signed("WatchChanges", {});
    v1::WatchChangesRequest r;
    r.set_cursor(cursor);
    auto reader = stub_->WatchChanges(ctx.get(), r);
    v1::WatchChangesResponse resp;
    int got = 0;
    while (got < limit && reader->Read(&resp)) {
      if (!resp.has_change()) continue;
      absl::MutexLock lock(&mu);
      seen.push_back(resp.change().event().case_());
      cursor = resp.change().cursor();
      ++got;
    }
    ctx->TryCancel();
    (void)reader->Finish();
  };
  // The first watcher starts at "now", before any write.
  {
    auto ctx = Signed("WatchChanges", {});
    auto reader = stub_->WatchChanges(ctx.get(), {});
    ctx->TryCancel();
    (void)reader->Finish();
  }
  std::vector<std::string> created;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto stub = v1::CaseService::NewStub(grpc::CreateChannel(
          "127.0.0.1:" + std::to_string(runner_->port()), grpc::InsecureChannelCredentials()));
      for (int i = 0; i < kPerWriter; ++i) {
        v1::Case c;
        auto ctx = Signed("CreateCase", {});
        v1::CreateCaseRequest r = NewRequest(absl::StrCat("w", w, "-", i));
        const grpc::Status s = stub->CreateCase(ctx.get(), r, &c);
        ASSERT_TRUE(s.ok()) << s.error_message();
        absl::MutexLock lock(&mu);
        created.push_back(c.name());
      }
    });
  }
  // Watch in pieces, killing the stream each time, while writes go on.
  for (int round = 0; round < 4; ++round) watch(150);
  for (auto& t : writers) t.join();
  watch(kWriters * kPerWriter - static_cast<int>(seen.size()));
  ASSERT_EQ(seen.size(), created.size());
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), created.size()) << "each change exactly once";
  // Commit order: the feed order matches ListChanges from the start.
  std::string next;
  auto all = ListAllChanges(this, stub_.get(), [&] { return Signed("ListChanges", {}); }, "", &next);
  ASSERT_EQ(all.size(), seen.size());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].event().case_(), seen[i]) << i;
}

TEST_F(CaseServiceTest, ForeignTenantCannotWatchOrResumeWithAnotherTenantsCursor) {
  MustCreate();
  std::string next;
  auto mine = ListAllChanges(this, stub_.get(), [&] { return Signed("ListChanges", {}); }, "", &next);
  ASSERT_EQ(mine.size(), 1u);
  Caller other;
  other.tenant = "firm-b";
  auto theirs =
      ListAllChanges(this, stub_.get(), [&] { return Signed("ListChanges", other); }, "", &next);
  EXPECT_TRUE(theirs.empty());
  v1::ListChangesRequest r;
  r.set_cursor(mine[0].cursor());
  v1::ListChangesResponse resp;
  auto ctx = Signed("ListChanges", other);
  EXPECT_EQ(stub_->ListChanges(ctx.get(), r, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CaseServiceTest, CursorPastRetentionIsExpired) {
  MustCreate();
  std::string next;
  auto changes =
      ListAllChanges(this, stub_.get(), [&] { return Signed("ListChanges", {}); }, "", &next);
  ASSERT_EQ(changes.size(), 1u);
  clock_.Advance(absl::Hours(24 * 31));
  v1::ListChangesRequest r;
  r.set_cursor(changes[0].cursor());
  v1::ListChangesResponse resp;
  auto ctx = Signed("ListChanges", {});
  const grpc::Status s = stub_->ListChanges(ctx.get(), r, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CURSOR_EXPIRED");
}

TEST_F(CaseServiceTest, IdleWatcherReceivesBookmarks) {
  CaseServiceOptions options;
  options.bookmark_interval = absl::Milliseconds(50);
  StartServer(options);
  auto ctx = Signed("WatchChanges", {});
  auto reader = stub_->WatchChanges(ctx.get(), {});
  v1::WatchChangesResponse resp;
  // One at once (where the watcher starts), then one each interval.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(reader->Read(&resp));
    EXPECT_TRUE(resp.has_bookmark());
    EXPECT_FALSE(resp.bookmark().cursor().empty());
  }
  ctx->TryCancel();
  (void)reader->Finish();
}

TEST_F(CaseServiceTest, StatsCountByStateLeakedDataAndOverdue) {
  MustCreate();
  MustCreate();
  clock_.Advance(absl::Hours(48));  // change-passwords (24 h) is now overdue in both
  v1::CaseStats stats;
  auto ctx = Signed("GetCaseStats", {});
  ASSERT_TRUE(stub_->GetCaseStats(ctx.get(), {}, &stats).ok());
  EXPECT_EQ(stats.total_cases(), 2);
  EXPECT_EQ(stats.by_state(0).key(), "STATE_NEW");
  EXPECT_EQ(stats.overdue_checklist_items(), 2);
  EXPECT_EQ(stats.median_open_age_seconds(), 48 * 3600);
  v1::ListCasesRequest r;
  r.set_filter("overdue = true");
  v1::ListCasesResponse overdue;
  auto lctx = Signed("ListCases", {});
  ASSERT_TRUE(stub_->ListCases(lctx.get(), r, &overdue).ok());
  EXPECT_EQ(overdue.cases_size(), 2);
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

// --- sealing, erasure, audit ---

TEST_F(CaseServiceTest, PhoneAndIdLookupsGoThroughTheBlindIndex) {
  v1::Case c = MustCreate();
  for (const char* filter : {"client.phone = \"138 1234 5678\"",
                             "client.national_id = \"11010519491231002x\""}) {
    v1::ListCasesRequest r;
    r.set_filter(filter);
    v1::ListCasesResponse resp;
    auto ctx = Signed("ListCases", {});
    ASSERT_TRUE(stub_->ListCases(ctx.get(), r, &resp).ok()) << filter;
    ASSERT_EQ(resp.cases_size(), 1) << filter;
    EXPECT_EQ(resp.cases(0).name(), c.name());
  }
  // Another tenant's index of the same number is different.
  Caller other;
  other.tenant = "firm-b";
  v1::ListCasesRequest r;
  r.set_filter("client.phone = \"13812345678\"");
  v1::ListCasesResponse resp;
  auto ctx = Signed("ListCases", other);
  ASSERT_TRUE(stub_->ListCases(ctx.get(), r, &resp).ok());
  EXPECT_EQ(resp.cases_size(), 0);
}

TEST_F(CaseServiceTest, ErasureDestroysTheClientsDataButKeepsTheCaseAndItsHistory) {
  v1::Case c = MustCreate();
  v1::AddNoteRequest note;
  note.set_parent(c.name());
  note.mutable_note()->set_text("客户王小明来电");
  v1::Note n;
  auto nctx = Signed("AddNote", {});
  ASSERT_TRUE(stub_->AddNote(nctx.get(), note, &n).ok());
  v1::EraseClientDataRequest erase;
  erase.set_name(c.name());
  erase.set_reason("客户依个人信息保护法第四十七条要求删除");
  v1::Case erased;
  Caller writer;  // no cases.admin
  auto denied = Signed("EraseClientData", writer);
  EXPECT_EQ(stub_->EraseClientData(denied.get(), erase, &erased).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  Caller admin;
  admin.scopes = {kScopeCasesAdmin, kScopeCasesPii};
  auto ctx = Signed("EraseClientData", admin);
  ASSERT_TRUE(stub_->EraseClientData(ctx.get(), erase, &erased).ok());
  EXPECT_TRUE(erased.client().has_erase_time());
  EXPECT_TRUE(erased.client().display_name().empty());
  EXPECT_TRUE(erased.client().phone().empty());
  EXPECT_EQ(erased.client().id(), "crm-client-7");
  EXPECT_EQ(erased.incident_type(), c.incident_type()) << "the case skeleton stays";
  EXPECT_EQ(erased.leaked_data_size(), c.leaked_data_size());
  EXPECT_TRUE(erased.summary().empty()) << "free text is the client's data too";
  // Idempotent: a second erasure changes nothing and records nothing.
  const int64_t audit_rows = Rows("audit_log");
  auto again = Signed("EraseClientData", admin);
  ASSERT_TRUE(stub_->EraseClientData(again.get(), erase, &erased).ok());
  EXPECT_EQ(Rows("audit_log"), audit_rows);
  // The timeline shows it; the key is gone; no ciphertext remains.
  v1::ListCaseEventsRequest er;
  er.set_parent(c.name());
  v1::ListCaseEventsResponse events;
  auto ectx = Signed("ListCaseEvents", {});
  ASSERT_TRUE(stub_->ListCaseEvents(ectx.get(), er, &events).ok());
  EXPECT_EQ(events.events(events.events_size() - 1).type(), v1::CaseEvent::TYPE_CLIENT_DATA_ERASED);
  // The erased case can still be worked on, but its client data not set again.
  v1::Case edit = erased;
  edit.mutable_police_report()->set_receipt_number("R-1");
  v1::Case updated;
  ASSERT_TRUE(Update(edit, {"police_report"}, &updated).ok());
  edit.set_etag(updated.etag());
  edit.mutable_client()->set_display_name("王小明");
  EXPECT_EQ(Update(edit, {"client.display_name"}, &updated).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // The same client can come back with a new case (and a new key).
  v1::Case comeback;
  ASSERT_TRUE(Create(NewRequest(), &comeback).ok());
  EXPECT_EQ(comeback.client().display_name(), "王小明");
  v1::Case old_one;
  ASSERT_TRUE(Get(c.name(), &old_one).ok());
  EXPECT_TRUE(old_one.client().display_name().empty()) << "the erased case stays erased";
  auto db = sqlite::Database::Open(dir_ + "/cases.db", {});
  auto q = (*db)->Prepare(
      "SELECT count(*) FROM client_keys WHERE wrapped IS NOT NULL AND key_ref IN (SELECT key_ref "
      "FROM cases WHERE case_id = '" + c.name().substr(6) + "') UNION ALL "
      "SELECT count(*) FROM cases WHERE (phone_sealed IS NOT NULL OR name_sealed IS NOT NULL) "
      "AND case_id = '" + c.name().substr(6) + "' "
      "UNION ALL SELECT count(*) FROM notes WHERE length(text_sealed) > 0");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(*q->Step());
    EXPECT_EQ(q->ColumnInt64(0), 0) << i;
  }
}

// Verifies the chain through the API.
v1::VerifyAuditLogResponse Verify(CaseServiceTest* t, v1::CaseService::Stub* stub,
                                  std::unique_ptr<grpc::ClientContext> ctx,
                                  const std::string& head = "") {
  v1::VerifyAuditLogRequest r;
  r.set_expected_head(head);
  v1::VerifyAuditLogResponse resp;
  EXPECT_TRUE(stub->VerifyAuditLog(ctx.get(), r, &resp).ok());
  (void)t;
  return resp;
}

TEST_F(CaseServiceTest, AuditChainCatchesEditsDeletionsReorderingAndTruncation) {
  for (int i = 0; i < 4; ++i) MustCreate();
  Caller admin;
  admin.scopes = {kScopeCasesAdmin};
  auto ok = Verify(this, stub_.get(), Signed("VerifyAuditLog", admin));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.entries_checked(), 4);
  const std::string head = ok.head();
  runner_.reset();
  service_.reset();
  store_.reset();
  const std::string path = dir_ + "/cases.db";
  const std::string key(32, 'a');
  // The triggers refuse edits through SQL.
  {
    auto db = sqlite::Database::Open(path, {});
    EXPECT_FALSE((*db)->Exec("UPDATE audit_log SET actor = 'x' WHERE seq = 2").ok());
    EXPECT_FALSE((*db)->Exec("DELETE FROM audit_log WHERE seq = 4").ok());
  }
  auto tamper = [&](const std::string& sql) {
    const std::string copy = dir_ + "/tampered.db";
    std::filesystem::remove(copy);
    EXPECT_TRUE(BackupDatabase(path, copy).ok());
    auto db = sqlite::Database::Open(copy, {});
    EXPECT_TRUE((*db)->Exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; " + sql).ok());
    return copy;
  };
  auto check = [&](const std::string& file, const std::string& expected_head) {
    auto chains = VerifyAuditFile(file, key, "firm-a", expected_head);
    EXPECT_TRUE(chains.ok() && chains->size() == 1);
    return (*chains)[0].result;
  };
  EXPECT_TRUE(check(path, head).ok());
  auto edited = check(tamper("UPDATE audit_log SET actor = 'someone' WHERE seq = 2"), "");
  EXPECT_FALSE(edited.ok());
  EXPECT_EQ(edited.first_bad_sequence(), 2);
  auto deleted = check(tamper("DELETE FROM audit_log WHERE seq = 3"), "");
  EXPECT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.first_bad_sequence(), 3);
  auto reordered = check(tamper(
      "UPDATE audit_log SET seq = 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; "
      "UPDATE audit_log SET seq = 3 WHERE seq = 100"), "");
  EXPECT_FALSE(reordered.ok());
  EXPECT_EQ(reordered.first_bad_sequence(), 2);
  const std::string truncated = tamper("DELETE FROM audit_log WHERE seq = 4");
  EXPECT_TRUE(check(truncated, "").ok()) << "a truncated tail is a valid shorter chain...";
  auto against_head = check(truncated, head);
  EXPECT_FALSE(against_head.ok()) << "...until it is checked against the exported head";
  EXPECT_EQ(against_head.first_bad_sequence(), 4);
}

TEST_F(CaseServiceTest, MasterKeyRotationRewrapsEveryDataKeyWhileServing) {
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) names.push_back(MustCreate().name());
  runner_.reset();
  service_.reset();
  store_.reset();
  // The server restarts with the new key and the previous one...
  PiiVault both({std::string(32, 'n'), std::string(32, 'm')});
  SqliteCaseStoreOptions options;
  options.audit_key = std::string(32, 'a');
  auto serving = OpenSqliteCaseStore(dir_ + "/cases.db", &both, &clock_, options);
  ASSERT_TRUE(serving.ok());
  const Actor actor{"firm-a", "k", ""};
  // ...and keeps answering while the keys are re-wrapped beside it.
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done) {
      for (const auto& n : names) {
        auto c = (*serving)->GetCase(actor, n.substr(6));
        ASSERT_TRUE(c.ok()) << c.status();
        ASSERT_EQ(c->client().display_name(), "王小明");
        ++reads;
      }
    }
  });
  auto n = RewrapDataKeys(dir_ + "/cases.db", both);
  done = true;
  reader.join();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1) << "one client, one data key";
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(*RewrapDataKeys(dir_ + "/cases.db", both), 0) << "idempotent";
  serving->reset();
  // Only the new key is needed now.
  PiiVault only_new({std::string(32, 'n')});
  auto store = OpenSqliteCaseStore(dir_ + "/cases.db", &only_new, &clock_, options);
  ASSERT_TRUE(store.ok());
  auto got = (*store)->GetCase(actor, names[0].substr(6));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->client().display_name(), "王小明");
  PiiVault only_old({std::string(32, 'm')});
  auto old_store = OpenSqliteCaseStore(dir_ + "/cases.db", &only_old, &clock_, options);
  ASSERT_TRUE(old_store.ok());
  EXPECT_EQ((*old_store)->GetCase(actor, names[0].substr(6)).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "the old key alone no longer opens anything";
}

TEST_F(CaseServiceTest, BackupUnderWritesIsConsistentAndVerifies) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) MustCreate();
  });
  while (Rows("cases") < 20) {
    std::this_thread::yield();
  }
  const std::string copy = dir_ + "/backup.db";
  ASSERT_TRUE(BackupDatabase(dir_ + "/cases.db", copy).ok());
  stop = true;
  writer.join();
  auto verify = VerifyAuditFile(copy, std::string(32, 'a'), "", "");
  ASSERT_TRUE(verify.ok());
  ASSERT_EQ(verify->size(), 1u);
  EXPECT_TRUE((*verify)[0].result.ok());
  auto db = sqlite::Database::Open(copy, {});
  auto q = (*db)->Prepare("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM audit_log)");
  ASSERT_TRUE(*q->Step());
  EXPECT_GE(q->ColumnInt64(0), 20);
  EXPECT_EQ(q->ColumnInt64(0), q->ColumnInt64(1)) << "one audited create per case, no partial rows";
  auto ic = (*db)->Prepare("PRAGMA integrity_check");
  ASSERT_TRUE(*ic->Step());
  EXPECT_EQ(ic->ColumnText(0), "ok");
}

TEST_F(CaseServiceTest, TransitionRetriedWithItsRequestIdReturnsTheCase) {
  v1::Case c = MustCreate();
  auto transition = [&](const std::string& request_id, const std::string& reason,
                        v1::Case* out) {
    v1::TransitionCaseRequest r;
    r.set_name(c.name());
    r.set_state(v1::Case::STATE_TRIAGED);
    r.set_reason(reason);
    r.set_etag(c.etag());
    r.set_request_id(request_id);
    auto ctx = Signed("TransitionCase", {});
    return stub_->TransitionCase(ctx.get(), r, out);
  };
  v1::Case first, again, other;
  ASSERT_TRUE(transition("move-1", "材料已收到", &first).ok());
  const int64_t events = Rows("events");
  // The retry carries the etag of before the first attempt: still the case.
  grpc::Status st = transition("move-1", "材料已收到", &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.etag(), first.etag());
  EXPECT_EQ(again.state(), v1::Case::STATE_TRIAGED);
  EXPECT_EQ(Rows("events"), events);
  // The same id with another request is refused, naming it.
  st = transition("move-1", "另一个理由", &other);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("request_id"), std::string::npos);
  // Without an id the repeat is what it always was.
  EXPECT_EQ(transition("", "材料已收到", &other).error_code(), grpc::StatusCode::ABORTED);
}

TEST_F(CaseServiceTest, AttachmentsReadInRangesAndDownloadsShareAMemoryCap) {
  CaseServiceOptions options;
  StartServer(options);
  v1::Case c = MustCreate();
  std::string bytes;
  for (int i = 0; i < 300000; ++i) bytes.push_back(static_cast<char>(i * 7));
  v1::Evidence e;
  {
    auto ctx = Signed("AddEvidence", {});
    auto writer = stub_->AddEvidence(ctx.get(), &e);
    v1::AddEvidenceRequest first;
    first.set_parent(c.name());
    first.set_chunk(bytes);
    writer->Write(first);
    // The description after the bytes, as a form with the file first sends it.
    v1::AddEvidenceRequest late;
    late.mutable_evidence()->set_kind(v1::Evidence::KIND_DOCUMENT);
    writer->Write(late);
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
  }
  auto read = [&](int64_t offset, int64_t limit, grpc::ClientContext* ctx) {
    v1::ReadEvidenceAttachmentRequest r;
    r.set_name(e.name());
    r.set_read_offset(offset);
    r.set_read_limit(limit);
    return stub_->ReadEvidenceAttachment(ctx, r);
  };
  auto attempt = [&](int64_t offset, int64_t limit) {
    auto ctx = Signed("ReadEvidenceAttachment", {});
    std::string out;
    auto reader = read(offset, limit, ctx.get());
    v1::ReadEvidenceAttachmentResponse m;
    while (reader->Read(&m)) out += m.chunk();
    return std::make_pair(reader->Finish(), out);
  };
  auto all = [&](int64_t offset, int64_t limit) {
    auto [status, out] = attempt(offset, limit);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  };
  EXPECT_EQ(all(0, 0), bytes);
  EXPECT_EQ(all(70000, 10), bytes.substr(70000, 10));
  EXPECT_EQ(all(-5, 0), bytes.substr(bytes.size() - 5));
  {
    auto ctx = Signed("ReadEvidenceAttachment", {});
    auto reader = read(300000, 0, ctx.get());
    v1::ReadEvidenceAttachmentResponse m;
    EXPECT_FALSE(reader->Read(&m));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  }
  // Past the cap on what downloads hold together, a download is refused
  // (retry shortly); the cap here is below one attachment.
  options.max_download_bytes = 200000;
  StartServer(options);
  auto refused = attempt(0, 0);
  EXPECT_EQ(refused.first.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(refused.second.empty());
}

}  // namespace
}  // namespace counsel::cases
