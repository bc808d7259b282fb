#include "gateway/limits.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/errors.h"

namespace counsel::gateway {

TokenBuckets::Bucket& TokenBuckets::Refill(const std::string& name, double rate, double burst,
                                           absl::Time now) {
  auto [it, inserted] = buckets_.try_emplace(name, Bucket{burst, now});
  Bucket& b = it->second;
  if (!inserted) {
    b.tokens = std::min(burst, b.tokens + rate * absl::ToDoubleSeconds(now - b.last));
    b.last = now;
  }
  // Bounded memory: forget idle buckets when the map grows large.
  if (buckets_.size() > 100000) {
    absl::erase_if(buckets_, [&](const auto& kv) { return kv.second.last < now - absl::Minutes(10); });
  }
  return buckets_.at(name);
}

absl::Status TokenBuckets::Take(const std::string& name, double rate, double burst,
                                absl::Time now, absl::string_view what) {
  absl::MutexLock lock(&mu_);
  Bucket& b = Refill(name, rate, burst, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return absl::OkStatus();
  }
  const double wait = rate > 0 ? (1 - b.tokens) / rate : 60;
  return ResourceExhaustedRetryAfter(
      absl::StrCat(what, ": retry later"),
      absl::Milliseconds(std::ceil(wait * 1000)));
}

bool TokenBuckets::Empty(const std::string& name, double rate, double burst, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return Refill(name, rate, burst, now).tokens < 1;
}

std::string PeerAddress(absl::string_view peer) {
  absl::ConsumePrefix(&peer, "ipv4:");
  absl::ConsumePrefix(&peer, "ipv6:");
  const size_t colon = peer.rfind(':');
  if (colon != absl::string_view::npos && !absl::StartsWith(peer, "[")) {
    return std::string(peer.substr(0, colon));
  }
  if (absl::StartsWith(peer, "[")) {
    const size_t close = peer.find(']');
    if (close != absl::string_view::npos) return std::string(peer.substr(1, close - 1));
  }
  return std::string(peer);
}

}  // namespace counsel::gateway
