#include "case-svc/change_feed.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ids.h"

namespace counsel::cases {
namespace {

std::string Context(absl::string_view tenant, absl::string_view client) {
  return absl::StrCat("feed-cursor|", tenant.size(), ":", tenant, "|", client.size(), ":", client);
}

}  // namespace

CursorCodec::CursorCodec(absl::string_view secret)
    : sealer_(std::make_unique<crypto::TokenSealer>(crypto::DeriveKey(secret, "cursor-key"))) {}

std::string CursorCodec::Encode(absl::string_view tenant, absl::string_view client,
                                int64_t seq) const {
  return Base32Encode(sealer_->Seal(absl::StrCat(seq), Context(tenant, client)));
}

absl::StatusOr<int64_t> CursorCodec::Decode(absl::string_view tenant, absl::string_view client,
                                            absl::string_view cursor,
                                            absl::string_view field) const {
  std::string raw;
  int64_t seq = 0;
  if (!Base32Decode(cursor, &raw)) {
    return InvalidArgumentField(field, "is not a cursor this service issued");
  }
  auto opened = sealer_->Open(raw, Context(tenant, client));
  if (!opened.ok() || !absl::SimpleAtoi(*opened, &seq) || seq < 0) {
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
