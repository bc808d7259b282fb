#include "case-svc/case_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "case-svc/domain/masking.h"
#include "case-svc/domain/severity.h"
#include "case-svc/domain/validation.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "openssl/sha.h"

namespace counsel::cases {
namespace {

std::string Method(absl::string_view name) {
  return absl::StrCat("/", v1::CaseService::service_full_name(), "/", name);
}

std::string Digest(const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// A case of another tenant, or of another client under a client-bound
// context, must look exactly like a case that does not exist.
absl::Status CaseNotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat(name, " does not exist"));
}

}  // namespace

absl::StatusOr<std::string> ParseCaseName(absl::string_view name, absl::string_view field) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, "cases/") || id.empty() || id.size() > 64) {
    return InvalidArgumentField(field, "must be cases/{case}");
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return InvalidArgumentField(field, "must be cases/{case}");
    }
  }
  return std::string(id);
}

CaseServiceImpl::CaseServiceImpl(const ContextKey* key, const Clock* clock, CaseStore* store)
    : key_(key), clock_(clock), store_(store) {}

absl::StatusOr<CallContext> CaseServiceImpl::Authorize(const grpc::CallbackServerContext& context,
                                                       absl::string_view method,
                                                       absl::string_view scope) const {
  ASSIGN_OR_RETURN(CallContext cc, key_->Verify(context, Method(method), clock_->Now()));
  RETURN_IF_ERROR(RequireScope(cc, scope));
  return cc;
}

absl::StatusOr<v1::Case> CaseServiceImpl::Present(const CallContext& cc, v1::Case c) const {
  if (!cc.client_id().empty() && c.client().id() != cc.client_id()) {
    return CaseNotFound(c.name());
  }
  if (!HasScope(cc, kScopeCasesPii)) MaskClient(*c.mutable_client());
  return c;
}

absl::StatusOr<v1::Case> CaseServiceImpl::DoCreateCase(const CallContext& cc,
                                                       const v1::CreateCaseRequest& request) {
  if (!request.has_case_()) return InvalidArgumentField("case", "is required");
  RETURN_IF_ERROR(CheckText(request.request_id(), 64, "request_id"));
  NewCase nc;
  nc.c = request.case_();
  v1::Case& c = nc.c;
  // A client-bound caller acts for its client only.
  if (!cc.client_id().empty()) {
    if (!c.client().id().empty() && c.client().id() != cc.client_id()) {
      return absl::PermissionDeniedError("this key acts for another client");
    }
    c.mutable_client()->set_id(cc.client_id());
  }
  RETURN_IF_ERROR(ValidateNewCase(c));
  // Output-only fields are set here, whatever the request said.
  c.set_name(absl::StrCat("cases/", RandomId()));
  c.set_state(v1::Case::STATE_NEW);
  c.set_severity(DeriveSeverity(c.leaked_data()));
  c.clear_checklist();
  c.clear_advice();
  c.clear_etag();
  c.clear_close_time();
  c.clear_limitation_ends_on();
  c.mutable_client()->clear_masked();
  c.mutable_client()->clear_erase_time();
  if (!c.has_discovered_time()) {
    const int64_t now = absl::ToUnixSeconds(clock_->Now());
    c.mutable_discovered_time()->set_seconds(now);
  }
  nc.request_id = request.request_id();
  nc.request_digest = Digest(request);
  nc.actor = cc.key_id();
  ASSIGN_OR_RETURN(v1::Case created, store_->CreateCase(cc.tenant(), nc));
  return Present(cc, std::move(created));
}

absl::StatusOr<v1::Case> CaseServiceImpl::DoGetCase(const CallContext& cc,
                                                    const v1::GetCaseRequest& request) {
  ASSIGN_OR_RETURN(std::string id, ParseCaseName(request.name(), "name"));
  auto c = store_->GetCase(cc.tenant(), id);
  if (absl::IsNotFound(c.status())) return CaseNotFound(request.name());
  if (!c.ok()) return c.status();
  return Present(cc, std::move(*c));
}

grpc::ServerUnaryReactor* CaseServiceImpl::CreateCase(grpc::CallbackServerContext* context,
                                                      const v1::CreateCaseRequest* request,
                                                      v1::Case* response) {
  auto cc = Authorize(*context, "CreateCase", kScopeCasesWrite);
  if (!cc.ok()) return FinishUnary(context, cc.status());
  return FinishUnaryOn(executor_, context, [this, cc = *cc, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, DoCreateCase(cc, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CaseServiceImpl::GetCase(grpc::CallbackServerContext* context,
                                                   const v1::GetCaseRequest* request,
                                                   v1::Case* response) {
  auto cc = Authorize(*context, "GetCase", kScopeCasesRead);
  if (!cc.ok()) return FinishUnary(context, cc.status());
  return FinishUnaryOn(executor_, context, [this, cc = *cc, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, DoGetCase(cc, *request));
    return absl::OkStatus();
  });
}

}  // namespace counsel::cases
