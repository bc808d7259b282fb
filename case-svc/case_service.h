// The gRPC adapter of CaseService: verifies the signed call context, applies
// tenant, client binding and scopes, runs store work on an executor, masks
// personal data for callers without `cases.pii`, and maps statuses at the
// edge. The only case code that knows grpc::Status.
#ifndef COUNSEL_CASES_CASE_SERVICE_H_
#define COUNSEL_CASES_CASE_SERVICE_H_

#include "case-svc/store/case_store.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/executor.h"
#include "counsel/cases/v1/cases.grpc.pb.h"

namespace counsel::cases {

// Thread-safe.
class CaseServiceImpl final : public v1::CaseService::CallbackService {
 public:
  // Does not take ownership.
  CaseServiceImpl(const ContextKey* key, const Clock* clock, CaseStore* store);

  grpc::ServerUnaryReactor* CreateCase(grpc::CallbackServerContext* context,
                                       const v1::CreateCaseRequest* request,
                                       v1::Case* response) override;
  grpc::ServerUnaryReactor* GetCase(grpc::CallbackServerContext* context,
                                    const v1::GetCaseRequest* request,
                                    v1::Case* response) override;

  // The logic behind the handlers, callable without gRPC.
  absl::StatusOr<v1::Case> DoCreateCase(const CallContext& cc, const v1::CreateCaseRequest& request);
  absl::StatusOr<v1::Case> DoGetCase(const CallContext& cc, const v1::GetCaseRequest& request);

 private:
  absl::StatusOr<CallContext> Authorize(const grpc::CallbackServerContext& context,
                                        absl::string_view method, absl::string_view scope) const;
  // What a caller may see of a case: NotFound for another client's case
  // under a client-bound context; masked client data without cases.pii.
  absl::StatusOr<v1::Case> Present(const CallContext& cc, v1::Case c) const;

  const ContextKey* key_;
  const Clock* clock_;
  CaseStore* store_;
  Executor executor_{4};
};

// Parses `cases/{id}`; InvalidArgument naming `field` otherwise.
absl::StatusOr<std::string> ParseCaseName(absl::string_view name, absl::string_view field);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_CASE_SERVICE_H_
