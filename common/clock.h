// Time behind an interface, so that logic and tests never read the wall
// clock directly.
//
//   FakeClock clock(absl::FromUnixSeconds(1700000000));
//   CaseServiceImpl service(&key, &clock, store, &advice, options);  // any Clock*
//   clock.Advance(absl::Hours(24));
#ifndef COUNSEL_COMMON_CLOCK_H_
#define COUNSEL_COMMON_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace counsel {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance.
  static Clock* Get() {
    static RealClock* clock = new RealClock();
    return clock;
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_;
};

// The time zone of the firms' legal calendar: dates such as "today" and
// `as_of` defaults are taken in Asia/Shanghai.
absl::TimeZone ShanghaiTimeZone();

// "YYYY-MM-DD" of `t` in Asia/Shanghai.
std::string ShanghaiDate(absl::Time t);

}  // namespace counsel

#endif  // COUNSEL_COMMON_CLOCK_H_
