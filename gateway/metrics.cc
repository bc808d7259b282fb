#include "gateway/metrics.h"

#include <sstream>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace counsel::gateway {

namespace {

// (method, code, transport), looked up by views so that counting a call
// allocates nothing.
using CallKey = std::tuple<std::string, int, std::string>;
using CallKeyView = std::tuple<absl::string_view, int, absl::string_view>;
struct CallKeyHash {
  using is_transparent = void;
  template <typename K>
  size_t operator()(const K& k) const {
    return absl::Hash<CallKeyView>()(CallKeyView(std::get<0>(k), std::get<1>(k), std::get<2>(k)));
  }
};
struct CallKeyEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return absl::string_view(std::get<0>(a)) == std::get<0>(b) && std::get<1>(a) == std::get<1>(b) &&
           absl::string_view(std::get<2>(a)) == std::get<2>(b);
  }
};
struct CallSeries {
  prometheus::Counter* calls;
  prometheus::Histogram* latency;
};

}  // namespace

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
  prometheus::Gauge& in_flight_now = in_flight.Add({});
  prometheus::Gauge& shared_feeds =
      prometheus::BuildGauge().Name("counsel_gateway_shared_feeds")
          .Help("WatchChanges streams to case-svc shared by HTTP watchers").Register(*registry)
          .Add({});

  // prometheus-cpp finds a series by hashing its label map under a lock:
  // several allocations a call. Series are never removed, so their
  // addresses are kept here after the first call that needs them.
  absl::Mutex mu;
  absl::flat_hash_map<CallKey, CallSeries, CallKeyHash, CallKeyEq> series ABSL_GUARDED_BY(mu);

  CallSeries SeriesFor(absl::string_view method, int code, absl::string_view transport) {
    const CallKeyView key(method, code, transport);
    {
      absl::ReaderMutexLock lock(&mu);
      if (auto it = series.find(key); it != series.end()) return it->second;
    }
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    const CallSeries s{
        &calls.Add({{"method", std::string(method)}, {"code", absl::StrCat(code)},
                    {"transport", std::string(transport)}}),
        &latency.Add({{"method", std::string(method)}, {"transport", std::string(transport)}},
                     kBuckets)};
    absl::MutexLock lock(&mu);
    series.try_emplace(CallKey(method, code, transport), s);
    return s;
  }
};

Metrics& Metrics::Get() {
  static Metrics* m = new Metrics();
  return *m;
}

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}

void Metrics::Call(absl::string_view method, int code, absl::string_view transport,
                   absl::Duration latency) {
  const CallSeries s = impl_->SeriesFor(method, code, transport);
  s.calls->Increment();
  s.latency->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RateLimited(absl::string_view reason) {
  impl_->limited.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::BackendError(absl::string_view backend) {
  impl_->backend_errors.Add({{"backend", std::string(backend)}}).Increment();
}

void Metrics::SetInFlight(int n) { impl_->in_flight_now.Set(n); }

void Metrics::SetSharedFeeds(int n) { impl_->shared_feeds.Set(n); }

std::string Metrics::Render() {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace counsel::gateway
