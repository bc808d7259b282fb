#include "case-svc/webhooks/sender.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace counsel::cases::webhooks {
namespace {

struct CallState {
  const TargetPolicy* policy;
  const IpAddress* pinned;
  size_t max_response_bytes;
  size_t received = 0;
  bool refused_address = false;
  bool too_long = false;
};

size_t OnBody(char* /*data*/, size_t size, size_t n, void* user) {
  auto* s = static_cast<CallState*>(user);
  s->received += size * n;
  if (s->received > s->max_response_bytes) {
    s->too_long = true;
    return 0;  // stop reading; the status line is already known
  }
  return size * n;
}

// The last word on where a socket goes: only to the address that was
// checked, and only if the policy still allows it.
curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* s = static_cast<CallState*>(user);
  IpAddress a;
  if (purpose != CURLSOCKTYPE_IPCXN || !FromSockaddr(&address->addr, &a) ||
      a.family != s->pinned->family || a.bytes != s->pinned->bytes ||
      !CheckAddress(a, *s->policy).ok()) {
    s->refused_address = true;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

class CurlSender final : public Sender {
 public:
  CurlSender(const TargetPolicy& policy, SenderOptions options)
      : policy_(policy), options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~CurlSender() override {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  OutboundResponse Post(const OutboundRequest& request) override {
    CURL* h = Take();
    CallState state{&policy_, &request.address, options_.max_response_bytes};
    const std::string host_port = absl::StrCat(request.url.host, ":", request.url.port);
    const bool v6 = request.url.host.find(':') != std::string::npos;
    const std::string authority =
        v6 ? absl::StrCat("[", request.url.host, "]:", request.url.port) : host_port;
    const std::string url = absl::StrCat(request.url.scheme, "://", authority, request.url.target);
    curl_slist* resolve = nullptr;
    if (!request.url.host_is_literal) {
      // Pin the name to the address that was checked: curl does not resolve
      // again, so a DNS answer that changes in between is never used.
      resolve = curl_slist_append(resolve, absl::StrCat("-", host_port).c_str());
      const std::string addr = request.address.family == AF_INET6
                                   ? absl::StrCat("[", request.address.ToString(), "]")
                                   : request.address.ToString();
      resolve = curl_slist_append(resolve, absl::StrCat(host_port, ":", addr).c_str());
    }
    curl_slist* headers = nullptr;
    for (const auto& [k, v] : request.headers) {
      headers = curl_slist_append(headers, absl::StrCat(k, ": ", v).c_str());
    }
    headers = curl_slist_append(headers, "Expect:");

    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, policy_.allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Counsel-Webhooks/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &state);

    const absl::Time start = absl::Now();
    const CURLcode rc = curl_easy_perform(h);
    OutboundResponse out;
    out.latency = absl::Now() - start;
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    out.status_code = static_cast<int>(code);
    if (state.refused_address) {
      out.status_code = 0;
      out.error = "the address connected to is not an allowed webhook target";
    } else if (rc != CURLE_OK && !(state.too_long && code != 0)) {
      out.status_code = 0;
      out.error = rc == CURLE_OPERATION_TIMEDOUT
                      ? absl::StrCat("no answer within ", absl::FormatDuration(options_.timeout))
                      : curl_easy_strerror(rc);
    } else if (code >= 300 && code < 400) {
      out.error = "a redirect, which is not followed";
    } else if (code < 200 || code >= 300) {
      out.error = absl::StrCat("HTTP ", code);
    }
    curl_easy_setopt(h, CURLOPT_RESOLVE, nullptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(resolve);
    curl_slist_free_all(headers);
    // A connection that was cut short (timeout, too long an answer) is not
    // reused: the handle goes.
    if (rc == CURLE_OK) {
      Give(h);
    } else {
      curl_easy_cleanup(h);
    }
    return out;
  }

 private:
  CURL* Take() {
    absl::MutexLock lock(&mu_);
    if (idle_.empty()) return curl_easy_init();
    CURL* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  void Give(CURL* h) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < 16) {
      idle_.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  const TargetPolicy policy_;
  const SenderOptions options_;
  absl::Mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Sender> NewCurlSender(const TargetPolicy& policy, SenderOptions options) {
  return std::make_unique<CurlSender>(policy, std::move(options));
}

}  // namespace counsel::cases::webhooks
