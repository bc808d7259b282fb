#include "guidance-svc/store/schema.h"

#include "common/postgres.h"
#include "common/sql_move.h"
#include "common/status_macros.h"

namespace counsel::guidance {

const char kProvisionIndexSchema[] = R"sql(
CREATE VIRTUAL TABLE provision_fts USING fts5(
  text, statute_id UNINDEXED, version_id UNINDEXED, eid UNINDEXED, tokenize = 'trigram');
)sql";

const std::vector<sqlite::Migration>& GuidanceMigrations() {
  static const auto* m = new std::vector<sqlite::Migration>{
      R"sql(
CREATE TABLE statutes (
  statute_id   TEXT PRIMARY KEY,
  title        TEXT NOT NULL,
  short_title  TEXT NOT NULL,
  aliases      TEXT NOT NULL,      -- newline-separated
  issuing_body TEXT NOT NULL
);
CREATE TABLE statute_versions (
  statute_id      TEXT NOT NULL REFERENCES statutes(statute_id),
  version_id      TEXT NOT NULL,   -- effective date YYYY-MM-DD
  version         BLOB NOT NULL,   -- serialized StatuteVersion
  content_sha256  TEXT NOT NULL,
  import_time     INTEGER NOT NULL DEFAULT (unixepoch()),
  PRIMARY KEY (statute_id, version_id)
);
CREATE TABLE provisions (
  statute_id  TEXT NOT NULL,
  version_id  TEXT NOT NULL,
  ord         INTEGER NOT NULL,
  eid         TEXT NOT NULL,
  wid         TEXT NOT NULL,
  article     BLOB NOT NULL,       -- serialized Provision (the article tree)
  PRIMARY KEY (statute_id, version_id, eid),
  FOREIGN KEY (statute_id, version_id) REFERENCES statute_versions(statute_id, version_id)
);
CREATE INDEX provisions_by_wid ON provisions (statute_id, wid);
)sql",
      // Trigram full-text index over article text; filled on import, and
      // rebuilt from `provisions` on open when empty.
      kProvisionIndexSchema,
      // Advice articles (AIP-162): an editable draft and immutable revisions.
      R"sql(
CREATE TABLE advice (
  advice_id       TEXT PRIMARY KEY,
  draft           BLOB NOT NULL,     -- Advice proto, content fields only
  draft_revision  INTEGER NOT NULL,  -- bumps on every draft change; the etag
  create_time     INTEGER NOT NULL,  -- unix micros
  update_time     INTEGER NOT NULL,
  delete_time     INTEGER
);
CREATE TABLE advice_revisions (
  advice_id       TEXT NOT NULL REFERENCES advice (advice_id),
  revision_id     TEXT NOT NULL,
  revision_number INTEGER NOT NULL,
  create_time     INTEGER NOT NULL,
  content         BLOB NOT NULL,     -- the frozen Advice, citations pinned
  PRIMARY KEY (advice_id, revision_id),
  UNIQUE (advice_id, revision_number)
);
CREATE TRIGGER advice_revisions_are_immutable BEFORE UPDATE ON advice_revisions
BEGIN SELECT RAISE(ABORT, 'advice revisions are immutable'); END;
CREATE TRIGGER advice_revisions_are_kept BEFORE DELETE ON advice_revisions
BEGIN SELECT RAISE(ABORT, 'advice revisions are kept'); END;
)sql",
      // Declared types enforced from here on (the search index, a virtual
      // table, is left as it is).
      sqlite::Migration(std::string(), sqlite::MakeTablesStrict),
      // Laws, regulations and judicial interpretations (v1::Statute::Kind).
      R"sql(
ALTER TABLE statutes ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
)sql",
  };
  return *m;
}

