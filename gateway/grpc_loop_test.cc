// GrpcLoop, its client calls (StartUnary, ClientReadStream,
// ClientWriteStream) and LoopHealth, against a real server on loopback: a
// fake CaseService (sync) serves the typed calls; the loop's queues belong
// to the same server.
#include "gateway/grpc_loop.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_util.h"
#include "counsel/cases/v1/cases.grpc.pb.h"
#include "gateway/loop_health.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

using cases::v1::AddEvidenceRequest;
using cases::v1::CaseService;
using cases::v1::ReadEvidenceAttachmentRequest;
using cases::v1::ReadEvidenceAttachmentResponse;

// ReadEvidenceAttachment sends read_limit chunks "0", "1", ... then ends
// with OK, or with FAILED_PRECONDITION when the name is "fail"; "endless"
// sends until cancelled. AddEvidence counts the messages and the chunk
// bytes into the evidence's summary, or refuses the first message
// whose chunk is "bad". GetCase answers with the name asked for.
class FakeCases final : public CaseService::Service {
 public:
  grpc::Status GetCase(grpc::ServerContext*, const cases::v1::GetCaseRequest* request,
                       cases::v1::Case* response) override {
    response->set_name(request->name());
    return grpc::Status::OK;
  }
  grpc::Status ReadEvidenceAttachment(
      grpc::ServerContext* ctx, const ReadEvidenceAttachmentRequest* request,
      grpc::ServerWriter<ReadEvidenceAttachmentResponse>* writer) override {
    const bool endless = request->name() == "endless";
    for (int64_t i = 0; endless || i < request->read_limit(); ++i) {
      if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
      ReadEvidenceAttachmentResponse m;
      m.set_offset(i);
      m.set_chunk(absl::StrCat(i));
      if (!writer->Write(m)) return grpc::Status::CANCELLED;
    }
    if (request->name() == "fail") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "failed on purpose");
    }
    return grpc::Status::OK;
  }
  grpc::Status AddEvidence(grpc::ServerContext*, grpc::ServerReader<AddEvidenceRequest>* reader,
                           cases::v1::Evidence* response) override {
    AddEvidenceRequest m;
    int messages = 0;
    std::string bytes;
    while (reader->Read(&m)) {
      if (m.chunk() == "bad") return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad");
      ++messages;
      bytes += m.chunk();
    }
    response->set_summary(absl::StrCat(messages, ":", bytes));
    return grpc::Status::OK;
  }
};

class GrpcLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&cases_);
    const auto [watchers, per_peer] = HealthCaps();
    health_ = std::make_unique<LoopHealth>(&loop_, watchers, per_peer);
    health_->Register(builder);
    loop_.AddQueues(builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    loop_.Start([this](int shard) {
      health_->Start(shard);
      absl::MutexLock lock(&mu_);
      started_on_.insert({shard, loop_.CurrentShard()});
    });
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    stub_ = CaseService::NewStub(channel_);
  }
  void TearDown() override {
    server_->Shutdown();
    loop_.Stop();
  }

  grpc::CompletionQueue* queue() { return loop_.queue(loop_.PickShard()); }
  // Health watchers allowed at once, and from one address.
  virtual std::pair<int, int> HealthCaps() { return {2, 16}; }

  FakeCases cases_;
  GrpcLoop loop_{2};
  std::unique_ptr<LoopHealth> health_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<CaseService::Stub> stub_;
  absl::Mutex mu_;
  std::set<std::pair<int, int>> started_on_ ABSL_GUARDED_BY(mu_);
};

TEST_F(GrpcLoopTest, EachThreadKnowsItsShardAndOtherThreadsAreSpread) {
  {
    absl::MutexLock lock(&mu_);
    auto both = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return started_on_.size() == 2; };
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(30)));
    EXPECT_EQ(started_on_, (std::set<std::pair<int, int>>{{0, 0}, {1, 1}}));
  }
  EXPECT_EQ(loop_.CurrentShard(), -1) << "the test's thread is not the loop's";
  const int a = loop_.PickShard(), b = loop_.PickShard();
  EXPECT_NE(a, b) << "calls started elsewhere take the threads in turn";
}

