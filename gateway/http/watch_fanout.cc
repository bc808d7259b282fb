#include "gateway/http/watch_fanout.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/logging.h"
#include "gateway/metrics.h"
#include "counsel/cases/v1/cases.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace counsel::gateway {
namespace {

constexpr char kWatchMethod[] = "/counsel.cases.v1.CaseService/WatchChanges";

// Scopes shape what the feed shows only through cases.pii (event reasons
// are masked without it): the group is the tenant, the client and that.
std::string GroupKey(const CallContext& cc, bool full) {
  const bool pii = HasScope(cc, kScopeCasesPii);
  return absl::StrCat(cc.tenant().size(), ":", cc.tenant(), "|", cc.client_id().size(), ":",
                      cc.client_id(), "|", pii ? "pii" : "masked", full ? "|full" : "");
}

}  // namespace

std::shared_ptr<const FeedFrame> RenderFeedFrame(const cases::v1::WatchChangesResponse& message,
                                                 int64_t seq) {
  auto frame = std::make_shared<FeedFrame>();
  frame->seq = seq;
  frame->bookmark = message.has_bookmark();
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  const std::string& cursor =
      frame->bookmark ? message.bookmark().cursor() : message.change().cursor();
  frame->sse = absl::StrCat("id: ", cursor, "\nevent: ", frame->bookmark ? "bookmark" : "change",
                            "\ndata: ", json, "\n\n");
  frame->ndjson = absl::StrCat(json, "\n");
  return frame;
}

FeedStitch::FeedStitch(int64_t after) : last_(after), catching_up_(after >= 0) {}

void FeedStitch::Take(std::shared_ptr<const FeedFrame> frame, Frames* send) {
  // A change at or before the last position sent came in the catch-up; a
  // bookmark at it says the same position again, which is harmless.
  if (last_ >= 0 && (frame->bookmark ? frame->seq < last_ : frame->seq <= last_)) return;
  last_ = frame->seq;
  send->push_back(std::move(frame));
}

bool FeedStitch::Shared(std::shared_ptr<const FeedFrame> frame, Frames* send) {
  if (!catching_up_) {
    Take(std::move(frame), send);
    return true;
  }
  if (pending_.size() >= kMaxPending) return false;
  pending_.push_back(std::move(frame));
  return true;
}

void FeedStitch::Page(const Frames& page, bool last, Frames* send) {
  for (const auto& f : page) Take(f, send);
  if (!last) return;
  catching_up_ = false;
  for (auto& f : pending_) Take(std::move(f), send);
  pending_.clear();
}

// One shared stream and its listeners. The stream is a reactor that lives
// from its start to its OnDone; it holds the group, the group does not
// hold it.
class WatchFanout::Group : public std::enable_shared_from_this<Group> {
 public:
  Group(WatchFanout* fanout, std::string key, CallContext context, bool full)
      : fanout_(fanout), key_(std::move(key)), context_(std::move(context)), full_(full) {}

  // False when the group has ended (a new one takes its key). The first
  // listener makes a stream: StartPending starts it, outside every lock,
  // since a stopping gateway refuses it (and ends it) at once.
  bool Add(FeedListener* l) {
    absl::MutexLock lock(&mu_);
    if (ended_) return false;
    listeners_.push_back(l);
    if (!streaming_) StartLocked();
    return true;
  }

