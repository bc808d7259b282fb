#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/utf8.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace counsel::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

constexpr absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}

// spdlog owns the locking and the write; we give it whole JSON lines.
spdlog::logger& Logger() {
  static spdlog::logger* logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* l = new spdlog::logger("counsel", sink);
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

// Formatting the calendar part is most of a log line's cost, and lines come
// many per second, so each thread keeps the text of the last second it
// formatted.
void AppendTimestamp(absl::Time t, std::string* out) {
  thread_local int64_t cached_second = std::numeric_limits<int64_t>::min();
  thread_local std::string cached_text;  // "2026-11-28T12:58:09."
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t second = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --second;
  }
  if (second != cached_second) {
    cached_text = absl::FormatTime("%Y-%m-%dT%H:%M:%S.", absl::FromUnixSeconds(second),
                                   absl::UTCTimeZone());
    cached_second = second;
  }
  out->append(cached_text);
  char digits[7] = {'0', '0', '0', '0', '0', '0', 'Z'};
  for (int i = 5; i >= 0 && fraction > 0; --i, fraction /= 10) {
    digits[i] = static_cast<char>('0' + fraction % 10);
  }
  out->append(digits, sizeof digits);
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  // Most values (ids, method names, codes) need no escaping: the plain ASCII
  // prefix is copied at once.
  size_t plain = 0;
  while (plain < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[plain]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) break;
    ++plain;
  }
  out->append(s.data(), plain);
  // The rest is escaped so that the line stays one JSON object whatever a
  // caller sent: controls (C0, DEL, C1) and bidirectional overrides as
  // \uXXXX, invalid UTF-8 as U+FFFD.
  size_t i = plain;
  while (i < s.size()) {
    const size_t start = i;
    char32_t cp;
    const bool valid = utf8::Next(s, &i, &cp);
    switch (cp) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (!valid) {
          out->append("\\ufffd");
        } else if (utf8::IsForbiddenControl(cp, false)) {
          absl::StrAppendFormat(out, "\\u%04x", static_cast<uint32_t>(cp));
        } else {
          out->append(s.data() + start, i - start);
        }
    }
  }
  out->push_back('"');
}

void Value::AppendJson(std::string* out) const {
  if (const auto* s = std::get_if<absl::string_view>(&v_)) {
    AppendJsonString(*s, out);
  } else if (const auto* i = std::get_if<int64_t>(&v_)) {
    absl::StrAppend(out, *i);
  } else if (const auto* d = std::get_if<double>(&v_)) {
    absl::StrAppendFormat(out, "%.6g", *d);
  } else {
    out->append(std::get<bool>(v_) ? "true" : "false");
  }
}

namespace {

// Appends one line to `line`.
void FormatLine(Level level, absl::string_view event, std::initializer_list<Field> fields,
                std::string& line) {
  line.append("{\"time\":\"");
  AppendTimestamp(absl::Now(), &line);
  absl::StrAppend(&line, "\",\"level\":\"", LevelName(level), "\",\"event\":");
  AppendJsonString(event, &line);
  for (const Field& f : fields) {
    line.push_back(',');
    AppendJsonString(f.key, &line);
    line.push_back(':');
    f.value.AppendJson(&line);
  }
  line.append("}\n");
}

// Queued lines, and the order of writes: whoever writes holds write_mu
// while it takes the queue, so batches never overtake each other; appending
// to the queue takes only mu, held for a copy.
// The writer swaps `queued` with `spare` and clears it after writing, so
// both keep their capacity: a busy queue is never reallocated (growing it
// anew after every write, and freeing 64 KiB at a time, had glibc's malloc
// consolidating its free lists on the serving threads).
struct Output {
  absl::Mutex write_mu;
  absl::Mutex mu ABSL_ACQUIRED_AFTER(write_mu);
  std::string queued ABSL_GUARDED_BY(mu);
  bool flusher_started ABSL_GUARDED_BY(mu) = false;
  std::string spare ABSL_GUARDED_BY(write_mu);
};

Output& Out() {
  static Output* out = new Output();  // never destroyed: the flusher outlives main
  return *out;
}

constexpr size_t kQueueLimit = 64 << 10;

// Writes what is queued, then `line` (may be empty), as one output call.
void WriteNow(absl::string_view line) {
  Output& out = Out();
  absl::MutexLock write_lock(&out.write_mu);
  std::string& lines = out.spare;
  {
    absl::MutexLock lock(&out.mu);
    lines.swap(out.queued);
  }
  lines.append(line.data(), line.size());
  if (!lines.empty()) {
    // spdlog ends the message with its own newline.
    Logger().info(spdlog::string_view_t(lines.data(), lines.size() - 1));
  }
  lines.clear();
}

// A line is formatted into its thread's buffer, which keeps its capacity.
std::string& LineBuffer() {
  thread_local std::string line;
  line.clear();
  return line;
}

}  // namespace

void Write(Level level, absl::string_view event,
           std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) {
    return;
  }
  std::string& line = LineBuffer();
  FormatLine(level, event, fields, line);
  WriteNow(line);
}

void WriteBuffered(Level level, absl::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) {
    return;
  }
  std::string& line = LineBuffer();
  FormatLine(level, event, fields, line);
  Output& out = Out();
  bool start_flusher = false, full = false;
  {
    absl::MutexLock lock(&out.mu);
    out.queued.append(line);
    full = out.queued.size() >= kQueueLimit;
    start_flusher = !out.flusher_started;
    out.flusher_started = true;
  }
  if (start_flusher) {
    std::atexit(Flush);
    std::thread([] {
      for (;;) {
        absl::SleepFor(absl::Milliseconds(100));
        Flush();
      }
    }).detach();
  }
  if (full) Flush();
}

void Flush() { WriteNow(""); }

void SetMinLevel(Level level) { g_min_level.store(static_cast<int>(level)); }

bool ParseLevel(absl::string_view text, Level* level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarning, Level::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

}  // namespace counsel::log
