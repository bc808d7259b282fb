// The gRPC adapter of GuidanceService: verifies the call context, checks the
// scope, calls the catalogue or store, and maps statuses at the edge. The
// only guidance code that knows grpc::Status.
#ifndef COUNSEL_GUIDANCE_GUIDANCE_SERVICE_H_
#define COUNSEL_GUIDANCE_GUIDANCE_SERVICE_H_

#include <memory>

#include "absl/synchronization/mutex.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/executor.h"
#include "counsel/guidance/v1/guidance.grpc.pb.h"
#include "guidance-svc/statute/catalog.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {

// Thread-safe.
class GuidanceServiceImpl final : public v1::GuidanceService::CallbackService {
 public:
  // Does not take ownership; all must outlive the service.
  GuidanceServiceImpl(const ContextKey* key, const Clock* clock, StatuteStore* store);

  // Loads the catalogue from the store. Call once before serving.
  absl::Status Reload();

  // Imports one file's content (also used by the `import` command).
  absl::StatusOr<v1::ImportStatuteVersionResponse> Import(
      const v1::ImportStatuteVersionRequest& request);

  grpc::ServerUnaryReactor* ListStatutes(grpc::CallbackServerContext* context,
                                         const v1::ListStatutesRequest* request,
                                         v1::ListStatutesResponse* response) override;
  grpc::ServerUnaryReactor* GetStatute(grpc::CallbackServerContext* context,
                                       const v1::GetStatuteRequest* request,
                                       v1::Statute* response) override;
  grpc::ServerUnaryReactor* GetProvision(grpc::CallbackServerContext* context,
                                         const v1::GetProvisionRequest* request,
                                         v1::Provision* response) override;
  grpc::ServerUnaryReactor* ListProvisions(grpc::CallbackServerContext* context,
                                           const v1::ListProvisionsRequest* request,
                                           v1::ListProvisionsResponse* response) override;
  grpc::ServerUnaryReactor* CompareStatuteVersions(
      grpc::CallbackServerContext* context, const v1::CompareStatuteVersionsRequest* request,
      v1::CompareStatuteVersionsResponse* response) override;
  grpc::ServerUnaryReactor* ResolveCitations(grpc::CallbackServerContext* context,
                                             const v1::ResolveCitationsRequest* request,
                                             v1::ResolveCitationsResponse* response) override;
  grpc::ServerUnaryReactor* SearchProvisions(grpc::CallbackServerContext* context,
                                             const v1::SearchProvisionsRequest* request,
                                             v1::SearchProvisionsResponse* response) override;
  grpc::ServerUnaryReactor* ImportStatuteVersion(
      grpc::CallbackServerContext* context, const v1::ImportStatuteVersionRequest* request,
      v1::ImportStatuteVersionResponse* response) override;

 private:
  std::shared_ptr<const Catalog> catalog() const;
  absl::CivilDay Today() const;
  absl::StatusOr<CallContext> Authorize(const grpc::CallbackServerContext& context,
                                        absl::string_view method, absl::string_view scope) const;

  const ContextKey* key_;
  const Clock* clock_;
  StatuteStore* store_;
  Executor executor_{2};
  mutable absl::Mutex mu_;
  std::shared_ptr<const Catalog> catalog_ ABSL_GUARDED_BY(mu_);
  absl::Mutex import_mu_;  // one import at a time
};

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_GUIDANCE_SERVICE_H_