// The same tables. No search index: PostgreSQL in Debian has no tokenizer
// for Chinese, so each replica indexes what it loads, in memory, with the
// SQLite index the file uses (sql_statute_store.cc).
const std::vector<std::string>& GuidancePostgresMigrations() {
  static const auto* m = new std::vector<std::string>{R"sql(
CREATE TABLE statutes (
  statute_id   TEXT PRIMARY KEY,
  title        TEXT NOT NULL,
  short_title  TEXT NOT NULL,
  aliases      TEXT NOT NULL,
  issuing_body TEXT NOT NULL,
  kind         BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE statute_versions (
  statute_id      TEXT NOT NULL REFERENCES statutes (statute_id),
  version_id      TEXT NOT NULL,
  version         BYTEA NOT NULL,
  content_sha256  TEXT NOT NULL,
  import_time     BIGINT NOT NULL DEFAULT (extract(epoch FROM now())::bigint),
  PRIMARY KEY (statute_id, version_id)
);
CREATE TABLE provisions (
  statute_id  TEXT NOT NULL,
  version_id  TEXT NOT NULL,
  ord         BIGINT NOT NULL,
  eid         TEXT NOT NULL,
  wid         TEXT NOT NULL,
  article     BYTEA NOT NULL,
  PRIMARY KEY (statute_id, version_id, eid),
  FOREIGN KEY (statute_id, version_id) REFERENCES statute_versions (statute_id, version_id)
);
CREATE INDEX provisions_by_wid ON provisions (statute_id, wid);

CREATE TABLE advice (
  advice_id       TEXT PRIMARY KEY,
  draft           BYTEA NOT NULL,
  draft_revision  BIGINT NOT NULL,
  create_time     BIGINT NOT NULL,
  update_time     BIGINT NOT NULL,
  delete_time     BIGINT
);
CREATE TABLE advice_revisions (
  advice_id       TEXT NOT NULL REFERENCES advice (advice_id),
  revision_id     TEXT NOT NULL,
  revision_number BIGINT NOT NULL,
  create_time     BIGINT NOT NULL,
  content         BYTEA NOT NULL,
  PRIMARY KEY (advice_id, revision_id),
  UNIQUE (advice_id, revision_number)
);
CREATE FUNCTION advice_revisions_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'advice revisions are immutable and kept';
END $$;
CREATE TRIGGER advice_revisions_are_immutable BEFORE UPDATE OR DELETE ON advice_revisions
  FOR EACH ROW EXECUTE FUNCTION advice_revisions_are_kept();
CREATE TRIGGER advice_revisions_are_not_truncated BEFORE TRUNCATE ON advice_revisions
  FOR EACH STATEMENT EXECUTE FUNCTION advice_revisions_are_kept();
)sql"};
  return *m;
}

absl::StatusOr<std::unique_ptr<sql::Database>> OpenGuidanceDatabase(const std::string& db) {
  if (pg::IsUri(db)) {
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Database> pg, pg::Database::Open(db, kGuidanceSchema));
    RETURN_IF_ERROR(pg->Migrate(GuidancePostgresMigrations()));
    return std::unique_ptr<sql::Database>(std::move(pg));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> file, sqlite::Database::Open(db, {}));
  RETURN_IF_ERROR(file->Migrate(GuidanceMigrations()));
  return std::unique_ptr<sql::Database>(std::move(file));
}

absl::StatusOr<std::unique_ptr<sql::Database>> HoldImportLock(const std::string& db) {
  if (!pg::IsUri(db)) return std::unique_ptr<sql::Database>();
  ASSIGN_OR_RETURN(std::unique_ptr<sql::Database> conn, OpenGuidanceDatabase(db));
  // Class 4 of the advisory locks: guidance imports. Session-level: held
  // across the import's many transactions, released when the connection
  // closes (the process exits or dies).
  RETURN_IF_ERROR(conn->Exec("SELECT pg_advisory_lock(4, 0)"));
  return conn;
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> MoveGuidanceToPostgres(
    const std::string& from, const std::string& to) {
  // In an order that meets foreign keys.
  static constexpr sql::MovedTable kTables[] = {
      {"statutes"}, {"statute_versions"}, {"provisions"}, {"advice"}, {"advice_revisions"}};
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> src,
                   sql::OpenMoveSource(from, to, static_cast<int>(GuidanceMigrations().size()),
                                       "counsel-guidance"));
  ASSIGN_OR_RETURN(std::unique_ptr<sql::Database> dst, OpenGuidanceDatabase(to));
  return sql::MoveTables(*src, static_cast<pg::Database&>(*dst), kTables, /*lock_key=*/2);
}

}  // namespace counsel::guidance
