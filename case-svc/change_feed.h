// The per-tenant change feed's hub: it wakes watchers after each commit and
// for periodic bookmarks (cursors: common/feed_cursor.h).
#ifndef COUNSEL_CASES_CHANGE_FEED_H_
#define COUNSEL_CASES_CHANGE_FEED_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "case-svc/store/case_store.h"
#include "common/feed_cursor.h"

namespace counsel::cases {

using counsel::CursorCodec;

// Thread-safe. Watchers register a wake-up; Notify() (after each commit)
// calls every registered one; a timer calls them with `bookmark` = true
// every interval so idle watchers can send bookmarks.
class FeedHub {
 public:
  using Wake = std::function<void(bool bookmark)>;
  explicit FeedHub(absl::Duration bookmark_interval);
  ~FeedHub();

  int64_t Add(Wake wake);
  void Remove(int64_t id);
  void Notify();

 private:
  void Tick();
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, Wake> watchers_ ABSL_GUARDED_BY(mu_);
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration interval_;
  std::thread timer_;
};

// Whether change `seq` of the tenant's feed is one a cursor may resume after:
// InvalidArgument naming `field` when no such change exists, FailedPrecondition
// CURSOR_EXPIRED when it is older than `horizon`. Seq 0 (the start) always is.
absl::Status CheckResumable(CaseStore& store, absl::string_view tenant, int64_t seq,
                            absl::Time horizon, absl::string_view field);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_CHANGE_FEED_H_