  // True when it was the last listener: the stream is being stopped.
  bool Remove(FeedListener* l) {
    std::shared_ptr<grpc::ClientContext> cancel;
    {
      absl::MutexLock lock(&mu_);
      listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), l), listeners_.end());
      if (!listeners_.empty()) return false;
      ended_ = true;
      cancel = stream_ctx_;
    }
    // Outside the lock: a cancelled call may complete on this thread.
    if (cancel != nullptr) cancel->TryCancel();
    return true;
  }

  // Under the lock, so that a listener leaving meanwhile is either told
  // or gone: never told after it left.
  void End(const grpc::Status& status) {
    std::shared_ptr<grpc::ClientContext> cancel;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      for (FeedListener* l : listeners_) l->OnEnd(status);
      listeners_.clear();
      cancel = stream_ctx_;
    }
    if (cancel != nullptr) cancel->TryCancel();
    fanout_->Forget(key_, this);
  }

 private:
  class Stream final : public ClientReadStream<cases::v1::WatchChangesResponse> {
   public:
    Stream(std::shared_ptr<Group> group, std::shared_ptr<grpc::ClientContext> ctx,
           const std::string& cursor)
        : group_(std::move(group)), ctx_(std::move(ctx)) {
      request_.set_cursor(cursor);
      if (group_->full_) request_.set_view(cases::v1::CHANGE_VIEW_FULL);
      Admission a;
      a.context = group_->context_;
      a.context.set_request_id(RandomId(10));
      // A shared stream outlives any one watcher; it reconnects when this
      // runs out.
      a.deadline = absl::Now() + absl::Hours(24);
      a.context.set_expire_unix_micros(absl::ToUnixMicros(a.deadline));
      Metrics::Get().SetSharedFeeds(group_->fanout_->streams_.fetch_add(1) + 1);
      group_->fanout_->gateway_->Prepare(a, ctx_.get());
      ctx_->set_wait_for_ready(true);
    }
    // May end the stream (OnDone) before it returns.
    void Start() {
      StartRead(&message_);
      const Gateway* gateway = group_->fanout_->gateway_;
      StartCall(gateway->loop(),
                gateway->cases().Stub<cases::v1::CaseService>()->PrepareAsyncWatchChanges(
                    ctx_.get(), request_, gateway->loop().PickQueue()));
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      group_->Deliver(message_);
      StartRead(&message_);
    }
    void OnDone(const grpc::Status& status) override {
      group_->fanout_->gateway_->cases().Record(status);
      std::shared_ptr<Group> group = std::move(group_);
      delete this;
      group->StreamDone(status);
      Metrics::Get().SetSharedFeeds(group->fanout_->streams_.fetch_sub(1) - 1);
    }

   private:
    std::shared_ptr<Group> group_;
    // Shared with the group, which may cancel it after the call is done.
    std::shared_ptr<grpc::ClientContext> ctx_;
    cases::v1::WatchChangesRequest request_;
    cases::v1::WatchChangesResponse message_;
  };

  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    streaming_ = true;
    stream_ctx_ = std::make_shared<grpc::ClientContext>();
    pending_ = new Stream(shared_from_this(), stream_ctx_, cursor_);
  }

 public:
  void StartPending() {
    Stream* stream;
    {
      absl::MutexLock lock(&mu_);
      stream = std::exchange(pending_, nullptr);
    }
    if (stream != nullptr) stream->Start();
  }

 private:
  void Deliver(const cases::v1::WatchChangesResponse& m) {
    const std::string& cursor = m.has_bookmark() ? m.bookmark().cursor() : m.change().cursor();
    auto seq = fanout_->cursors_.Decode(context_.tenant(), context_.client_id(), cursor, "cursor");
    if (!seq.ok()) {
      log::Error("unreadable feed cursor from case-svc", {{"method", kWatchMethod}});
      return;
    }
    auto frame = RenderFeedFrame(m, *seq);
    absl::MutexLock lock(&mu_);
    cursor_ = cursor;
    failures_ = 0;
    for (FeedListener* l : listeners_) l->OnFrame(frame);
  }

  void StreamDone(const grpc::Status& status) {
    bool ended = false;
    {
      absl::MutexLock lock(&mu_);
      stream_ctx_ = nullptr;
      streaming_ = false;
      if (ended_ || listeners_.empty()) return;
      const auto code = status.error_code();
      // A cursor case-svc refuses (expired, foreign) will not get better;
      // anything else is a backend going away and coming back.
      const bool lasting = code == grpc::StatusCode::INVALID_ARGUMENT ||
                           code == grpc::StatusCode::FAILED_PRECONDITION ||
                           code == grpc::StatusCode::PERMISSION_DENIED ||
                           code == grpc::StatusCode::UNAUTHENTICATED;
      if (!lasting && ++failures_ <= 10) {
        // Listeners keep their place: the stream resumes from the last
        // frame any of them got. No timer, no thread: the new call waits
        // for the channel to be ready (its reconnect backoff is the pace).
        StartLocked();
      } else {
        ended = true;
      }
    }
    if (ended) return End(status);
    StartPending();
  }

  WatchFanout* const fanout_;
  const std::string key_;
  const CallContext context_;
  const bool full_;
  absl::Mutex mu_;
  std::vector<FeedListener*> listeners_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::ClientContext> stream_ctx_ ABSL_GUARDED_BY(mu_);
  std::string cursor_ ABSL_GUARDED_BY(mu_);  // empty: from now
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  Stream* pending_ ABSL_GUARDED_BY(mu_) = nullptr;  // made, not yet started
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
};

