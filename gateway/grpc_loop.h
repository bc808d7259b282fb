// The gateway's gRPC threads. Each drains one completion queue that carries
// the calls it serves and the calls it makes to the backends (on the
// backend's one channel, whose completions come to the queue the call was
// started on), so a forwarded call is read, admitted, sent on, answered and
// logged on one thread: no hand-off between threads, no lock shared with
// other calls. gRPC's callback API hands every
// completion to a pool of threads shared by all calls, and those threads
// poll every connection; a server that registers no callback service and no
// default health service (GrpcFront and LoopHealth take their places) has
// only these threads polling its connections.
//
//   GrpcLoop loop(2);
//   loop.AddQueues(builder);                 // before BuildAndStart
//   ... server = builder.BuildAndStart();
//   loop.Start([&](int shard) { /* request the first calls on shard */ });
//   ... server->Shutdown(); (stop everything that makes calls)
//   loop.Stop();
#ifndef COUNSEL_GATEWAY_GRPC_LOOP_H_
#define COUNSEL_GATEWAY_GRPC_LOOP_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/status.h"

namespace counsel::gateway {

// What the loop's threads take off their queues: Run(ok) is called once per
// operation the tag was given to, on the queue's thread.
class LoopTag {
 public:
  virtual void Run(bool ok) = 0;

 protected:
  ~LoopTag() = default;
};

// A tag that calls a member function of its owner: an object with several
// operations in flight holds one of these per kind of operation.
template <typename T, void (T::*F)(bool)>
class MemberTag final : public LoopTag {
 public:
  explicit MemberTag(T* owner) : owner_(owner) {}
  void Run(bool ok) override { (owner_->*F)(ok); }

 private:
  T* owner_;
};

class GrpcLoop {
 public:
  explicit GrpcLoop(int threads);
  ~GrpcLoop();
  GrpcLoop(const GrpcLoop&) = delete;
  GrpcLoop& operator=(const GrpcLoop&) = delete;

  // One server completion queue per thread; before the server is built.
  void AddQueues(grpc::ServerBuilder& builder);
  // Starts the threads; each first runs `on_start(shard)` (which requests
  // the server's first calls on its queue).
  void Start(std::function<void(int shard)> on_start);
  // Refuses new calls (Enter is false from now on), waits up to `grace`
  // for every call still counted to end, then shuts the queues down, lets
  // them drain and joins the threads. Call it once the server has shut down
  // and the HTTP front has stopped: the calls left then end by their
  // cancellation or their deadline. Returns how many were still counted
  // when the grace ran out (a call whose owner stopped without ending it,
  // such as a download whose HTTP connection went with the front: waiting
  // for it would hold the process forever). Idempotent.
  int Stop(absl::Duration grace = absl::Seconds(10));

  // Every call served or made on the loop counts from its start to its end:
  // a call may issue its next operation at any time before it ends, and an
  // operation on a queue already shut down aborts the process. Enter is
  // false once Stop has begun: the caller then starts nothing (it ends the
  // call at once, or lets go of it).
  bool Enter();
  void Leave();

  // Threads (and queues, once added): known from the start, so that the
  // backend channels can be opened before the server is built.
  int size() const { return threads_; }
  grpc::ServerCompletionQueue* queue(int shard) const { return queues_[shard].get(); }
  // The calling thread's shard if it is one of the loop's threads, else the
  // next in turn: calls started elsewhere (the HTTP front) are spread.
  int PickShard() const;
  // That shard's queue: where a client call started here completes.
  grpc::ServerCompletionQueue* PickQueue() const { return queue(PickShard()); }
  // The calling thread's shard if it is one of the loop's threads, else -1.
  int CurrentShard() const;

