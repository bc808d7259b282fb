#include "case-svc/store/memory_case_store.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace counsel::cases {
namespace {

using google::protobuf::util::TimeUtil;

struct Record {
  v1::Case c;  // without etag and times
  int64_t revision = 0;
  int64_t create_micros = 0;
  int64_t update_micros = 0;
};

struct Tenant {
  std::map<std::string, Record> cases;
  int64_t seq = 0;
  // seq → (client id, change)
  std::map<int64_t, std::pair<std::string, v1::Change>> events;
  std::map<std::string, std::vector<v1::Evidence>> evidence;  // by case id
  absl::flat_hash_map<std::string, std::string> attachments;   // by evidence name
  std::map<std::string, std::vector<v1::Note>> notes;
};

class MemoryCaseStore final : public CaseStore {
 public:
  explicit MemoryCaseStore(const Clock* clock) : clock_(clock) {}

  void SetCommitListener(std::function<void()> listener) override {
    absl::MutexLock lock(&mu_);
    listener_ = std::move(listener);
  }

  void CreateCase(const Actor& actor, NewCase request, Callback<v1::Case> done) override {
    Finish(done, [&]() -> absl::StatusOr<v1::Case> {
      Tenant& t = tenants_[actor.tenant];
      const std::string id(absl::StripPrefix(request.c.name(), "cases/"));
      ASSIGN_OR_RETURN(std::optional<std::string> prior,
                       PriorRequest(actor, request.request_id, request.request_digest));
      if (prior) return Present(t, *prior);
      RETURN_IF_ERROR(ExternalRefFree(t, request.c.external_ref(), id));
      Record& r = t.cases[id];
      r.c = std::move(request.c);
      r.revision = 1;
      r.create_micros = r.update_micros = Now();
      v1::CaseEvent event;
      event.set_type(v1::CaseEvent::TYPE_CASE_CREATED);
      event.set_actor(actor.key_id);
      event.set_to_state(r.c.state());
      Append(t, id, r.c.client().id(), std::move(event));
      RecordRequest(actor, request.request_id, request.request_digest, id);
      return Present(t, id);
    });
  }

  void MutateCase(const Actor& actor, CaseMutation m, Callback<v1::Case> done) override {
    Finish(done, [&]() -> absl::StatusOr<v1::Case> {
      Tenant& t = tenants_[actor.tenant];
      ASSIGN_OR_RETURN(Record * r, Find(actor, t, m.case_id));
      ASSIGN_OR_RETURN(std::optional<std::string> prior,
                       PriorRequest(actor, m.request_id, m.request_digest));
      if (prior) return Present(t, m.case_id);
      v1::Case c = Present(t, m.case_id);
      if (!m.expected_etag.empty() && m.expected_etag != c.etag()) {
        return absl::AbortedError(absl::StrCat(c.name(), " changed since etag ", m.expected_etag,
                                               " (now ", c.etag(), "); read it again and retry"));
      }
      v1::CaseEvent event;
      event.set_actor(actor.key_id);
      RETURN_IF_ERROR(m.apply(c, event));
      if (event.type() == v1::CaseEvent::TYPE_UNSPECIFIED) return Present(t, m.case_id);
      RETURN_IF_ERROR(ExternalRefFree(t, c.external_ref(), m.case_id));
      c.clear_etag();
      c.clear_create_time();
      c.clear_update_time();
      r->c = std::move(c);
      ++r->revision;
      r->update_micros = Now();
      Append(t, m.case_id, r->c.client().id(), std::move(event));
      RecordRequest(actor, m.request_id, m.request_digest, m.case_id);
      return Present(t, m.case_id);
    });
  }

  void AddEvidence(const Actor& actor, std::string case_id, NewEvidence ne,
                   Callback<v1::Evidence> done) override {
    Finish(done, [&]() -> absl::StatusOr<v1::Evidence> {
      Tenant& t = tenants_[actor.tenant];
      ASSIGN_OR_RETURN(Record * r, Find(actor, t, case_id));
      v1::Evidence e = std::move(ne.evidence);
      e.set_name(absl::StrCat("cases/", case_id, "/evidence/", RandomId()));
      e.set_author(actor.key_id);
      *e.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(Now());
      if (!ne.attachment.empty()) t.attachments[e.name()] = std::move(ne.attachment);
      t.evidence[case_id].push_back(e);
      v1::CaseEvent event;
      event.set_type(v1::CaseEvent::TYPE_EVIDENCE_ADDED);
      event.set_actor(actor.key_id);
      event.set_resource(e.name());
      Append(t, case_id, r->c.client().id(), std::move(event));
      return e;
    });
  }

  void AddNote(const Actor& actor, std::string case_id, v1::Note note, std::string request_id,
               Callback<v1::Note> done) override {
    Finish(done, [&]() -> absl::StatusOr<v1::Note> {
      Tenant& t = tenants_[actor.tenant];
      ASSIGN_OR_RETURN(Record * r, Find(actor, t, case_id));
      (void)request_id;
      note.set_name(absl::StrCat("cases/", case_id, "/notes/", RandomId()));
      note.set_author(actor.key_id);
      *note.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(Now());
      t.notes[case_id].push_back(note);
      v1::CaseEvent event;
      event.set_type(v1::CaseEvent::TYPE_NOTE_ADDED);
      event.set_actor(actor.key_id);
      event.set_resource(note.name());
      Append(t, case_id, r->c.client().id(), std::move(event));
      return note;
    });
  }

