#include "guidance-svc/store/schema.h"

namespace counsel::guidance {

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
      R"sql(
CREATE VIRTUAL TABLE provision_fts USING fts5(
  text, statute_id UNINDEXED, version_id UNINDEXED, eid UNINDEXED, tokenize = 'trigram');
)sql",
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


}  // namespace counsel::guidance
