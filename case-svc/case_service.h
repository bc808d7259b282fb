// The gRPC adapter of CaseService: verifies the signed call context, applies
// tenant, client binding and scopes, runs store work on an executor or the
// group-commit writer, masks personal data for callers without `cases.pii`,
// and maps statuses at the edge. The only case code that knows grpc::Status.
#ifndef COUNSEL_CASES_CASE_SERVICE_H_
#define COUNSEL_CASES_CASE_SERVICE_H_

#include <atomic>
#include <memory>

#include "case-svc/advice_source.h"
#include "case-svc/change_feed.h"
#include "case-svc/domain/case_book.h"
#include "case-svc/store/case_store.h"
#include "case-svc/webhooks/deliverer.h"
#include "case-svc/webhooks/webhook_book.h"
#include "common/call_context.h"
#include "common/clock.h"
#include "common/executor.h"
#include "counsel/cases/v1/cases.grpc.pb.h"

namespace counsel::cases {

struct CaseServiceOptions {
  // Changes older than this cannot be resumed from (CURSOR_EXPIRED).
  absl::Duration change_retention = absl::Hours(24 * 30);
  // How often an idle watcher receives a bookmark.
  absl::Duration bookmark_interval = absl::Seconds(15);
  // Largest evidence attachment.
  size_t max_attachment_bytes = 20 << 20;
  // Opened attachments all downloads in progress may hold together; past
  // it a download is RESOURCE_EXHAUSTED (retry shortly).
  int64_t max_download_bytes = int64_t{256} << 20;
  // Threads that run calls off gRPC's own (a read waits on SQLite or
  // PostgreSQL there).
  int threads = 4;
  // Threads of their own for creates, which wait on their advice fetch: a
  // slow guidance-svc then holds up creates only, never reads. Four let only
  // four creates wait at once (a fetch takes 1-2 ms on a busy two-core
  // host), and the writer's batches stayed small; 32 measured best
  // (docs/performance.md).
  int create_threads = 32;
};

// Thread-safe.
class CaseServiceImpl final : public v1::CaseService::CallbackService {
 public:
  // Does not take ownership.
  // `webhooks` and `deliverer` may be null (webhook methods are then
  // UNIMPLEMENTED); the deliverer is told of every commit.
  CaseServiceImpl(const ContextKey* key, const Clock* clock, CaseStore* store,
                  AdviceSource* advice, CaseServiceOptions options = {},
                  webhooks::WebhookBook* webhooks = nullptr,
                  webhooks::Deliverer* deliverer = nullptr);
  ~CaseServiceImpl() override;

