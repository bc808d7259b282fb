#include "gateway/metrics.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace counsel::gateway {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& calls =
      prometheus::BuildCounter().Name("counsel_gateway_calls_total")
          .Help("Calls by method, status code and transport").Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram().Name("counsel_gateway_call_latency_seconds")
          .Help("Call latency as seen by the gateway").Register(*registry);
  prometheus::Family<prometheus::Gauge>& in_flight =
      prometheus::BuildGauge().Name("counsel_gateway_in_flight")
          .Help("Calls in flight").Register(*registry);
  prometheus::Family<prometheus::Counter>& limited =
      prometheus::BuildCounter().Name("counsel_gateway_rate_limited_total")
          .Help("Calls refused by a limit").Register(*registry);
  prometheus::Family<prometheus::Counter>& backend_errors =
      prometheus::BuildCounter().Name("counsel_gateway_backend_errors_total")
          .Help("Backend calls that failed UNAVAILABLE or DEADLINE_EXCEEDED").Register(*registry);
};

Metrics& Metrics::Get() {
  static Metrics* m = new Metrics();
  return *m;
}

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}

void Metrics::Call(absl::string_view method, int code, absl::string_view transport,
                   absl::Duration latency) {
  impl_->calls
      .Add({{"method", std::string(method)}, {"code", absl::StrCat(code)},
            {"transport", std::string(transport)}})
      .Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  impl_->latency.Add({{"transport", std::string(transport)}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RateLimited(absl::string_view reason) {
  impl_->limited.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::BackendError(absl::string_view backend) {
  impl_->backend_errors.Add({{"backend", std::string(backend)}}).Increment();
}

void Metrics::SetInFlight(int n) { impl_->in_flight.Add({}).Set(n); }

std::string Metrics::Render() {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace counsel::gateway
