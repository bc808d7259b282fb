// A fixed pool of threads for blocking work (SQLite), so that gRPC's callback
// threads never block. Handlers schedule work and finish their reactor from
// the pool.
#ifndef COUNSEL_COMMON_EXECUTOR_H_
#define COUNSEL_COMMON_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace counsel {

// Thread-safe.
class Executor {
 public:
  explicit Executor(int threads);
  // Runs every task already scheduled, then joins the threads.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Schedule(std::function<void()> task);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace counsel

#endif  // COUNSEL_COMMON_EXECUTOR_H_
