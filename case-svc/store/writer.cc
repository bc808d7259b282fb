#include "case-svc/store/writer.h"

#include <vector>

#include "absl/synchronization/notification.h"

namespace counsel::cases {

Writer::Writer(std::unique_ptr<sqlite::Database> db, int max_batch,
               std::function<void()> after_commit)
    : db_(std::move(db)), max_batch_(std::max(1, max_batch)),
      after_commit_(std::move(after_commit)) {
  thread_ = std::thread([this] { Loop(); });
}

Writer::~Writer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Writer::Submit(Work work, Done done, bool truncate_wal) {
  absl::MutexLock lock(&mu_);
  queue_.push_back({std::move(work), std::move(done), truncate_wal});
}

absl::Status Writer::TruncateWal() {
  // The checkpoint waits (busy handler) for readers of older snapshots; a
  // reader transaction is short, so a few tries are plenty.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto q = db_->Prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!q.ok()) return q.status();
    auto row = q->Step();
    if (!row.ok()) return row.status();
    if (*row && q->ColumnInt64(0) == 0) return absl::OkStatus();
  }
  return absl::UnavailableError(
      "the change is committed, but readers kept the write-ahead log from being cleared; retry");
}

absl::Status Writer::Run(Work work) {
  absl::Notification finished;
  absl::Status result;
  Submit(std::move(work), [&](absl::Status s) {
    result = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

int64_t Writer::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

int64_t Writer::items() const {
  absl::MutexLock lock(&mu_);
  return items_;
}

void Writer::Loop() {
  while (true) {
    std::vector<Item> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Writer* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return w->stopping_ || !w->queue_.empty();
          },
          this));
      if (queue_.empty()) return;
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<absl::Status> results(batch.size());
    absl::Status tx = db_->Exec("BEGIN IMMEDIATE");
    if (tx.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        tx = db_->Exec("SAVEPOINT item");
        if (!tx.ok()) break;
        results[i] = batch[i].work(*db_);
        tx = db_->Exec(results[i].ok() ? "RELEASE item" : "ROLLBACK TO item; RELEASE item");
        if (!tx.ok()) break;
      }
      if (tx.ok()) tx = db_->Exec("COMMIT");
      if (!tx.ok()) (void)db_->Exec("ROLLBACK");
    }
    bool refresh_statistics = false;
    {
      absl::MutexLock lock(&mu_);
      ++batches_;
      refresh_statistics = items_ / 50000 != (items_ + static_cast<int64_t>(batch.size())) / 50000;
      items_ += static_cast<int64_t>(batch.size());
    }
    // Keep the planner's statistics current as tables grow (SQLite's advice
    // for long-lived connections); cheap, bounded by analysis_limit.
    if (refresh_statistics) (void)db_->Exec("PRAGMA optimize");
    if (tx.ok() && after_commit_) after_commit_();
    absl::Status truncated;
    if (tx.ok()) {
      for (const Item& item : batch) {
        if (item.truncate_wal) {
          truncated = TruncateWal();
          break;
        }
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      // A failed commit fails every item: none of them is on disk.
      absl::Status s = tx.ok() ? results[i] : tx;
      if (s.ok() && batch[i].truncate_wal) s = truncated;
      batch[i].done(std::move(s));
    }
  }
}

}  // namespace counsel::cases
