#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/sql.h"
#include "common/status_macros.h"
#include "guidance-svc/store/advice_store.h"
#include "guidance-svc/store/schema.h"

namespace counsel::guidance {
namespace {

using sql::Database;
using sql::Statement;
using sql::WriteTransaction;

constexpr char kSelect[] =
    "SELECT advice_id, draft, draft_revision, create_time, update_time, delete_time FROM advice";

absl::StatusOr<AdviceRecord> ReadRecord(const Statement& q) {
  AdviceRecord r;
  r.advice_id = q.ColumnText(0);
  if (!r.draft.ParseFromString(std::string(q.ColumnBlob(1)))) {
    return absl::DataLossError("unreadable advice draft");
  }
  r.draft_revision = q.ColumnInt64(2);
  r.create_time = absl::FromUnixMicros(q.ColumnInt64(3));
  r.update_time = absl::FromUnixMicros(q.ColumnInt64(4));
  if (!q.ColumnIsNull(5)) r.delete_time = absl::FromUnixMicros(q.ColumnInt64(5));
  return r;
}

absl::Status Stale(const std::string& advice_id) {
  return absl::AbortedError(absl::StrCat(
      "advice/", advice_id, " changed since its etag was read; read it again and retry"));
}

// The same SQL on SQLite and PostgreSQL.
class SqlAdviceStore final : public AdviceStore {
 public:
  explicit SqlAdviceStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  absl::StatusOr<AdviceRecord> Create(const std::string& advice_id, const v1::Advice& draft,
                                      absl::Time now) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
        "INSERT INTO advice (advice_id, draft, draft_revision, create_time, update_time) "
        "VALUES (?1, ?2, 1, ?3, ?3) ON CONFLICT (advice_id) DO NOTHING RETURNING advice_id"));
    ins.Bind(1, advice_id).BindBlob(2, draft.SerializeAsString()).Bind(3, absl::ToUnixMicros(now));
    ASSIGN_OR_RETURN(bool inserted, ins.Step());
    if (!inserted) {
      return absl::AlreadyExistsError(absl::StrCat("advice/", advice_id, " already exists"));
    }
    ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, GetLocked(advice_id));
    return *r;
  }

  absl::StatusOr<std::optional<AdviceRecord>> Get(const std::string& advice_id) override {
    absl::MutexLock lock(&mu_);
    return GetLocked(advice_id);
  }

  absl::StatusOr<std::vector<AdviceRecord>> List() override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(kSelect, " ORDER BY advice_id")));
    std::vector<AdviceRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(AdviceRecord r, ReadRecord(q));
      out.push_back(std::move(r));
    }
    return out;
  }

  absl::StatusOr<AdviceRecord> UpdateDraft(const std::string& advice_id, const v1::Advice& draft,
                                           int64_t expected_revision, absl::Time now) override {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(WriteDraft(advice_id, draft, expected_revision, now));
    ASSIGN_OR_RETURN(std::optional<AdviceRecord> r, GetLocked(advice_id));
    return *r;
  }

  absl::StatusOr<v1::Advice> Publish(const std::string& advice_id, v1::Advice revision,
                                     int64_t expected_revision, absl::Time now) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(WriteTransaction tx, WriteTransaction::Begin(*db_));
    // The draft first: it continues from what is published, and updating
    // it holds its row until commit, so a publish of the same article on
    // another replica waits here, then finds its etag stale, and never
    // races for the revision number.
    v1::Advice draft = revision;
    for (const char* f : {"revision_id", "revision_number", "revision_create_time", "author",
                          "change_note", "state", "etag", "create_time", "update_time"}) {
      draft.GetReflection()->ClearField(&draft, draft.GetDescriptor()->FindFieldByName(f));
    }
    RETURN_IF_ERROR(WriteDraft(advice_id, draft, expected_revision, now));
    int64_t number = 1;
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT coalesce(max(revision_number), 0) + 1 FROM advice_revisions WHERE advice_id = ?1"));
      q.Bind(1, advice_id);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) number = q.ColumnInt64(0);
    }
    revision.set_revision_number(number);
    {
      ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
          "INSERT INTO advice_revisions (advice_id, revision_id, revision_number, create_time, "
          "content) VALUES (?1, ?2, ?3, ?4, ?5)"));
      const google::protobuf::Timestamp& t = revision.revision_create_time();
      ins.Bind(1, advice_id).Bind(2, revision.revision_id()).Bind(3, number)
          .Bind(4, t.seconds() * 1000000 + t.nanos() / 1000)
          .BindBlob(5, revision.SerializeAsString());
      RETURN_IF_ERROR(ins.Run());
    }
    RETURN_IF_ERROR(tx.Commit());
    return revision;
  }

  absl::StatusOr<std::vector<v1::Advice>> Revisions(const std::string& advice_id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT content FROM advice_revisions WHERE advice_id = ?1 ORDER BY revision_number DESC"));
    q.Bind(1, advice_id);
    std::vector<v1::Advice> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      v1::Advice a;
      if (!a.ParseFromString(std::string(q.ColumnBlob(0)))) {
        return absl::DataLossError("unreadable advice revision");
      }
      out.push_back(std::move(a));
    }
    return out;
  }

  absl::Status MarkDeleted(const std::string& advice_id, int64_t expected_revision,
                           absl::Time now) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Statement up, db_->Prepare(
        "UPDATE advice SET delete_time = coalesce(delete_time, ?2), "
        "draft_revision = draft_revision + 1 WHERE advice_id = ?1 AND (?3 = 0 OR draft_revision = ?3) "
        "RETURNING advice_id"));
    up.Bind(1, advice_id).Bind(2, absl::ToUnixMicros(now)).Bind(3, expected_revision);
    ASSIGN_OR_RETURN(bool changed, up.Step());
    if (!changed) return Stale(advice_id);
    return absl::OkStatus();
  }

 private:
  absl::Status WriteDraft(const std::string& advice_id, const v1::Advice& draft,
                          int64_t expected_revision, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ASSIGN_OR_RETURN(Statement up, db_->Prepare(
        "UPDATE advice SET draft = ?2, draft_revision = draft_revision + 1, update_time = ?3 "
        "WHERE advice_id = ?1 AND draft_revision = ?4 RETURNING advice_id"));
    up.Bind(1, advice_id).BindBlob(2, draft.SerializeAsString()).Bind(3, absl::ToUnixMicros(now))
        .Bind(4, expected_revision);
    ASSIGN_OR_RETURN(bool changed, up.Step());
    if (!changed) return Stale(advice_id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<AdviceRecord>> GetLocked(const std::string& advice_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(absl::StrCat(kSelect, " WHERE advice_id = ?1")));
    q.Bind(1, advice_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<AdviceRecord>();
    ASSIGN_OR_RETURN(AdviceRecord r, ReadRecord(q));
    return std::optional<AdviceRecord>(std::move(r));
  }

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<AdviceStore>> OpenAdviceStore(const std::string& db) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> opened, OpenGuidanceDatabase(db));
  return std::unique_ptr<AdviceStore>(new SqlAdviceStore(std::move(opened)));
}

}  // namespace counsel::guidance