  absl::StatusOr<v1::Case> GetCase(const Actor& actor, absl::string_view case_id) override {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    RETURN_IF_ERROR(Find(actor, t, case_id).status());
    return Present(t, std::string(case_id));
  }

  absl::StatusOr<CasePage> ListCases(const Actor& actor,
                                     const v1::ListCasesRequest& request) override {
    if (!request.filter().empty() || !request.order_by().empty() ||
        !request.page_token().empty()) {
      return absl::UnimplementedError("the memory store lists without filter, order or pages");
    }
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    CasePage page;
    for (const auto& [id, r] : t.cases) {
      if (!actor.client_id.empty() && r.c.client().id() != actor.client_id) continue;
      page.cases.push_back(Present(t, id));
    }
    return page;
  }

  absl::StatusOr<v1::ListEvidenceResponse> ListEvidence(
      const Actor& actor, const v1::ListEvidenceRequest& request) override {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    const std::string id(absl::StripPrefix(request.parent(), "cases/"));
    RETURN_IF_ERROR(Find(actor, t, id).status());
    v1::ListEvidenceResponse out;
    for (const auto& e : t.evidence[id]) *out.add_evidence() = e;
    return out;
  }

  absl::StatusOr<v1::Evidence> GetEvidence(const Actor& actor, absl::string_view case_id,
                                           absl::string_view evidence_id) override {
    ASSIGN_OR_RETURN(EvidenceAttachment a, Entry(actor, case_id, evidence_id));
    return a.evidence;
  }

  absl::StatusOr<EvidenceAttachment> ReadEvidenceAttachment(
      const Actor& actor, absl::string_view case_id, absl::string_view evidence_id) override {
    ASSIGN_OR_RETURN(EvidenceAttachment a, Entry(actor, case_id, evidence_id));
    if (!a.evidence.has_attachment()) return absl::NotFoundError("the entry has no attachment");
    return a;
  }

  absl::StatusOr<v1::ListNotesResponse> ListNotes(const Actor& actor,
                                                  const v1::ListNotesRequest& request) override {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    const std::string id(absl::StripPrefix(request.parent(), "cases/"));
    RETURN_IF_ERROR(Find(actor, t, id).status());
    v1::ListNotesResponse out;
    for (const auto& n : t.notes[id]) *out.add_notes() = n;
    return out;
  }

