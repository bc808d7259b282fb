// A per-backend circuit breaker: after `threshold` consecutive UNAVAILABLE
// answers the circuit opens and calls fail at once for `open_for`; then one
// call is let through (half-open): success closes it, failure opens it again.
// gRPC already fails fast on a refused connection; the breaker also covers a
// backend that accepts connections but fails every call, and spares it load
// while it recovers.
#ifndef COUNSEL_GATEWAY_BREAKER_H_
#define COUNSEL_GATEWAY_BREAKER_H_

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace counsel::gateway {

// Thread-safe.
class CircuitBreaker {
 public:
  CircuitBreaker(int threshold = 5, absl::Duration open_for = absl::Seconds(1))
      : threshold_(threshold), open_for_(open_for) {}

  // False while the circuit is open (the call should fail at once).
  bool Allow(absl::Time now) {
    // A healthy backend, the common case, costs no lock: every forwarded
    // call asks and records.
    if (failures_.load(std::memory_order_acquire) == 0) return true;
    absl::MutexLock lock(&mu_);
    if (now < open_until_) return false;
    if (failures_.load(std::memory_order_relaxed) >= threshold_) {
      if (trial_in_flight_) return false;  // half-open: one trial at a time
      trial_in_flight_ = true;
    }
    return true;
  }
  void Record(bool unavailable, absl::Time now) {
    // No failures means no trial in flight either: nothing to reset.
    if (!unavailable && failures_.load(std::memory_order_acquire) == 0) return;
    absl::MutexLock lock(&mu_);
    trial_in_flight_ = false;
    if (!unavailable) {
      failures_.store(0, std::memory_order_release);
      return;
    }
    const int failures = failures_.load(std::memory_order_relaxed) + 1;
    failures_.store(failures, std::memory_order_release);
    if (failures >= threshold_) open_until_ = now + open_for_;
  }
  bool open(absl::Time now) {
    absl::MutexLock lock(&mu_);
    return now < open_until_;
  }

 private:
  const int threshold_;
  const absl::Duration open_for_;
  absl::Mutex mu_;
  // Written under mu_; read without it on the fast paths.
  std::atomic<int> failures_{0};
  bool trial_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_BREAKER_H_
