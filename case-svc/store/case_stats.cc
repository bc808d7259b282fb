#include "case-svc/store/sql_case_store_impl.h"

#include "google/protobuf/util/time_util.h"

namespace counsel::cases::sql_store {

using google::protobuf::util::TimeUtil;

absl::StatusOr<v1::CaseStats> SqlCaseStore::Stats(const Actor& actor,
                                    const v1::GetCaseStatsRequest& request) {
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(SqlCondition filter,
                   CompileCaseFilter(request.filter(), now, BlindForActor(actor)));
  const std::string where = absl::StrCat(
      "tenant = ? AND (? = '' OR client_id = ?) AND (", filter.sql, ")");
  auto bind = [&](Statement& q) { return BindActorAndFilter(q, 1, actor, filter); };
  return readers_->With([&](Database& db) -> absl::StatusOr<v1::CaseStats> {
    v1::CaseStats out;
    {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
          "SELECT state, count(*) FROM cases c WHERE ", where, " GROUP BY state ORDER BY state")));
      bind(q);
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        auto* c = out.add_by_state();
        c->set_key(v1::Case::State_Name(static_cast<v1::Case::State>(q.ColumnInt64(0))));
        c->set_count(q.ColumnInt64(1));
        out.set_total_cases(out.total_cases() + q.ColumnInt64(1));
      }
    }
    {
      std::string sums;
      for (int d = 1; d <= v1::LeakedData_MAX; ++d) {
        absl::StrAppend(&sums, d > 1 ? ", " : "", "sum((leaked_mask >> ", d, ") & 1)");
      }
      ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat("SELECT ", sums, " FROM cases c WHERE ", where)));
      bind(q);
      ASSIGN_OR_RETURN(bool row, q.Step());
      for (int d = 1; row && d <= v1::LeakedData_MAX; ++d) {
        if (q.ColumnInt64(d - 1) == 0) continue;
        auto* c = out.add_by_leaked_data();
        c->set_key(v1::LeakedData_Name(static_cast<v1::LeakedData>(d)));
        c->set_count(q.ColumnInt64(d - 1));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
          "SELECT suspected_source, count(*) AS n FROM cases c WHERE ", where,
          " AND suspected_source != '' GROUP BY suspected_source ORDER BY n DESC LIMIT 50")));
      bind(q);
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        auto* c = out.add_by_suspected_source();
        c->set_key(q.ColumnText(0));
        c->set_count(q.ColumnInt64(1));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
          "SELECT count(*) FROM pending_items p WHERE p.tenant = ? AND p.due_time < ? AND "
          "p.case_id IN (SELECT case_id FROM cases c WHERE ", where, ")")));
      q.Bind(1, actor.tenant).Bind(2, absl::ToUnixMicros(now));
      BindActorAndFilter(q, 3, actor, filter);
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) out.set_overdue_checklist_items(q.ColumnInt64(0));
    }
    {
      // Median age of cases not RESOLVED or CLOSED.
      ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
          "SELECT create_time FROM cases c WHERE ", where, " AND state NOT IN (",
          static_cast<int>(v1::Case::STATE_RESOLVED), ", ", static_cast<int>(v1::Case::STATE_CLOSED),
          ") "
          "ORDER BY create_time")));
      bind(q);
      std::vector<int64_t> times;
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        times.push_back(q.ColumnInt64(0));
      }
      if (!times.empty()) {
        const int64_t median = times[times.size() / 2];
        out.set_median_open_age_seconds((absl::ToUnixMicros(now) - median) / 1000000);
      }
    }
    {
      const absl::CivilDay today = absl::ToCivilDay(now, ShanghaiTimeZone());
      ASSIGN_OR_RETURN(Statement q, db.Prepare(absl::StrCat(
          "SELECT count(*) FROM cases c WHERE ", where,
          " AND limitation_ends_on >= ? AND limitation_ends_on <= ?")));
      int i = bind(q);
      q.Bind(i++, FormatDate(today));
      q.Bind(i++, FormatDate(today + 90));
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) out.set_limitation_ending_within_90_days(q.ColumnInt64(0));
    }
    return out;
  });
}

}  // namespace counsel::cases::sql_store
