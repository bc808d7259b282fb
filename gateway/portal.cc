#include "gateway/portal.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "counsel/cases/v1/cases.grpc.pb.h"
#include "counsel/guidance/v1/guidance.grpc.pb.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::gateway {
namespace {

// One backend read, waited for: the brief is composed on the gateway's
// executor, whose threads may block.
absl::Status FetchAndWait(const Gateway& gateway, const Admission& admission,
                          absl::string_view method, const google::protobuf::Message& request,
                          google::protobuf::Message* response) {
  Exchange ex;
  absl::Notification done;
  grpc::Status status;
  gateway.Fetch(method, admission, request, response, &ex, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return FromGrpcStatus(status);
}

}  // namespace

absl::StatusOr<v1::CaseBrief> ComposeCaseBrief(const Gateway& gateway, const Admission& admission,
                                               const v1::GetCaseBriefRequest& request) {
  if (request.name().rfind("cases/", 0) != 0 || request.name().size() <= 6) {
    return InvalidArgumentField("name", "must be cases/{case}");
  }
  v1::CaseBrief brief;
  {
    counsel::cases::v1::GetCaseRequest get;
    get.set_name(request.name());
    RETURN_IF_ERROR(FetchAndWait(gateway, admission, "/counsel.cases.v1.CaseService/GetCase", get,
                                 brief.mutable_case_()));
  }
  const auto& c = brief.case_();
  // Provisions as in force on the incident date (or the discovery date).
  std::string as_of = c.occurred_on();
  if (as_of.empty()) {
    as_of = ShanghaiDate(absl::FromUnixMicros(
        google::protobuf::util::TimeUtil::TimestampToMicroseconds(c.discovered_time())));
  }
  brief.set_as_of(as_of);
  if (c.advice().empty()) return brief;
  {
    counsel::guidance::v1::GetAdviceRequest get;
    get.set_name(c.advice());
    get.set_locale(request.locale());
    get.set_resolve_citations_as_of(as_of);
    RETURN_IF_ERROR(FetchAndWait(gateway, admission,
                                 "/counsel.guidance.v1.GuidanceService/GetAdvice", get,
                                 brief.mutable_advice()));
  }
  std::set<std::string> names;
  std::set<std::string> stale_seen;
  for (const auto& section : brief.advice().sections()) {
    for (const auto& step : section.steps()) {
      for (const auto& cited : step.cited_provisions()) {
        if (!cited.resolved_provision().empty()) names.insert(cited.resolved_provision());
        // A stale citation is listed once, however many steps cite it: a
        // reader must see what no longer reads as advised, not lose it.
        if (cited.stale() && stale_seen.insert(cited.provision()).second) {
          *brief.add_stale_citations() = cited;
        }
      }
    }
  }
  const std::vector<std::string> ordered(names.begin(), names.end());
  // Every provision at once: the brief waits for the slowest, not the sum.
  struct Call {
    Exchange ex;
    counsel::guidance::v1::GetProvisionRequest request;
    counsel::guidance::v1::Provision response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::BlockingCounter done(static_cast<int>(ordered.size()));
  for (const std::string& name : ordered) {
    auto call = std::make_unique<Call>();
    call->request.set_name(name);
    call->request.set_as_of(as_of);
    Call* raw = call.get();
    calls.push_back(std::move(call));
    gateway.Fetch("/counsel.guidance.v1.GuidanceService/GetProvision", admission, raw->request,
                  &raw->response, &raw->ex, [raw, &done](grpc::Status s) {
                    raw->status = std::move(s);
                    done.DecrementCount();
                  });
  }
  done.Wait();
  for (auto& call : calls) {
    RETURN_IF_ERROR(FromGrpcStatus(call->status));
    *brief.add_provisions() = std::move(call->response);
  }
  return brief;
}

absl::StatusOr<std::string> ServeCaseBrief(const Gateway& gateway, const Admission& admission,
                                           absl::string_view request) {
  v1::GetCaseBriefRequest parsed;
  if (!parsed.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
    return absl::InvalidArgumentError("unreadable request");
  }
  ASSIGN_OR_RETURN(v1::CaseBrief brief, ComposeCaseBrief(gateway, admission, parsed));
  return brief.SerializeAsString();
}

}  // namespace counsel::gateway
