#include "gateway/limits.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
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

void TokenBuckets::ShareThrough(Leaser leaser) {
  absl::MutexLock lock(&mu_);
  leaser_ = std::move(leaser);
}

namespace {

// Tokens asked for at once: about a tenth of a second's worth.
double LeaseBatch(double rate, double burst) {
  return std::max(1.0, std::min(std::max(1.0, burst), std::ceil(rate / 10)));
}

}  // namespace

absl::Status TokenBuckets::Take(const std::string& name, double rate, double burst,
                                absl::Time now, absl::string_view what) {
  absl::MutexLock lock(&mu_);
  if (leaser_ && now >= leaser_failed_until_) {
    const absl::Duration refill = absl::Seconds(rate > 0 ? 1 / rate : 60);
    // One lease per name at a time; others of that name wait for it (the
    // lock is released meanwhile, so other keys never wait on the database).
    auto not_leasing = [this, &name]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return !leasing_.contains(name);
    };
    mu_.Await(absl::Condition(&not_leasing));
    bool shared = true;
    if (leased_[name] < 1) {
      // An empty shared bucket is not asked again before a token can be
      // back: a key over its quota costs the database nothing per call.
      auto empty = empty_until_.find(name);
      if (empty != empty_until_.end() && now < empty->second) {
        return ResourceExhaustedRetryAfter(absl::StrCat(what, ": retry later"),
                                           absl::Ceil(empty->second - now, absl::Milliseconds(1)));
      }
      const double want = LeaseBatch(rate, burst);
      Leaser leaser = leaser_;
      leasing_.insert(name);
      mu_.Unlock();
      absl::StatusOr<double> granted = leaser(name, rate, burst, want, now);
      mu_.Lock();
      leasing_.erase(name);
      if (granted.ok()) {
        leased_[name] += *granted;
        if (*granted < 1) {
          // Asked again once a batch's worth can be back.
          empty_until_[name] = now + std::max(refill, absl::Seconds(want / rate));
        }
      } else {
        // The database is unreachable or slow: this replica's own buckets
        // decide for a second before it is asked again.
        shared = false;
        leaser_failed_until_ = now + absl::Seconds(1);
      }
      if (leased_.size() > 100000) {
        absl::erase_if(leased_, [](const auto& kv) { return kv.second < 1; });
        absl::erase_if(empty_until_, [&](const auto& kv) { return kv.second < now; });
      }
    }
    if (shared) {
      if (leased_[name] >= 1) {
        leased_[name] -= 1;
        empty_until_.erase(name);
        return absl::OkStatus();
      }
      return ResourceExhaustedRetryAfter(absl::StrCat(what, ": retry later"),
                                         absl::Ceil(refill, absl::Milliseconds(1)));
    }
  }
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

absl::StatusOr<std::shared_ptr<void>> StreamSlots::Take(const std::string& key_id, int key_cap,
                                                        const std::string& tenant,
                                                        int tenant_cap) {
  {
    absl::MutexLock lock(&mu_);
    int& k = by_key_[key_id];
    int& t = by_tenant_[tenant];
    if (k >= key_cap || t >= tenant_cap) {
      const bool key_full = k >= key_cap;
      if (k == 0) by_key_.erase(key_id);
      if (t == 0) by_tenant_.erase(tenant);
      return ResourceExhaustedRetryAfter(
          key_full ? absl::StrCat("this key holds its limit of ", key_cap, " open streams")
                   : absl::StrCat("this tenant holds its limit of ", tenant_cap, " open streams"),
          absl::Seconds(1));
    }
    ++k;
    ++t;
  }
  return std::shared_ptr<void>(nullptr, [this, key_id, tenant](void*) { Give(key_id, tenant); });
}

void StreamSlots::Give(const std::string& key_id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  if (--by_key_[key_id] <= 0) by_key_.erase(key_id);
  if (--by_tenant_[tenant] <= 0) by_tenant_.erase(tenant);
}

std::string SourceAddress(absl::string_view peer, absl::string_view forwarded_for,
                          const absl::flat_hash_set<std::string>& trusted_proxies) {
  std::string source(peer);
  if (forwarded_for.empty() || !trusted_proxies.contains(source)) return source;
  // Walk from the right: each hop appends the address it received from, so
  // the rightmost address not a trusted proxy is the first one nobody
  // trusted could have written.
  std::vector<absl::string_view> hops = absl::StrSplit(forwarded_for, ',');
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    const std::string hop(absl::StripAsciiWhitespace(*it));
    if (hop.empty() || hop.size() > 64) break;
    source = hop;
    if (!trusted_proxies.contains(hop)) break;
  }
  return source;
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
