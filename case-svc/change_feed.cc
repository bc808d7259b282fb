#include "case-svc/change_feed.h"

#include <sodium.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ids.h"

namespace counsel::cases {
namespace {

constexpr size_t kMacBytes = 12;

std::string Mac(const std::string& key, absl::string_view tenant, int64_t seq) {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  const std::string msg = absl::StrCat("counsel/cursor/v1|", tenant, "|", seq);
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), kMacBytes);
}

int Base32Value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

CursorCodec::CursorCodec(absl::string_view secret) {
  if (sodium_init() < 0) abort();
  // A key of its own, derived from the context key.
  unsigned char k[32];
  crypto_generichash(k, sizeof k, reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), reinterpret_cast<const unsigned char*>("counsel/cursor-key"), 18);
  key_.assign(reinterpret_cast<const char*>(k), sizeof k);
}

std::string CursorCodec::Encode(absl::string_view tenant, int64_t seq) const {
  std::string raw(8, '\0');
  for (int i = 0; i < 8; ++i) raw[static_cast<size_t>(i)] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
  return Base32Encode(raw + Mac(key_, tenant, seq));
}

absl::StatusOr<int64_t> CursorCodec::Decode(absl::string_view tenant, absl::string_view cursor,
                                            absl::string_view field) const {
  std::string raw;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : cursor) {
    const int v = Base32Value(c);
    if (v < 0) return InvalidArgumentField(field, "is not a cursor this service issued");
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      raw.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  if (raw.size() != 8 + kMacBytes) return InvalidArgumentField(field, "is not a cursor this service issued");
  int64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | static_cast<unsigned char>(raw[static_cast<size_t>(i)]);
  const std::string expected = Mac(key_, tenant, seq);
  if (seq < 0 || sodium_memcmp(expected.data(), raw.data() + 8, kMacBytes) != 0) {
    return InvalidArgumentField(field, "is not a cursor this service issued");
  }
  return seq;
}

FeedHub::FeedHub(absl::Duration bookmark_interval) : interval_(bookmark_interval) {
  timer_ = std::thread([this] { Tick(); });
}

FeedHub::~FeedHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  timer_.join();
}

int64_t FeedHub::Add(Wake wake) {
  absl::MutexLock lock(&mu_);
  const int64_t id = next_id_++;
  watchers_[id] = std::move(wake);
  return id;
}

void FeedHub::Remove(int64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void FeedHub::Notify() {
  std::vector<Wake> wakes;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, w] : watchers_) wakes.push_back(w);
  }
  for (auto& w : wakes) w(false);
}

void FeedHub::Tick() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) {
    std::vector<Wake> wakes;
    for (auto& [id, w] : watchers_) wakes.push_back(w);
    mu_.Unlock();
    for (auto& w : wakes) w(true);
    mu_.Lock();
  }
}

}  // namespace counsel::cases
