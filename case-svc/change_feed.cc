#include "case-svc/change_feed.h"

#include <vector>

namespace counsel::cases {

FeedHub::FeedHub(absl::Duration bookmark_interval) : interval_(bookmark_interval) {
  timer_ = std::thread([this] { Tick(); });
}

FeedHub::~FeedHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  timer_.join();
}

int64_t FeedHub::Add(Wake wake) {
  absl::MutexLock lock(&mu_);
  const int64_t id = next_id_++;
  watchers_[id] = std::move(wake);
  return id;
}

void FeedHub::Remove(int64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void FeedHub::Notify() {
  std::vector<Wake> wakes;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, w] : watchers_) wakes.push_back(w);
  }
  for (auto& w : wakes) w(false);
}

void FeedHub::Tick() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) {
    std::vector<Wake> wakes;
    for (auto& [id, w] : watchers_) wakes.push_back(w);
    mu_.Unlock();
    for (auto& w : wakes) w(true);
    mu_.Lock();
  }
}

}  // namespace counsel::cases
