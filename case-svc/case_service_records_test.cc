// CaseService through a real server: evidence, timeline, the change feed,
// personal data at rest, erasure, the audit chain, keys and backups.
#include "absl/cleanup/cleanup.h"
#include "case-svc/case_service_test_fixture.h"

namespace counsel::cases::service_test {
namespace {

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
  std::vector<std::string> files = {dir_ + "/cases.db", dir_ + "/cases.db-wal"};
  if (OnPostgres()) {
    // Every file of the server: tables, indexes, the WAL, the server's log.
    files.clear();
    for (const auto& f : std::filesystem::recursive_directory_iterator(
             std::string(std::getenv("COUNSEL_PG_DIR")))) {
      if (f.is_regular_file()) files.push_back(f.path().string());
    }
    ASSERT_GT(files.size(), 100u);
  }
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
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
  auto db = OpenDatabaseFile();
  ASSERT_TRUE(db.ok()) << db.status();
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
  if (OnPostgres()) GTEST_SKIP() << "works on the SQLite file (PostgreSQL: tests/integration/test_postgres.py)";
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
  if (OnPostgres()) GTEST_SKIP() << "works on the SQLite file (PostgreSQL: tests/integration/test_postgres.py)";
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) names.push_back(MustCreate().name());
  runner_.reset();
  service_.reset();
  store_.reset();
  // The server restarts with the new key and the previous one...
  PiiVault both({std::string(32, 'n'), std::string(32, 'm')});
  CaseStoreOptions options;
  options.audit_key = std::string(32, 'a');
  auto serving = OpenSqliteCaseStore(dir_ + "/cases.db", &both, &clock_, options);
  ASSERT_TRUE(serving.ok());
  const Actor actor{"firm-a", "k", ""};
  // ...and keeps answering while the keys are re-wrapped beside it.
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  absl::Notification reading;
  std::thread reader([&] {
    // A failed read ends the thread: the test must not wait for it then.
    absl::Cleanup notify = [&] {
      if (!reading.HasBeenNotified()) reading.Notify();
    };
    while (!done) {
      for (const auto& n : names) {
        auto c = (*serving)->GetCase(actor, n.substr(6));
        ASSERT_TRUE(c.ok()) << c.status();
        ASSERT_EQ(c->client().display_name(), "王小明");
        ++reads;
      }
      if (!reading.HasBeenNotified()) reading.Notify();
    }
  });
  // The rewrap starts once the server is answering (awaited, not assumed:
  // it may otherwise finish before the reader's first read).
  reading.WaitForNotification();
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
  if (OnPostgres()) GTEST_SKIP() << "works on the SQLite file (PostgreSQL: tests/integration/test_postgres.py)";
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
}  // namespace counsel::cases::service_test