  absl::StatusOr<v1::ListCaseEventsResponse> ListCaseEvents(
      const Actor& actor, const v1::ListCaseEventsRequest& request) override {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    const std::string id(absl::StripPrefix(request.parent(), "cases/"));
    RETURN_IF_ERROR(Find(actor, t, id).status());
    v1::ListCaseEventsResponse out;
    for (const auto& [seq, entry] : t.events) {
      if (entry.second.event().case_() == request.parent()) {
        *out.add_events() = entry.second.event();
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<std::pair<int64_t, v1::Change>>> ChangesAfter(
      const Actor& actor, int64_t after_seq, int limit) override {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    std::vector<std::pair<int64_t, v1::Change>> out;
    for (auto it = t.events.upper_bound(after_seq);
         it != t.events.end() && static_cast<int>(out.size()) < limit; ++it) {
      if (!actor.client_id.empty() && it->second.first != actor.client_id) continue;
      v1::Change c = it->second.second;
      // The feed carries ids and field names only: no free text.
      c.mutable_event()->clear_reason();
      out.emplace_back(it->first, std::move(c));
    }
    return out;
  }

  absl::StatusOr<int64_t> LatestSeq(absl::string_view tenant) override {
    absl::MutexLock lock(&mu_);
    return tenants_[std::string(tenant)].seq;
  }

  absl::StatusOr<std::optional<absl::Time>> ChangeTime(absl::string_view tenant,
                                                       int64_t seq) override {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[std::string(tenant)];
    auto it = t.events.find(seq);
    if (it == t.events.end()) return std::optional<absl::Time>();
    return std::optional<absl::Time>(absl::FromUnixMicros(
        TimeUtil::TimestampToMicroseconds(it->second.second.commit_time())));
  }

  absl::StatusOr<v1::CaseStats> Stats(const Actor&, const v1::GetCaseStatsRequest&) override {
    return absl::UnimplementedError("the memory store keeps no statistics");
  }

  void EraseClientData(const Actor& actor, std::string case_id, std::string reason,
                       Callback<v1::Case> done) override {
    Finish(done, [&]() -> absl::StatusOr<v1::Case> {
      Tenant& t = tenants_[actor.tenant];
      ASSIGN_OR_RETURN(Record * r, Find(actor, t, case_id));
      const std::string client = r->c.client().id();
      for (auto& [id, other] : t.cases) {
        if (other.c.client().id() != client || other.c.client().has_erase_time()) continue;
        v1::Client* c = other.c.mutable_client();
        c->clear_display_name();
        c->clear_phone();
        c->clear_email();
        c->clear_national_id();
        *c->mutable_erase_time() = TimeUtil::MicrosecondsToTimestamp(Now());
        other.c.clear_summary();
        ++other.revision;
        v1::CaseEvent event;
        event.set_type(v1::CaseEvent::TYPE_CLIENT_DATA_ERASED);
        event.set_actor(actor.key_id);
        (void)reason;  // free text about the client: not kept past its erasure
        Append(t, id, client, std::move(event));
      }
      for (auto& [id, notes] : t.notes) {
        if (t.cases[id].c.client().id() == client) notes.clear();
      }
      return Present(t, case_id);
    });
  }

  absl::StatusOr<v1::VerifyAuditLogResponse> VerifyAuditLog(const Actor&,
                                                            const std::string&) override {
    return absl::UnimplementedError("the memory store keeps no audit chain");
  }

 private:
  int64_t Now() const { return absl::ToUnixMicros(clock_->Now()); }

  // Runs a write under the lock, then (unlocked) tells the listener and
  // answers.
  template <typename T, typename Fn>
  void Finish(const Callback<T>& done, Fn write) {
    absl::StatusOr<T> out;
    std::function<void()> listener;
    {
      absl::MutexLock lock(&mu_);
      out = write();
      listener = listener_;
    }
    if (out.ok() && listener) listener();
    done(std::move(out));
  }

  absl::StatusOr<Record*> Find(const Actor& actor, Tenant& t, absl::string_view case_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = t.cases.find(std::string(case_id));
    if (it == t.cases.end() ||
        (!actor.client_id.empty() && it->second.c.client().id() != actor.client_id)) {
      return absl::NotFoundError(absl::StrCat("cases/", case_id, " does not exist"));
    }
    return &it->second;
  }

  v1::Case Present(Tenant& t, const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Record& r = t.cases[id];
    v1::Case c = r.c;
    c.set_etag(absl::StrCat("r", r.revision));
    *c.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(r.create_micros);
    *c.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(r.update_micros);
    return c;
  }

  absl::Status ExternalRefFree(Tenant& t, const std::string& ref, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ref.empty()) return absl::OkStatus();
    for (const auto& [other, r] : t.cases) {
      if (other != id && r.c.external_ref() == ref) {
        return absl::AlreadyExistsError(
            absl::StrCat("case.external_ref is already used by cases/", other));
      }
    }
    return absl::OkStatus();
  }

  void Append(Tenant& t, const std::string& case_id, const std::string& client_id,
              v1::CaseEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t seq = ++t.seq;
    event.set_name(absl::StrCat("cases/", case_id, "/events/", seq));
    event.set_case_(absl::StrCat("cases/", case_id));
    *event.mutable_time() = TimeUtil::MicrosecondsToTimestamp(Now());
    v1::Change change;
    *change.mutable_event() = std::move(event);
    *change.mutable_commit_time() = TimeUtil::MicrosecondsToTimestamp(Now());
    t.events[seq] = {client_id, std::move(change)};
  }

  static std::string RequestKey(const Actor& actor, const std::string& request_id) {
    return absl::StrCat(actor.tenant, "|", actor.client_id, "|", request_id);
  }

  absl::StatusOr<std::optional<std::string>> PriorRequest(const Actor& actor,
                                                          const std::string& request_id,
                                                          const std::string& digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (request_id.empty()) return std::optional<std::string>();
    auto it = requests_.find(RequestKey(actor, request_id));
    if (it == requests_.end()) return std::optional<std::string>();
    if (it->second.first != digest) {
      return InvalidArgumentField("request_id", "was used before for a different request");
    }
    return std::optional<std::string>(it->second.second);
  }

  void RecordRequest(const Actor& actor, const std::string& request_id, const std::string& digest,
                     const std::string& case_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!request_id.empty()) requests_[RequestKey(actor, request_id)] = {digest, case_id};
  }

  absl::StatusOr<EvidenceAttachment> Entry(const Actor& actor, absl::string_view case_id,
                                           absl::string_view evidence_id) {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[actor.tenant];
    RETURN_IF_ERROR(Find(actor, t, case_id).status());
    const std::string name = absl::StrCat("cases/", case_id, "/evidence/", evidence_id);
    for (const auto& e : t.evidence[std::string(case_id)]) {
      if (e.name() != name) continue;
      EvidenceAttachment a;
      a.evidence = e;
      if (auto it = t.attachments.find(name); it != t.attachments.end()) a.bytes = it->second;
      return a;
    }
    return absl::NotFoundError(absl::StrCat(name, " does not exist"));
  }

  const Clock* clock_;
  absl::Mutex mu_;
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> requests_
      ABSL_GUARDED_BY(mu_);
  std::function<void()> listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<CaseStore> NewMemoryCaseStore(const Clock* clock) {
  return std::make_unique<MemoryCaseStore>(clock);
}

}  // namespace counsel::cases
