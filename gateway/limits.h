// Admission limits: per-key token buckets (the key's own rate and burst, or
// the defaults), a per-source bucket for failed authentications, and a cap
// on calls in flight.
#ifndef COUNSEL_GATEWAY_LIMITS_H_
#define COUNSEL_GATEWAY_LIMITS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace counsel::gateway {

// Thread-safe token buckets by name.
class TokenBuckets {
 public:
  // Takes up to `want` tokens from a bucket that replicas share (the key
  // store's LeaseTokens) and returns how many it took.
  using Leaser = std::function<absl::StatusOr<double>(const std::string& name, double rate,
                                                      double burst, double want, absl::Time now)>;

  // From now on, tokens come from `leaser` in batches of about a tenth of a
  // second's worth, spent here: a replica holds little that others could
  // have used, and asks the database about ten times a second per busy key,
  // not once per call. The leaser runs without the buckets' lock (other
  // keys never wait on the database); after it fails, the buckets kept here
  // decide for a second.
  void ShareThrough(Leaser leaser);

  // Takes one token from `name`'s bucket (rate per second, burst size).
  // OK, or RESOURCE_EXHAUSTED with RetryInfo saying when one will be there.
  absl::Status Take(const std::string& name, double rate, double burst, absl::Time now,
                    absl::string_view what);
  // Whether a token is there, without taking it.
  bool Empty(const std::string& name, double rate, double burst, absl::Time now);

 private:
  struct Bucket {
    double tokens;
    absl::Time last;
  };
  Bucket& Refill(const std::string& name, double rate, double burst, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  Leaser leaser_ ABSL_GUARDED_BY(mu_);
  // Leased tokens not yet spent, by name.
  absl::flat_hash_map<std::string, double> leased_ ABSL_GUARDED_BY(mu_);
  // When an empty shared bucket may hold a token again, by name.
  absl::flat_hash_map<std::string, absl::Time> empty_until_ ABSL_GUARDED_BY(mu_);
  // Names whose lease is in flight (the lock is released during it).
  absl::flat_hash_set<std::string> leasing_ ABSL_GUARDED_BY(mu_);
  // After a failed lease, the local buckets decide until then.
  absl::Time leaser_failed_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// Counts calls in flight; Enter fails fast beyond the cap.
class InFlight {
 public:
  explicit InFlight(int cap) : cap_(cap) {}
  bool Enter() {
    if (count_.fetch_add(1) >= cap_) {
      count_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void Leave() { count_.fetch_sub(1); }
  int count() const { return count_.load(); }

 private:
  const int cap_;
  std::atomic<int> count_{0};
};

// Counts open streams per key and per tenant. Thread-safe.
class StreamSlots {
 public:
  // Takes a slot for `key_id` (at most `key_cap` open) and `tenant` (at most
  // `tenant_cap`), or RESOURCE_EXHAUSTED naming the cap that was reached.
  // The slot is given back when the returned handle goes.
  absl::StatusOr<std::shared_ptr<void>> Take(const std::string& key_id, int key_cap,
                                             const std::string& tenant, int tenant_cap);

 private:
  void Give(const std::string& key_id, const std::string& tenant);
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> by_key_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> by_tenant_ ABSL_GUARDED_BY(mu_);
};

// The address whose failed authentications are counted: the peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not itself a trusted proxy.
std::string SourceAddress(absl::string_view peer, absl::string_view forwarded_for,
                          const absl::flat_hash_set<std::string>& trusted_proxies);

// The address part of a peer ("ipv4:127.0.0.1:5000" → "127.0.0.1").
std::string PeerAddress(absl::string_view peer);

}  // namespace counsel::gateway

#endif  // COUNSEL_GATEWAY_LIMITS_H_
