#include "gateway/upstream.h"

#include "absl/synchronization/notification.h"
#include "gateway/policy.h"
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
  // No queue: a refused call never reaches one (`done` runs at once).
  up.Call("/counsel.guidance.v1.GuidanceService/GetStatute", nullptr, &ex, [&](grpc::Status s) {
    got = std::move(s);
    done.Notify();
  });
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(got.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(got.error_message().find("guidance is unavailable"), std::string::npos);
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
