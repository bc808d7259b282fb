// Structured logs: one JSON object a line on stderr.
//
//   log::Info("listening", {{"program", "counsel-guidance"}, {"port", port}});
//   {"time":"2026-11-28T10:00:00.000000Z","level":"info","event":"listening",
//    "program":"counsel-guidance","port":50051}
//
// Never pass secrets, keys or personal data as field values: log ids, counts
// and codes.
#ifndef COUNSEL_COMMON_LOGGING_H_
#define COUNSEL_COMMON_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace counsel::log {

enum class Level { kDebug, kInfo, kWarning, kError };

// A field value: text, integer, real or boolean. Text is a view: a Value
// lives only within the call that logs it, so nothing is copied.
class Value {
 public:
  Value(absl::string_view s) : v_(s) {}               // NOLINT
  Value(const std::string& s) : v_(absl::string_view(s)) {}  // NOLINT
  Value(const char* s) : v_(absl::string_view(s)) {}  // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}       // NOLINT
  Value(long i) : v_(static_cast<int64_t>(i)) {}      // NOLINT
  Value(long long i) : v_(static_cast<int64_t>(i)) {} // NOLINT
  Value(unsigned i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(unsigned long i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : v_(d) {}                          // NOLINT
  Value(bool b) : v_(b) {}                            // NOLINT
  void AppendJson(std::string* out) const;

 private:
  std::variant<absl::string_view, int64_t, double, bool> v_;
};

struct Field {
  absl::string_view key;
  Value value;
};

// Appends `t` as RFC 3339 UTC with microseconds ("2026-11-28T10:00:00.000000Z").
void AppendTimestamp(absl::Time t, std::string* out);

void Write(Level level, absl::string_view event, std::initializer_list<Field> fields);

inline void Debug(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kDebug, event, fields);
}
inline void Info(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, event, fields);
}
inline void Warning(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarning, event, fields);
}
inline void Error(absl::string_view event, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, event, fields);
}

// For events that come once per call (the gateway's access log): the line
// is queued and written with others at most 100 ms later, or as soon as
// 64 KiB are queued, or before the next unbuffered line (so order is kept),
// or at Flush() and at exit. One write per batch instead of one per call
// keeps the system call and the output lock off the serving threads; a
// kill -9 loses at most the last 100 ms of these lines.
void WriteBuffered(Level level, absl::string_view event, std::initializer_list<Field> fields);
inline void InfoBuffered(absl::string_view event, std::initializer_list<Field> fields = {}) {
  WriteBuffered(Level::kInfo, event, fields);
}
// Writes the queued lines now.
void Flush();

// Lines below this level are dropped. Default kInfo.
void SetMinLevel(Level level);
// Parses "debug", "info", "warning", "error"; false if unknown.
bool ParseLevel(absl::string_view text, Level* level);

// Appends `s` as a JSON string literal (quotes included).
void AppendJsonString(absl::string_view s, std::string* out);

}  // namespace counsel::log

#endif  // COUNSEL_COMMON_LOGGING_H_
