#include "gateway/upstream.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gateway/policy.h"
#include "grpcpp/alarm.h"
#include "grpcpp/generic/async_generic_service.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

// Nothing listens on port 1: every call fails UNAVAILABLE at once.
std::shared_ptr<grpc::Channel> DeadChannel() {
  return grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
}

TEST(UpstreamTest, FailuresOpenTheCircuitAndTimeClosesIt) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const Upstream up("cases", DeadChannel(), nullptr, &clock);
  EXPECT_EQ(up.label(), "cases");
  EXPECT_EQ(up.bulk_channel(), up.channel()) << "no bulk channel: the main one";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(up.Admit().ok()) << i;
    up.Record(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  }
  const grpc::Status open = up.Admit();
  EXPECT_EQ(open.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(open.error_message().find("circuit open"), std::string::npos);
  // Other failures are the caller's, not the backend's: they do not count.
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(up.Admit().ok()) << "half-open after the pause";
  up.Record(grpc::Status::OK);
  for (int i = 0; i < 10; ++i) up.Record(grpc::Status(grpc::StatusCode::NOT_FOUND, "x"));
  EXPECT_TRUE(up.Admit().ok());
}

TEST(UpstreamTest, AnOpenCircuitRefusesAUnaryCallWithoutSendingIt) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const Upstream up("guidance", DeadChannel(), nullptr, &clock);
  for (int i = 0; i < 5; ++i) up.Record(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  Exchange ex;
  absl::Notification done;
  grpc::Status got;
  GrpcLoop loop(1);  // never started: a refused call never reaches it
  const std::string method = "/counsel.guidance.v1.GuidanceService/GetStatute";
  up.Call(method, loop, /*retry=*/true, &ex, [&](grpc::Status s) {
    got = std::move(s);
    done.Notify();
  });
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(got.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(got.error_message().find("guidance is unavailable"), std::string::npos);
}

// A backend whose /t/Flaky answers UNAVAILABLE to its first `failures`
// calls (or, with `every` set, to every call but each `every`th), then
// echoes; calls are counted.
class FlakyBackend final : public grpc::CallbackGenericService {
 public:
  std::atomic<int> failures{0};
  std::atomic<int> every{0};
  std::atomic<int> calls{0};
  absl::Notification first_call;

 private:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class R final : public grpc::ServerGenericBidiReactor {
     public:
      explicit R(FlakyBackend* b) : b_(b) { StartRead(&buf_); }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        const int n = ++b_->calls;
        if (!b_->first_call.HasBeenNotified()) b_->first_call.Notify();
        if (b_->every > 0 ? n % b_->every != 0 : b_->failures.fetch_sub(1) > 0) {
          return Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"));
        }
        StartWriteAndFinish(&buf_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      FlakyBackend* b_;
      grpc::ByteBuffer buf_;
    };
    return new R(this);
  }
};

class UpstreamRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(&backend_);
    loop_.AddQueues(builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    loop_.Start([](int) {});
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);  // as the gateway's channels
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials(), args);
    // Waits below a millisecond: the rules, quickly.
    Use(absl::Milliseconds(1), /*jitter=*/true);
  }
  // Retries wait (up to, with jitter) `backoff`.
  void Use(absl::Duration backoff, bool jitter) {
    RetryRule rule;
    rule.initial_backoff = rule.max_backoff = backoff;
    rule.jitter = jitter;
    up_ = std::make_unique<Upstream>("guidance", channel_, nullptr, RealClock::Get(), rule);
  }
  void TearDown() override {
    server_->Shutdown();
    loop_.Stop();
  }

  // One call; its status once done.
  grpc::Status Call(bool retry, absl::Duration timeout = absl::Seconds(30),
                    std::function<void(Exchange*)> meanwhile = nullptr) {
    Exchange ex;
    grpc::Slice body("x");
    ex.request = grpc::ByteBuffer(&body, 1);
    ex.deadline = absl::Now() + timeout;
    absl::Notification done;
    grpc::Status got;
    up_->Call(method_, loop_, retry, &ex, [&](grpc::Status s) {
      got = std::move(s);
      done.Notify();
    });
    if (meanwhile) meanwhile(&ex);
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
    return got;
  }

  const std::string method_ = "/t/Flaky";
  FlakyBackend backend_;
  GrpcLoop loop_{1};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Upstream> up_;
};

