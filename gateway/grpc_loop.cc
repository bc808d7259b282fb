#include "gateway/grpc_loop.h"

#include <algorithm>

namespace counsel::gateway {
namespace {

thread_local const GrpcLoop* t_loop = nullptr;
thread_local int t_shard = -1;

}  // namespace

GrpcLoop::GrpcLoop(int threads) : threads_(std::max(1, threads)) {}

GrpcLoop::~GrpcLoop() { Stop(); }

void GrpcLoop::AddQueues(grpc::ServerBuilder& builder) {
  for (int i = 0; i < threads_; ++i) queues_.push_back(builder.AddCompletionQueue());
}

void GrpcLoop::Start(std::function<void(int shard)> on_start) {
  for (int shard = 0; shard < static_cast<int>(queues_.size()); ++shard) {
    workers_.emplace_back([this, shard, on_start] {
      t_loop = this;
      t_shard = shard;
      on_start(shard);
      grpc::ServerCompletionQueue* queue = queues_[shard].get();
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) static_cast<LoopTag*>(tag)->Run(ok);
    });
  }
}

int GrpcLoop::Stop(absl::Duration grace) {
  int left = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return 0;
    stopped_ = true;
    closing_.store(true);
    // Leave signals under mu_ when the count drops to zero while closing,
    // so the signal cannot fall between the check and the wait.
    const absl::Time give_up = absl::Now() + grace;
    while (active_.load() > 0 && !idle_.WaitWithDeadline(&mu_, give_up)) {
    }
    left = active_.load();
  }
  for (auto& queue : queues_) queue->Shutdown();
  for (auto& worker : workers_) worker.join();
  // A queue that was never run (the server failed to start) still drains.
  if (workers_.empty()) {
    void* tag = nullptr;
    bool ok = false;
    for (auto& queue : queues_) {
      while (queue->Next(&tag, &ok)) static_cast<LoopTag*>(tag)->Run(ok);
    }
  }
  return left;
}

grpc::Status LoopStopping() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is stopping");
}

bool GrpcLoop::Enter() {
  // Counted first, then checked (both sequentially consistent): Stop, which
  // sets closing_ before it reads the count, either sees this call or this
  // call sees closing_.
  active_.fetch_add(1);
  if (!closing_.load()) return true;
  Leave();
  return false;
}

void GrpcLoop::Leave() {
  if (active_.fetch_sub(1) == 1 && closing_.load()) {
    absl::MutexLock lock(&mu_);
    idle_.SignalAll();
  }
}

int GrpcLoop::PickShard() const {
  if (t_loop == this) return t_shard;
  return static_cast<int>(next_.fetch_add(1, std::memory_order_relaxed) %
                          static_cast<unsigned>(size()));
}

int GrpcLoop::CurrentShard() const { return t_loop == this ? t_shard : -1; }

}  // namespace counsel::gateway
