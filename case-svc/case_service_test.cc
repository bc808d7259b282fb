// CaseService through a real server: cases, lifecycle, checklist, lists.
#include "case-svc/case_service_test_fixture.h"
#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/blocking_counter.h"
#include "google/protobuf/util/message_differencer.h"

namespace counsel::cases::service_test {
namespace {

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

// A create answers the case from what it wrote rather than reading the row
// back: the answer must be exactly what a read returns, masked or not.
TEST_F(CaseServiceTest, CreateAnswersExactlyWhatGetReads) {
  v1::CreateCaseRequest full = NewRequest("req-full");
  v1::Case* c = full.mutable_case_();
  c->mutable_client()->set_email("wang@example.com");
  c->set_external_ref("CRM-2002");
  c->set_assignee("lawyer-3");
  c->set_suspected_source("某快递平台");
  *c->mutable_discovered_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000);
  c->set_occurred_on("2023-11-01");
  v1::CreateCaseRequest bare;
  bare.mutable_case_()->mutable_client()->set_display_name("李");
  bare.mutable_case_()->mutable_client()->set_email("li@example.com");
  bare.mutable_case_()->add_leaked_data(v1::LEAKED_DATA_EMAIL);
  v1::CreateCaseRequest for_masked = full;
  for_masked.set_request_id("req-masked");
  for_masked.mutable_case_()->set_external_ref("CRM-2003");
  Caller masked;
  masked.scopes = {kScopeCasesRead, kScopeCasesWrite};
  const std::pair<const v1::CreateCaseRequest*, Caller> creates[] = {
      {&full, Caller{}}, {&bare, Caller{}}, {&for_masked, masked}};
  for (const auto& [request, caller] : creates) {
    v1::Case created, read;
    const grpc::Status s = Create(*request, &created, caller);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(Get(created.name(), &read, caller).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(created, read))
        << "a create answered what a read does not return (values not printed: personal data)";
    EXPECT_FALSE(created.etag().empty());
    EXPECT_TRUE(created.has_create_time());
  }
}

// Creates wait on guidance-svc on threads of their own: while it does not
// answer, more creates than the read threads wait, and reads still answer.
TEST_F(CaseServiceTest, CreatesWaitingOnGuidanceDoNotHoldUpReads) {
  const v1::Case existing = MustCreate();
  constexpr int kCreates = 40;
  absl::BlockingCounter finished(kCreates);
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<v1::Case> outs(kCreates);
  std::atomic<int> ok{0};
  const v1::CreateCaseRequest request = NewRequest();
  advice_.Hold(true);
  // On every way out: release the creates and let them finish before the
  // state they write to goes (and before the server's shutdown waits).
  absl::Cleanup release = [&] {
    advice_.Hold(false);
    finished.Wait();
  };
  for (int i = 0; i < kCreates; ++i) {
    ctxs.push_back(Signed("CreateCase", {}));
    stub_->async()->CreateCase(ctxs.back().get(), &request, &outs[i], [&](grpc::Status s) {
      if (s.ok()) ++ok;
      finished.DecrementCount();
    });
  }
  ASSERT_TRUE(advice_.AwaitHeld(4));  // as many as the read threads: they would all be taken
  v1::Case read;
  auto ctx = Signed("GetCase", {});
  // Generous: only a read queued behind the held creates runs into it.
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetCaseRequest get;
  get.set_name(existing.name());
  const grpc::Status s = stub_->GetCase(ctx.get(), get, &read);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::move(release).Invoke();
  EXPECT_EQ(ok.load(), kCreates);
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

// A case's pending items are written in chunks of statements: every one of
// a long checklist is stored, counted overdue and rewritten on an update.
TEST_F(CaseServiceTest, EveryPendingItemOfALongChecklistIsCountedOverdue) {
  advice_.SetExtraDueSteps(40);  // 42 pending items with due times: three statements
  const v1::Case c = MustCreate();
  EXPECT_EQ(Rows("pending_items"), 42);
  clock_.Advance(absl::Hours(48));
  v1::CaseStats stats;
  auto ctx = Signed("GetCaseStats", {});
  ASSERT_TRUE(stub_->GetCaseStats(ctx.get(), {}, &stats).ok());
  EXPECT_EQ(stats.overdue_checklist_items(), 41);  // report-to-police is due at 72 h
  v1::Case changed = c, updated;
  changed.set_assignee("lawyer-9");
  const grpc::Status s = Update(changed, {"assignee"}, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Rows("pending_items"), 42) << "an update rewrites every pending item";
}

TEST_F(CaseServiceTest, WatchesCancelledAsTheyStartEndWithoutHarm) {
  // A watch cancelled while its first read of the feed is in flight is
  // finished by that read, under the watch's lock, and gRPC may end the
  // call on another thread at once: the watch must outlive the lock (once,
  // in WatcherResumedAcrossConcurrentWritesSeesEachChangeOnceInOrder, it
  // did not: "Mutex unlocked when destroyed"). 400 such watches from four
  // threads make that path common; the service must then still answer.
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([this] {
      for (int i = 0; i < 100; ++i) {
        auto ctx = Signed("WatchChanges", {});
        auto reader = stub_->WatchChanges(ctx.get(), {});
        ctx->TryCancel();
        (void)reader->Finish();
      }
    });
  }
  for (auto& t : callers) t.join();
  MustCreate();
}

}  // namespace
}  // namespace counsel::cases::service_test
