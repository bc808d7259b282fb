#include "guidance-svc/guidance_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "guidance-svc/citation/resolve.h"
#include "guidance-svc/statute/search.h"
#include "guidance-svc/statute/statute_file.h"
#include "grpcpp/support/byte_buffer.h"

namespace counsel::guidance {
namespace {

std::string Method(absl::string_view name) {
  return absl::StrCat("/", v1::GuidanceService::service_full_name(), "/", name);
}

constexpr size_t kMaxImportBytes = 8 << 20;

}  // namespace

GuidanceServiceImpl::GuidanceServiceImpl(const ContextKey* key, const Clock* clock,
                                         StatuteStore* store, AdviceStore* advice_store)
    : key_(key), clock_(clock), store_(store), advice_(advice_store),
      catalog_(Catalog::Build({})) {
  // GetProvision, the hottest read, answers with the catalogue's kept bytes
  // (Catalog::GetProvisionBytes) rather than a message for gRPC to copy and
  // serialize on every call. Same method, same bytes on the wire.
  const int index = google::protobuf::DescriptorPool::generated_pool()
                        ->FindServiceByName(v1::GuidanceService::service_full_name())
                        ->FindMethodByName("GetProvision")
                        ->index();
  MarkMethodRawCallback(
      index, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                 [this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                        grpc::ByteBuffer* response) {
                   return GetProvisionBytes(context, request, response);
                 }));
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::GetProvisionBytes(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(*context, "GetProvision", kScopeGuidanceRead).status());
    v1::GetProvisionRequest parsed;
    if (request == nullptr || !parsed.ParseFromString(Flatten(*request))) {
      return absl::InvalidArgumentError("the request is not a GetProvisionRequest");
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const std::string> answer,
                     catalog()->GetProvisionBytes(parsed, Today()));
    // The slice shares the kept bytes: it holds a reference until gRPC has
    // sent them.
    auto* keep = new std::shared_ptr<const std::string>(std::move(answer));
    grpc::Slice slice(const_cast<char*>((*keep)->data()), (*keep)->size(),
                      [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); },
                      keep);
    *response = grpc::ByteBuffer(&slice, 1);
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::Run(
    grpc::CallbackServerContext* context, absl::string_view method, absl::string_view scope,
    std::function<absl::Status(const CallContext&)> work) {
  auto cc = Authorize(*context, method, scope);
  if (!cc.ok()) return FinishUnary(context, cc.status());
  return FinishUnaryOn(executor_, context,
                       [cc = *std::move(cc), work = std::move(work)] { return work(cc); });
}

