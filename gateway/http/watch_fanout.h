// HTTP watchers share backend feeds: every watcher of one tenant, client
// binding and view (with or without cases.pii; with or without the case,
// CHANGE_VIEW_FULL) listens to one WatchChanges
// stream from case-svc, rendered once per change, instead of holding a gRPC
// call each. Ten thousand dashboards open on one firm cost one stream.
//
// A group's stream starts with its first listener, follows the feed from
// then on (reconnecting from its last position if case-svc restarts), and
// ends with its last listener. Each frame carries its feed position, read
// from the cursor with the same codec case-svc uses (common/feed_cursor.h),
// so that a watcher resuming from a cursor can catch up with ListChanges
// and then take the shared frames after the last one it sent: nothing is
// lost and nothing repeated.
#ifndef COUNSEL_GATEWAY_HTTP_WATCH_FANOUT_H_
#define COUNSEL_GATEWAY_HTTP_WATCH_FANOUT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/call_context.h"
#include "common/feed_cursor.h"
#include "counsel/cases/v1/cases.pb.h"
#include "gateway/gateway.h"
#include "grpcpp/support/status.h"

namespace counsel::gateway {

// One message of the feed, rendered for both HTTP framings.
struct FeedFrame {
  int64_t seq = 0;        // the feed position after it
  bool bookmark = false;  // a bookmark, not a change
  std::string sse;        // `id:`, `event:`, `data:` lines
  std::string ndjson;     // one JSON line
};

// The frame for one message (`seq` its cursor's position).
std::shared_ptr<const FeedFrame> RenderFeedFrame(const cases::v1::WatchChangesResponse& message,
                                                 int64_t seq);

// One watcher's place in the feed: which frames to send, so that a watcher
// resuming after position `after` sends its catch-up pages and then the
// shared frames after them, each change once and in order. Pure; not
// thread-safe (the watcher's lock guards it).
class FeedStitch {
 public:
  using Frames = std::vector<std::shared_ptr<const FeedFrame>>;
  static constexpr size_t kMaxPending = 10000;

  // `after` < 0: from now (every shared frame, no catch-up).
  explicit FeedStitch(int64_t after);

  bool catching_up() const { return catching_up_; }

  // A frame of the shared stream. False when, catching up, too many are
  // kept (the watcher cannot catch up: it should end and resume later).
  bool Shared(std::shared_ptr<const FeedFrame> frame, Frames* send);
  // A catch-up page, in feed order; `last` when it reached the head: the
  // shared frames kept meanwhile follow, after the page's last change.
  void Page(const Frames& page, bool last, Frames* send);

 private:
  void Take(std::shared_ptr<const FeedFrame> frame, Frames* send);

  int64_t last_;  // the last position sent; < 0 for none yet
  bool catching_up_;
  Frames pending_;
};

class FeedListener {
 public:
  virtual ~FeedListener() = default;
  // Each frame of the shared stream, in feed order, under the group's lock:
  // it must return at once and must not join or leave.
  virtual void OnFrame(const std::shared_ptr<const FeedFrame>& frame) = 0;
  // The shared stream ended for good (a refused cursor, the gateway
  // stopping); no frame follows.
  virtual void OnEnd(const grpc::Status& status) = 0;
};

class WatchFanout {
 public:
  // Leaving on destruction; frames stop before it returns.
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };

  explicit WatchFanout(const Gateway* gateway);
  ~WatchFanout();  // after Stop
  WatchFanout(const WatchFanout&) = delete;
  WatchFanout& operator=(const WatchFanout&) = delete;

  // Adds `listener` to the group of `context` (a WatchChanges call already
  // admitted): frames from now on reach it until the subscription goes.
  std::unique_ptr<Subscription> Join(const CallContext& context, cases::v1::ChangeView view,
                                     FeedListener* listener);

  // The feed position of a cursor issued to `context`'s tenant and client.
  absl::StatusOr<int64_t> CursorSeq(const CallContext& context, absl::string_view cursor) const;

  // Ends every group's stream; listeners get OnEnd. Idempotent.
  void Stop();

  // Open shared streams (for metrics and tests).
  int groups() const;

 private:
  class Group;
  class SubscriptionImpl;

  // Drops `group` from the map if it is still the one under `key`.
  void Forget(const std::string& key, const Group* group);

  const Gateway* gateway_;
  const CursorCodec cursors_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Group>> groups_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> streams_{0};  // shared streams not yet done
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_HTTP_WATCH_FANOUT_H_