class WatchFanout::SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(WatchFanout* fanout, std::shared_ptr<Group> group, std::string key,
                   FeedListener* listener)
      : fanout_(fanout), group_(std::move(group)), key_(std::move(key)), listener_(listener) {}
  ~SubscriptionImpl() override {
    absl::MutexLock lock(&fanout_->mu_);
    if (group_->Remove(listener_)) {
      auto it = fanout_->groups_.find(key_);
      if (it != fanout_->groups_.end() && it->second == group_) fanout_->groups_.erase(it);
    }
  }

 private:
  WatchFanout* const fanout_;
  const std::shared_ptr<Group> group_;
  const std::string key_;
  FeedListener* const listener_;
};

WatchFanout::WatchFanout(const Gateway* gateway)
    : gateway_(gateway), cursors_(CursorCodec::ForContextKey(gateway->context_key())) {}

WatchFanout::~WatchFanout() { Stop(); }

std::unique_ptr<WatchFanout::Subscription> WatchFanout::Join(const CallContext& context,
                                                             cases::v1::ChangeView view,
                                                             FeedListener* listener) {
  const bool full = view == cases::v1::CHANGE_VIEW_FULL;
  const std::string key = GroupKey(context, full);
  std::shared_ptr<Group> group;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      listener->OnEnd(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is stopping"));
      return nullptr;
    }
    auto& slot = groups_[key];
    if (slot != nullptr && slot->Add(listener)) {
      group = slot;
    } else {
      // The stream's own context: the group's tenant, client and view,
      // and no one key (watchers come and go under it).
      CallContext cc;
      cc.set_tenant(context.tenant());
      cc.set_client_id(context.client_id());
      cc.set_key_id("gateway-watch");
      cc.add_scopes(kScopeCasesRead);
      if (HasScope(context, kScopeCasesPii)) cc.add_scopes(kScopeCasesPii);
      cc.set_method(kWatchMethod);
      slot = std::make_shared<Group>(this, key, std::move(cc), full);
      group = slot;
      group->Add(listener);
    }
  }
  group->StartPending();
  return std::make_unique<SubscriptionImpl>(this, std::move(group), key, listener);
}

absl::StatusOr<int64_t> WatchFanout::CursorSeq(const CallContext& context,
                                               absl::string_view cursor) const {
  return cursors_.Decode(context.tenant(), context.client_id(), cursor, "cursor");
}

void WatchFanout::Forget(const std::string& key, const Group* group) {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(key);
  if (it != groups_.end() && it->second.get() == group) groups_.erase(it);
}

void WatchFanout::Stop() {
  std::vector<std::shared_ptr<Group>> groups;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (auto& [k, g] : groups_) groups.push_back(g);
  }
  for (auto& g : groups) {
    g->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is stopping"));
  }
  // The streams' completions touch this object: wait for them.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (streams_.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
}

int WatchFanout::groups() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(groups_.size());
}

}  // namespace counsel::gateway