TEST_F(GrpcLoopTest, AUnaryCallEndsOnTheLoopWithItsResponse) {
  grpc::ClientContext ctx;
  cases::v1::GetCaseRequest request;
  request.set_name("cases/42");
  cases::v1::Case response;
  absl::Notification done;
  grpc::Status got;
  int shard_seen = -2;
  const int shard = loop_.PickShard();
  StartUnary(loop_, [&] { return stub_->PrepareAsyncGetCase(&ctx, request, loop_.queue(shard)); },
             &response,
             [&](const grpc::Status& s) {
               got = s;
               shard_seen = loop_.CurrentShard();
               done.Notify();
             });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(response.name(), "cases/42");
  EXPECT_EQ(shard_seen, shard) << "`done` runs on the thread of the queue the call was made on";
}

// Reads every message, handing each to another thread (a hold keeps the
// call open meanwhile), as the HTTP front's download relay does.
class Reader final : public ClientReadStream<ReadEvidenceAttachmentResponse> {
 public:
  void OnReadDone(bool ok) override {
    if (!ok) return;
    chunks += message.chunk();
    AddHold();
    std::thread([this] {
      StartRead(&message);
      RemoveHold();
    }).detach();
  }
  void OnDone(const grpc::Status& s) override {
    status = s;
    done.Notify();
  }
  grpc::ClientContext ctx;
  ReadEvidenceAttachmentResponse message;
  std::string chunks;
  grpc::Status status;
  absl::Notification done;
};

TEST_F(GrpcLoopTest, AReadStreamDeliversEveryMessageThenTheStatus) {
  for (const char* name : {"ok", "fail"}) {
    Reader reader;
    ReadEvidenceAttachmentRequest request;
    request.set_name(name);
    request.set_read_limit(12);
    reader.StartRead(&reader.message);  // before the start, as relays do
    reader.StartCall(loop_, stub_->PrepareAsyncReadEvidenceAttachment(&reader.ctx, request, queue()));
    ASSERT_TRUE(reader.done.WaitForNotificationWithTimeout(absl::Seconds(30))) << name;
    EXPECT_EQ(reader.chunks, "01234567891011") << name;
    EXPECT_EQ(reader.status.error_code(), std::string(name) == "ok"
                                              ? grpc::StatusCode::OK
                                              : grpc::StatusCode::FAILED_PRECONDITION);
  }
}

// Stops reading after `keep` messages and cancels: OnDone still comes.
class Quitter final : public ClientReadStream<ReadEvidenceAttachmentResponse> {
 public:
  explicit Quitter(int keep) : keep_(keep) {}
  void OnReadDone(bool ok) override {
    if (ok && ++read < keep_) return StartRead(&message);
    ctx.TryCancel();
  }
  void OnDone(const grpc::Status& s) override {
    status = s;
    done.Notify();
  }
  grpc::ClientContext ctx;
  ReadEvidenceAttachmentResponse message;
  int read = 0;
  grpc::Status status;
  absl::Notification done;

 private:
  const int keep_;
};

TEST_F(GrpcLoopTest, AReaderThatStopsAndCancelsStillEnds) {
  Quitter quitter(3);
  ReadEvidenceAttachmentRequest request;
  request.set_name("endless");
  quitter.StartRead(&quitter.message);
  quitter.StartCall(loop_,
                    stub_->PrepareAsyncReadEvidenceAttachment(&quitter.ctx, request, queue()));
  ASSERT_TRUE(quitter.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(quitter.read, 3);
  EXPECT_EQ(quitter.status.error_code(), grpc::StatusCode::CANCELLED);
}

// Writes `chunks` one at a time (the first before the call starts), then
// ends the requests.
class Writer final : public ClientWriteStream<AddEvidenceRequest> {
 public:
  explicit Writer(std::vector<std::string> chunks) : chunks_(std::move(chunks)) {}
  void Begin(GrpcLoop& loop, CaseService::Stub* stub) {
    Next();
    StartCall(loop, stub->PrepareAsyncAddEvidence(&ctx, &evidence, loop.PickQueue()));
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      failed_writes++;
      return;
    }
    Next();
  }
  void OnDone(const grpc::Status& s) override {
    status = s;
    done.Notify();
  }
  grpc::ClientContext ctx;
  cases::v1::Evidence evidence;
  grpc::Status status;
  int failed_writes = 0;
  absl::Notification done;

 private:
  void Next() {
    if (next_ == chunks_.size()) return StartWritesDone();
    message_.set_chunk(chunks_[next_++]);
    StartWrite(&message_);
  }
  const std::vector<std::string> chunks_;
  size_t next_ = 0;
  AddEvidenceRequest message_;
};

