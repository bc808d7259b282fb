#include "case-svc/webhooks/rules.h"

#include "case-svc/webhooks/signing.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace counsel::cases::webhooks {
namespace {

TEST(SigningTest, StandardWebhooksReferenceVector) {
  // The example of the Standard Webhooks reference libraries.
  auto h = SignatureHeader({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                           "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(SigningTest, RotationSignsWithBothNewestFirst) {
  const std::string a = NewWebhookSecret(), b = NewWebhookSecret();
  EXPECT_EQ(a.rfind("whsec_", 0), 0u);
  EXPECT_NE(a, b);
  auto key = DecodeWebhookSecret(a);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->size(), 32u);
  auto both = SignatureHeader({a, b}, "msg_1", 1, "{}");
  auto first = SignatureHeader({a}, "msg_1", 1, "{}");
  auto second = SignatureHeader({b}, "msg_1", 1, "{}");
  ASSERT_TRUE(both.ok() && first.ok() && second.ok());
  EXPECT_EQ(*both, *first + " " + *second);
  EXPECT_FALSE(DecodeWebhookSecret("sk_live_abc").ok());
}

TEST(RulesTest, PayloadCarriesIdsNeverText) {
  v1::Change change;
  auto* e = change.mutable_event();
  e->set_type(v1::CaseEvent::TYPE_STATE_CHANGED);
  e->set_name("cases/c1/events/7");
  e->set_case_("cases/c1");
  e->set_from_state(v1::Case::STATE_NEW);
  e->set_to_state(v1::Case::STATE_TRIAGED);
  e->set_reason("客户 13812345678 来电");
  e->add_changed_fields("state");
  *change.mutable_commit_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000);
  const std::string body = ChangePayload("firm-a", change, "CURSOR");
  EXPECT_NE(body.find(R"("type":"case.state_changed")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("toState":"STATE_TRIAGED")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("cursor":"CURSOR")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("tenant":"firm-a")"), std::string::npos) << body;
  EXPECT_EQ(body.find("1381234"), std::string::npos) << body;
  EXPECT_EQ(body.find("reason"), std::string::npos) << body;
}

TEST(RulesTest, EventTypesValidatedAndFiltered) {
  v1::Webhook w;
  w.set_url("https://crm.example.com/h");
  EXPECT_TRUE(ValidateWebhook(w, {}).ok());
  EXPECT_TRUE(Wants(w, v1::CaseEvent::TYPE_NOTE_ADDED));
  w.add_event_types("case.created");
  EXPECT_TRUE(Wants(w, v1::CaseEvent::TYPE_CASE_CREATED));
  EXPECT_FALSE(Wants(w, v1::CaseEvent::TYPE_NOTE_ADDED));
  w.add_event_types("case.created");
  EXPECT_NE(ValidateWebhook(w, {}).ToString().find("webhook.event_types"), std::string::npos);
  w.clear_event_types();
  w.add_event_types("case.deleted");
  auto st = ValidateWebhook(w, {});
  EXPECT_NE(st.ToString().find("case.evidence_added"), std::string::npos) << st;
  w.clear_event_types();
  w.set_state(v1::Webhook::STATE_FAILING);
  EXPECT_NE(ValidateWebhook(w, {}).ToString().find("webhook.state"), std::string::npos);
  EXPECT_EQ(EventTypeNames().size(), 7u);
}

TEST(RulesTest, VerdictsOfAnswers) {
  EXPECT_EQ(Judge(200), Verdict::kDelivered);
  EXPECT_EQ(Judge(204), Verdict::kDelivered);
  EXPECT_EQ(Judge(410), Verdict::kGone);
  for (int code : {0, 301, 302, 400, 401, 404, 429, 500, 503}) {
    EXPECT_EQ(Judge(code), Verdict::kRetry) << code;
  }
}

TEST(RulesTest, RetryScheduleDoublesToTheCapWithJitterAndNeverEnds) {
  RetryPolicy p;
  EXPECT_EQ(RetryDelay(1, p, 1.0), absl::Seconds(5));
  EXPECT_EQ(RetryDelay(1, p, 0.0), absl::Seconds(2.5));
  EXPECT_EQ(RetryDelay(2, p, 1.0), absl::Seconds(10));
  EXPECT_EQ(RetryDelay(10, p, 1.0), absl::Seconds(2560));
  EXPECT_EQ(RetryDelay(11, p, 1.0), absl::Hours(1));
  EXPECT_EQ(RetryDelay(10000, p, 1.0), absl::Hours(1));
  // Three days of retries, even with the shortest jitter every time.
  absl::Duration total;
  int attempts = 0;
  while (total < absl::Hours(72)) total += RetryDelay(++attempts, p, 0.0);
  EXPECT_LT(attempts, 200);
  EXPECT_EQ(MessageId("w1", 42), "msg_w1_42");
}

}  // namespace
}  // namespace counsel::cases::webhooks
