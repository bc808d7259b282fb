// A fresh PostgreSQL database per test, on the server the test command
// started (tests/tools/postgres_server.sh writes COUNSEL_PG_URI and
// PGPASSFILE to the file COUNSEL_PG_ENV names, or they are in the
// environment). Dropped again when the object goes.
#ifndef COUNSEL_COMMON_TESTING_POSTGRES_TEST_DB_H_
#define COUNSEL_COMMON_TESTING_POSTGRES_TEST_DB_H_

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/postgres.h"
#include "common/status_macros.h"

namespace counsel::testing {

class PostgresTestDb {
 public:
  // Whether this run has a server (the suites on PostgreSQL are then on).
  static bool Available() {
    if (const char* file = std::getenv("COUNSEL_PG_ENV")) {
      std::ifstream in(file);
      std::string line;
      while (std::getline(in, line)) {
        const size_t eq = line.find('=');
        if (eq != std::string::npos) setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
      }
    }
    const char* uri = std::getenv("COUNSEL_PG_URI");
    return uri != nullptr && *uri != '\0';
  }

  static absl::StatusOr<std::unique_ptr<PostgresTestDb>> Create() {
    if (!Available()) return absl::FailedPreconditionError("COUNSEL_PG_URI is not set");
    const std::string server = std::getenv("COUNSEL_PG_URI");
    std::string name = absl::StrCat("t_", RandomId(8));
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> admin, pg::Database::Open(server, "public"));
    RETURN_IF_ERROR(admin->Exec(absl::StrCat("CREATE DATABASE \"", name, "\"")));
    const size_t slash = server.rfind('/');
    return std::unique_ptr<PostgresTestDb>(
        new PostgresTestDb(server, name, server.substr(0, slash + 1) + name));
  }

  ~PostgresTestDb() {
    auto admin = pg::Database::Open(server_, "public");
    if (admin.ok()) {
      (void)(*admin)->Exec(absl::StrCat("DROP DATABASE IF EXISTS \"", name_, "\" WITH (FORCE)"));
    }
  }

  const std::string& uri() const { return uri_; }

 private:
  PostgresTestDb(std::string server, std::string name, std::string uri)
      : server_(std::move(server)), name_(std::move(name)), uri_(std::move(uri)) {}
  std::string server_, name_, uri_;
};

}  // namespace counsel::testing

#endif  // COUNSEL_COMMON_TESTING_POSTGRES_TEST_DB_H_
