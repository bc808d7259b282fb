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