  grpc::ServerUnaryReactor* CreateCase(grpc::CallbackServerContext* context,
                                       const v1::CreateCaseRequest* request,
                                       v1::Case* response) override;
  grpc::ServerUnaryReactor* GetCase(grpc::CallbackServerContext* context,
                                    const v1::GetCaseRequest* request,
                                    v1::Case* response) override;
  grpc::ServerUnaryReactor* BatchGetCases(grpc::CallbackServerContext* context,
                                          const v1::BatchGetCasesRequest* request,
                                          v1::BatchGetCasesResponse* response) override;
  grpc::ServerUnaryReactor* ListCases(grpc::CallbackServerContext* context,
                                      const v1::ListCasesRequest* request,
                                      v1::ListCasesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateCase(grpc::CallbackServerContext* context,
                                       const v1::UpdateCaseRequest* request,
                                       v1::Case* response) override;
  grpc::ServerUnaryReactor* TransitionCase(grpc::CallbackServerContext* context,
                                           const v1::TransitionCaseRequest* request,
                                           v1::Case* response) override;
  grpc::ServerUnaryReactor* UpdateChecklistItem(grpc::CallbackServerContext* context,
                                                const v1::UpdateChecklistItemRequest* request,
                                                v1::ChecklistItem* response) override;
  grpc::ServerReadReactor<v1::AddEvidenceRequest>* AddEvidence(
      grpc::CallbackServerContext* context, v1::Evidence* response) override;
  grpc::ServerUnaryReactor* ListEvidence(grpc::CallbackServerContext* context,
                                         const v1::ListEvidenceRequest* request,
                                         v1::ListEvidenceResponse* response) override;
  grpc::ServerUnaryReactor* GetEvidence(grpc::CallbackServerContext* context,
                                        const v1::GetEvidenceRequest* request,
                                        v1::Evidence* response) override;
  grpc::ServerWriteReactor<v1::ReadEvidenceAttachmentResponse>* ReadEvidenceAttachment(
      grpc::CallbackServerContext* context,
      const v1::ReadEvidenceAttachmentRequest* request) override;
  grpc::ServerUnaryReactor* ListNotes(grpc::CallbackServerContext* context,
                                      const v1::ListNotesRequest* request,
                                      v1::ListNotesResponse* response) override;
  grpc::ServerUnaryReactor* AddNote(grpc::CallbackServerContext* context,
                                    const v1::AddNoteRequest* request,
                                    v1::Note* response) override;
  grpc::ServerUnaryReactor* ListCaseEvents(grpc::CallbackServerContext* context,
                                           const v1::ListCaseEventsRequest* request,
                                           v1::ListCaseEventsResponse* response) override;
  grpc::ServerUnaryReactor* ListChanges(grpc::CallbackServerContext* context,
                                        const v1::ListChangesRequest* request,
                                        v1::ListChangesResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchChangesResponse>* WatchChanges(
      grpc::CallbackServerContext* context, const v1::WatchChangesRequest* request) override;
  grpc::ServerUnaryReactor* EraseClientData(grpc::CallbackServerContext* context,
                                            const v1::EraseClientDataRequest* request,
                                            v1::Case* response) override;
  grpc::ServerUnaryReactor* VerifyAuditLog(grpc::CallbackServerContext* context,
                                           const v1::VerifyAuditLogRequest* request,
                                           v1::VerifyAuditLogResponse* response) override;
  grpc::ServerUnaryReactor* GetCaseStats(grpc::CallbackServerContext* context,
                                         const v1::GetCaseStatsRequest* request,
                                         v1::CaseStats* response) override;

  // Webhooks (webhook_service.cc).
  grpc::ServerUnaryReactor* CreateWebhook(grpc::CallbackServerContext* context,
                                          const v1::CreateWebhookRequest* request,
                                          v1::Webhook* response) override;
  grpc::ServerUnaryReactor* GetWebhook(grpc::CallbackServerContext* context,
                                       const v1::GetWebhookRequest* request,
                                       v1::Webhook* response) override;
  grpc::ServerUnaryReactor* ListWebhooks(grpc::CallbackServerContext* context,
                                         const v1::ListWebhooksRequest* request,
                                         v1::ListWebhooksResponse* response) override;
  grpc::ServerUnaryReactor* UpdateWebhook(grpc::CallbackServerContext* context,
                                          const v1::UpdateWebhookRequest* request,
                                          v1::Webhook* response) override;
  grpc::ServerUnaryReactor* DeleteWebhook(grpc::CallbackServerContext* context,
                                          const v1::DeleteWebhookRequest* request,
                                          google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* RotateWebhookSecret(grpc::CallbackServerContext* context,
                                                const v1::RotateWebhookSecretRequest* request,
                                                v1::Webhook* response) override;
  grpc::ServerUnaryReactor* ListWebhookDeliveries(
      grpc::CallbackServerContext* context, const v1::ListWebhookDeliveriesRequest* request,
      v1::ListWebhookDeliveriesResponse* response) override;
  grpc::ServerUnaryReactor* ReplayWebhook(grpc::CallbackServerContext* context,
                                          const v1::ReplayWebhookRequest* request,
                                          v1::Webhook* response) override;
  grpc::ServerUnaryReactor* TestWebhook(grpc::CallbackServerContext* context,
                                        const v1::TestWebhookRequest* request,
                                        v1::WebhookDelivery* response) override;

 private:
  friend class EvidenceUpload;
  friend class AttachmentReader;
  friend class ChangeWatch;

  absl::StatusOr<CallContext> Authorize(const grpc::CallbackServerContext& context,
                                        absl::string_view method, absl::string_view scope) const;
  // Runs `work` on the executor after authorizing; finishes with its status.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, absl::string_view method,
                                absl::string_view scope,
                                std::function<absl::Status(const CallContext&)> work);
  // Runs `start` on `on` (the executor when null) after authorizing;
  // `start` hands a write to the store, whose callback finishes the call.
  grpc::ServerUnaryReactor* RunWrite(
      grpc::CallbackServerContext* context, absl::string_view method, absl::string_view scope,
      std::function<void(const CallContext&, std::function<void(absl::Status)>)> start,
      Executor* on = nullptr);
  // A store callback that presents the case into `response` for `cc`.
  static Callback<v1::Case> PresentInto(const CallContext& cc, v1::Case* response,
                                        std::function<void(absl::Status)> done);
  // Hands a prepared mutation to the store, or its error to `done`.
  void Mutate(const CallContext& cc, absl::StatusOr<CaseMutation> mutation,
              Callback<v1::Case> done);
  // CHANGE_VIEW_FULL: each change gets its case, presented for `cc`.
  absl::Status AttachCases(const CallContext& cc,
                           std::vector<std::pair<int64_t, v1::Change>>& changes) const;
  absl::StatusOr<std::string> DecodeCursor(const CallContext& cc, absl::string_view cursor,
                                           absl::string_view field, int64_t* seq);

  const ContextKey* key_;
  const Clock* clock_;
  CaseStore* store_;
  webhooks::WebhookBook* webhooks_;
  webhooks::Deliverer* deliverer_;
  CaseServiceOptions options_;
  CaseBook book_;
  CursorCodec cursors_;
  Executor executor_;
  Executor creates_;
  std::atomic<int64_t> download_bytes_{0};  // attachments held by downloads
  FeedHub hub_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_CASE_SERVICE_H_
