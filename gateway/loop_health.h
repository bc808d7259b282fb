// grpc.health.v1.Health (Check and Watch) served on the GrpcLoop, in place
// of gRPC's default health service: that one is written with the callback
// API, and a server with any callback method has gRPC's own threads polling
// its connections beside the loop's (grpc_loop.h). It behaves as the
// default does: the overall status ("") starts SERVING, other names are
// unknown until set, and a watcher is told the current status, then each
// change. It answers anyone (probes carry no key), so the watchers open at
// once are capped.
//
//   LoopHealth health(&loop);
//   ServerRunner::Start(config, {}, [&](grpc::ServerBuilder& b) {
//     health.Register(b);   // also makes it the server's HealthCheckService
//     ...
//   });
//   loop.Start([&](int shard) { health.Start(shard); ... });
#ifndef COUNSEL_GATEWAY_LOOP_HEALTH_H_
#define COUNSEL_GATEWAY_LOOP_HEALTH_H_

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gateway/grpc_loop.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/server_builder.h"

namespace counsel::gateway {

class LoopHealth {
 public:
  // grpc.health.v1.HealthCheckResponse.ServingStatus.
  enum Status { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

  // Watchers open at once beyond which a new Watch is refused
  // (RESOURCE_EXHAUSTED): the service answers anyone, keys or not. One
  // address may hold a few of them, so that one caller cannot take them all
  // (unless it speaks for others: an ingress is one address).
  static constexpr int kMaxWatchers = 1000;
  static constexpr int kMaxWatchersPerPeer = 16;

  explicit LoopHealth(GrpcLoop* loop, int max_watchers = kMaxWatchers,
                      int max_watchers_per_peer = kMaxWatchersPerPeer);
  ~LoopHealth();
  LoopHealth(const LoopHealth&) = delete;
  LoopHealth& operator=(const LoopHealth&) = delete;

  // Registers the service and installs this as the server's health check
  // service (Server::GetHealthCheckService() then sets it).
  void Register(grpc::ServerBuilder& builder);
  // Requests the first calls on loop thread `shard`.
  void Start(int shard);

  void SetServingStatus(const std::string& service, bool serving);
  // Every service known, the overall status included.
  void SetServingStatus(bool serving);
  // Every service NOT_SERVING, and no change after.
  void Shutdown();

  // The status Check answers for `service`; false for an unknown name.
  bool Get(const std::string& service, Status* status) const;

  // The messages, one field each (encoded here, as the health checker
  // program does: no generated code for two one-field messages).
  static bool ParseRequest(const std::string& bytes, std::string* service);
  static std::string Response(Status status);

 private:
  class Service;
  class Watcher;
  friend class CheckCall;
  void Changed(const std::string& service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetAllLocked(Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A watcher of an unknown name is told SERVICE_UNKNOWN.
  Status StatusForWatchLocked(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  GrpcLoop* loop_;
  const int max_watchers_;
  const int max_watchers_per_peer_;
  std::unique_ptr<Service> service_;
  mutable absl::Mutex mu_;
  std::map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> watchers_by_peer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_LOOP_HEALTH_H_