TEST_F(UpstreamRetryTest, AReadIsTriedAgainAfterUnavailableAtMostThreeTimes) {
  backend_.failures = 2;
  EXPECT_TRUE(Call(/*retry=*/true).ok());
  EXPECT_EQ(backend_.calls, 3);
  backend_.calls = 0;
  backend_.failures = 3;
  EXPECT_EQ(Call(true).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(backend_.calls, 3) << "three attempts in all";
}

TEST_F(UpstreamRetryTest, AWriteIsNeverTriedAgain) {
  backend_.failures = 1;
  EXPECT_EQ(Call(/*retry=*/false).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(backend_.calls, 1);
}

TEST_F(UpstreamRetryTest, NoRetryOutlastsTheDeadline) {
  Use(absl::Seconds(10), /*jitter=*/false);
  backend_.failures = 1;
  EXPECT_EQ(Call(true, absl::Seconds(5)).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a retry 10 s on would come after the deadline";
  EXPECT_EQ(backend_.calls, 1);
}

TEST_F(UpstreamRetryTest, ABackendFailingMostCallsGetsEachCallOnceWhenTheBudgetIsSpent) {
  // Two attempts in three fail: each call succeeds on its third, spending
  // two tokens and earning a tenth back (and the breaker never opens).
  backend_.every = 3;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Call(true).ok()) << i;
  EXPECT_EQ(backend_.calls, 60) << "retried while the budget lasted";
  int i = 0;
  while (Call(true).ok()) ASSERT_LT(++i, 20) << "the budget never ran out";
  // Spent: every call now gets one attempt.
  const int before = backend_.calls;
  for (int i = 0; i < 9; ++i) Call(true);
  EXPECT_EQ(backend_.calls - before, 9);
}

TEST_F(UpstreamRetryTest, CancellingDuringTheWaitEndsTheCallCancelled) {
  Use(absl::Seconds(20), /*jitter=*/false);
  backend_.failures = 1000000;
  // Cancelled from the loop's thread (as the gRPC front does) once the
  // backend has refused the first attempt: the call is then waiting 20 s
  // for its retry (or, if the refusal is not in yet, still on its first
  // attempt); either way it ends CANCELLED at once.
  class Cancel final : public LoopTag {
   public:
    explicit Cancel(Exchange* ex) : ex_(ex) {}
    void Run(bool) override { ex_->TryCancel(); }
    Exchange* ex_;
    grpc::Alarm alarm;
  };
  std::unique_ptr<Cancel> cancel;
  const grpc::Status status = Call(true, absl::Seconds(30), [&](Exchange* ex) {
    backend_.first_call.WaitForNotification();
    cancel = std::make_unique<Cancel>(ex);
    cancel->alarm.Set(loop_.queue(0), std::chrono::system_clock::now(), cancel.get());
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
  EXPECT_EQ(backend_.calls, 1);
}

TEST_F(UpstreamRetryTest, ACancelFromAnotherThreadEndsTheCallCancelled) {
  // The HTTP front cancels from its own threads: during the 20 s wait for
  // a retry (or the first attempt, if its refusal is not in yet).
  Use(absl::Seconds(20), /*jitter=*/false);
  backend_.failures = 1000000;
  const grpc::Status status = Call(true, absl::Seconds(30), [&](Exchange* ex) {
    backend_.first_call.WaitForNotification();
    ex->TryCancel();
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
  EXPECT_EQ(backend_.calls, 1);
}

TEST_F(UpstreamRetryTest, AStoppingLoopRefusesTheCallBeforeItIsSent) {
  server_->Shutdown();
  loop_.Stop();
  const grpc::Status status = Call(true);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "the gateway is stopping");
  EXPECT_EQ(backend_.calls, 0);
}

TEST(UpstreamTest, LocalMethodsAreServedFromThePolicyTable) {
  // The brief is composed by the gateway: the table names its handler, and
  // no forwarded method has one.
  for (const MethodPolicy& p : PolicyTable::Get().all()) {
    if (p.backend == Backend::kLocal) {
      EXPECT_NE(p.local, nullptr) << p.method;
    } else {
      EXPECT_EQ(p.local, nullptr) << p.method;
    }
  }
  const MethodPolicy* brief = PolicyTable::Get().Find("/counsel.gateway.v1.PortalService/GetCaseBrief");
  ASSERT_NE(brief, nullptr);
  EXPECT_EQ(brief->backend, Backend::kLocal);
}

}  // namespace
}  // namespace counsel::gateway
