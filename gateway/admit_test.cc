// Gateway::Admit, the one door every call passes: keys, scopes, client
// binding, quotas, failed-authentication limits and deadlines, with a real
// key store and a fake clock; no backend is called.
#include <cstdlib>

#include "common/call_context.h"
#include "common/clock.h"
#include "gateway/gateway.h"
#include "gateway/keys/authenticator.h"
#include "gateway/keys/key_store.h"
#include "gtest/gtest.h"

namespace counsel::gateway {
namespace {

constexpr char kGetProvision[] = "/counsel.guidance.v1.GuidanceService/GetProvision";
constexpr char kGetCase[] = "/counsel.cases.v1.CaseService/GetCase";

class AdmitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-admit-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = OpenKeyStore(dir_ + "/gateway.db", &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auth_ = std::make_unique<Authenticator>(store_.get(), &clock_);
    GatewayOptions options;
    // Nothing listens: Admit never calls a backend.
    options.guidance_addr = options.cases_addr = "127.0.0.1:1";
    auto gw = Gateway::Create(options, auth_.get(), &context_key_, &clock_, &loop_);
    ASSERT_TRUE(gw.ok()) << gw.status();
    gateway_ = std::move(*gw);
  }
  void TearDown() override {
    gateway_.reset();
    auth_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  std::string Key(std::vector<std::string> scopes, std::string client = "", double rate = 0) {
    KeySpec spec;
    spec.tenant = "firm-a";
    spec.scopes = std::move(scopes);
    spec.name = "test";
    spec.client_id = std::move(client);
    spec.rate_per_second = rate;
    spec.burst = rate > 0 ? static_cast<int>(rate) : 0;
    auto k = store_->Create(spec);
    EXPECT_TRUE(k.ok()) << k.status();
    return k->token;
  }

  absl::StatusOr<Admission> Admit(const char* method, const std::string& token,
                                  absl::string_view on_behalf_of = "",
                                  absl::Time deadline = absl::InfiniteFuture()) {
    CallInput in;
    in.policy = PolicyTable::Get().Find(method);
    in.transport = "grpc";
    bearer_ = token.empty() ? "" : "Bearer " + token;
    in.authorization = bearer_;
    in.on_behalf_of = on_behalf_of;
    in.peer = "127.0.0.1";
    in.client_deadline = deadline;
    return gateway_->Admit(in);
  }

  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  ContextKey context_key_{std::string(32, 'k')};
  GrpcLoop loop_{1};  // never started: Admit calls no backend
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Gateway> gateway_;
  std::string bearer_;
};

TEST_F(AdmitTest, AKeyWithTheScopeIsAdmittedWithItsContextAndDeadline) {
  const std::string key = Key({kScopeGuidanceRead});
  auto a = Admit(kGetProvision, key);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->context.tenant(), "firm-a");
  EXPECT_EQ(a->context.method(), kGetProvision);
  EXPECT_EQ(a->deadline, clock_.Now() + absl::Seconds(5)) << "the method's default";
  // A caller's own deadline is kept, up to the method's maximum.
  EXPECT_EQ(Admit(kGetProvision, key, "", clock_.Now() + absl::Seconds(2))->deadline,
            clock_.Now() + absl::Seconds(2));
  EXPECT_EQ(Admit(kGetProvision, key, "", clock_.Now() + absl::Hours(1))->deadline,
            clock_.Now() + absl::Seconds(30));
}

TEST_F(AdmitTest, MissingWrongOrUnderScopedKeysAreRefused) {
  EXPECT_EQ(Admit(kGetProvision, "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Admit(kGetProvision, "ck_nope_nope").status().code(),
            absl::StatusCode::kUnauthenticated);
  const std::string cases_only = Key({kScopeCasesRead});
  EXPECT_EQ(Admit(kGetProvision, cases_only).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A wrong secret for a real key id is as unknown as no key.
  std::string wrong = Key({kScopeGuidanceRead});
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(Admit(kGetProvision, wrong).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AdmitTest, ClientBindingAndDelegation) {
  const std::string bound = Key({kScopeCasesRead}, "client-7");
  auto a = Admit(kGetCase, bound);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->context.client_id(), "client-7");
  EXPECT_EQ(Admit(kGetCase, bound, "client-8").status().code(),
            absl::StatusCode::kPermissionDenied);
  // Guidance is not client-scoped: no binding is set there.
  const std::string firm = Key({kScopeCasesRead, kScopeGuidanceRead});
  EXPECT_EQ(Admit(kGetCase, firm, "client-7").status().code(),
            absl::StatusCode::kInvalidArgument)
      << "the header on a key that cannot use it is an error, not ignored";
  const std::string delegate = Key({kScopeCasesRead, kScopeCasesDelegate});
  EXPECT_EQ(Admit(kGetCase, delegate).status().code(), absl::StatusCode::kPermissionDenied);
  auto d = Admit(kGetCase, delegate, "client-9");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->context.client_id(), "client-9");
}

TEST_F(AdmitTest, AKeysQuotaRefillsWithTime) {
  const std::string key = Key({kScopeGuidanceRead}, "", /*rate=*/2);
  EXPECT_TRUE(Admit(kGetProvision, key).ok());
  EXPECT_TRUE(Admit(kGetProvision, key).ok());
  EXPECT_EQ(Admit(kGetProvision, key).status().code(), absl::StatusCode::kResourceExhausted);
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(Admit(kGetProvision, key).ok());
  // Another key is not held back by it.
  EXPECT_TRUE(Admit(kGetProvision, Key({kScopeGuidanceRead})).ok());
}

TEST_F(AdmitTest, RepeatedFailuresForOneKeyIdAreLimitedButTheValidKeyIsNot) {
  const std::string key = Key({kScopeGuidanceRead});
  std::string wrong = key;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  absl::StatusCode last = absl::StatusCode::kOk;
  for (int i = 0; i < 30; ++i) last = Admit(kGetProvision, wrong).status().code();
  EXPECT_EQ(last, absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Admit(kGetProvision, key).ok()) << "the real key still works";
}

// A key store that cannot answer: every lookup fails as a database that
// is restarting does.
class DownKeyStore final : public KeyStore {
 public:
  explicit DownKeyStore(KeyStore* real) : real_(real) {}
  absl::StatusOr<NewKey> Create(const KeySpec& spec) override { return real_->Create(spec); }
  absl::StatusOr<std::vector<KeyRecord>> List(absl::string_view tenant) override {
    return real_->List(tenant);
  }
  absl::Status Revoke(absl::string_view key_id) override { return real_->Revoke(key_id); }
  absl::StatusOr<std::optional<KeyRecord>> Lookup(absl::string_view) override {
    return absl::UnavailableError("the key store is restarting");
  }
  absl::StatusOr<NewSession> CreateSession(absl::string_view key_id,
                                           absl::Duration lifetime) override {
    return real_->CreateSession(key_id, lifetime);
  }
  absl::StatusOr<std::optional<SessionRecord>> FindSession(absl::string_view) override {
    return absl::UnavailableError("the key store is restarting");
  }
  absl::Status TouchSession(absl::string_view token_hash, absl::Time seen) override {
    return real_->TouchSession(token_hash, seen);
  }
  absl::Status EndSession(absl::string_view token_hash) override {
    return real_->EndSession(token_hash);
  }

 private:
  KeyStore* real_;
};

TEST_F(AdmitTest, AKeyStoreOutageIsUnavailableAndNeverCountedAsAFailedAuthentication) {
  // The PostgreSQL restart test saw a valid key's writes answered 429 while
  // the database was away: each lookup had counted as a failed one.
  const std::string key = Key({kScopeGuidanceRead});
  DownKeyStore down(store_.get());
  Authenticator auth(&down, &clock_);
  GatewayOptions options;
  options.guidance_addr = options.cases_addr = "127.0.0.1:1";
  auto gw = Gateway::Create(options, &auth, &context_key_, &clock_, &loop_);
  ASSERT_TRUE(gw.ok()) << gw.status();
  gateway_ = std::move(*gw);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(Admit(kGetProvision, key).status().code(), absl::StatusCode::kUnavailable) << i;
  }
  gateway_.reset();  // before `auth`, which it points to
}

TEST_F(AdmitTest, TokensNamingNoKeyAreLimitedPerSourceAskedForOnlyOnFailure) {
  const std::string key = Key({kScopeGuidanceRead});
  const std::string bearer = "Bearer " + key;
  const std::string nobody = "Bearer ck_" + std::string(16, 'a') + "_" + std::string(52, 'a');
  int asked = 0;
  auto admit = [&](const std::string& authorization, std::string source) {
    CallInput in;
    in.policy = PolicyTable::Get().Find(kGetProvision);
    in.transport = "grpc";
    in.authorization = authorization;
    in.peer_source = [&asked, source] {
      ++asked;
      return source;
    };
    return gateway_->Admit(in).status();
  };
  EXPECT_TRUE(admit(bearer, "10.0.0.1").ok());
  EXPECT_EQ(asked, 0) << "a good key never needs the caller's address";
  absl::Status last;
  for (int i = 0; i < 30; ++i) last = admit(nobody, "10.0.0.1");
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(last.message().find("from this address"), absl::string_view::npos) << last;
  EXPECT_EQ(asked, 30);
  EXPECT_EQ(admit(nobody, "10.0.0.2").code(), absl::StatusCode::kUnauthenticated)
      << "another source has its own budget";
  EXPECT_TRUE(admit(bearer, "10.0.0.1").ok()) << "a valid key is never refused by it";
}

}  // namespace
}  // namespace counsel::gateway
