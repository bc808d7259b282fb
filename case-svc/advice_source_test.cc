// CoalescingAdviceSource: creates that ask together share a fetch, and no
// caller is answered by a fetch that began before it asked.
#include "case-svc/advice_source.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

// Guidance-svc as the source sees it: each fetch returns the revision
// published at the moment it starts, and can be held until released.
class HeldSource final : public AdviceSource {
 public:
  absl::StatusOr<SharedAdvice> LatestFor(const std::string&,
                                         const std::string& incident_type) override {
    absl::MutexLock lock(&mu_);
    ++started_;
    const int revision = published_;
    const absl::Status status = status_;
    mu_.Await(absl::Condition(this, &HeldSource::Released));
    --released_;
    if (!status.ok()) return status;
    auto a = std::make_shared<guidance::v1::Advice>();
    a->set_name("advice/" + incident_type);
    a->set_revision_id("r" + std::to_string(revision));
    return SharedAdvice(std::move(a));
  }
  void Publish() {
    absl::MutexLock lock(&mu_);
    ++published_;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    ++released_;
  }
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(s);
  }
  void AwaitStarted(int n) {
    absl::MutexLock lock(&mu_);
    want_started_ = n;
    mu_.Await(absl::Condition(this, &HeldSource::StartedEnough));
  }
  int started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }

 private:
  bool StartedEnough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_ >= want_started_; }
  bool Released() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return released_ > 0; }

  absl::Mutex mu_;
  int want_started_ ABSL_GUARDED_BY(mu_) = 0;
  int published_ ABSL_GUARDED_BY(mu_) = 1;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int released_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

std::string Revision(const absl::StatusOr<SharedAdvice>& a) {
  if (!a.ok()) return a.status().ToString();
  return *a == nullptr ? "none" : (*a)->revision_id();
}

// Starts LatestFor on a thread; the result lands in `out`.
std::thread Ask(CoalescingAdviceSource& s, const std::string& type,
                absl::StatusOr<SharedAdvice>* out) {
  return std::thread([&s, type, out] { *out = s.LatestFor("firm-a", type); });
}

TEST(CoalescingAdviceSourceTest, CallersDuringAFetchShareTheNextOneNeverTheOneInFlight) {
  HeldSource source;
  CoalescingAdviceSource coalescing(&source);
  absl::StatusOr<SharedAdvice> first, second, third;
  std::thread a = Ask(coalescing, "leak", &first);
  source.AwaitStarted(1);
  // A revision is published while the first fetch is in flight; callers
  // that come now must see it.
  source.Publish();
  std::thread b = Ask(coalescing, "leak", &second);
  std::thread c = Ask(coalescing, "leak", &third);
  // b and c wait for the first fetch to end, then share one that starts
  // after them (b or c leads it).
  ASSERT_TRUE(coalescing.AwaitWaiting(2));
  EXPECT_EQ(source.started(), 1);
  source.Release();
  a.join();
  source.AwaitStarted(2);
  source.Release();
  b.join();
  c.join();
  EXPECT_EQ(Revision(first), "r1");
  EXPECT_EQ(Revision(second), "r2");
  EXPECT_EQ(Revision(third), "r2");
  EXPECT_EQ(source.started(), 2);
  // Nothing is kept between rounds: a later caller fetches afresh.
  source.Publish();
  source.Release();
  EXPECT_EQ(Revision(coalescing.LatestFor("firm-a", "leak")), "r3");
  EXPECT_EQ(source.started(), 3);
}

TEST(CoalescingAdviceSourceTest, AFailedFetchFailsItsCallersAndTheNextRoundFetchesAgain) {
  HeldSource source;
  CoalescingAdviceSource coalescing(&source);
  source.Fail(absl::UnavailableError("guidance-svc is down"));
  absl::StatusOr<SharedAdvice> first;
  std::thread a = Ask(coalescing, "leak", &first);
  source.AwaitStarted(1);
  source.Release();
  a.join();
  EXPECT_TRUE(absl::IsUnavailable(first.status())) << first.status();
  source.Fail(absl::OkStatus());
  source.Release();
  EXPECT_EQ(Revision(coalescing.LatestFor("firm-a", "leak")), "r1");
}

TEST(CoalescingAdviceSourceTest, IncidentTypesAndTenantsDoNotShare) {
  HeldSource source;
  CoalescingAdviceSource coalescing(&source);
  absl::StatusOr<SharedAdvice> leak, fraud, other_firm;
  std::thread a = Ask(coalescing, "leak", &leak);
  std::thread b = Ask(coalescing, "fraud", &fraud);
  std::thread c([&] { other_firm = coalescing.LatestFor("firm-b", "leak"); });
  source.AwaitStarted(3);  // three fetches at once: none waited for another
  for (int i = 0; i < 3; ++i) source.Release();
  a.join();
  b.join();
  c.join();
  EXPECT_EQ((*leak)->name(), "advice/leak");
  EXPECT_EQ((*fraud)->name(), "advice/fraud");
  EXPECT_EQ((*other_firm)->name(), "advice/leak");
}

}  // namespace
}  // namespace counsel::cases
