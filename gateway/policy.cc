#include "gateway/policy.h"

#include "absl/strings/str_cat.h"
#include "common/call_context.h"
#include "counsel/cases/v1/cases.pb.h"
#include "counsel/gateway/v1/portal.pb.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "gateway/portal.h"

namespace counsel::gateway {
namespace {

struct Rule {
  std::vector<std::string> scopes;
  bool idempotent;
  absl::Duration default_deadline = absl::Seconds(5);
  absl::Duration max_deadline = absl::Seconds(30);
  LocalMethod local = nullptr;
};

// Written out by hand, method by method: adding a method to a proto without
// deciding its policy leaves it unrouted (and fails PolicyTest).
const absl::flat_hash_map<std::string, Rule>& Rules() {
  const std::string gr = kScopeGuidanceRead, gw = kScopeGuidanceWrite, cr = kScopeCasesRead,
                    cw = kScopeCasesWrite, ca = kScopeCasesAdmin;
  static const auto* rules = new absl::flat_hash_map<std::string, Rule>{
      {"counsel.guidance.v1.GuidanceService.ListStatutes", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.GetStatute", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.GetProvision", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.ListProvisions", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.CompareStatuteVersions", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.ResolveCitations", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.SearchProvisions", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.ImportStatuteVersion",
       {{gw}, false, absl::Seconds(30), absl::Seconds(120)}},
      {"counsel.guidance.v1.GuidanceService.ListAdvice", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.GetAdvice", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.ListAdviceRevisions", {{gr}, true}},
      {"counsel.guidance.v1.GuidanceService.CreateAdvice", {{gw}, false}},
      {"counsel.guidance.v1.GuidanceService.UpdateAdvice", {{gw}, false}},
      {"counsel.guidance.v1.GuidanceService.PublishAdvice", {{gw}, false}},
      {"counsel.guidance.v1.GuidanceService.RollbackAdvice", {{gw}, false}},
      {"counsel.guidance.v1.GuidanceService.DeleteAdvice", {{gw}, false}},
      {"counsel.cases.v1.CaseService.CreateCase", {{cw}, false}},
      {"counsel.cases.v1.CaseService.GetCase", {{cr}, true}},
      {"counsel.cases.v1.CaseService.ListCases", {{cr}, true}},
      {"counsel.cases.v1.CaseService.BatchGetCases", {{cr}, true}},
      {"counsel.cases.v1.CaseService.UpdateCase", {{cw}, false}},
      {"counsel.cases.v1.CaseService.TransitionCase", {{cw}, false}},
      {"counsel.cases.v1.CaseService.UpdateChecklistItem", {{cw}, false}},
      {"counsel.cases.v1.CaseService.AddEvidence",
       {{cw}, false, absl::Seconds(60), absl::Seconds(300)}},
      {"counsel.cases.v1.CaseService.ListEvidence", {{cr}, true}},
      {"counsel.cases.v1.CaseService.GetEvidence", {{cr}, true}},
      {"counsel.cases.v1.CaseService.ReadEvidenceAttachment",
       {{cr}, true, absl::Seconds(60), absl::Seconds(300)}},
      {"counsel.cases.v1.CaseService.ListNotes", {{cr}, true}},
      {"counsel.cases.v1.CaseService.AddNote", {{cw}, false}},
      {"counsel.cases.v1.CaseService.ListCaseEvents", {{cr}, true}},
      {"counsel.cases.v1.CaseService.ListChanges", {{cr}, true}},
      // A watch is long-lived by design; bookmarks keep it visibly alive.
      {"counsel.cases.v1.CaseService.WatchChanges",
       {{cr}, true, absl::Hours(1), absl::Hours(24)}},
      {"counsel.cases.v1.CaseService.GetCaseStats", {{cr}, true}},
      {"counsel.cases.v1.CaseService.EraseClientData", {{ca}, false}},
      {"counsel.cases.v1.CaseService.VerifyAuditLog",
       {{ca}, true, absl::Seconds(30), absl::Seconds(300)}},
      {"counsel.cases.v1.CaseService.CreateWebhook", {{ca}, false}},
      {"counsel.cases.v1.CaseService.GetWebhook", {{ca}, true}},
      {"counsel.cases.v1.CaseService.ListWebhooks", {{ca}, true}},
      {"counsel.cases.v1.CaseService.UpdateWebhook", {{ca}, false}},
      {"counsel.cases.v1.CaseService.DeleteWebhook", {{ca}, false}},
      {"counsel.cases.v1.CaseService.RotateWebhookSecret", {{ca}, false}},
      {"counsel.cases.v1.CaseService.ListWebhookDeliveries", {{ca}, true}},
      {"counsel.cases.v1.CaseService.ReplayWebhook", {{ca}, false}},
      // One attempt may take the receiver's whole 15 s timeout.
      {"counsel.cases.v1.CaseService.TestWebhook",
       {{ca}, false, absl::Seconds(20), absl::Seconds(30)}},
      {"counsel.gateway.v1.PortalService.GetCaseBrief",
       {{cr, gr}, true, absl::Seconds(5), absl::Seconds(30), ServeCaseBrief}},
  };
  return *rules;
}

}  // namespace

namespace {

// Referencing a message of each file keeps its descriptors linked in.
const google::protobuf::ServiceDescriptor* GuidanceServiceDescriptor() {
  return counsel::guidance::v1::GetProvisionRequest::descriptor()->file()->FindServiceByName(
      "GuidanceService");
}
const google::protobuf::ServiceDescriptor* CaseServiceDescriptor() {
  return counsel::cases::v1::GetCaseRequest::descriptor()->file()->FindServiceByName(
      "CaseService");
}
const google::protobuf::ServiceDescriptor* PortalServiceDescriptor() {
  return counsel::gateway::v1::GetCaseBriefRequest::descriptor()->file()->FindServiceByName(
      "PortalService");
}

}  // namespace

const std::vector<std::string>& PublicServices() {
  static const auto* services = new std::vector<std::string>{
      GuidanceServiceDescriptor()->full_name(), CaseServiceDescriptor()->full_name(),
      PortalServiceDescriptor()->full_name()};
  return *services;
}

const PolicyTable& PolicyTable::Get() {
  static const PolicyTable* table = new PolicyTable();
  return *table;
}

PolicyTable::PolicyTable() {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& service_name : PublicServices()) {
    const auto* service = pool->FindServiceByName(service_name);
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* m = service->method(i);
      auto rule = Rules().find(m->full_name());
      if (rule == Rules().end()) {
        unmapped_.push_back(m->full_name());
        continue;
      }
      MethodPolicy p;
      p.method = absl::StrCat("/", service->full_name(), "/", m->name());
      p.descriptor = m;
      p.backend = service == GuidanceServiceDescriptor() ? Backend::kGuidance
                  : service == CaseServiceDescriptor()   ? Backend::kCases
                                                         : Backend::kLocal;
      p.scopes = rule->second.scopes;
      p.idempotent = rule->second.idempotent;
      p.client_scoped = p.backend != Backend::kGuidance;
      p.default_deadline = rule->second.default_deadline;
      p.max_deadline = rule->second.max_deadline;
      p.local = p.backend == Backend::kLocal ? rule->second.local : nullptr;
      index_[p.method] = policies_.size();
      policies_.push_back(std::move(p));
    }
  }
}

const MethodPolicy* PolicyTable::Find(absl::string_view method) const {
  auto it = index_.find(method);
  return it == index_.end() ? nullptr : &policies_[it->second];
}

}  // namespace counsel::gateway
