// counsel-healthcheck: asks a server's grpc.health.v1 service whether it is
// SERVING. Exit 0 only when it is; 1 when it answers otherwise; 2 when it
// cannot be reached in time. For probes, scripts and start-up ordering.
//
//   counsel-healthcheck 127.0.0.1:50051
//   counsel-healthcheck --wait=20s 127.0.0.1:50052   # wait for it to come up
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/synchronization/notification.h"
#include "common/config.h"
#include "common/grpc_util.h"
#include "common/server.h"
#include "common/server_flags.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"

ABSL_FLAG(std::string, service, "", "Service name to check; empty checks the server as a whole");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(2), "How long to wait for an answer");
ABSL_FLAG(absl::Duration, wait, absl::ZeroDuration(),
          "Wait up to this long for the server to accept connections (start-up ordering)");

namespace {

constexpr char kUsage[] =
    "counsel-healthcheck [--service=NAME] [--timeout=2s] [--wait=0s] [--tls_ca=...] ADDR";

// grpc.health.v1.HealthCheckRequest{service} on the wire: field 1, bytes.
std::string EncodeRequest(const std::string& service) {
  if (service.empty()) return "";
  std::string out;
  out.push_back(static_cast<char>(1 << 3 | 2));
  size_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + service;
}

// HealthCheckResponse.status (field 1, varint); 0 when absent (UNKNOWN).
int DecodeStatus(const std::string& bytes) {
  if (bytes.size() >= 2 && bytes[0] == (1 << 3 | 0)) return static_cast<unsigned char>(bytes[1]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = counsel::ParseFlags(argc, argv, kUsage);
  if (args.size() != 1) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  auto creds = counsel::MakeChannelCredentials(counsel::TlsFilesFromFlags());
  if (!creds.ok()) {
    std::fprintf(stderr, "%s\n", std::string(creds.status().message()).c_str());
    return 2;
  }
  grpc::GenericStub stub(grpc::CreateChannel(args[0], *creds));
  grpc::ClientContext ctx;
  const absl::Duration wait = absl::GetFlag(FLAGS_wait);
  ctx.set_wait_for_ready(wait > absl::ZeroDuration());
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_timeout) + wait));
  const std::string request_bytes = EncodeRequest(absl::GetFlag(FLAGS_service));
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", args[0].c_str(), status.error_message().c_str());
    return status.error_code() == grpc::StatusCode::NOT_FOUND ? 1 : 2;
  }
  const int serving = DecodeStatus(counsel::Flatten(response));
  static const char* const kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
  std::printf("%s\n", serving >= 0 && serving <= 3 ? kNames[serving] : "UNKNOWN");
  return serving == 1 ? 0 : 1;
}