 private:
  const int threads_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> workers_;
  mutable std::atomic<unsigned> next_{0};
  std::atomic<int> active_{0};
  std::atomic<bool> closing_{false};
  absl::Mutex mu_;
  absl::CondVar idle_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// UNAVAILABLE for a call the loop refuses because it is stopping.
grpc::Status LoopStopping();

// Starts the call `prepare()` returns (a PrepareAsync...() on a queue of
// `loop`) and runs `done(status)` on that queue's thread when it ends;
// `response` is filled by then. The call's ClientContext must live until
// `done` runs. A stopping loop runs `done` at once, here, with
// LoopStopping(), and `prepare` is not called: a prepared unary call that is
// never started keeps its serialized request for good (gRPC frees it when
// the send completes).
//
//   StartUnary(loop, [&] { return stub->PrepareAsyncGetCase(&ctx, req, q); },
//              &response, [](const grpc::Status& s) { ... });
template <typename Response, typename Prepare>
void StartUnary(GrpcLoop& loop, Prepare&& prepare, Response* response,
                absl::AnyInvocable<void(const grpc::Status&)> done) {
  struct Pending final : LoopTag {
    GrpcLoop* loop;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> call;
    grpc::Status status;
    absl::AnyInvocable<void(const grpc::Status&)> done;
    void Run(bool /*ok: always true for Finish*/) override {
      // The reader lives in the call's arena, which goes with its context:
      // it is destroyed before `done` may let the context go.
      call.reset();
      loop->Leave();
      done(status);
      delete this;
    }
  };
  if (!loop.Enter()) return done(LoopStopping());
  auto* pending = new Pending();
  pending->loop = &loop;
  pending->call = std::forward<Prepare>(prepare)();
  pending->done = std::move(done);
  pending->call->StartCall();
  pending->call->Finish(response, &pending->status, pending);
}

namespace loop_internal {

// What a client stream on the loop counts to know when it is over: the
// operations in flight, the holds its owner takes, and whether the status
// is in. OnDone runs once, after all of them, with a copy of the status
// (the object may delete itself there).
class StreamEnd {
 public:
  virtual ~StreamEnd() = default;

  void AddHold() {
    absl::MutexLock lock(&mu_);
    ++holds_;
  }
  void RemoveHold() { Settle(/*ended_op=*/false, /*released_hold=*/true); }

  virtual void OnDone(const grpc::Status& status) = 0;

 protected:
  // Counts the call in `loop`. False when the loop refuses it: `call` is
  // then gone (before the refusal is told: OnDone may free the context, and
  // with it the call's arena, where the reader or writer lives), the call
  // is over, its status LoopStopping(), and the subclass fails what was
  // asked of it.
  template <typename Call>
  bool Enter(GrpcLoop& loop, std::unique_ptr<Call>& call) {
    if (loop.Enter()) {
      loop_ = &loop;
      return true;
    }
    call.reset();
    absl::MutexLock lock(&mu_);
    finished_ = true;
    status_ = LoopStopping();
    return false;
  }
  // After an operation ended or a hold went.
  void Settle(bool ended_op, bool released_hold) {
    bool done = false;
    {
      absl::MutexLock lock(&mu_);
      if (ended_op) --pending_;
      if (released_hold) --holds_;
      BeforeSettleLocked();
      if (finished_ && pending_ == 0 && holds_ == 0 && !done_) done = done_ = true;
    }
    if (!done) return;
    // The reader or writer lives in the call's arena, which goes with the
    // owner's ClientContext: it is destroyed while that is surely alive.
    DropCall();
    if (loop_ != nullptr) loop_->Leave();
    OnDone(grpc::Status(status_));
  }
  // A reader asks for its status here, when it may.
  virtual void BeforeSettleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {}
  virtual void DropCall() = 0;

  void FinishDone(bool /*ok: always*/) {
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    Settle(true, false);
  }

  absl::Mutex mu_;
  int pending_ ABSL_GUARDED_BY(mu_) = 0;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_;
  MemberTag<StreamEnd, &StreamEnd::FinishDone> finish_tag_{this};

