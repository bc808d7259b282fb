#include "case-svc/change_feed.h"

#include <vector>

#include "common/errors.h"
#include "common/status_macros.h"

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

absl::Status CheckResumable(CaseStore& store, absl::string_view tenant, int64_t seq,
                            absl::Time horizon, absl::string_view field) {
  if (seq == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<absl::Time> t, store.ChangeTime(tenant, seq));
  if (!t) return InvalidArgumentField(field, "names no change of this feed");
  if (*t < horizon) {
    return ErrorWithReason(absl::StatusCode::kFailedPrecondition, "CURSOR_EXPIRED",
                           "the cursor is older than the change feed's retention; re-read "
                           "with ListCases and start a new feed");
  }
  return absl::OkStatus();
}

}  // namespace counsel::cases
