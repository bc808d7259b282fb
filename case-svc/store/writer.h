// Group commit: one thread owns the write connection. Writers queue their
// work; the thread runs whatever has queued inside one BEGIN IMMEDIATE …
// COMMIT (each piece under its own SAVEPOINT, so one failure does not undo
// the others) and only after the commit answers each caller. With
// synchronous=FULL one fsync then covers the whole batch.
#ifndef COUNSEL_CASES_STORE_WRITER_H_
#define COUNSEL_CASES_STORE_WRITER_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/sqlite.h"

namespace counsel::cases {

// Thread-safe.
class Writer {
 public:
  // Runs inside the batch transaction; its changes commit only if it returns OK.
  using Work = std::function<absl::Status(sqlite::Database&)>;
  // Runs on the writer thread after the commit (or failure); keep it short.
  using Done = std::function<void(absl::Status)>;

  // `max_batch` 1 gives one transaction per request (for comparison).
  Writer(std::unique_ptr<sqlite::Database> db, int max_batch,
         std::function<void()> after_commit = nullptr);
  // Finishes queued work, then stops.
  ~Writer();

  // With `truncate_wal`, `done` runs only after the commit's pages are
  // copied into the database file and the write-ahead log is truncated to
  // nothing, so that no earlier version of a changed page remains in the log
  // (erasure); UNAVAILABLE if readers kept the log from being truncated.
  void Submit(Work work, Done done, bool truncate_wal = false);
  // Submits and waits.
  absl::Status Run(Work work);

  // Batches committed and items written, for benchmarks.
  int64_t batches() const;
  int64_t items() const;

 private:
  struct Item {
    Work work;
    Done done;
    bool truncate_wal = false;
  };
  void Loop();
  absl::Status TruncateWal();

  std::unique_ptr<sqlite::Database> db_;
  const int max_batch_;
  std::function<void()> after_commit_;
  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t items_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_WRITER_H_