 private:
  GrpcLoop* loop_ = nullptr;  // set when counted
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace loop_internal

// A server-streaming call on the loop, driven like gRPC's
// ClientReadReactor (the same method names, so relays read alike on either
// API): StartRead() asks for the next message, OnReadDone(false) says there
// are no more, holds keep the call open while work happens elsewhere, and
// OnDone(status) runs last, once every operation has completed and the
// status is in; the object may delete itself there. Callbacks run on the
// loop thread of the call's queue; StartRead and the holds may be called
// from any thread. Stopping early: cancel the ClientContext.
template <typename Response>
class ClientReadStream : public loop_internal::StreamEnd {
 public:
  // Starts `call` (PrepareAsync... on a queue of `loop`); a read asked for
  // before is issued now. A stopping loop refuses the call: every read,
  // asked for before or after, then fails at once on the asking thread,
  // and OnDone(LoopStopping()) follows once nothing is held.
  void StartCall(GrpcLoop& loop, std::unique_ptr<grpc::ClientAsyncReader<Response>> call) {
    if (!Enter(loop, call)) return Refuse();
    absl::MutexLock lock(&mu_);
    call_ = std::move(call);
    ++pending_;
    call_->StartCall(&start_tag_);
    if (queued_read_ != nullptr) IssueReadLocked(std::exchange(queued_read_, nullptr));
  }
  void StartRead(Response* response) {
    {
      absl::MutexLock lock(&mu_);
      if (!refused_) {
        if (call_ == nullptr) {
          queued_read_ = response;
        } else {
          IssueReadLocked(response);
        }
        return;
      }
      ++holds_;
    }
    OnReadDone(false);
    Settle(false, true);
  }

  virtual void OnReadDone(bool /*ok*/) {}

 private:
  void Refuse() {
    bool asked;
    {
      absl::MutexLock lock(&mu_);
      refused_ = reads_over_ = true;
      asked = std::exchange(queued_read_, nullptr) != nullptr;
      ++holds_;
    }
    if (asked) OnReadDone(false);
    Settle(false, true);
  }
  void IssueReadLocked(Response* response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reading_ = true;
    ++pending_;
    call_->Read(response, &read_tag_);
  }
  void Started(bool /*ok: a failed start fails the reads*/) { Settle(true, false); }
  void ReadDone(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) reads_over_ = true;
      ++holds_;  // OnReadDone may read on, or take a hold, before we settle
    }
    OnReadDone(ok);
    Settle(true, true);
  }
  // The status is asked for once no read is pending and either the
  // messages ended or nobody holds the call (its owner stopped reading);
  // never while a read is pending, since both would ask for the initial
  // metadata and gRPC refuses a second such operation.
  void BeforeSettleLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (call_ != nullptr && !finishing_ && !reading_ && (reads_over_ || holds_ == 0)) {
      finishing_ = true;
      ++pending_;
      call_->Finish(&status_, &finish_tag_);
    }
  }
  void DropCall() override {
    absl::MutexLock lock(&mu_);
    call_.reset();
  }

  std::unique_ptr<grpc::ClientAsyncReader<Response>> call_ ABSL_GUARDED_BY(mu_);
  Response* queued_read_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_over_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool refused_ ABSL_GUARDED_BY(mu_) = false;  // by a stopping loop
  MemberTag<ClientReadStream, &ClientReadStream::Started> start_tag_{this};
  MemberTag<ClientReadStream, &ClientReadStream::ReadDone> read_tag_{this};
};

// A client-streaming call on the loop, driven like gRPC's
// ClientWriteReactor: StartWrite() sends one message at a time
// (OnWriteDone(false): the call has ended, its status follows),
// StartWritesDone() ends the requests, holds keep the call open, and
// OnDone(status) runs last, the response filled in. The status is asked
// for at the start, so a refusal mid-upload is known at the next write.
// Writes asked for while one is in flight wait their turn. Threads as
// ClientReadStream.
template <typename Request>
class ClientWriteStream : public loop_internal::StreamEnd {
 public:
  // As ClientReadStream::StartCall (a refused call fails every write).
  void StartCall(GrpcLoop& loop, std::unique_ptr<grpc::ClientAsyncWriter<Request>> call) {
    if (!Enter(loop, call)) return Refuse();
    absl::MutexLock lock(&mu_);
    call_ = std::move(call);
    // The start sends the initial metadata through the operation set that
    // writes use: the first write waits for it.
    pending_ += 2;
    call_->StartCall(&start_tag_);
    call_->Finish(&status_, &finish_tag_);
  }
  void StartWrite(const Request* request) { Queue({request, Op::kWrite}); }
  // The last message, and the end of the requests with it.
  void StartWriteLast(const Request* request) { Queue({request, Op::kWriteLast}); }
  void StartWritesDone() { Queue({nullptr, Op::kWritesDone}); }

