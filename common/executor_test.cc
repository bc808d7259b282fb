#include "common/executor.h"

#include <atomic>

#include "absl/synchronization/blocking_counter.h"
#include "gtest/gtest.h"

namespace counsel {
namespace {

TEST(ExecutorTest, RunsEveryTask) {
  std::atomic<int> sum{0};
  {
    Executor executor(3);
    absl::BlockingCounter done(100);
    for (int i = 1; i <= 100; ++i) {
      executor.Schedule([&, i] {
        sum += i;
        done.DecrementCount();
      });
    }
    done.Wait();
  }
  EXPECT_EQ(sum.load(), 5050);
}

TEST(ExecutorTest, DestructorDrainsQueuedTasks) {
  std::atomic<int> ran{0};
  {
    Executor executor(1);
    for (int i = 0; i < 50; ++i) executor.Schedule([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace counsel
