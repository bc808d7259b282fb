// The erasure ledger: a file beside the database, never part of a backup,
// that lists every client data key destroyed by EraseClientData. Opening the
// store applies it, so restoring a backup taken before an erasure does not
// bring the erased data back: the restored copy's key is destroyed again
// before anything is served.
//
//   ASSIGN_OR_RETURN(auto ledger, ErasureLedger::Open("var/cases.db.erasures"));
//   RETURN_IF_ERROR(ledger->Record("firm-a", key_ref, now));  // durable on return
//   for (const auto& e : ledger->entries()) ...
//
// The first line names the ledger (`# counsel erasure ledger {id}`); the
// database records that id, so a database whose ledger is missing or another
// one's refuses to open instead of serving erased data. Then one line per
// erasure: `{unix micros}\t{tenant}\t{key_ref}`; it holds no personal data
// (key references are random ids). Thread-compatible: the store
// records only from its writer thread.
#ifndef COUNSEL_CASES_STORE_ERASURE_LEDGER_H_
#define COUNSEL_CASES_STORE_ERASURE_LEDGER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace counsel::cases {

class ErasureLedger {
 public:
  struct Entry {
    int64_t time_micros = 0;
    std::string tenant;
    std::string key_ref;
  };

  // Reads the ledger at `path` (a missing file is an empty ledger; it is
  // created, mode 0600, at the first Record). DataLoss for a malformed line
  // other than a torn last one (a crash while appending).
  static absl::StatusOr<std::unique_ptr<ErasureLedger>> Open(const std::string& path);

  // Writes a new, empty ledger with a fresh id at `path` (which must not
  // exist), durably.
  static absl::StatusOr<std::unique_ptr<ErasureLedger>> Create(const std::string& path);

  // Appends an entry and fsyncs the file.
  absl::Status Record(absl::string_view tenant, absl::string_view key_ref, int64_t time_micros);

  const std::vector<Entry>& entries() const { return entries_; }
  // Empty when the file does not exist.
  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }

 private:
  explicit ErasureLedger(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::string id_;
  std::vector<Entry> entries_;
};

}  // namespace counsel::cases

#endif  // COUNSEL_CASES_STORE_ERASURE_LEDGER_H_
