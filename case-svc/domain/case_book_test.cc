#include "case-svc/domain/case_book.h"

#include "common/clock.h"
#include "common/call_context.h"
#include "common/crypto.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

using ::counsel::testing::StatusIs;
using ::testing::HasSubstr;

class FakeAdvice final : public AdviceSource {
 public:
  absl::StatusOr<SharedAdvice> LatestFor(
      const std::string& /*tenant*/, const std::string& incident_type) override {
    ++calls;
    if (!status.ok()) return status;
    if (incident_type != "personal-information-leak") return SharedAdvice();
    guidance::v1::Advice a;
    a.set_name("advice/personal-information-leak");
    a.set_revision_id("r4");
    auto* step = a.add_sections()->add_steps();
    step->set_key("report-to-police");
    step->set_title("报案");
    step->set_checklist(true);
    step->mutable_due_within()->set_seconds(3 * 86400);
    step->add_cited_provisions()->set_provision("statutes/x/provisions/art_1");
    auto* info = a.mutable_sections(0)->add_steps();
    info->set_key("ignore-noise");
    info->set_checklist(false);
    return SharedAdvice(std::make_shared<guidance::v1::Advice>(std::move(a)));
  }
  absl::Status status;
  int calls = 0;
};

class CaseBookTest : public ::testing::Test {
 protected:
  CaseBookTest() : book_(&clock_, &advice_, [this] { return absl::StrCat("id", ++ids_); }) {}

  CallContext Caller(std::vector<std::string> scopes, std::string client = "") {
    CallContext cc;
    cc.set_tenant("firm-a");
    cc.set_key_id("k1");
    for (auto& s : scopes) cc.add_scopes(s);
    cc.set_client_id(client);
    return cc;
  }

  v1::CreateCaseRequest NewCaseRequest() {
    v1::CreateCaseRequest r;
    r.mutable_case_()->mutable_client()->set_display_name("张三");
    r.mutable_case_()->mutable_client()->set_phone("+8613800138000");
    r.mutable_case_()->add_leaked_data(v1::LEAKED_DATA_PHONE);
    return r;
  }

  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2026, 6, 1, 8, 0, 0), absl::UTCTimeZone())};
  FakeAdvice advice_;
  int ids_ = 0;
  CaseBook book_;
};

TEST_F(CaseBookTest, CreateSetsOutputOnlyFieldsAndCopiesTheChecklist) {
  v1::CreateCaseRequest r = NewCaseRequest();
  r.mutable_case_()->set_state(v1::Case::STATE_CLOSED);  // output-only: ignored
  r.mutable_case_()->set_etag("forged");
  r.set_request_id("req-1");
  auto nc = book_.PrepareCreate(Caller({kScopeCasesWrite}), r);
  ASSERT_TRUE(nc.ok()) << nc.status();
  EXPECT_EQ(nc->c.name(), "cases/id1");
  EXPECT_EQ(nc->c.state(), v1::Case::STATE_NEW);
  EXPECT_TRUE(nc->c.etag().empty());
  EXPECT_EQ(nc->c.advice(), "advice/personal-information-leak@r4");
  ASSERT_EQ(nc->c.checklist_size(), 1) << "only checklist steps";
  const auto& item = nc->c.checklist(0);
  EXPECT_EQ(item.name(), "cases/id1/checklist/report-to-police");
  EXPECT_EQ(item.state(), v1::ChecklistItem::STATE_PENDING);
  // Due three days after discovery, which defaults to now.
  EXPECT_EQ(item.due_time().seconds(), absl::ToUnixSeconds(clock_.Now()) + 3 * 86400);
  EXPECT_EQ(item.citations(0), "statutes/x/provisions/art_1");
  EXPECT_NE(static_cast<int>(nc->c.severity()), 0) << "derived from the leaked data";
  EXPECT_EQ(nc->request_id, "req-1");
  // The same request digests the same; another does not.
  auto again = book_.PrepareCreate(Caller({kScopeCasesWrite}), r);
  EXPECT_EQ(again->request_digest, nc->request_digest);
  r.mutable_case_()->set_summary("不同");
  EXPECT_NE(book_.PrepareCreate(Caller({kScopeCasesWrite}), r)->request_digest,
            nc->request_digest);
}