absl::StatusOr<int> GuidanceServiceImpl::ImportAdvice(absl::string_view json,
                                                      absl::string_view source_name) {
  internal::v1::AdviceFile file;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &file, options);
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", st.message().as_string()));
  }
  absl::MutexLock lock(&import_mu_);
  return advice_.ImportFile(file, *catalog(), source_name);
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::ListAdvice(grpc::CallbackServerContext* context,
                                                          const v1::ListAdviceRequest* request,
                                                          v1::ListAdviceResponse* response) {
  return Run(context, "ListAdvice", kScopeGuidanceRead, [=](const CallContext&) -> absl::Status {
    ASSIGN_OR_RETURN(*response, advice_.List(*request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::GetAdvice(grpc::CallbackServerContext* context,
                                                         const v1::GetAdviceRequest* request,
                                                         v1::Advice* response) {
  return Run(context, "GetAdvice", kScopeGuidanceRead, [=](const CallContext& cc) -> absl::Status {
    ASSIGN_OR_RETURN(*response, advice_.Get(*request, HasScope(cc, kScopeGuidanceWrite),
                                            *catalog(), Today()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::ListAdviceRevisions(
    grpc::CallbackServerContext* context, const v1::ListAdviceRevisionsRequest* request,
    v1::ListAdviceRevisionsResponse* response) {
  return Run(context, "ListAdviceRevisions", kScopeGuidanceRead,
             [=](const CallContext&) -> absl::Status {
               ASSIGN_OR_RETURN(*response, advice_.ListRevisions(*request));
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::CreateAdvice(grpc::CallbackServerContext* context,
                                                            const v1::CreateAdviceRequest* request,
                                                            v1::Advice* response) {
  return Run(context, "CreateAdvice", kScopeGuidanceWrite, [=](const CallContext&) -> absl::Status {
    ASSIGN_OR_RETURN(*response, advice_.Create(*request, clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::UpdateAdvice(grpc::CallbackServerContext* context,
                                                            const v1::UpdateAdviceRequest* request,
                                                            v1::Advice* response) {
  return Run(context, "UpdateAdvice", kScopeGuidanceWrite, [=](const CallContext&) -> absl::Status {
    ASSIGN_OR_RETURN(*response, advice_.Update(*request, clock_->Now()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::PublishAdvice(
    grpc::CallbackServerContext* context, const v1::PublishAdviceRequest* request,
    v1::Advice* response) {
  return Run(context, "PublishAdvice", kScopeGuidanceWrite,
             [=](const CallContext& cc) -> absl::Status {
               ASSIGN_OR_RETURN(*response, advice_.Publish(*request, cc.key_id(), clock_->Now(),
                                                           *catalog()));
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::RollbackAdvice(
    grpc::CallbackServerContext* context, const v1::RollbackAdviceRequest* request,
    v1::Advice* response) {
  return Run(context, "RollbackAdvice", kScopeGuidanceWrite,
             [=](const CallContext& cc) -> absl::Status {
               ASSIGN_OR_RETURN(*response, advice_.Rollback(*request, cc.key_id(), clock_->Now()));
               return absl::OkStatus();
             });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::DeleteAdvice(grpc::CallbackServerContext* context,
                                                            const v1::DeleteAdviceRequest* request,
                                                            google::protobuf::Empty*) {
  return Run(context, "DeleteAdvice", kScopeGuidanceWrite, [=](const CallContext&) {
    return advice_.Delete(*request, clock_->Now());
  });
}

absl::Status GuidanceServiceImpl::Reload() {
  // One at a time: a reload that read the store earlier never replaces the
  // catalogue of one that read it later.
  absl::MutexLock reloading(&reload_mu_);
  ASSIGN_OR_RETURN(std::vector<StoredStatute> all, store_->LoadAll());
  std::shared_ptr<const Catalog> fresh = Catalog::Build(std::move(all));
  absl::MutexLock lock(&mu_);
  catalog_ = std::move(fresh);
  return absl::OkStatus();
}

std::shared_ptr<const Catalog> GuidanceServiceImpl::catalog() const {
  absl::MutexLock lock(&mu_);
  return catalog_;
}

absl::CivilDay GuidanceServiceImpl::Today() const {
  return absl::ToCivilDay(clock_->Now(), ShanghaiTimeZone());
}

absl::StatusOr<CallContext> GuidanceServiceImpl::Authorize(
    const grpc::CallbackServerContext& context, absl::string_view method,
    absl::string_view scope) const {
  ASSIGN_OR_RETURN(CallContext cc, key_->Verify(context, Method(method), clock_->Now()));
  RETURN_IF_ERROR(RequireScope(cc, scope));
  return cc;
}

absl::StatusOr<v1::ImportStatuteVersionResponse> GuidanceServiceImpl::Import(
    const v1::ImportStatuteVersionRequest& request) {
  if (request.content().empty()) return InvalidArgumentField("content", "is required");
  if (request.content().size() > kMaxImportBytes) {
    return InvalidArgumentField("content", "is larger than 8 MiB");
  }
  // The name is echoed in every parse error: bounded, so an error always fits
  // in gRPC's trailing metadata.
  if (request.source_name().size() > 255) {
    return InvalidArgumentField("source_name", "is longer than 255 bytes");
  }
  const std::string source = request.source_name().empty() ? "content" : request.source_name();
  ASSIGN_OR_RETURN(ParsedStatuteVersion parsed, ParseStatuteFile(request.content(), source));
  v1::ImportStatuteVersionResponse out;
  out.set_statute(parsed.statute.name());
  out.set_version_id(parsed.version.version_id());
  out.set_article_count(static_cast<int>(parsed.articles.size()));
  if (request.validate_only()) return out;
  absl::MutexLock lock(&import_mu_);
  ASSIGN_OR_RETURN(ImportResult result, store_->ImportVersion(parsed));
  out.set_created(result.created);
  out.set_replaced(result.completed_excerpt || result.relinked);
  if (result.created) RETURN_IF_ERROR(Reload());
  return out;
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::ListStatutes(
    grpc::CallbackServerContext* context, const v1::ListStatutesRequest* request,
    v1::ListStatutesResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(*context, "ListStatutes", kScopeGuidanceRead).status());
    ASSIGN_OR_RETURN(*response, catalog()->ListStatutes(*request, Today()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::GetStatute(grpc::CallbackServerContext* context,
                                                          const v1::GetStatuteRequest* request,
                                                          v1::Statute* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(*context, "GetStatute", kScopeGuidanceRead).status());
    ASSIGN_OR_RETURN(*response, catalog()->GetStatute(request->name(), Today()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::ListProvisions(
    grpc::CallbackServerContext* context, const v1::ListProvisionsRequest* request,
    v1::ListProvisionsResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(*context, "ListProvisions", kScopeGuidanceRead).status());
    ASSIGN_OR_RETURN(*response, catalog()->ListProvisions(*request, Today()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::CompareStatuteVersions(
    grpc::CallbackServerContext* context, const v1::CompareStatuteVersionsRequest* request,
    v1::CompareStatuteVersionsResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(*context, "CompareStatuteVersions", kScopeGuidanceRead).status());
    ASSIGN_OR_RETURN(*response, catalog()->CompareVersions(*request, Today()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::ResolveCitations(
    grpc::CallbackServerContext* context, const v1::ResolveCitationsRequest* request,
    v1::ResolveCitationsResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    RETURN_IF_ERROR(Authorize(*context, "ResolveCitations", kScopeGuidanceRead).status());
    ASSIGN_OR_RETURN(*response, guidance::ResolveCitations(*catalog(), *request, Today()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::SearchProvisions(
    grpc::CallbackServerContext* context, const v1::SearchProvisionsRequest* request,
    v1::SearchProvisionsResponse* response) {
  auto authorized = Authorize(*context, "SearchProvisions", kScopeGuidanceRead);
  if (!authorized.ok()) return FinishUnary(context, authorized.status());
  // The trigram path reads SQLite: off the callback thread.
  return FinishUnaryOn(executor_, context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(*response,
                     guidance::SearchProvisions(*catalog(), *store_, *request, Today()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GuidanceServiceImpl::ImportStatuteVersion(
    grpc::CallbackServerContext* context, const v1::ImportStatuteVersionRequest* request,
    v1::ImportStatuteVersionResponse* response) {
  auto authorized = Authorize(*context, "ImportStatuteVersion", kScopeGuidanceWrite);
  if (!authorized.ok()) return FinishUnary(context, authorized.status());
  return FinishUnaryOn(executor_, context, [this, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, Import(*request));
    return absl::OkStatus();
  });
}

}  // namespace counsel::guidance
