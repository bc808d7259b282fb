// An in-memory CaseStore for unit tests of what sits above the store (the
// adapter, the feed, the webhook deliverer): the SQLite store's contract
// for writes (etags, request ids, external_ref uniqueness, one event per
// change, no event for no change), reads by id, the timeline and the change
// feed, with tenant and client isolation. Not in it: sealing (nothing
// leaves the process), filters (ListCases answers an empty filter only;
// anything else is UNIMPLEMENTED), Stats and VerifyAuditLog (UNIMPLEMENTED).
// Callbacks run before the call returns.
#ifndef COUNSEL_CASES_STORE_MEMORY_CASE_STORE_H_
#define COUNSEL_CASES_STORE_MEMORY_CASE_STORE_H_

#include <memory>

#include "case-svc/store/case_store.h"
#include "common/clock.h"

namespace counsel::cases {

// Thread-safe.
std::unique_ptr<CaseStore> NewMemoryCaseStore(const Clock* clock);

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_MEMORY_CASE_STORE_H_
