// When the gateway tries a read again: a call to an idempotent method that
// ended UNAVAILABLE (the backend was down or restarting) is sent again, at
// most twice more, after a random wait below an exponentially growing
// backoff, within the caller's deadline, and only while the backend's retry
// budget lasts. These are the rules gRPC's retry policy and throttling would
// apply (gRFC A6); the gateway applies them itself because gRPC's retry
// layer copies every call's metadata and messages in case it is needed, a
// tenth of a forwarded call's CPU (docs/performance.md).
#ifndef COUNSEL_GATEWAY_RETRY_H_
#define COUNSEL_GATEWAY_RETRY_H_

#include <atomic>

#include "absl/time/time.h"

namespace counsel::gateway {

struct RetryRule {
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(20);
  absl::Duration max_backoff = absl::Milliseconds(200);
  double multiplier = 2;
  // A random part of the backoff (as gRPC), so that callers refused
  // together do not come back together; off, the whole backoff (tests).
  bool jitter = true;

  // The wait before retry `retry` (1 for the second attempt): `fraction`
  // (uniform in [0, 1)) of min(initial * multiplier^(retry-1), max), or all
  // of it without jitter.
  absl::Duration Backoff(int retry, double fraction) const;
};

// A backend's retry budget, shared by all its calls: a failed call (one
// that could be retried) spends a token, a successful one earns back a
// tenth; retries are allowed while more than half of the 100 tokens are
// left. A backend failing everything then gets each call once, not three
// times, and a failure now and then is still retried. Thread-safe and
// lock-free; a success at full budget writes nothing.
class RetryBudget {
 public:
  void OnSuccess();
  void OnFailure();
  bool AllowRetry() const;

 private:
  // In tenths of a token.
  static constexpr int kMax = 1000;
  std::atomic<int> tenths_{kMax};
};

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_RETRY_H_
