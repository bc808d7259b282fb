#include "common/feed_cursor.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ids.h"

namespace counsel {
namespace {

std::string Context(absl::string_view tenant, absl::string_view client) {
  return absl::StrCat("feed-cursor|", tenant.size(), ":", tenant, "|", client.size(), ":", client);
}

}  // namespace

CursorCodec CursorCodec::ForContextKey(const ContextKey& key) {
  return CursorCodec(key.Derive("change-feed-cursor"));
}

CursorCodec::CursorCodec(absl::string_view secret)
    : sealer_(std::make_unique<crypto::TokenSealer>(crypto::DeriveKey(secret, "cursor-key"))) {}

std::string CursorCodec::Encode(absl::string_view tenant, absl::string_view client,
                                int64_t seq) const {
  return Base32Encode(sealer_->Seal(absl::StrCat(seq), Context(tenant, client)));
}

std::string CursorCodec::EncodeStable(absl::string_view tenant, absl::string_view client,
                                      int64_t seq) const {
  return Base32Encode(sealer_->SealStable(absl::StrCat(seq), Context(tenant, client)));
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

}  // namespace counsel
