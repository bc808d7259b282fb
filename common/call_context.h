// The signed call context: who calls, for which tenant and client, with which
// scopes. The gateway (or a service acting as itself) signs it with the
// shared context key; backends verify it at the top of every handler.
//
//   ContextKey key(LoadKeyFile(...));
//   // caller:
//   key.Attach(ctx_proto, &client_context);
//   // backend handler:
//   ASSIGN_OR_RETURN(CallContext cc, key.Verify(*server_context, kMethod, clock->Now()));
//
// A context is bound to one method and expires, so that a context captured
// from one call cannot be reused for another method or later.
#ifndef COUNSEL_COMMON_CALL_CONTEXT_H_
#define COUNSEL_COMMON_CALL_CONTEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "counsel/internal/v1/call_context.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"

namespace counsel {

using internal::v1::CallContext;

// Metadata key that carries a serialized SignedCallContext.
inline constexpr char kContextMetadataKey[] = "counsel-context-bin";

// Scopes of DESIGN.md.
inline constexpr char kScopeGuidanceRead[] = "guidance.read";
inline constexpr char kScopeGuidanceWrite[] = "guidance.write";
inline constexpr char kScopeCasesRead[] = "cases.read";
inline constexpr char kScopeCasesWrite[] = "cases.write";
inline constexpr char kScopeCasesPii[] = "cases.pii";
inline constexpr char kScopeCasesAdmin[] = "cases.admin";
inline constexpr char kScopeCasesDelegate[] = "cases.delegate";
inline constexpr char kScopeCasesContribute[] = "cases.contribute";

bool HasScope(const CallContext& context, absl::string_view scope);

// PermissionDenied naming the scope when `context` lacks it.
absl::Status RequireScope(const CallContext& context, absl::string_view scope);

// Whether `cases.contribute` stands in for cases.read / cases.write on the
// CaseService (or PortalService) method named `method` ("GetCase"): a
// client's own app reads its cases, ticks or skips checklist items and adds
// evidence and notes, and nothing else. One list, read by the gateway and by
// case-svc.
bool ContributorMayCall(absl::string_view method);

// RequireScope, except that a contributor may call what ContributorMayCall
// allows when the call is bound to one client (`client_id` set).
absl::Status RequireScopeFor(const CallContext& context, absl::string_view method,
                             absl::string_view scope);

// Thread-safe (immutable after construction).
class ContextKey {
 public:
  explicit ContextKey(std::string key);
  ~ContextKey();
  ContextKey(const ContextKey&) = delete;
  ContextKey& operator=(const ContextKey&) = delete;

  // Serialized SignedCallContext for `context`.
  std::string Sign(const CallContext& context) const;

  // A secret for another purpose (e.g. change-feed cursors), derived from
  // this key so that deployments manage one key file.
  std::string Derive(absl::string_view label) const;

  // Signs `context` and adds it to the outgoing metadata of `client`.
  void Attach(const CallContext& context, grpc::ClientContext* client) const;

  // Checks a serialized SignedCallContext. UNAUTHENTICATED when missing,
  // malformed, tampered with, expired at `now`, or signed for another method.
  absl::StatusOr<CallContext> Verify(absl::string_view signed_bytes,
                                     absl::string_view method, absl::Time now) const;

  // Verifies the context in the incoming metadata of a server call.
  absl::StatusOr<CallContext> Verify(const grpc::ServerContextBase& server,
                                     absl::string_view method, absl::Time now) const;

 private:
  // Every call signs or verifies once: the key is prepared once.
  const crypto::Hmac mac_;
};

}  // namespace counsel

#endif  // COUNSEL_COMMON_CALL_CONTEXT_H_
