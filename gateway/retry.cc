#include "gateway/retry.h"

#include <algorithm>
#include <cmath>

namespace counsel::gateway {

absl::Duration RetryRule::Backoff(int retry, double fraction) const {
  absl::Duration cap = initial_backoff * std::pow(multiplier, std::max(0, retry - 1));
  cap = std::min(cap, max_backoff);
  return jitter ? cap * std::clamp(fraction, 0.0, 1.0) : cap;
}

void RetryBudget::OnSuccess() {
  int now = tenths_.load(std::memory_order_relaxed);
  while (now < kMax &&
         !tenths_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed)) {
  }
}

void RetryBudget::OnFailure() {
  int now = tenths_.load(std::memory_order_relaxed);
  while (now > 0 && !tenths_.compare_exchange_weak(now, std::max(0, now - 10),
                                                   std::memory_order_relaxed)) {
  }
}

bool RetryBudget::AllowRetry() const {
  return tenths_.load(std::memory_order_relaxed) > kMax / 2;
}

}  // namespace counsel::gateway
