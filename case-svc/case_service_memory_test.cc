// The adapter on the in-memory store: what CaseService does above any
// store (authorize, the book's rules, presentation, status mapping), shown
// without SQLite, and the memory store held to the same contract.
#include "case-svc/case_service_test_fixture.h"
#include "case-svc/store/memory_case_store.h"

namespace counsel::cases::service_test {
namespace {

class MemoryStoreTest : public CaseServiceTest {
 protected:
  absl::StatusOr<std::unique_ptr<CaseStore>> OpenStore() override {
    return NewMemoryCaseStore(&clock_);
  }
};

TEST_F(MemoryStoreTest, CreateGetAndMaskingWithoutThePiiScope) {
  const v1::Case created = MustCreate();
  EXPECT_EQ(created.state(), v1::Case::STATE_NEW);
  EXPECT_EQ(created.etag(), "r1");
  EXPECT_EQ(created.client().phone(), absl::StrCat("+86", kPhone)) << "normalised";
  v1::Case masked;
  ASSERT_TRUE(Get(created.name(), &masked, {"firm-a", {kScopeCasesRead}, ""}).ok());
  EXPECT_TRUE(masked.client().masked());
  EXPECT_EQ(masked.client().phone().find(kPhone), std::string::npos);
}

TEST_F(MemoryStoreTest, ForeignTenantsAndOtherClientsGetNotFound) {
  const v1::Case created = MustCreate();
  v1::Case out;
  EXPECT_EQ(Get(created.name(), &out, {"firm-b", {kScopeCasesRead, kScopeCasesWrite, kScopeCasesPii}, ""}).error_code(), grpc::StatusCode::NOT_FOUND);
  Caller other_client;
  other_client.client_id = "crm-client-8";
  EXPECT_EQ(Get(created.name(), &out, other_client).error_code(), grpc::StatusCode::NOT_FOUND);
  Caller own_client;
  own_client.client_id = "crm-client-7";
  EXPECT_TRUE(Get(created.name(), &out, own_client).ok());
}

TEST_F(MemoryStoreTest, AStaleEtagIsAbortedAndNothingChanges) {
  v1::Case c = MustCreate();
  v1::Case updated;
  c.set_summary("新的经过");
  ASSERT_TRUE(Update(c, {"summary"}, &updated).ok());
  EXPECT_EQ(updated.etag(), "r2");
  c.set_summary("过时的修改");
  const grpc::Status stale = Update(c, {"summary"}, &updated);  // c still holds r1
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  v1::Case now;
  ASSERT_TRUE(Get(c.name(), &now).ok());
  EXPECT_EQ(now.summary(), "新的经过");
}

TEST_F(MemoryStoreTest, TransitionsFollowTheLifecycleAndTheFeedRecordsEachChangeOnce) {
  const v1::Case c = MustCreate();
  v1::Case out;
  ASSERT_TRUE(Transition(c, v1::Case::STATE_TRIAGED, &out).ok());
  EXPECT_EQ(Transition(out, v1::Case::STATE_CLOSED, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::ListChangesRequest r;
  v1::ListChangesResponse changes;
  auto ctx = Signed("ListChanges", {});
  ASSERT_TRUE(stub_->ListChanges(ctx.get(), r, &changes).ok());
  ASSERT_EQ(changes.changes_size(), 2) << "created, triaged; the refused close is no change";
  EXPECT_EQ(changes.changes(0).event().type(), v1::CaseEvent::TYPE_CASE_CREATED);
  EXPECT_EQ(changes.changes(1).event().type(), v1::CaseEvent::TYPE_STATE_CHANGED);
  // Resuming from the first change's cursor gives the second only.
  r.set_cursor(changes.changes(0).cursor());
  v1::ListChangesResponse rest;
  auto again = Signed("ListChanges", {});
  ASSERT_TRUE(stub_->ListChanges(again.get(), r, &rest).ok());
  ASSERT_EQ(rest.changes_size(), 1);
  EXPECT_EQ(rest.changes(0).event().to_state(), v1::Case::STATE_TRIAGED);
}

TEST_F(MemoryStoreTest, RetriedCreateWithItsRequestIdReturnsTheSameCase) {
  v1::Case first, second;
  ASSERT_TRUE(Create(NewRequest("req-1"), &first).ok());
  ASSERT_TRUE(Create(NewRequest("req-1"), &second).ok());
  EXPECT_EQ(first.name(), second.name());
  v1::CreateCaseRequest different = NewRequest("req-1");
  different.mutable_case_()->set_summary("另一件事");
  v1::Case third;
  EXPECT_EQ(Create(different, &third).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MemoryStoreTest, NotesAreMaskedForCallersWithoutPii) {
  const v1::Case c = MustCreate();
  v1::AddNoteRequest add;
  add.set_parent(c.name());
  add.mutable_note()->set_text(absl::StrCat("客户来电 ", kPhone));
  v1::Note note;
  auto ctx = Signed("AddNote", {});
  ASSERT_TRUE(stub_->AddNote(ctx.get(), add, &note).ok());
  v1::ListNotesRequest list;
  list.set_parent(c.name());
  v1::ListNotesResponse notes;
  auto read = Signed("ListNotes", {"firm-a", {kScopeCasesRead}, ""});
  ASSERT_TRUE(stub_->ListNotes(read.get(), list, &notes).ok());
  ASSERT_EQ(notes.notes_size(), 1);
  EXPECT_EQ(notes.notes(0).text().find(kPhone), std::string::npos) << notes.notes(0).text();
}

}  // namespace
}  // namespace counsel::cases::service_test
