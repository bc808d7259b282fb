// A per-backend circuit breaker: after `threshold` consecutive UNAVAILABLE
// answers the circuit opens and calls fail at once for `open_for`; then one
// call is let through (half-open): success closes it, failure opens it again.
// gRPC already fails fast on a refused connection; the breaker also covers a
// backend that accepts connections but fails every call, and spares it load
// while it recovers.
#ifndef COUNSEL_GATEWAY_BREAKER_H_
#define COUNSEL_GATEWAY_BREAKER_H_

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
    absl::MutexLock lock(&mu_);
    if (now < open_until_) return false;
    if (failures_ >= threshold_) {
      if (trial_in_flight_) return false;  // half-open: one trial at a time
      trial_in_flight_ = true;
    }
    return true;
  }
  void Record(bool unavailable, absl::Time now) {
    absl::MutexLock lock(&mu_);
    trial_in_flight_ = false;
    if (!unavailable) {
      failures_ = 0;
      return;
    }
    if (++failures_ >= threshold_) open_until_ = now + open_for_;
  }
  bool open(absl::Time now) {
    absl::MutexLock lock(&mu_);
    return now < open_until_;
  }

 private:
  const int threshold_;
  const absl::Duration open_for_;
  absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool trial_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_BREAKER_H_
