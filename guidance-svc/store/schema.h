// The schema of guidance.db, one forward-only migration list shared by the
// stores that use the file (statutes, advice).
#ifndef COUNSEL_GUIDANCE_STORE_SCHEMA_H_
#define COUNSEL_GUIDANCE_STORE_SCHEMA_H_

#include <string>
#include <vector>

#include "common/sqlite.h"

namespace counsel::guidance {

const std::vector<sqlite::Migration>& GuidanceMigrations();

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STORE_SCHEMA_H_
