// Fuzz target: the incremental multipart reader and the Range parser. The
// first byte picks the piece size, so the same form is also cut at every
// kind of place; whatever the pieces, the events must be the same as when
// the form arrives whole, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/http/download.h"
#include "gateway/http/multipart.h"

namespace {

// The form's events flattened to one string, or "!" on refusal.
std::string Run(const std::string& body, size_t step) {
  counsel::gateway::MultipartReader reader("fz");
  std::string out;
  for (size_t i = 0; i < body.size(); i += step) {
    auto events = reader.Feed(absl::string_view(body).substr(i, step));
    if (!events.ok()) return "!";
    for (const auto& e : *events) {
      switch (e.kind) {
        case counsel::gateway::MultipartEvent::Kind::kPartStart:
          out += "<" + e.part.name + "|" + e.part.filename + "|" + e.part.content_type + ">";
          break;
        case counsel::gateway::MultipartEvent::Kind::kData:
          out += e.data;
          break;
        case counsel::gateway::MultipartEvent::Kind::kPartEnd:
          out += "</>";
          break;
      }
    }
  }
  return reader.Finish().ok() ? out : out + "?";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 17;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (Run(body, step) != Run(body, body.size() + 1)) abort();
  (void)counsel::gateway::ParseRange(body);
  (void)counsel::gateway::AttachmentDisposition(body);
  (void)counsel::gateway::MultipartBoundary(body);
  return 0;
}
