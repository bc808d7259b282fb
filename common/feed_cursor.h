// Change-feed cursors. A cursor is a position in one tenant's feed, sealed
// (crypto::TokenSealer, base32): opaque to callers (it shows no sequence
// number) and bound to the tenant and the caller's client binding, so it
// opens for no one else. case-svc issues them; the gateway reads them too,
// to join its HTTP watchers onto one shared feed without a gap or a repeat.
//
//   const CursorCodec codec = CursorCodec::ForContextKey(context_key);
//   const std::string c = codec.Encode("firm-a", "", 42);
//   ASSIGN_OR_RETURN(int64_t seq, codec.Decode("firm-a", "", c, "cursor"));
#ifndef COUNSEL_COMMON_FEED_CURSOR_H_
#define COUNSEL_COMMON_FEED_CURSOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/call_context.h"
#include "common/crypto.h"

namespace counsel {

class CursorCodec {
 public:
  // The codec every program derives from the shared context key.
  static CursorCodec ForContextKey(const ContextKey& key);

  explicit CursorCodec(absl::string_view secret);
  CursorCodec(CursorCodec&&) = default;

  std::string Encode(absl::string_view tenant, absl::string_view client, int64_t seq) const;
  // Always the same cursor for one position (webhook payloads, which are
  // sent again byte for byte).
  std::string EncodeStable(absl::string_view tenant, absl::string_view client,
                           int64_t seq) const;
  // InvalidArgument naming `field` for a malformed or foreign cursor.
  absl::StatusOr<int64_t> Decode(absl::string_view tenant, absl::string_view client,
                                 absl::string_view cursor, absl::string_view field) const;

 private:
  std::unique_ptr<crypto::TokenSealer> sealer_;
};

}  // namespace counsel

#endif  // COUNSEL_COMMON_FEED_CURSOR_H_
