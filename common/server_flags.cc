#include "common/server_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection (off in production)");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "How long in-flight calls may finish after SIGTERM");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; with --tls_key enables TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle: servers require client certificates from it (mTLS); clients "
          "verify servers with it");

namespace counsel {

TlsFiles TlsFilesFromFlags() {
  return TlsFiles{absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                  absl::GetFlag(FLAGS_tls_ca)};
}

ServerConfig ServerConfigFromFlags(const std::string& program, const std::string& listen) {
  ServerConfig config;
  config.program = program;
  config.listen = listen;
  config.reflection = absl::GetFlag(FLAGS_reflection);
  config.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  config.tls = TlsFilesFromFlags();
  return config;
}

}  // namespace counsel