TEST_F(GrpcLoopTest, AWriteStreamSendsEveryMessageAndGetsTheResponse) {
  Writer writer({"a", "b", "c", "d"});
  writer.Begin(loop_, stub_.get());
  ASSERT_TRUE(writer.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(writer.status.ok()) << writer.status.error_message();
  EXPECT_EQ(writer.evidence.summary(), "4:abcd");
  EXPECT_EQ(writer.failed_writes, 0);
}

TEST_F(GrpcLoopTest, AWriteStreamRefusedMidwayEndsWithTheRefusal) {
  // The server answers at the third message; writes after it fail.
  std::vector<std::string> chunks = {"a", "b", "bad"};
  for (int i = 0; i < 200; ++i) chunks.push_back(std::string(1024, 'x'));
  Writer writer(chunks);
  writer.Begin(loop_, stub_.get());
  ASSERT_TRUE(writer.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(writer.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// grpc.health.v1 on the loop, called as bytes.
std::string Check(grpc::GenericStub& stub, const std::string& request, grpc::Status* status) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1), resp;
  absl::Notification done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) {
                   *status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return Flatten(resp);
}

std::string Request(const std::string& service) {
  if (service.empty()) return "";
  return absl::StrCat("\x0a", std::string(1, static_cast<char>(service.size())), service);
}

TEST_F(GrpcLoopTest, HealthAnswersChecksAsTheDefaultServiceDoes) {
  grpc::GenericStub stub(channel_);
  grpc::Status status;
  EXPECT_EQ(Check(stub, "", &status), LoopHealth::Response(LoopHealth::kServing));
  EXPECT_TRUE(status.ok());
  server_->GetHealthCheckService()->SetServingStatus(false);
  EXPECT_EQ(Check(stub, Request(""), &status), LoopHealth::Response(LoopHealth::kNotServing));
  Check(stub, Request("counsel.Nothing"), &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  server_->GetHealthCheckService()->SetServingStatus("counsel.Nothing", true);
  EXPECT_EQ(Check(stub, Request("counsel.Nothing"), &status),
            LoopHealth::Response(LoopHealth::kServing));
  Check(stub, "\x0a\x05" "ab", &status);  // a length beyond the bytes
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  server_->GetHealthCheckService()->Shutdown();
  EXPECT_EQ(Check(stub, Request("counsel.Nothing"), &status),
            LoopHealth::Response(LoopHealth::kNotServing));
  server_->GetHealthCheckService()->SetServingStatus(true);
  EXPECT_EQ(Check(stub, "", &status), LoopHealth::Response(LoopHealth::kNotServing))
      << "no change after Shutdown";
}

// A Watch as a bidi call on its own queue: one request, then reads.
class WatchCall {
 public:
  explicit WatchCall(const std::shared_ptr<grpc::Channel>& channel) : stub_(channel) {
    call_ = stub_.PrepareCall(&ctx_, "/grpc.health.v1.Health/Watch", &cq_);
    call_->StartCall(this);
    Next();
    grpc::Slice empty("");
    call_->WriteLast(grpc::ByteBuffer(&empty, 1), grpc::WriteOptions(), this);
    Next();
  }
  ~WatchCall() {
    if (!finished_) {
      ctx_.TryCancel();
      grpc::Status status;
      call_->Finish(&status, this);
      Next();
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  // The next status sent, or "" when the stream ended (`status` says why).
  std::string Read(grpc::Status* status = nullptr) {
    grpc::ByteBuffer got;
    call_->Read(&got, this);
    if (!Next()) {
      grpc::Status s;
      call_->Finish(&s, this);
      Next();
      if (status != nullptr) *status = s;
      finished_ = true;
      return "";
    }
    return Flatten(got);
  }

 private:
  bool Next() {
    void* tag;
    bool ok = false;
    EXPECT_EQ(cq_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::chrono::seconds(30)),
              grpc::CompletionQueue::GOT_EVENT);
    return ok;
  }
  grpc::GenericStub stub_;
  grpc::CompletionQueue cq_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool finished_ = false;
};

TEST_F(GrpcLoopTest, AHealthWatcherHearsTheStatusThenEachChange) {
  WatchCall watch(channel_);
  EXPECT_EQ(watch.Read(), LoopHealth::Response(LoopHealth::kServing));
  server_->GetHealthCheckService()->SetServingStatus(false);
  EXPECT_EQ(watch.Read(), LoopHealth::Response(LoopHealth::kNotServing));
  server_->GetHealthCheckService()->SetServingStatus(true);
  EXPECT_EQ(watch.Read(), LoopHealth::Response(LoopHealth::kServing));
}

TEST_F(GrpcLoopTest, HealthWatchersAreCapped) {
  // The fixture allows two at once: anyone may watch, keys or not.
  auto first = std::make_unique<WatchCall>(channel_);
  WatchCall second(channel_);
  EXPECT_EQ(first->Read(), LoopHealth::Response(LoopHealth::kServing));
  EXPECT_EQ(second.Read(), LoopHealth::Response(LoopHealth::kServing));
  {
    WatchCall third(channel_);
    grpc::Status status;
    EXPECT_EQ(third.Read(&status), "");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // A place comes free once the server has seen the cancellation, which
  // the client cannot observe: asked again until then.
  first.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    WatchCall again(channel_);
    grpc::Status status;
    if (again.Read(&status) == LoopHealth::Response(LoopHealth::kServing)) return;
    ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    absl::SleepFor(absl::Milliseconds(20));
  }
  FAIL() << "the place of a cancelled watcher never came free";
}

class GrpcLoopPerPeerTest : public GrpcLoopTest {
  std::pair<int, int> HealthCaps() override { return {10, 2}; }
};

TEST_F(GrpcLoopPerPeerTest, OneAddressHoldsFewHealthWatchers) {
  WatchCall first(channel_), second(channel_);
  EXPECT_EQ(first.Read(), LoopHealth::Response(LoopHealth::kServing));
  EXPECT_EQ(second.Read(), LoopHealth::Response(LoopHealth::kServing));
  WatchCall third(channel_);
  grpc::Status status;
  EXPECT_EQ(third.Read(&status), "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "two from this address, though ten are allowed in all";
}

TEST_F(GrpcLoopTest, AStoppingLoopRefusesNewCallsAndDrainsTheRest) {
  // A call in flight when Stop begins is waited for; one started after is
  // refused at once; Stop returns once the first has ended. The call goes
  // to a backend of its own: the loop's server shuts down first, as the
  // gateway's does, and must not end the call with it.
  FakeCases backend_cases;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&backend_cases);
  std::unique_ptr<grpc::Server> backend = builder.BuildAndStart();
  ASSERT_NE(backend, nullptr);
  auto stub = CaseService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  Reader reading;
  ReadEvidenceAttachmentRequest request;
  request.set_name("endless");
  reading.StartRead(&reading.message);
  reading.StartCall(loop_, stub->PrepareAsyncReadEvidenceAttachment(&reading.ctx, request,
                                                                   queue()));
  server_->Shutdown(std::chrono::system_clock::now());  // what the gateway does first
  absl::Notification stopped;
  std::thread stopper([&] {
    loop_.Stop();
    stopped.Notify();
  });
  EXPECT_FALSE(stopped.WaitForNotificationWithTimeout(absl::Milliseconds(200)))
      << "the call in flight holds the queues open";
  // Stop begins on its thread: from then on a call is turned away at once,
  // on the calling thread, before anything reaches a queue.
  cases::v1::Case response;
  grpc::Status refused;
  bool refused_here = false;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       !refused_here && absl::Now() < give_up;) {
    grpc::ClientContext probe;
    probe.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    absl::Notification ran;
    const std::thread::id caller = std::this_thread::get_id();
    StartUnary(loop_, [&] { return stub->PrepareAsyncGetCase(&probe, {}, queue()); }, &response,
               [&](const grpc::Status& s) {
                 refused = s;
                 refused_here = std::this_thread::get_id() == caller;
                 ran.Notify();
               });
    ran.WaitForNotification();  // a call let through ends by the deadline at most
  }
  ASSERT_TRUE(refused_here);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(refused.error_message(), "the gateway is stopping");
  // A stream asked for now is refused too, its read failed and its end told.
  Reader late;
  late.StartRead(&late.message);
  late.StartCall(loop_, stub->PrepareAsyncReadEvidenceAttachment(&late.ctx, request, queue()));
  ASSERT_TRUE(late.done.HasBeenNotified());
  EXPECT_EQ(late.status.error_message(), "the gateway is stopping");
  // A refused stream whose end frees its owner, context and all (as the
  // HTTP front's relays do): the call, which lives in the context's arena,
  // must be gone before (ASan saw it freed after).
  struct Owned final : ClientReadStream<ReadEvidenceAttachmentResponse> {
    void OnDone(const grpc::Status& s) override {
      *status = s;
      delete this;
    }
    grpc::ClientContext ctx;
    grpc::Status* status;
  };
  grpc::Status owned_status;
  auto* owned = new Owned();
  owned->status = &owned_status;
  owned->StartCall(loop_, stub->PrepareAsyncReadEvidenceAttachment(&owned->ctx, request, queue()));
  EXPECT_EQ(owned_status.error_message(), "the gateway is stopping");
  Writer writer({"a", "b"});
  writer.Begin(loop_, stub.get());
  ASSERT_TRUE(writer.done.HasBeenNotified());
  EXPECT_EQ(writer.failed_writes, 1);  // the first write; nothing followed it
  EXPECT_EQ(writer.status.error_message(), "the gateway is stopping");
  reading.ctx.TryCancel();
  ASSERT_TRUE(reading.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(stopped.WaitForNotificationWithTimeout(absl::Seconds(30)));
  stopper.join();
  backend->Shutdown();
}

TEST_F(GrpcLoopTest, AStopGivesUpOnACallThatNeverEnds) {
  // A call whose owner stopped without ending it (its HTTP connection went
  // with the front) must not hold the process at its exit: Stop waits its
  // grace, says how many were left, and shuts the queues.
  ASSERT_TRUE(loop_.Enter());
  server_->Shutdown();
  EXPECT_EQ(loop_.Stop(absl::Milliseconds(20)), 1);
  EXPECT_FALSE(loop_.Enter()) << "stopped";
  loop_.Leave();
}

TEST(LoopHealthTest, RequestsParseAsTheProtoDoes) {
  std::string service;
  EXPECT_TRUE(LoopHealth::ParseRequest("", &service));
  EXPECT_EQ(service, "");
  EXPECT_TRUE(LoopHealth::ParseRequest(std::string("\x0a\x03" "abc", 5), &service));
  EXPECT_EQ(service, "abc");
  // An unknown field is skipped; the last `service` wins.
  EXPECT_TRUE(LoopHealth::ParseRequest(std::string("\x10\x01\x0a\x01x\x0a\x01y", 8), &service));
  EXPECT_EQ(service, "y");
  EXPECT_FALSE(LoopHealth::ParseRequest(std::string("\x0a\x05" "ab", 4), &service));
  EXPECT_FALSE(LoopHealth::ParseRequest(std::string("\xff", 1), &service));
  EXPECT_EQ(LoopHealth::Response(LoopHealth::kUnknown), "");
  EXPECT_EQ(LoopHealth::Response(LoopHealth::kNotServing), std::string("\x08\x02", 2));
}

}  // namespace
}  // namespace counsel::gateway
