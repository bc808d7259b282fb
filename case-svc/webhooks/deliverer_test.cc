#include "case-svc/webhooks/deliverer.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "absl/strings/match.h"
#include "case-svc/webhooks/signing.h"
#include "common/crypto.h"
#include "google/protobuf/util/time_util.h"
#include "common/testing/postgres_test_db.h"
#include "gtest/gtest.h"

namespace counsel::cases::webhooks {
namespace {

using google::protobuf::util::TimeUtil;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

class FakeFeed final : public FeedReader {
 public:
  void Add(const std::string& tenant, v1::CaseEvent::Type type, const std::string& case_id,
           absl::Time t) {
    v1::Change c;
    c.mutable_event()->set_type(type);
    c.mutable_event()->set_case_("cases/" + case_id);
    *c.mutable_commit_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
    auto& feed = feeds_[tenant];
    feed.emplace_back(static_cast<int64_t>(feed.size()) + 1, c);
  }
  absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const std::string& tenant, int64_t after, int limit) override {
    std::vector<std::pair<int64_t, v1::Change>> out;
    for (const auto& entry : feeds_[tenant]) {
      if (entry.first > after && static_cast<int>(out.size()) < limit) out.push_back(entry);
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<std::pair<int64_t, v1::Change>>> feeds_;
};

class FakeSender final : public Sender {
 public:
  OutboundResponse Post(const OutboundRequest& r) override {
    absl::MutexLock lock(&mu);
    sent.push_back(r);
    OutboundResponse out;
    out.status_code = codes.empty() ? 200 : codes.front();
    if (!codes.empty()) codes.erase(codes.begin());
    if (out.status_code == 0) out.error = "connection refused";
    return out;
  }
  std::string Header(size_t i, const std::string& name) const {
    for (const auto& [k, v] : sent.at(i).headers) {
      if (k == name) return v;
    }
    return "";
  }
  absl::Mutex mu;
  std::vector<OutboundRequest> sent;
  std::vector<int> codes;  // scripted answers; 200 when empty
};

class DelivererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("deliverer-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    // With COUNSEL_PG_ENV the same tests run on PostgreSQL, a database each.
    db_ = (dir_ / "webhooks.db").string();
    if (std::getenv("COUNSEL_PG_ENV") != nullptr) {
      auto pg = counsel::testing::PostgresTestDb::Create();
      ASSERT_TRUE(pg.ok()) << pg.status();
      pg_ = std::move(*pg);
      db_ = pg_->uri();
    }
    auto store = OpenWebhookStore(db_, &vault_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    Reopen();
  }
  void TearDown() override {
    deliverer_.reset();
    store_.reset();
    pg_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A new deliverer on the same store: what a restart sees.
  void Reopen(int workers = 0) {
    DelivererOptions o;
    o.workers = workers;
    o.batch = 16;
    o.random = [] { return 1.0; };
    o.owner = "test";
    o.retention = absl::Hours(24 * 30);
    deliverer_ = std::make_unique<Deliverer>(
        store_.get(), &feed_, &cursors_, &sender_, &clock_, TargetPolicy{}, o,
        [](const std::string&) -> absl::StatusOr<std::vector<IpAddress>> {
          IpAddress a;
          ParseIpAddress("93.184.216.34", &a);
          return std::vector<IpAddress>{a};
        });
  }
  StoredWebhook Make(const std::string& id, std::vector<std::string> types = {},
                     const std::string& tenant = "firm-a") {
    StoredWebhook w;
    w.tenant = tenant;
    w.id = id;
    w.config.set_url("https://crm.example.com/hook");
    for (auto& t : types) w.config.add_event_types(t);
    w.secret = NewWebhookSecret();
    w.create_time = w.update_time = kStart;
    EXPECT_TRUE(store_->Insert(w).ok());
    return w;
  }
  Deliverer::StepResult Step(const std::string& id) {
    auto r = deliverer_->Step("firm-a", id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Deliverer::StepResult{};
  }
  StoredWebhook Load(const std::string& id) { return *store_->Get("firm-a", id); }

  std::filesystem::path dir_;
  std::string db_;
  std::unique_ptr<counsel::testing::PostgresTestDb> pg_;
  PiiVault vault_{{std::string(32, 'm')}};
  FakeClock clock_{kStart};
  CursorCodec cursors_{std::string(32, 'c')};
  FakeFeed feed_;
  FakeSender sender_;
  std::unique_ptr<WebhookStore> store_;
  std::unique_ptr<Deliverer> deliverer_;
};

TEST_F(DelivererTest, InOrderSignedAndResumesAfterARestart) {
  const StoredWebhook w = Make("w1");
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c2", kStart);
  feed_.Add("firm-b", v1::CaseEvent::TYPE_CASE_CREATED, "other-firm", kStart);
  EXPECT_EQ(Step("w1").delivered, 2);
  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_TRUE(absl::StrContains(sender_.sent[0].body, "cases/c1"));
  EXPECT_TRUE(absl::StrContains(sender_.sent[1].body, "cases/c2"));
  EXPECT_EQ(sender_.Header(0, "webhook-id"), "msg_w1_1");
  EXPECT_EQ(sender_.Header(0, "webhook-timestamp"), "1800000000");
  auto expected = SignatureHeader({w.secret}, "msg_w1_1", 1800000000, sender_.sent[0].body);
  EXPECT_EQ(sender_.Header(0, "webhook-signature"), *expected);
  EXPECT_EQ(sender_.sent[0].address.ToString(), "93.184.216.34");
  EXPECT_EQ(Load("w1").position, 2);

  Reopen();
  feed_.Add("firm-a", v1::CaseEvent::TYPE_NOTE_ADDED, "c1", kStart);
  EXPECT_EQ(Step("w1").delivered, 1);
  ASSERT_EQ(sender_.sent.size(), 3u);
  EXPECT_EQ(sender_.Header(2, "webhook-id"), "msg_w1_3");
  EXPECT_EQ(Step("w1").next, absl::InfiniteFuture());  // idle until a commit
  EXPECT_EQ(sender_.sent.size(), 3u);
}

TEST_F(DelivererTest, FailureWaitsThenRetriesTheSameMessageAndNothingOvertakesIt) {
  Make("w1");
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_UPDATED, "c1", kStart);
  sender_.codes = {500};
  auto r = Step("w1");
  EXPECT_EQ(r.delivered, 0);
  EXPECT_EQ(r.next, kStart + absl::Seconds(5));
  EXPECT_EQ(sender_.sent.size(), 1u);
  StoredWebhook stored = Load("w1");
  EXPECT_EQ(stored.failures, 1);
  EXPECT_EQ(stored.last_error, "HTTP 500");
  EXPECT_EQ(stored.position, 0);

  EXPECT_EQ(Step("w1").next, kStart + absl::Seconds(5));  // not yet due
  EXPECT_EQ(sender_.sent.size(), 1u);
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(Step("w1").delivered, 2);
  ASSERT_EQ(sender_.sent.size(), 3u);
  EXPECT_EQ(sender_.Header(1, "webhook-id"), "msg_w1_1");
  EXPECT_EQ(sender_.Header(2, "webhook-id"), "msg_w1_2");
  auto deliveries = store_->ListDeliveries("firm-a", "w1", 0, 10);
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->first.size(), 3u);
  EXPECT_EQ(deliveries->first[2].outcome(), v1::WebhookDelivery::OUTCOME_FAILED);
  EXPECT_EQ(deliveries->first[1].attempt(), 2);
  EXPECT_EQ(deliveries->first[1].outcome(), v1::WebhookDelivery::OUTCOME_SUCCEEDED);
}

TEST_F(DelivererTest, FailingAfterFiveThenActiveAgain) {
  Make("w1");
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  sender_.codes = {0, 503, 500, 429, 404};
  for (int i = 0; i < 5; ++i) {
    Step("w1");
    clock_.Advance(absl::Hours(2));
  }
  EXPECT_EQ(Load("w1").state, v1::Webhook::STATE_FAILING);
  EXPECT_EQ(Load("w1").failures, 5);
  EXPECT_EQ(Step("w1").delivered, 1);
  EXPECT_EQ(Load("w1").state, v1::Webhook::STATE_ACTIVE);
  EXPECT_EQ(Load("w1").failures, 0);
}

TEST_F(DelivererTest, GoneDisablesAndStopsDelivery) {
  Make("w1");
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c2", kStart);
  sender_.codes = {410};
  Step("w1");
  const StoredWebhook w = Load("w1");
  EXPECT_EQ(w.state, v1::Webhook::STATE_DISABLED);
  EXPECT_EQ(w.revision, 2);  // the etag moves: a caller sees the change
  EXPECT_EQ(w.position, 0);
  clock_.Advance(absl::Hours(1));
  Step("w1");
  EXPECT_EQ(sender_.sent.size(), 1u);
}

TEST_F(DelivererTest, FilteredTypesAdvanceWithoutSending) {
  Make("w1", {"case.state_changed"});
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  feed_.Add("firm-a", v1::CaseEvent::TYPE_STATE_CHANGED, "c1", kStart);
  feed_.Add("firm-a", v1::CaseEvent::TYPE_NOTE_ADDED, "c1", kStart);
  EXPECT_EQ(Step("w1").delivered, 1);
  ASSERT_EQ(sender_.sent.size(), 1u);
  EXPECT_EQ(sender_.Header(0, "webhook-id"), "msg_w1_2");
  EXPECT_EQ(Load("w1").position, 3);
}

TEST_F(DelivererTest, PreviousSecretSignsUntilItExpires) {
  StoredWebhook w = Make("w1");
  w.previous_secret = w.secret;
  w.secret = NewWebhookSecret();
  w.previous_expire = kStart + absl::Hours(24);
  w.revision = 2;
  ASSERT_TRUE(store_->Replace(w, 1).ok());
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  Step("w1");
  const std::string both = sender_.Header(0, "webhook-signature");
  EXPECT_EQ(both, *SignatureHeader({w.secret, w.previous_secret}, "msg_w1_1",
                                   absl::ToUnixSeconds(kStart), sender_.sent[0].body));
  clock_.Advance(absl::Hours(25));
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c2", kStart + absl::Hours(25));
  Step("w1");
  const std::string only = sender_.Header(1, "webhook-signature");
  EXPECT_EQ(only, *SignatureHeader({w.secret}, "msg_w1_2", absl::ToUnixSeconds(clock_.Now()),
                                   sender_.sent[1].body));
}

TEST_F(DelivererTest, ProgressOfAnOlderGenerationIsDropped) {
  StoredWebhook w = Make("w1");
  const LeaseOwner me{"test", 0};
  ASSERT_TRUE(*store_->Lease("firm-a", "w1", me, kStart, kStart + absl::Minutes(1)));
  // A replay lands between the deliverer's read and its write.
  w.generation = 2;
  w.position = 0;
  w.revision = 2;
  ASSERT_TRUE(store_->Replace(w, 1).ok());
  Progress p;
  p.generation = 1;
  p.position = 9;
  EXPECT_FALSE(*store_->RecordProgress("firm-a", "w1", me, p));
  EXPECT_EQ(Load("w1").position, 0);
  // Another replica holding the lease keeps this one out.
  const LeaseOwner other{"other", 0};
  EXPECT_FALSE(*store_->Lease("firm-a", "w1", other, kStart, kStart + absl::Minutes(1)));
  EXPECT_TRUE(*store_->Lease("firm-a", "w1", other, kStart + absl::Minutes(2),
                             kStart + absl::Minutes(3)));
  // The same replica restarted (a larger epoch) takes its lease back at
  // once, and the earlier run's late writes are refused.
  const LeaseOwner restarted{"other", 1};
  EXPECT_TRUE(*store_->Lease("firm-a", "w1", restarted, kStart + absl::Minutes(2),
                             kStart + absl::Minutes(3)));
  p.generation = 2;
  EXPECT_FALSE(*store_->RecordProgress("firm-a", "w1", other, p));
  EXPECT_TRUE(*store_->RecordProgress("firm-a", "w1", restarted, p));
  EXPECT_FALSE(*store_->Lease("firm-a", "w1", other, kStart + absl::Minutes(2),
                              kStart + absl::Minutes(3)));
  // The position never moves back.
  p.position = 3;
  EXPECT_TRUE(*store_->RecordProgress("firm-a", "w1", restarted, p));
  EXPECT_EQ(Load("w1").position, 9);
  // Each start takes a larger epoch.
  const int64_t first = *store_->NextEpoch();
  EXPECT_GT(*store_->NextEpoch(), first);
}

TEST_F(DelivererTest, DisablingStopsAStepAndAGoneStepSaysDisabled) {
  StoredWebhook w = Make("w1");
  feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c1", kStart);
  ASSERT_TRUE(*store_->Lease("firm-a", "w1", {"test", 0}, kStart, kStart + absl::Minutes(1)));
  w.state = v1::Webhook::STATE_DISABLED;
  w.revision = 2;
  ASSERT_TRUE(store_->Replace(w, 1).ok());
  Progress p;
  p.generation = 1;
  p.position = 1;
  EXPECT_FALSE(*store_->RecordProgress("firm-a", "w1", {"test", 0}, p));  // stop the step
  EXPECT_EQ(Load("w1").position, 1);  // yet what was delivered stays delivered
  EXPECT_TRUE(Step("w1").disabled);
}

TEST_F(DelivererTest, DeliveriesOfADeletedWebhookAreNotLogged) {
  Make("w1");
  ASSERT_TRUE(store_->Delete("firm-a", "w1").ok());
  v1::WebhookDelivery d;
  d.set_message_id("msg_w1_1");
  ASSERT_TRUE(store_->AddDelivery("firm-a", "w1", d).ok());
  EXPECT_TRUE(store_->ListDeliveries("firm-a", "w1", 0, 10)->first.empty());
}

TEST_F(DelivererTest, ABacklogDoesNotStarveAnotherWebhook) {
  Make("a");  // "a" sorts first: it would win every tie
  Make("b", {}, "firm-b");
  for (int i = 0; i < 400; ++i) {
    feed_.Add("firm-a", v1::CaseEvent::TYPE_CASE_CREATED, "c" + std::to_string(i), kStart);
  }
  feed_.Add("firm-b", v1::CaseEvent::TYPE_NOTE_ADDED, "other", kStart);
  Reopen(/*workers=*/1);
  deliverer_->Start();
  auto done = [this] { return sender_.sent.size() >= 401; };
  absl::MutexLock lock(&sender_.mu);
  ASSERT_TRUE(sender_.mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(60)));
  size_t b_at = 0;
  for (size_t i = 0; i < sender_.sent.size(); ++i) {
    if (absl::StrContains(sender_.sent[i].body, "firm-b")) b_at = i;
  }
  // b's one change went out after at most a couple of a's steps (16 each),
  // not after a's whole backlog.
  EXPECT_GT(b_at, 0u);
  EXPECT_LT(b_at, 64u);
}

TEST_F(DelivererTest, SecretsAndUrlAreSealedInTheFile) {
  if (pg_ != nullptr) GTEST_SKIP() << "the SQLite file (on PostgreSQL: tests/integration)";
  const StoredWebhook w = Make("w1");
  deliverer_.reset();
  store_.reset();
  std::string bytes;
  for (const char* f : {"webhooks.db", "webhooks.db-wal"}) {
    std::ifstream in(dir_ / f, std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(w.secret.substr(6)), std::string::npos);
  EXPECT_EQ(bytes.find("crm.example.com"), std::string::npos);
  auto reopened = OpenWebhookStore(db_, &vault_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Get("firm-a", "w1")->secret, w.secret);
  EXPECT_TRUE(absl::IsNotFound((*reopened)->Get("firm-b", "w1").status()));
  store_ = *std::move(reopened);
  Reopen();
}

}  // namespace
}  // namespace counsel::cases::webhooks
