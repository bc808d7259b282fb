// Advice articles as AIP-162 revisions: an editable draft; PublishAdvice
// freezes it into an immutable revision whose citations are pinned to a wId
// and the statute version in force that day, so that a 2024 revision citing
// 第四十二条第六项 never comes to mean another article.
#ifndef COUNSEL_GUIDANCE_ADVICE_ADVICE_BOOK_H_
#define COUNSEL_GUIDANCE_ADVICE_ADVICE_BOOK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "counsel/internal/v1/content.pb.h"
#include "guidance-svc/statute/catalog.h"
#include "guidance-svc/store/advice_store.h"

namespace counsel::guidance {

inline constexpr char kDefaultLocale[] = "zh-CN";

// Thread-safe (the store is).
class AdviceBook {
 public:
  explicit AdviceBook(AdviceStore* store) : store_(store) {}

  absl::StatusOr<v1::Advice> Create(const v1::CreateAdviceRequest& request, absl::Time now);
  absl::StatusOr<v1::Advice> Update(const v1::UpdateAdviceRequest& request, absl::Time now);
  // Validates the draft (unique step keys, titled checklist steps, every
  // citation resolvable as of `now`) and freezes it. BadRequest names the step.
  absl::StatusOr<v1::Advice> Publish(const v1::PublishAdviceRequest& request,
                                     const std::string& author, absl::Time now,
                                     const Catalog& catalog);
  absl::StatusOr<v1::Advice> Rollback(const v1::RollbackAdviceRequest& request,
                                      const std::string& author, absl::Time now);
  absl::Status Delete(const v1::DeleteAdviceRequest& request, absl::Time now);
  // `may_read_draft`: the caller holds guidance.write.
  absl::StatusOr<v1::Advice> Get(const v1::GetAdviceRequest& request, bool may_read_draft,
                                 const Catalog& catalog, absl::CivilDay today);
  absl::StatusOr<v1::ListAdviceRevisionsResponse> ListRevisions(
      const v1::ListAdviceRevisionsRequest& request);
  absl::StatusOr<v1::ListAdviceResponse> List(const v1::ListAdviceRequest& request);

  // Loads a content file: creates the article and publishes each revision
  // not yet published, at its recorded time. Idempotent; a revision whose
  // content differs from the one already published is refused.
  absl::StatusOr<int> ImportFile(const internal::v1::AdviceFile& file, const Catalog& catalog,
                                 absl::string_view source_name);

 private:
  absl::StatusOr<v1::Advice> PublishAt(const std::string& id, int64_t expected_revision,
                                       v1::Advice content, const std::string& author,
                                       const std::string& change_note, absl::Time now,
                                       const Catalog& catalog);

  AdviceStore* store_;
};

// Splits `advice/{id}` or `advice/{id}@{revision}`.
absl::Status ParseAdviceName(absl::string_view name, absl::string_view field, std::string* id,
                             std::string* revision);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_ADVICE_ADVICE_BOOK_H_
