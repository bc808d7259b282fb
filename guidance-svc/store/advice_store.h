// Persistent storage of advice articles: one editable draft per article and
// its immutable published revisions (AIP-162).
#ifndef COUNSEL_GUIDANCE_STORE_ADVICE_STORE_H_
#define COUNSEL_GUIDANCE_STORE_ADVICE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "counsel/guidance/v1/guidance.pb.h"

namespace counsel::guidance {

struct AdviceRecord {
  std::string advice_id;
  v1::Advice draft;  // content fields only
  int64_t draft_revision = 0;
  absl::Time create_time;
  absl::Time update_time;
  std::optional<absl::Time> delete_time;
};

// Thread-safe implementations required.
class AdviceStore {
 public:
  virtual ~AdviceStore() = default;

  // AlreadyExists when the id is taken (deleted articles included).
  virtual absl::StatusOr<AdviceRecord> Create(const std::string& advice_id,
                                              const v1::Advice& draft, absl::Time now) = 0;
  virtual absl::StatusOr<std::optional<AdviceRecord>> Get(const std::string& advice_id) = 0;
  virtual absl::StatusOr<std::vector<AdviceRecord>> List() = 0;

  // Replaces the draft when its revision is still `expected_revision`;
  // Aborted otherwise (a concurrent edit).
  virtual absl::StatusOr<AdviceRecord> UpdateDraft(const std::string& advice_id,
                                                   const v1::Advice& draft,
                                                   int64_t expected_revision, absl::Time now) = 0;

  // Stores `revision` (revision_id, content and times set) with the next
  // revision number, and sets the draft to its content, in one transaction.
  // Aborted when the draft changed since `expected_revision`.
  virtual absl::StatusOr<v1::Advice> Publish(const std::string& advice_id,
                                             v1::Advice revision, int64_t expected_revision,
                                             absl::Time now) = 0;

  // Newest first.
  virtual absl::StatusOr<std::vector<v1::Advice>> Revisions(const std::string& advice_id) = 0;

  virtual absl::Status MarkDeleted(const std::string& advice_id, int64_t expected_revision,
                                   absl::Time now) = 0;
};

// Advice in the guidance database `db`: a SQLite file, or a postgresql://
// URI (schema counsel_guidance) that every replica shares.
absl::StatusOr<std::unique_ptr<AdviceStore>> OpenAdviceStore(const std::string& db);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STORE_ADVICE_STORE_H_
