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
#include "guidance-svc/advice/advice_book.h"
#include "guidance-svc/statute/catalog.h"
#include "guidance-svc/store/advice_store.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {

// Thread-safe.
class GuidanceServiceImpl final : public v1::GuidanceService::CallbackService {
 public:
  // Does not take ownership; all must outlive the service.
  GuidanceServiceImpl(const ContextKey* key, const Clock* clock, StatuteStore* store,
                      AdviceStore* advice_store);

  // Loads the catalogue from the store. Call once before serving, and
  // whenever the store says another process imported.
  absl::Status Reload();

  // Imports one file's content (also used by the `import` command).
  absl::StatusOr<v1::ImportStatuteVersionResponse> Import(
      const v1::ImportStatuteVersionRequest& request);
  // Imports an advice content file (JSON of counsel.internal.v1.AdviceFile);
  // returns the number of revisions published.
  absl::StatusOr<int> ImportAdvice(absl::string_view json, absl::string_view source_name);

  grpc::ServerUnaryReactor* ListStatutes(grpc::CallbackServerContext* context,
                                         const v1::ListStatutesRequest* request,
                                         v1::ListStatutesResponse* response) override;
  grpc::ServerUnaryReactor* GetStatute(grpc::CallbackServerContext* context,
                                       const v1::GetStatuteRequest* request,
                                       v1::Statute* response) override;
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
  grpc::ServerUnaryReactor* ListAdvice(grpc::CallbackServerContext* context,
                                       const v1::ListAdviceRequest* request,
                                       v1::ListAdviceResponse* response) override;
  grpc::ServerUnaryReactor* GetAdvice(grpc::CallbackServerContext* context,
                                      const v1::GetAdviceRequest* request,
                                      v1::Advice* response) override;
  grpc::ServerUnaryReactor* ListAdviceRevisions(grpc::CallbackServerContext* context,
                                                const v1::ListAdviceRevisionsRequest* request,
                                                v1::ListAdviceRevisionsResponse* response) override;
  grpc::ServerUnaryReactor* CreateAdvice(grpc::CallbackServerContext* context,
                                         const v1::CreateAdviceRequest* request,
                                         v1::Advice* response) override;
  grpc::ServerUnaryReactor* UpdateAdvice(grpc::CallbackServerContext* context,
                                         const v1::UpdateAdviceRequest* request,
                                         v1::Advice* response) override;
  grpc::ServerUnaryReactor* PublishAdvice(grpc::CallbackServerContext* context,
                                          const v1::PublishAdviceRequest* request,
                                          v1::Advice* response) override;
  grpc::ServerUnaryReactor* RollbackAdvice(grpc::CallbackServerContext* context,
                                           const v1::RollbackAdviceRequest* request,
                                           v1::Advice* response) override;
  grpc::ServerUnaryReactor* DeleteAdvice(grpc::CallbackServerContext* context,
                                         const v1::DeleteAdviceRequest* request,
                                         google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* ImportStatuteVersion(
      grpc::CallbackServerContext* context, const v1::ImportStatuteVersionRequest* request,
      v1::ImportStatuteVersionResponse* response) override;

 private:
  // GetProvision as registered (see the constructor).
  grpc::ServerUnaryReactor* GetProvisionBytes(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response);
  std::shared_ptr<const Catalog> catalog() const;
  absl::CivilDay Today() const;
  absl::StatusOr<CallContext> Authorize(const grpc::CallbackServerContext& context,
                                        absl::string_view method, absl::string_view scope) const;

  // Runs `work` on the executor after checking the context and scope.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, absl::string_view method,
                                absl::string_view scope,
                                std::function<absl::Status(const CallContext&)> work);

  const ContextKey* key_;
  const Clock* clock_;
  StatuteStore* store_;
  AdviceBook advice_;
  Executor executor_{2};
  mutable absl::Mutex mu_;
  std::shared_ptr<const Catalog> catalog_ ABSL_GUARDED_BY(mu_);
  absl::Mutex import_mu_;  // one import at a time; taken before reload_mu_
  absl::Mutex reload_mu_;
};

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_GUIDANCE_SERVICE_H_
