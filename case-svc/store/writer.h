// Group commit: one thread owns the write connection. Writers queue their
// work; the thread runs whatever has queued inside one write transaction
// (each piece under its own SAVEPOINT, so one failure does not undo the
// others) and only after the commit answers each caller. One fsync (SQLite
// with synchronous=FULL, PostgreSQL's WAL flush) then covers the batch.
// Each piece first locks its scope (the tenant): with several replicas on
// one PostgreSQL, a tenant's writes run one after another. A piece the
// engine rolled back for a conflict with another replica (a deadlock) runs
// again in a later batch.
#ifndef COUNSEL_CASES_STORE_WRITER_H_
#define COUNSEL_CASES_STORE_WRITER_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/sql.h"

namespace counsel::cases {

// Thread-safe.
class Writer {
 public:
  // Runs inside the batch transaction; its changes commit only if it returns OK.
  using Work = std::function<absl::Status(sql::Database&)>;
  // Runs on the writer thread after the commit (or failure); keep it short.
  using Done = std::function<void(absl::Status)>;

  // `max_batch` 1 gives one transaction per request (for comparison).
  // `before_commit`, when set, runs once in each batch that wrote
  // something, just before COMMIT (PostgreSQL's NOTIFY to other replicas).
  Writer(std::unique_ptr<sql::Database> db, int max_batch,
         std::function<void()> after_commit = nullptr, Work before_commit = nullptr);
  // Finishes queued work, then stops.
  ~Writer();

  // With `forget_versions`, `done` runs only after the engine forgot the
  // rows' earlier versions (sql::Database::ForgetOverwrittenVersions:
  // erasure). `scope` "" locks nothing.
  void Submit(std::string scope, Work work, Done done, bool forget_versions = false);
  // Submits and waits.
  absl::Status Run(Work work);

  // Batches committed and items written, for benchmarks.
  int64_t batches() const;
  int64_t items() const;

 private:
  struct Item {
    std::string scope;
    Work work;
    Done done;
    bool forget_versions = false;
    int attempts = 0;
  };
  void Loop();

  std::unique_ptr<sql::Database> db_;
  const int max_batch_;
  std::function<void()> after_commit_;
  Work before_commit_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t items_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_WRITER_H_