  virtual void OnWriteDone(bool /*ok*/) {}
  virtual void OnWritesDoneDone(bool /*ok*/) {}

 private:
  struct Op {
    const Request* request;
    enum Kind { kWrite, kWriteLast, kWritesDone } kind;
  };
  void Queue(Op op) {
    {
      absl::MutexLock lock(&mu_);
      if (!refused_) {
        queue_.push_back(op);
        if (!busy_) IssueLocked();
        return;
      }
      ++holds_;  // the callback may take a hold before we settle
    }
    Report(op, false);
    Settle(false, true);
  }
  void Refuse() {
    std::vector<Op> asked;
    {
      absl::MutexLock lock(&mu_);
      refused_ = true;
      asked = TakeQueuedLocked();
    }
    FailTaken(asked);
  }
  // The writes asked for and not issued, held while their failures are
  // told (FailTaken).
  std::vector<Op> TakeQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<Op> taken(queue_.begin(), queue_.end());
    queue_.clear();
    ++holds_;
    return taken;
  }
  void FailTaken(const std::vector<Op>& taken) {
    for (const Op& op : taken) Report(op, false);
    Settle(false, true);
  }
  // Issues the next queued operation, if any.
  void IssueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.empty()) return;
    const Op op = queue_.front();
    busy_ = true;
    ++pending_;
    switch (op.kind) {
      case Op::kWritesDone:
        call_->WritesDone(&write_tag_);
        break;
      case Op::kWriteLast:
        call_->Write(*op.request, grpc::WriteOptions().set_last_message(), &write_tag_);
        break;
      case Op::kWrite:
        call_->Write(*op.request, &write_tag_);
        break;
    }
  }
  void Started(bool ok) {
    std::vector<Op> refused;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (ok) {
        IssueLocked();
      } else {
        refused = TakeQueuedLocked();
      }
    }
    // Writes asked for on a call that never started fail as writes on an
    // ended call do.
    if (!ok) FailTaken(refused);
    Settle(true, false);
  }
  void WriteDone(bool ok) {
    Op op;
    {
      absl::MutexLock lock(&mu_);
      op = queue_.front();
      queue_.pop_front();
      busy_ = false;
      ++holds_;  // the callback may queue the next write, or take a hold
    }
    Report(op, ok);
    {
      absl::MutexLock lock(&mu_);
      if (!busy_) IssueLocked();
    }
    Settle(true, true);
  }
  void Report(const Op& op, bool ok) {
    if (op.kind == Op::kWritesDone) {
      OnWritesDoneDone(ok);
    } else {
      OnWriteDone(ok);
    }
  }
  void DropCall() override {
    absl::MutexLock lock(&mu_);
    call_.reset();
  }

  std::unique_ptr<grpc::ClientAsyncWriter<Request>> call_ ABSL_GUARDED_BY(mu_);
  std::deque<Op> queue_ ABSL_GUARDED_BY(mu_);  // front: in flight when busy_
  // Nothing is issued until the start has completed.
  bool busy_ ABSL_GUARDED_BY(mu_) = true;
  bool refused_ ABSL_GUARDED_BY(mu_) = false;  // by a stopping loop
  MemberTag<ClientWriteStream, &ClientWriteStream::Started> start_tag_{this};
  MemberTag<ClientWriteStream, &ClientWriteStream::WriteDone> write_tag_{this};
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_GRPC_LOOP_H_
