// Read-only connections to the case database, lent one at a time; WAL
// lets them read beside the writer.
#ifndef COUNSEL_CASES_STORE_READER_POOL_H_
#define COUNSEL_CASES_STORE_READER_POOL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/sqlite.h"
#include "common/status_macros.h"

namespace counsel::cases::sqlite_store {

// Thread-safe.
class ReaderPool {
 public:
  static absl::StatusOr<std::unique_ptr<ReaderPool>> Open(const std::string& path, int n,
                                                           const std::string& synchronous) {
    auto pool = std::make_unique<ReaderPool>();
    for (int i = 0; i < n; ++i) {
      sqlite::Options o;
      o.read_only = true;
      o.synchronous = synchronous;
      ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db, sqlite::Database::Open(path, o));
      pool->free_.push_back(std::move(db));
    }
    return pool;
  }
  template <typename Fn>
  auto With(Fn fn) -> decltype(fn(std::declval<sqlite::Database&>())) {
    std::unique_ptr<sqlite::Database> db;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(+[](std::vector<std::unique_ptr<sqlite::Database>>* f) { return !f->empty(); },
                                &free_));
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
  std::vector<std::unique_ptr<sqlite::Database>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace counsel::cases::sqlite_store

#endif  // COUNSEL_CASES_STORE_READER_POOL_H_
