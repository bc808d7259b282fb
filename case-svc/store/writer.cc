#include "case-svc/store/writer.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/notification.h"

namespace counsel::cases {
namespace {

// Runs of one piece the engine rolled back for a conflict, before its
// caller gets ABORTED.
constexpr int kMaxAttempts = 5;

}  // namespace

Writer::Writer(std::unique_ptr<sql::Database> db, int max_batch,
               std::function<void()> after_commit, Work before_commit)
    : db_(std::move(db)), max_batch_(std::max(1, max_batch)),
      after_commit_(std::move(after_commit)), before_commit_(std::move(before_commit)) {
  thread_ = std::thread([this] { Loop(); });
}

Writer::~Writer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Writer::Submit(std::string scope, Work work, Done done, bool forget_versions) {
  absl::MutexLock lock(&mu_);
  queue_.push_back({std::move(scope), std::move(work), std::move(done), forget_versions});
}

absl::Status Writer::Run(Work work) {
  absl::Notification finished;
  absl::Status result;
  Submit("", std::move(work), [&](absl::Status s) {
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
    // Scopes locked in one order by every replica's batches: two batches
    // that both hold two tenants do not deadlock (one tenant's pieces keep
    // their order).
    std::stable_sort(batch.begin(), batch.end(),
                     [](const Item& a, const Item& b) { return a.scope < b.scope; });
    std::vector<absl::Status> results(batch.size());
    absl::Status tx = db_->BeginWrite();
    if (tx.ok()) {
      // Scopes this transaction holds already (locked by a piece that was
      // kept: a rolled-back piece gives its lock back).
      absl::flat_hash_set<std::string> held;
      // Each piece's savepoint opens in the statement that closes the one
      // before (a round trip fewer per piece on PostgreSQL).
      tx = db_->Exec("SAVEPOINT item");
      for (size_t i = 0; tx.ok() && i < batch.size(); ++i) {
        const std::string& scope = batch[i].scope;
        const bool lock = !scope.empty() && !held.contains(scope);
        results[i] = lock ? db_->LockScope(scope) : absl::OkStatus();
        if (results[i].ok()) results[i] = batch[i].work(*db_);
        if (results[i].ok() && lock) held.insert(scope);
        const bool last = i + 1 == batch.size();
        if (results[i].ok()) {
          tx = db_->Exec(last ? "RELEASE item" : "RELEASE item; SAVEPOINT item");
        } else {
          tx = db_->Exec(last ? "ROLLBACK TO item; RELEASE item"
                              : "ROLLBACK TO item; RELEASE item; SAVEPOINT item");
        }
      }
      if (tx.ok() && before_commit_) {
        bool wrote = false;
        for (const absl::Status& r : results) wrote = wrote || r.ok();
        if (wrote) tx = before_commit_(*db_);
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
    if (refresh_statistics) db_->RefreshStatistics();
    if (tx.ok() && after_commit_) after_commit_();
    absl::Status forgotten;
    if (tx.ok()) {
      for (const Item& item : batch) {
        if (item.forget_versions) {
          forgotten = db_->ForgetOverwrittenVersions();
          break;
        }
      }
    }
    std::vector<Item> again;
    for (size_t i = 0; i < batch.size(); ++i) {
      // A failed commit fails every item: none of them is on disk.
      absl::Status s = tx.ok() ? results[i] : tx;
      if (!s.ok() && db_->Retryable(s) && ++batch[i].attempts < kMaxAttempts) {
        again.push_back(std::move(batch[i]));
        continue;
      }
      if (s.ok() && batch[i].forget_versions) s = forgotten;
      batch[i].done(std::move(s));
    }
    if (!again.empty()) {
      absl::MutexLock lock(&mu_);
      for (auto it = again.rbegin(); it != again.rend(); ++it) queue_.push_front(std::move(*it));
    }
  }
}

}  // namespace counsel::cases