TEST_F(CaseBookTest, CreateRefusesBadInputNamingTheFieldAndAsksNothing) {
  v1::CreateCaseRequest none;
  EXPECT_THAT(book_.PrepareCreate(Caller({kScopeCasesWrite}), none),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("case")));
  EXPECT_EQ(advice_.calls, 0);
  v1::CreateCaseRequest r = NewCaseRequest();
  r.set_request_id(std::string(65, 'x'));
  EXPECT_THAT(book_.PrepareCreate(Caller({kScopeCasesWrite}), r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_id")));
  EXPECT_EQ(advice_.calls, 0);
}

TEST_F(CaseBookTest, AClientBoundCallerActsForItsClientOnly) {
  v1::CreateCaseRequest r = NewCaseRequest();
  auto nc = book_.PrepareCreate(Caller({kScopeCasesWrite}, "c-7"), r);
  ASSERT_TRUE(nc.ok());
  EXPECT_EQ(nc->c.client().id(), "c-7");
  r.mutable_case_()->mutable_client()->set_id("c-8");
  EXPECT_THAT(book_.PrepareCreate(Caller({kScopeCasesWrite}, "c-7"), r),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r.mutable_case_()->mutable_client()->clear_id();
  r.mutable_case_()->set_external_ref("CRM-1");
  EXPECT_THAT(book_.PrepareCreate(Caller({kScopeCasesWrite}, "c-7"), r),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("external_ref")));
}

TEST_F(CaseBookTest, GuidanceDownIsUnavailableBeforeAnythingIsStored) {
  advice_.status = absl::UnavailableError("guidance-svc is down");
  EXPECT_THAT(book_.PrepareCreate(Caller({kScopeCasesWrite}), NewCaseRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(CaseBookTest, UpdateTakesCamelOrSnakeCaseAndRefusesReadOnlyFields) {
  auto created = book_.PrepareCreate(Caller({kScopeCasesWrite}), NewCaseRequest());
  ASSERT_TRUE(created.ok());
  v1::UpdateCaseRequest u;
  *u.mutable_case_() = created->c;
  u.mutable_case_()->mutable_client()->set_display_name("李四");
  u.mutable_case_()->set_summary("泄露经过");
  u.mutable_update_mask()->add_paths("client.displayName");
  u.mutable_update_mask()->add_paths("summary");
  auto m = book_.PrepareUpdate(Caller({kScopeCasesWrite}), u);
  ASSERT_TRUE(m.ok()) << m.status();
  v1::Case stored = created->c;
  v1::CaseEvent event;
  ASSERT_TRUE(m->apply(stored, event).ok());
  EXPECT_EQ(stored.client().display_name(), "李四");
  EXPECT_EQ(stored.summary(), "泄露经过");
  ASSERT_EQ(event.changed_fields_size(), 2);
  EXPECT_EQ(event.changed_fields(0), "client.display_name");
  EXPECT_EQ(event.type(), v1::CaseEvent::TYPE_CASE_UPDATED);

  u.mutable_update_mask()->Clear();
  u.mutable_update_mask()->add_paths("state");
  EXPECT_THAT(book_.PrepareUpdate(Caller({kScopeCasesWrite}), u),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("update_mask.paths[0]")));
  u.mutable_update_mask()->Clear();
  u.mutable_update_mask()->add_paths("summary,state");
  EXPECT_THAT(book_.PrepareUpdate(Caller({kScopeCasesWrite}), u),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a field")));
  u.mutable_update_mask()->Clear();
  EXPECT_THAT(book_.PrepareUpdate(Caller({kScopeCasesWrite}), u),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("update_mask")));
}

TEST_F(CaseBookTest, ErasedClientDataCannotBeSetAgain) {
  auto created = book_.PrepareCreate(Caller({kScopeCasesWrite}), NewCaseRequest());
  v1::Case stored = created->c;
  stored.mutable_client()->clear_display_name();
  stored.mutable_client()->clear_phone();
  stored.mutable_client()->mutable_erase_time()->set_seconds(1);
  v1::UpdateCaseRequest u;
  *u.mutable_case_() = created->c;
  u.mutable_update_mask()->add_paths("client.phone");
  auto m = book_.PrepareUpdate(Caller({kScopeCasesWrite}), u);
  ASSERT_TRUE(m.ok());
  v1::CaseEvent event;
  EXPECT_THAT(m->apply(stored, event), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(stored.client().phone().empty());
}

TEST_F(CaseBookTest, TransitionFollowsTheLifecycleAndStampsTheCloseTime) {
  auto created = book_.PrepareCreate(Caller({kScopeCasesWrite}), NewCaseRequest());
  v1::Case c = created->c;
  v1::TransitionCaseRequest t;
  t.set_name(c.name());
  t.set_state(v1::Case::STATE_TRIAGED);
  t.set_reason("已评估");
  auto m = book_.PrepareTransition(t);
  ASSERT_TRUE(m.ok());
  v1::CaseEvent event;
  ASSERT_TRUE(m->apply(c, event).ok());
  EXPECT_EQ(c.state(), v1::Case::STATE_TRIAGED);
  EXPECT_EQ(event.from_state(), v1::Case::STATE_NEW);
  // Closing with an open checklist item needs an override, which is recorded.
  t.set_state(v1::Case::STATE_CLOSED);
  c.set_state(v1::Case::STATE_RESOLVED);
  v1::CaseEvent refused;
  EXPECT_THAT(book_.PrepareTransition(t)->apply(c, refused),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  t.set_override_reason("客户撤回委托");
  v1::CaseEvent closed;
  ASSERT_TRUE(book_.PrepareTransition(t)->apply(c, closed).ok());
  EXPECT_EQ(c.close_time().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_NE(closed.reason().find("override"), std::string::npos);
  // Bad requests name their field.
  t.set_reason(" ");
  EXPECT_THAT(book_.PrepareTransition(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  t.set_state(v1::Case::STATE_UNSPECIFIED);
  EXPECT_THAT(book_.PrepareTransition(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state")));
}

TEST_F(CaseBookTest, ChecklistTicksUseTheItemsOwnEtagAndRepeatsChangeNothing) {
  auto created = book_.PrepareCreate(Caller({kScopeCasesWrite}), NewCaseRequest());
  v1::Case c = created->c;
  const std::string etag = ItemEtag(c.checklist(0));
  v1::UpdateChecklistItemRequest r;
  r.mutable_item()->set_name(c.checklist(0).name());
  r.mutable_item()->set_state(v1::ChecklistItem::STATE_DONE);
  r.mutable_item()->set_etag(etag);
  r.mutable_update_mask()->add_paths("state");
  std::string key;
  auto m = book_.PrepareChecklistUpdate(r, &key);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(key, "report-to-police");
  v1::CaseEvent event;
  ASSERT_TRUE(m->apply(c, event).ok());
  EXPECT_EQ(c.checklist(0).state(), v1::ChecklistItem::STATE_DONE);
  EXPECT_TRUE(c.checklist(0).has_complete_time());
  EXPECT_EQ(event.type(), v1::CaseEvent::TYPE_CHECKLIST_ITEM_UPDATED);
  // The same tick again: no change, no event.
  r.mutable_item()->set_etag(ItemEtag(c.checklist(0)));
  v1::CaseEvent none;
  ASSERT_TRUE(book_.PrepareChecklistUpdate(r, &key)->apply(c, none).ok());
  EXPECT_EQ(none.type(), v1::CaseEvent::TYPE_UNSPECIFIED);
  // The old etag is stale now.
  r.mutable_item()->set_etag(etag);
  r.mutable_item()->set_state(v1::ChecklistItem::STATE_PENDING);
  EXPECT_THAT(book_.PrepareChecklistUpdate(r, &key)->apply(c, none),
              StatusIs(absl::StatusCode::kAborted));
  r.mutable_update_mask()->set_paths(0, "title");
  EXPECT_THAT(book_.PrepareChecklistUpdate(r, &key),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("update_mask.paths[0]")));
  r.mutable_item()->set_name("cases/id1/checklist/none");
  r.mutable_update_mask()->set_paths(0, "note");
  EXPECT_THAT(book_.PrepareChecklistUpdate(r, &key)->apply(c, none),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CaseBookTest, EvidenceIsDigestedHereAndAClaimedDigestMustMatch) {
  v1::AddEvidenceRequest header;
  header.set_parent("cases/id1");
  header.mutable_evidence()->set_kind(v1::Evidence::KIND_SCREENSHOT);
  header.mutable_evidence()->set_counterpart("+86 138 0013 8000");
  header.mutable_evidence()->mutable_attachment()->set_sha256("forged");
  auto ne = book_.PrepareEvidence(header, "bytes");
  ASSERT_TRUE(ne.ok()) << ne.status();
  EXPECT_EQ(ne->first, "id1");
  EXPECT_EQ(ne->second.evidence.attachment().sha256(),
            crypto::HexEncode(crypto::Sha256("bytes")))
      << "the digest is the server's, never the caller's";
  EXPECT_EQ(ne->second.evidence.attachment().size_bytes(), 5);
  header.set_attachment_sha256(std::string(64, '0'));
  EXPECT_THAT(book_.PrepareEvidence(header, "bytes"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attachment_sha256")));
  header.clear_attachment_sha256();
  header.mutable_evidence()->set_kind(v1::Evidence::KIND_UNSPECIFIED);
  EXPECT_THAT(book_.PrepareEvidence(header, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("evidence.kind")));
  // A later message adds what the first lacked, each field once.
  v1::AddEvidenceRequest first, later;
  first.set_parent("cases/id1");
  later.mutable_evidence()->set_kind(v1::Evidence::KIND_MESSAGE);
  ASSERT_TRUE(CaseBook::MergeLateUploadMessage(later, &first).ok());
  EXPECT_EQ(first.evidence().kind(), v1::Evidence::KIND_MESSAGE);
  EXPECT_THAT(CaseBook::MergeLateUploadMessage(later, &first),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("given twice")));
  later.Clear();
  later.set_parent("cases/id2");
  EXPECT_THAT(CaseBook::MergeLateUploadMessage(later, &first),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parent")));
}

TEST_F(CaseBookTest, PresentationMasksWithoutThePiiScope) {
  auto created = book_.PrepareCreate(Caller({kScopeCasesWrite}), NewCaseRequest());
  const v1::Case masked = PresentCase(Caller({kScopeCasesRead}), created->c);
  EXPECT_NE(masked.client().phone(), "+8613800138000");
  EXPECT_TRUE(masked.client().masked());
  EXPECT_FALSE(masked.checklist(0).etag().empty());
  const v1::Case open = PresentCase(Caller({kScopeCasesRead, kScopeCasesPii}), created->c);
  EXPECT_EQ(open.client().phone(), "+8613800138000");
  v1::Note note;
  note.set_text("客户手机 13800138000");
  PresentNote(Caller({kScopeCasesRead}), note);
  EXPECT_EQ(note.text().find("13800138000"), std::string::npos) << note.text();
}

TEST_F(CaseBookTest, NotesAndErasureNameTheirFields) {
  v1::AddNoteRequest n;
  n.set_parent("cases/id1");
  EXPECT_THAT(CaseBook::CheckNote(n),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("note.text")));
  n.mutable_note()->set_text("打过电话");
  EXPECT_EQ(*CaseBook::CheckNote(n), "id1");
  n.set_parent("cases/../x");
  EXPECT_THAT(CaseBook::CheckNote(n),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parent")));
  v1::EraseClientDataRequest e;
  e.set_name("cases/id1");
  EXPECT_THAT(CaseBook::CheckErasure(e),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  e.set_reason("客户依个人信息保护法第四十七条要求删除");
  EXPECT_EQ(*CaseBook::CheckErasure(e), "id1");
}

}  // namespace
}  // namespace counsel::cases
