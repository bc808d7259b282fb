// The webhook methods of the CaseService adapter: authorize (cases.admin),
// call the book, map the status. The rules are in webhooks/webhook_book.cc.
#include "case-svc/case_service.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"

namespace counsel::cases {
namespace {

absl::Status NotConfigured() {
  return absl::UnimplementedError("webhooks are not configured on this server");
}

}  // namespace

// Each method: the book's answer into `response`.
#define COUNSEL_WEBHOOK_UNARY(Method, Request, Response, Call)                                 \
  grpc::ServerUnaryReactor* CaseServiceImpl::Method(grpc::CallbackServerContext* context,      \
                                                    const v1::Request* request,                \
                                                    Response* response) {                      \
    return Run(context, #Method, kScopeCasesAdmin, [=](const CallContext& cc) -> absl::Status { \
      if (webhooks_ == nullptr) return NotConfigured();                                        \
      ASSIGN_OR_RETURN(*response, webhooks_->Call(ActorOf(cc), *request));                     \
      return absl::OkStatus();                                                                 \
    });                                                                                        \
  }

COUNSEL_WEBHOOK_UNARY(CreateWebhook, CreateWebhookRequest, v1::Webhook, Create)
COUNSEL_WEBHOOK_UNARY(GetWebhook, GetWebhookRequest, v1::Webhook, Get)
COUNSEL_WEBHOOK_UNARY(ListWebhooks, ListWebhooksRequest, v1::ListWebhooksResponse, List)
COUNSEL_WEBHOOK_UNARY(UpdateWebhook, UpdateWebhookRequest, v1::Webhook, Update)
COUNSEL_WEBHOOK_UNARY(RotateWebhookSecret, RotateWebhookSecretRequest, v1::Webhook, RotateSecret)
COUNSEL_WEBHOOK_UNARY(ListWebhookDeliveries, ListWebhookDeliveriesRequest,
                      v1::ListWebhookDeliveriesResponse, ListDeliveries)
COUNSEL_WEBHOOK_UNARY(ReplayWebhook, ReplayWebhookRequest, v1::Webhook, Replay)

#undef COUNSEL_WEBHOOK_UNARY

grpc::ServerUnaryReactor* CaseServiceImpl::DeleteWebhook(grpc::CallbackServerContext* context,
                                                         const v1::DeleteWebhookRequest* request,
                                                         google::protobuf::Empty* /*response*/) {
  return Run(context, "DeleteWebhook", kScopeCasesAdmin,
             [=](const CallContext& cc) -> absl::Status {
               if (webhooks_ == nullptr) return NotConfigured();
               return webhooks_->Delete(ActorOf(cc), *request);
             });
}

grpc::ServerUnaryReactor* CaseServiceImpl::TestWebhook(grpc::CallbackServerContext* context,
                                                       const v1::TestWebhookRequest* request,
                                                       v1::WebhookDelivery* response) {
  auto cc = Authorize(*context, "TestWebhook", kScopeCasesAdmin);
  if (!cc.ok()) return FinishUnary(context, cc.status());
  if (webhooks_ == nullptr) return FinishUnary(context, NotConfigured());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The attempt may last the send timeout: it runs on the book's threads,
  // not on the executor that serves the case reads.
  webhooks_->Test(ActorOf(*cc), *request,
                  [reactor, response](absl::StatusOr<v1::WebhookDelivery> d) {
                    if (d.ok()) *response = *std::move(d);
                    reactor->Finish(ToGrpcStatus(d.status()));
                  });
  return reactor;
}

}  // namespace counsel::cases
