#include "common/call_context.h"

#include <sodium.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace counsel {

bool HasScope(const CallContext& context, absl::string_view scope) {
  return std::find(context.scopes().begin(), context.scopes().end(), scope) !=
         context.scopes().end();
}

absl::Status RequireScope(const CallContext& context, absl::string_view scope) {
  if (HasScope(context, scope)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("this call needs the scope ", scope));
}

bool ContributorMayCall(absl::string_view method) {
  static constexpr absl::string_view kMethods[] = {
      "GetCase",     "BatchGetCases", "ListCases",  "UpdateChecklistItem", "AddEvidence",
      "ListEvidence", "GetEvidence", "ReadEvidenceAttachment", "AddNote",
      "ListNotes",   "ListCaseEvents", "ListChanges",    "WatchChanges",
      "GetCaseBrief",
  };
  return std::find(std::begin(kMethods), std::end(kMethods), method) != std::end(kMethods);
}

absl::Status RequireScopeFor(const CallContext& context, absl::string_view method,
                             absl::string_view scope) {
  if (HasScope(context, scope)) return absl::OkStatus();
  const bool substitutable = scope == kScopeCasesRead || scope == kScopeCasesWrite;
  if (!substitutable || !ContributorMayCall(method) || !HasScope(context, kScopeCasesContribute)) {
    return RequireScope(context, scope);
  }
  if (context.client_id().empty()) {
    return absl::PermissionDeniedError(
        "cases.contribute acts for one client: bind the key to a client, or name the client "
        "in x-counsel-on-behalf-of with a cases.delegate key");
  }
  return absl::OkStatus();
}

ContextKey::ContextKey(std::string key) : mac_(key) { sodium_memzero(key.data(), key.size()); }

ContextKey::~ContextKey() = default;

std::string ContextKey::Sign(const CallContext& context) const {
  internal::v1::SignedCallContext signed_context;
  signed_context.set_context(context.SerializeAsString());
  signed_context.set_mac(mac_.Sign(signed_context.context()));
  return signed_context.SerializeAsString();
}

std::string ContextKey::Derive(absl::string_view label) const {
  return mac_.Sign(absl::StrCat("counsel/derive|", label));
}

void ContextKey::Attach(const CallContext& context, grpc::ClientContext* client) const {
  client->AddMetadata(kContextMetadataKey, Sign(context));
}

absl::StatusOr<CallContext> ContextKey::Verify(absl::string_view signed_bytes,
                                               absl::string_view method,
                                               absl::Time now) const {
  if (signed_bytes.empty()) {
    return absl::UnauthenticatedError("missing call context");
  }
  internal::v1::SignedCallContext signed_context;
  if (!signed_context.ParseFromArray(signed_bytes.data(),
                                     static_cast<int>(signed_bytes.size())) ||
      signed_context.mac().size() != crypto_auth_hmacsha256_BYTES) {
    return absl::UnauthenticatedError("malformed call context");
  }
  if (!mac_.Verify(signed_context.context(), signed_context.mac())) {
    return absl::UnauthenticatedError("call context signature does not verify");
  }
  CallContext context;
  if (!context.ParseFromString(signed_context.context())) {
    return absl::UnauthenticatedError("malformed call context");
  }
  if (absl::FromUnixMicros(context.expire_unix_micros()) < now) {
    return absl::UnauthenticatedError("call context expired");
  }
  if (context.method() != method) {
    return absl::UnauthenticatedError("call context was signed for another method");
  }
  if (context.tenant().empty()) {
    return absl::UnauthenticatedError("call context names no tenant");
  }
  return context;
}

absl::StatusOr<CallContext> ContextKey::Verify(const grpc::ServerContextBase& server,
                                               absl::string_view method,
                                               absl::Time now) const {
  const auto& md = server.client_metadata();
  auto it = md.find(kContextMetadataKey);
  if (it == md.end()) return absl::UnauthenticatedError("missing call context");
  return Verify(absl::string_view(it->second.data(), it->second.size()), method, now);
}

}  // namespace counsel
