// The per-tenant change feed: opaque, authenticated cursors and the hub that
// wakes watchers after each commit and for periodic bookmarks.
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
#include "common/crypto.h"

namespace counsel::cases {

// A cursor is a position in one tenant's feed, sealed (crypto::TokenSealer,
// base32): opaque (it shows no sequence number) and bound to the tenant and
// the caller's client binding, so it opens for no one else.
class CursorCodec {
 public:
  explicit CursorCodec(absl::string_view secret);
  CursorCodec(CursorCodec&&) = default;
  std::string Encode(absl::string_view tenant, absl::string_view client, int64_t seq) const;
  // InvalidArgument naming `field` for a malformed or foreign cursor.
  absl::StatusOr<int64_t> Decode(absl::string_view tenant, absl::string_view client,
                                 absl::string_view cursor, absl::string_view field) const;

 private:
  std::unique_ptr<crypto::TokenSealer> sealer_;
};

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

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_CHANGE_FEED_H_
