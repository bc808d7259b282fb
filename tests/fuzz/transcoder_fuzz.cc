// Fuzz target: the HTTP/JSON transcoder. Input: "METHOD PATH\nBODY"; the
// path may carry a query string. Routes are matched and requests built from
// path, query and body; nothing may crash whatever the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/http/transcoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* transcoder = counsel::gateway::Transcoder::Build()->release();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string line = input.substr(0, nl);
  const std::string body = nl == std::string::npos ? "" : input.substr(nl + 1);
  const size_t sp = line.find(' ');
  if (sp == std::string::npos) return 0;
  const std::string method = line.substr(0, sp);
  const std::string target = line.substr(sp + 1);
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q);
  counsel::gateway::QueryParams query;
  if (q != std::string::npos &&
      !counsel::gateway::ParseQueryString(target.substr(q + 1), &query)) {
    return 0;
  }
  auto match = transcoder->Find(method, path);
  (void)transcoder->PathExists(path);
  if (match) {
    auto bytes = transcoder->BuildRequest(*match, query, body);
    if (bytes.ok()) (void)transcoder->RenderResponse(*match->route, *bytes);
  }
  return 0;
}
