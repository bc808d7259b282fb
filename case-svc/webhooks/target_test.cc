#include "case-svc/webhooks/target.h"

#include "gtest/gtest.h"

namespace counsel::cases::webhooks {
namespace {

IpAddress Ip(const char* text) {
  IpAddress a;
  EXPECT_TRUE(ParseIpAddress(text, &a)) << text;
  return a;
}

TEST(ClassifyAddressTest, RangesAndEmbeddedIpv4) {
  EXPECT_EQ(ClassifyAddress(Ip("93.184.216.34")), AddressClass::kPublic);
  EXPECT_EQ(ClassifyAddress(Ip("2606:4700::1111")), AddressClass::kPublic);
  for (const char* p : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "100.64.0.1", "::1", "fd12::1", "::ffff:10.0.0.1",
                        "64:ff9b:1::808:808"}) {
    EXPECT_EQ(ClassifyAddress(Ip(p)), AddressClass::kPrivate) << p;
  }
  for (const char* f : {"169.254.169.254", "100.100.100.200", "0.0.0.0", "224.0.0.1",
                        "255.255.255.255", "fe80::1", "fd00:ec2::254", "::", "ff02::1",
                        "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "192.0.0.192",
                        "fd20:ce::254", "::ffff:0:a9fe:a9fe", "64:ff9b:1::a9fe:a9fe"}) {
    EXPECT_EQ(ClassifyAddress(Ip(f)), AddressClass::kForbidden) << f;
  }
  EXPECT_EQ(ClassifyAddress(Ip("172.32.0.1")), AddressClass::kPublic);
}

TEST(CheckAddressTest, PrivateNeedsTheFlagForbiddenNever) {
  TargetPolicy strict, open;
  open.allow_private = true;
  EXPECT_FALSE(CheckAddress(Ip("127.0.0.1"), strict).ok());
  EXPECT_TRUE(CheckAddress(Ip("127.0.0.1"), open).ok());
  EXPECT_FALSE(CheckAddress(Ip("169.254.169.254"), open).ok());
  EXPECT_FALSE(CheckAddress(Ip("fd00:ec2::254"), open).ok());
}

TEST(ParseWebhookUrlTest, AcceptsHttpsAndReadsTheParts) {
  auto u = ParseWebhookUrl("https://CRM.example.com:8443/hooks/counsel?x=1", {});
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "crm.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/hooks/counsel?x=1");
  auto dotted = ParseWebhookUrl("https://crm.example.com./h", {});
  ASSERT_TRUE(dotted.ok()) << dotted.status();
  EXPECT_EQ(dotted->host, "crm.example.com");
  auto bare = ParseWebhookUrl("https://crm.example.com", {});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, 443);
  EXPECT_EQ(bare->target, "/");
  TargetPolicy open{true, true};
  auto v6 = ParseWebhookUrl("http://[::1]:8080/h", open);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->host_is_literal);
}

TEST(ParseWebhookUrlTest, RefusesWithTheFieldNamed) {
  TargetPolicy open{true, true};
  for (const char* bad : {"", "crm.example.com/hook", "ftp://crm.example.com/",
                          "https://user:pw@crm.example.com/", "https://crm.example.com/#x",
                          "https://crm example.com/", "https://crm.example.com:0/",
                          "https://crm.example.com:99999/", "https://[::1/",
                          "http://2130706433/", "http://0x7f.1/", "http://127.1/",
                          "http://169.254.169.254/latest/meta-data",
                          "http://[fe80::1]/", "http://[fd00:ec2::254]/",
                          "http://[::ffff:169.254.169.254]/", "https://-crm.example.com/",
                          "https://crm-.example.com/", "https://crm..example.com/",
                          "https://[fe80::1%25eth0]/"}) {
    auto u = ParseWebhookUrl(bad, open, "webhook.url");
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(u.status().ToString().find("webhook.url"), std::string::npos) << bad;
  }
  // Plain http and loopback only with the operator's flags.
  EXPECT_FALSE(ParseWebhookUrl("http://crm.example.com/", {}).ok());
  EXPECT_FALSE(ParseWebhookUrl("https://127.0.0.1/", {}).ok());
  EXPECT_TRUE(ParseWebhookUrl("https://127.0.0.1/", {false, true}).ok());
}

TEST(ResolveTargetTest, EveryAddressOfTheNameMustPass) {
  auto u = ParseWebhookUrl("https://crm.example.com/", {});
  ASSERT_TRUE(u.ok());
  Resolver mixed = [](const std::string&) -> absl::StatusOr<std::vector<IpAddress>> {
    return std::vector<IpAddress>{Ip("93.184.216.34"), Ip("10.0.0.5")};
  };
  EXPECT_EQ(ResolveTarget(*u, {}, mixed).status().code(), absl::StatusCode::kInvalidArgument);
  Resolver metadata = [](const std::string&) -> absl::StatusOr<std::vector<IpAddress>> {
    return std::vector<IpAddress>{Ip("169.254.169.254")};
  };
  EXPECT_FALSE(ResolveTarget(*u, {true, true}, metadata).ok());
  Resolver good = [](const std::string&) -> absl::StatusOr<std::vector<IpAddress>> {
    return std::vector<IpAddress>{Ip("93.184.216.34")};
  };
  auto a = ResolveTarget(*u, {}, good);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ToString(), "93.184.216.34");
  Resolver none = [](const std::string&) -> absl::StatusOr<std::vector<IpAddress>> {
    return absl::UnavailableError("no");
  };
  EXPECT_EQ(ResolveTarget(*u, {}, none).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace counsel::cases::webhooks
