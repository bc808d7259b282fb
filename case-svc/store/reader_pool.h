// Connections for reads, lent one at a time: SQLite's read-only connections
// (WAL lets them read beside the writer) or PostgreSQL connections.
#ifndef COUNSEL_CASES_STORE_READER_POOL_H_
#define COUNSEL_CASES_STORE_READER_POOL_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/sql.h"
#include "common/status_macros.h"

namespace counsel::cases::sql_store {

// Thread-safe.
class ReaderPool {
 public:
  using Connect = std::function<absl::StatusOr<std::unique_ptr<sql::Database>>()>;

  static absl::StatusOr<std::unique_ptr<ReaderPool>> Open(int n, const Connect& connect) {
    auto pool = std::make_unique<ReaderPool>();
    for (int i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<sql::Database> db, connect());
      pool->free_.push_back(std::move(db));
    }
    return pool;
  }
  template <typename Fn>
  auto With(Fn fn) -> decltype(fn(std::declval<sql::Database&>())) {
    std::unique_ptr<sql::Database> db;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](std::vector<std::unique_ptr<sql::Database>>* f) { return !f->empty(); }, &free_));
      db = std::move(free_.back());
      free_.pop_back();
    }
    auto result = fn(*db);
    absl::MutexLock lock(&mu_);
    free_.push_back(std::move(db));
    return result;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::unique_ptr<sql::Database>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace counsel::cases::sql_store

#endif  // COUNSEL_CASES_STORE_READER_POOL_H_
