// The in-memory statute catalogue: an immutable snapshot of every stored
// version, indexed for point-in-time reads. Published versions never change,
// so reads are served from memory without locks; an import builds a new
// snapshot and swaps it in.
//
//   auto catalog = Catalog::Build(store->LoadAll().value());
//   ASSIGN_OR_RETURN(v1::Provision p,
//                    catalog->GetProvision(request, /*today=*/CivilDay(2026, 11, 28)));
#ifndef COUNSEL_GUIDANCE_STATUTE_CATALOG_H_
#define COUNSEL_GUIDANCE_STATUTE_CATALOG_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {

// ErrorInfo reasons of NOT_FOUND answers.
inline constexpr char kReasonNotInForce[] = "NOT_IN_FORCE";
inline constexpr char kReasonNotInCorpus[] = "NOT_IN_CORPUS";
inline constexpr char kReasonNoSuchProvision[] = "NO_SUCH_PROVISION";
// A stale citation whose content is now part of a provision that continues
// another (a merge).
inline constexpr char kReasonMerged[] = "MERGED";

// A citation's numbers: 第五十条第一款第六项 → {50, 0, 1, 6, 0}.
struct ProvisionRef {
  int article = 0;
  int article_suffix = 0;  // 之N
  int paragraph = 0;       // 0: not given
  int item = 0;
  int subitem = 0;
};

// The label as a lawyer writes it: 第五十条第一款第六项; the paragraph is
// left out when the article has one (第五十六条第六项); 之N kept.
std::string CitationLabel(const ProvisionRef& ref, int paragraphs_in_article);

// The eid `ref` would have in a version (an item without its paragraph in
// the first one), whether or not a version holds it.
std::string PositionalEid(const ProvisionRef& ref);

// Reads a whole label ("第五十条第一款第六项", "第42条第6项"); nullopt when
// `label` is not exactly one provision label.
std::optional<ProvisionRef> ParseProvisionLabel(absl::string_view label);

// Thread-safe (immutable).
class Catalog {
 public:
  struct Version {
    v1::StatuteVersion meta;  // status unset; computed per request
    absl::CivilDay effective;
    absl::CivilDay promulgated;
    bool open_ended = true;
    absl::CivilDay end;
    std::vector<v1::Provision> articles;
    // Every provision (articles and their parts) by eid.
    absl::flat_hash_map<std::string, const v1::Provision*> by_eid;
    // Every provision by wid.
    absl::flat_hash_map<std::string, const v1::Provision*> by_wid;
    // Articles by the wids they also continue (merges and splits).
    absl::flat_hash_map<std::string, const v1::Provision*> by_also;
    // Set when an answer from this version rests on an unconfirmed date:
    // its own commencement, or the next version's (which ends it).
    std::string date_caveat;
  };
  // Where a provision that no longer answers under its own wid went.
  struct Successor {
    const v1::Provision* provision = nullptr;
    // true: its content was merged into `provision`; false: `provision` is
    // the article that continues the cited part's article (the part itself
    // has no continuation).
    bool merged = false;
  };
  struct Entry {
    v1::Statute meta;  // without versions
    std::vector<std::unique_ptr<Version>> versions;  // by effective date
  };

  static std::shared_ptr<const Catalog> Build(std::vector<StoredStatute> statutes);

  // Statute with its versions and their status as of `today`.
  absl::StatusOr<v1::Statute> GetStatute(absl::string_view name, absl::CivilDay today) const;
  absl::StatusOr<v1::ListStatutesResponse> ListStatutes(const v1::ListStatutesRequest& request,
                                                        absl::CivilDay today) const;
  absl::StatusOr<v1::Provision> GetProvision(const v1::GetProvisionRequest& request,
                                             absl::CivilDay today) const;
  // The same answer, serialized: the bytes of GetProvision(...) on the wire.
  // Answers are kept (up to kAnswerCacheBytes, for the day they were made
  // on): the same provisions are asked for again and again, and serializing
  // one costs more than the rest of the call, protobuf checking every
  // string of the statute text as UTF-8 each time.
  absl::StatusOr<std::shared_ptr<const std::string>> GetProvisionBytes(
      const v1::GetProvisionRequest& request, absl::CivilDay today) const;
  static constexpr size_t kAnswerCacheBytes = 32 << 20;
  // A provision of a selected version, with statute title and version set.
  static v1::Provision Present(const Entry& statute, const Version& version,
                               const v1::Provision& provision, absl::CivilDay today);

  absl::StatusOr<v1::ListProvisionsResponse> ListProvisions(
      const v1::ListProvisionsRequest& request, absl::CivilDay today) const;
  absl::StatusOr<v1::CompareStatuteVersionsResponse> CompareVersions(
      const v1::CompareStatuteVersionsRequest& request, absl::CivilDay today) const;

  // The provision with `wid` in the version of `statute_id` in force on
  // `day`; NotFound (NOT_IN_FORCE / NO_SUCH_PROVISION) otherwise.
  absl::StatusOr<v1::Provision> FindByWid(absl::string_view statute_id, absl::string_view wid,
                                          absl::CivilDay day, absl::CivilDay today) const;

  // The provision of `v` that took over `wid` when `v` has no provision
  // carrying it: the article it was merged into, or the article continuing
  // the cited part's article. nullptr provision when neither.
  static Successor FindSuccessor(const Version& v, absl::string_view wid);

  // The eid `ref` names in `v`: an item cited without its paragraph is in
  // the first paragraph that has it. nullopt when `v` has no such provision.
  static std::optional<std::string> EidFor(const Version& v, const ProvisionRef& ref);

  // NO_SUCH_PROVISION for `asked` in `v`, naming the provision that carries
  // the same wId on that version when there is one.
  static absl::Status NoSuchProvision(const Entry& e, const Version& v,
                                      const std::optional<ProvisionRef>& ref,
                                      const std::string& eid, absl::string_view asked);

  // Every statute, in id order.
  std::vector<const Entry*> Statutes() const;

  // The version of `statute` to read for as_of/version_id/prospective.
  // `field_prefix` names request fields in errors.
  absl::StatusOr<const Version*> SelectVersion(const Entry& statute, absl::string_view as_of,
                                               absl::string_view version_id, bool prospective,
                                               absl::CivilDay today) const;

  const Entry* FindStatute(absl::string_view statute_id) const;
  size_t statute_count() const { return order_.size(); }

  static v1::StatuteVersion::Status StatusOn(const Version& v, absl::CivilDay day);
  static v1::StatuteVersion VersionWithStatus(const Version& v, absl::CivilDay today);

 private:
  struct Found {
    const Entry* statute;
    const Version* version;
    const v1::Provision* provision;
  };
  struct Answer {
    absl::CivilDay today;
    std::shared_ptr<const std::string> bytes;
  };

  Catalog() = default;
  absl::StatusOr<Found> FindProvision(const v1::GetProvisionRequest& request,
                                      absl::CivilDay today) const;

  absl::flat_hash_map<std::string, Entry> statutes_;  // by statute id
  std::vector<std::string> order_;                     // statute ids, sorted
  mutable absl::Mutex answers_mu_;
  mutable absl::flat_hash_map<const v1::Provision*, Answer> answers_
      ABSL_GUARDED_BY(answers_mu_);
  mutable size_t answer_bytes_ ABSL_GUARDED_BY(answers_mu_) = 0;
};

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STATUTE_CATALOG_H_
