#include "common/server.h"

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace counsel {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what) {
  std::ifstream in(path);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  if (tls.cert.empty() || tls.key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  auto cert = ReadPem(tls.cert, "--tls_cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(tls.key, "--tls_key");
  if (!key.ok()) return key.status();
  pair.cert_chain = *cert;
  pair.private_key = *key;
  options.pem_key_cert_pairs.push_back(pair);
  if (!tls.ca.empty()) {
    auto ca = ReadPem(tls.ca, "--tls_ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!tls.ca.empty()) {
    auto ca = ReadPem(tls.ca, "--tls_ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (!tls.cert.empty()) {
    auto cert = ReadPem(tls.cert, "--tls_cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(tls.key, "--tls_key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(
    const ServerConfig& config, const std::vector<grpc::Service*>& services,
    const std::function<void(grpc::ServerBuilder&)>& customize) {
  auto creds = MakeServerCredentials(config.tls);
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  if (config.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<ServerRunner> runner(new ServerRunner());
  runner->config_ = config;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, *creds, &runner->port_);
  builder.SetMaxReceiveMessageSize(config.max_receive_message_bytes);
  // gRPC 1.51 inflates a compressed message whole before it checks its size
  // (1 MiB of gzip became 1 GiB), so no compressed request is accepted: a
  // caller that sends one gets UNIMPLEMENTED before anything is inflated.
  // Answers are not compressed either; callers on loopback or a LAN gain
  // little from it.
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
  if (config.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams);
  }
  for (grpc::Service* s : services) builder.RegisterService(s);
  if (customize) customize(builder);
  runner->server_ = builder.BuildAndStart();
  if (runner->server_ == nullptr || runner->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  }
  runner->server_->GetHealthCheckService()->SetServingStatus(true);
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  log::Info("listening", {{"program", config.program},
                          {"transport", "grpc"},
                          {"address", absl::StrCat(host, ":", runner->port_)},
                          {"port", runner->port_},
                          {"tls", config.tls.enabled()},
                          {"reflection", config.reflection}});
  return runner;
}

ServerRunner::~ServerRunner() {
  Shutdown();
  Wait();
}

void ServerRunner::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
  }
  log::Info("draining", {{"program", config_.program},
                         {"drain_timeout_ms", absl::ToInt64Milliseconds(config_.drain_timeout)}});
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(config_.drain_timeout));
  server_->Wait();
  log::Info("stopped", {{"program", config_.program}});
  done_.Notify();
}

void ServerRunner::Wait() { done_.WaitForNotification(); }

void ServerRunner::RunUntilSignal() {
  std::thread([this] {
    const int sig = WaitForTerminationSignal();
    log::Info("signal", {{"program", config_.program}, {"signal", sig}});
    Shutdown();
  }).detach();
  Wait();
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace counsel
