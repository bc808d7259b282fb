// Open-loop latency at a fixed rate: sends GetProvision at --rate calls per
// second for --seconds, without waiting for answers (so a slow server does
// not slow the sender), and prints p50/p90/p99/max of the successful calls
// in microseconds, the rate actually sent, the calls by status code and the
// p99 of the failed ones (an overloaded server should refuse fast).
//
//   latency_probe --addr=127.0.0.1:50050 --rate=4000 --seconds=10
//                 [--key=ck_...] [--context_b64=...]
//
// Exits 1 when any call failed.
#include <algorithm>
#include <map>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "counsel/guidance/v1/guidance.grpc.pb.h"
#include "grpcpp/create_channel.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50050", "server");
ABSL_FLAG(double, rate, 1000, "calls per second");
ABSL_FLAG(double, seconds, 10, "how long");
ABSL_FLAG(std::string, key, "", "API key (through the gateway)");
ABSL_FLAG(std::string, context_b64, "", "a signed call context, base64 (straight to guidance-svc)");

int main(int argc, char** argv) {
  counsel::ParseFlags(argc, argv, "latency_probe");
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("counsel.probe.channel", i);
    channels.push_back(grpc::CreateCustomChannel(absl::GetFlag(FLAGS_addr),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  std::vector<std::unique_ptr<counsel::guidance::v1::GuidanceService::Stub>> stubs;
  for (auto& ch : channels) stubs.push_back(counsel::guidance::v1::GuidanceService::NewStub(ch));
  std::string context;
  if (!absl::GetFlag(FLAGS_context_b64).empty()) {
    absl::Base64Unescape(absl::GetFlag(FLAGS_context_b64), &context);
  }
  counsel::guidance::v1::GetProvisionRequest request;
  request.set_name("statutes/public-security-administration-punishments/provisions/art_42");
  request.set_as_of("2020-01-01");
  struct Call {
    grpc::ClientContext ctx;
    counsel::guidance::v1::Provision response;
    absl::Time start;
  };
  absl::Mutex mu;
  std::vector<double> latencies_us, failed_us;
  std::map<int, int64_t> by_code;
  int64_t failures = 0, outstanding = 0;
  const int64_t total = static_cast<int64_t>(absl::GetFlag(FLAGS_rate) * absl::GetFlag(FLAGS_seconds));
  const absl::Duration interval = absl::Seconds(1) / absl::GetFlag(FLAGS_rate);
  const absl::Time begin = absl::Now();
  for (int64_t i = 0; i < total; ++i) {
    const absl::Time due = begin + interval * i;
    const absl::Duration wait = due - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    auto* call = new Call();
    if (!absl::GetFlag(FLAGS_key).empty()) {
      call->ctx.AddMetadata("authorization", "Bearer " + absl::GetFlag(FLAGS_key));
    }
    if (!context.empty()) call->ctx.AddMetadata("counsel-context-bin", context);
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    call->start = absl::Now();
    {
      absl::MutexLock lock(&mu);
      ++outstanding;
    }
    stubs[static_cast<size_t>(i) % stubs.size()]->async()->GetProvision(
        &call->ctx, &request, &call->response, [&, call](grpc::Status s) {
          const double us = absl::ToDoubleMicroseconds(absl::Now() - call->start);
          absl::MutexLock lock(&mu);
          if (s.ok()) {
            latencies_us.push_back(us);
          } else {
            ++failures;
            failed_us.push_back(us);
          }
          ++by_code[s.error_code()];
          --outstanding;
          delete call;
        });
  }
  const double sent_rate =
      static_cast<double>(total) / std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - begin));
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(+[](int64_t* n) { return *n == 0; }, &outstanding));
  auto pct = [](std::vector<double>& v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
  };
  std::string codes;
  for (const auto& [code, n] : by_code) {
    absl::StrAppend(&codes, codes.empty() ? "" : ",", code, ":", n);
  }
  std::printf(
      "rate=%.0f sent_rate=%.0f ok=%zu failed=%lld p50_us=%.0f p90_us=%.0f p99_us=%.0f "
      "max_us=%.0f failed_p99_us=%.0f codes=%s\n",
      absl::GetFlag(FLAGS_rate), sent_rate, latencies_us.size(), static_cast<long long>(failures),
      pct(latencies_us, 0.5), pct(latencies_us, 0.9), pct(latencies_us, 0.99),
      pct(latencies_us, 1.0), pct(failed_us, 0.99), codes.c_str());
  return failures == 0 ? 0 : 1;
}
