// How a case and its evidence are laid out in rows: the columns a case
// query selects, free text taken out of the clear proto to be sealed apart
// (and put back), the etag of a revision, timestamps as micros. Shared by
// every file of the SQLite store; nothing here touches a database.
#ifndef COUNSEL_CASES_STORE_CASE_ROWS_H_
#define COUNSEL_CASES_STORE_CASE_ROWS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "counsel/cases/v1/cases.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace counsel::cases::sql_store {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// AIP-158: zero asks for the default, anything above the maximum is clamped.
absl::StatusOr<int> PageSize(int32_t requested);

// The columns of a case query, in this order.
inline constexpr char kCaseColumns[] =
    "c.case_id, c.data, c.revision, c.create_time, c.update_time, c.key_ref, k.wrapped, "
    "c.name_sealed, c.phone_sealed, c.email_sealed, c.national_id_sealed, k.destroy_time, "
    "c.text_sealed";
// Columns of kCaseColumns, by name; a query may select its sort key after them.
enum CaseColumn : int {
  kCaseId = 0,
  kData = 1,
  kRevision = 2,
  kCreateTime = 3,
  kUpdateTime = 4,
  kKeyRef = 5,
  kWrappedKey = 6,
  kNameSealed = 7,
  kPhoneSealed = 8,
  kEmailSealed = 9,
  kNationalIdSealed = 10,
  kKeyDestroyTime = 11,
  kTextSealed = 12,
};
inline constexpr int kCaseColumnCount = 13;

google::protobuf::Timestamp ToProto(int64_t micros);
int64_t Micros(const google::protobuf::Timestamp& t);

// The etag of a stored revision.
std::string Etag(int64_t revision);

// The leaked-data kinds as a bit mask (the `leaked` column).
int64_t LeakedMask(const v1::Case& c);

// The case without its client's personal fields and stored-only fields.
void ScrubClient(v1::Case& c);

// The case as FromRow reads it back once Store has written `c` at
// `revision` and `now` (create and update time both) under a live data key:
// what a create answers, without reading and unsealing its row again inside
// the writer's batch.
v1::Case AsWritten(v1::Case c, int64_t revision, int64_t now);

absl::Status NotFound(absl::string_view case_id);

// Free text is personal data: a case's summary and checklist notes are kept
// apart from the rest of the row, sealed under the client's data key.
v1::Case TakeFreeText(v1::Case& c);
void PutFreeText(const v1::Case& text, v1::Case& c);
bool HasFreeText(const v1::Case& text);

// An evidence's summary and its attachment's description (file name, type,
// size, digest: a name such as 张三_身份证.jpg, a digest that confirms a
// file) are the client's too: sealed together, apart from the row.
v1::Evidence TakeEvidenceText(v1::Evidence& e);
bool HasEvidenceText(const v1::Evidence& text);
// The field name its sealing is bound to.
std::string EvidenceTextField(absl::string_view evidence_id);

}  // namespace counsel::cases::sql_store

#endif  // COUNSEL_CASES_STORE_CASE_ROWS_H_
