// Prometheus metrics of the gateway (prometheus-cpp), served at /metrics:
//   counsel_gateway_calls_total{method,code,transport}
//   counsel_gateway_call_latency_seconds{method,transport} (histogram)
//   counsel_gateway_in_flight
//   counsel_gateway_shared_feeds (HTTP watchers' shared streams)
//   counsel_gateway_rate_limited_total{reason}
//   counsel_gateway_backend_errors_total{backend}
#ifndef COUNSEL_GATEWAY_METRICS_H_
#define COUNSEL_GATEWAY_METRICS_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace counsel::gateway {

class Metrics {
 public:
  static Metrics& Get();
  void Call(absl::string_view method, int code, absl::string_view transport,
            absl::Duration latency);
  void RateLimited(absl::string_view reason);
  void BackendError(absl::string_view backend);
  void SetInFlight(int n);
  void SetSharedFeeds(int n);
  // The Prometheus text exposition format.
  std::string Render();

 private:
  Metrics();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_METRICS_H_
