#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/postgres.h"
#include "common/sql.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "guidance-svc/store/schema.h"
#include "guidance-svc/store/statute_store.h"

namespace counsel::guidance {
namespace {

using sql::Database;
using sql::Statement;
using sql::WriteTransaction;

// The full-text index: SQLite FTS5 with the trigram tokenizer, which reads
// Chinese without a dictionary. In a SQLite file it is a table of the file,
// written in each import's transaction; PostgreSQL in Debian has no such
// tokenizer, so there each replica builds it in memory from the rows every
// LoadAll reads, and its search answers rank and cut snippets exactly as a
// file's do (the table: kProvisionIndexSchema).
absl::Status IndexArticle(Database& index, const std::string& statute_id,
                          const std::string& version_id, const v1::Provision& article) {
  ASSIGN_OR_RETURN(Statement ins, index.Prepare(
      "INSERT INTO provision_fts (text, statute_id, version_id, eid) VALUES (?1, ?2, ?3, ?4)"));
  ins.Bind(1, absl::StrCat(article.label(), " ", article.text()))
      .Bind(2, statute_id).Bind(3, version_id).Bind(4, article.eid());
  return ins.Run();
}

absl::StatusOr<std::vector<StatuteStore::Hit>> SearchIndex(
    Database& index, absl::string_view query, const std::vector<std::string>& versions,
    int offset, int limit) {
  if (versions.empty()) return std::vector<StatuteStore::Hit>();
  // The query is one phrase: quoted, with quotes doubled, so that FTS5
  // operators in user input are plain text.
  std::string phrase = "\"";
  for (char c : query) {
    if (c == '"') phrase += '"';
    phrase += c;
  }
  phrase += '"';
  // Only the versions in force are ranked, and snippets are made for the
  // page alone: both dominate the cost on a large corpus.
  std::string in;
  for (size_t i = 0; i < versions.size(); ++i) absl::StrAppend(&in, i == 0 ? "?" : ", ?");
  ASSIGN_OR_RETURN(Statement q, index.Prepare(absl::StrCat(
      "SELECT statute_id, version_id, eid, "
      "snippet(provision_fts, 0, '【', '】', '…', 32), -bm25(provision_fts) "
      "FROM provision_fts WHERE provision_fts MATCH ? AND statute_id || '@' || version_id IN (",
      in, ") ORDER BY rank LIMIT ? OFFSET ?")));
  int i = 1;
  q.Bind(i++, phrase);
  for (const auto& v : versions) q.Bind(i++, v);
  q.Bind(i++, limit);
  q.Bind(i++, offset);
  std::vector<StatuteStore::Hit> hits;
  while (true) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    hits.push_back({q.ColumnText(0), q.ColumnText(1), q.ColumnText(2), q.ColumnText(3),
                    q.ColumnDouble(4)});
  }
  return hits;
}

// A fresh in-memory index of `statutes`.
absl::StatusOr<std::unique_ptr<sqlite::Database>> BuildMemoryIndex(
    const std::vector<StoredStatute>& statutes) {
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> index,
                   sqlite::Database::Open(":memory:", {}));
  RETURN_IF_ERROR(index->Exec(kProvisionIndexSchema));
  RETURN_IF_ERROR(index->Exec("BEGIN"));
  for (const StoredStatute& s : statutes) {
    const std::string statute_id(absl::StripPrefix(s.statute.name(), "statutes/"));
    for (const StoredStatute::Version& v : s.versions) {
      for (const v1::Provision& article : v.articles) {
        RETURN_IF_ERROR(IndexArticle(*index, statute_id, v.version.version_id(), article));
      }
    }
  }
  RETURN_IF_ERROR(index->Exec("COMMIT"));
  return index;
}

class ListenerWatch final : public StatuteStore::Watch {
 public:
  explicit ListenerWatch(std::unique_ptr<pg::Listener> listener)
      : listener_(std::move(listener)) {}

 private:
  std::unique_ptr<pg::Listener> listener_;
};

// Whether two records of one version differ at most in what the corpus
// knows about the text's provenance: where the text and its dates come
// from, how sure those dates are, whether it is the statute's original
// text. Dates, repeal, excerpt and numbers may not change this way.
bool SameFactsBesideProvenance(v1::StatuteVersion a, v1::StatuteVersion b) {
  for (v1::StatuteVersion* v : {&a, &b}) {
    v->clear_source();
    v->clear_date_source();
    v->clear_date_confidence();
    v->clear_original_text();
    v->clear_content_sha256();
    v->clear_status();
  }
  return a.SerializeAsString() == b.SerializeAsString();
}

// The same SQL on SQLite and PostgreSQL; on PostgreSQL (`uri` not empty)
// the search index lives in memory and imports notify every replica.
class SqlStatuteStore final : public StatuteStore {
 public:
  SqlStatuteStore(std::unique_ptr<Database> db, std::string uri)
      : db_(std::move(db)), uri_(std::move(uri)) {}

  absl::StatusOr<ImportResult> ImportVersion(const ParsedStatuteVersion& parsed) override {
    absl::MutexLock lock(&mu_);
    const std::string statute_id(absl::StripPrefix(parsed.statute.name(), "statutes/"));
    const v1::StatuteVersion& version = parsed.version;
    ImportResult result;
    result.statute = parsed.statute.name();
    result.version_id = version.version_id();
    result.article_count = static_cast<int>(parsed.articles.size());

    ASSIGN_OR_RETURN(WriteTransaction tx, WriteTransaction::Begin(*db_));
    // Imports of one version from two replicas at once run one after the
    // other: the second finds the first's text.
    RETURN_IF_ERROR(db_->LockScope(absl::StrCat("statutes/", statute_id)));
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT content_sha256, version FROM statute_versions WHERE statute_id = ?1 AND "
          "version_id = ?2"));
      q.Bind(1, statute_id).Bind(2, version.version_id());
      ASSIGN_OR_RETURN(bool found, q.Step());
      if (found) {
        if (q.ColumnText(0) == version.content_sha256()) return result;  // created=false
        v1::StatuteVersion stored;
        if (stored.ParseFromString(std::string(q.ColumnBlob(1))) && stored.excerpt()) {
          ASSIGN_OR_RETURN(bool completes, Completes(statute_id, version.version_id(), parsed));
          if (completes) {
            // The fuller text of the same version: what callers read does
            // not change, it only grows.
            RETURN_IF_ERROR(DropVersion(statute_id, version.version_id()));
            result.completed_excerpt = true;
            found = false;
          }
        }
      }
      if (found) {
        // The same text with a corrected header (a reviewed wId map, where
        // its dates come from): what the version says does not change, so
        // the correction replaces the record.
        ASSIGN_OR_RETURN(bool same_text, SameText(statute_id, version.version_id(), parsed));
        v1::StatuteVersion stored_meta;
        const bool same_facts = stored_meta.ParseFromString(std::string(q.ColumnBlob(1))) &&
                                SameFactsBesideProvenance(stored_meta, version);
        if (same_text && same_facts) {
          RETURN_IF_ERROR(DropVersion(statute_id, version.version_id()));
          result.relinked = true;
          found = false;
        }
      }
      if (found) {
        return ErrorWithReason(
            absl::StatusCode::kAlreadyExists, "VERSION_IMMUTABLE",
            absl::StrCat("version ", version.version_id(), " of ", parsed.statute.name(),
                         " is already loaded with different content; versions are immutable"),
            {{"statute", parsed.statute.name()}, {"version_id", version.version_id()}});
      }
    }
    {
      ASSIGN_OR_RETURN(Statement up, db_->Prepare(
          "INSERT INTO statutes (statute_id, title, short_title, aliases, issuing_body, kind) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (statute_id) DO UPDATE SET "
          "title = excluded.title, short_title = excluded.short_title, "
          "aliases = excluded.aliases, issuing_body = excluded.issuing_body, "
          "kind = excluded.kind"));
      up.Bind(1, statute_id).Bind(2, parsed.statute.title()).Bind(3, parsed.statute.short_title())
          .Bind(4, absl::StrJoin(parsed.statute.aliases(), "\n"))
          .Bind(5, parsed.statute.issuing_body())
          .Bind(6, static_cast<int64_t>(parsed.statute.kind()));
      RETURN_IF_ERROR(up.Run());
    }
    {
      ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
          "INSERT INTO statute_versions (statute_id, version_id, version, content_sha256) "
          "VALUES (?1, ?2, ?3, ?4)"));
      ins.Bind(1, statute_id).Bind(2, version.version_id())
          .BindBlob(3, version.SerializeAsString()).Bind(4, version.content_sha256());
      RETURN_IF_ERROR(ins.Run());
    }
    int ord = 0;
    for (const v1::Provision& article : ArticlesWithWids(parsed)) {
      const std::string& wid = article.wid();
      ASSIGN_OR_RETURN(Statement ins, db_->Prepare(
          "INSERT INTO provisions (statute_id, version_id, ord, eid, wid, article) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
      ins.Bind(1, statute_id).Bind(2, version.version_id()).Bind(3, ord++)
          .Bind(4, article.eid()).Bind(5, wid).BindBlob(6, article.SerializeAsString());
      RETURN_IF_ERROR(ins.Run());
      if (file_index()) {
        RETURN_IF_ERROR(IndexArticle(*db_, statute_id, version.version_id(), article));
      }
    }
    if (!uri_.empty()) {
      // Delivered at commit: every replica reloads its catalogue.
      RETURN_IF_ERROR(static_cast<pg::Database&>(*db_).Notify(kStatutesChannel, statute_id));
    }
    RETURN_IF_ERROR(tx.Commit());
    result.created = true;
    return result;
  }

  // Whether `parsed` holds every article of the stored excerpt, each with
  // the same label and text (a completed excerpt, not an amendment).
  absl::StatusOr<bool> Completes(const std::string& statute_id, const std::string& version_id,
                                 const ParsedStatuteVersion& parsed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::flat_hash_map<std::string, const v1::Provision*> incoming;
    for (const auto& a : parsed.articles) incoming[a.eid()] = &a;
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT article FROM provisions WHERE statute_id = ?1 AND version_id = ?2"));
    q.Bind(1, statute_id).Bind(2, version_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return true;
      v1::Provision old;
      if (!old.ParseFromString(std::string(q.ColumnBlob(0)))) return false;
      auto it = incoming.find(old.eid());
      if (it == incoming.end() || it->second->text() != old.text() ||
          it->second->label() != old.label()) {
        return false;
      }
    }
  }

  // Whether `parsed` holds exactly the stored articles, with the same labels
  // and texts.
  absl::StatusOr<bool> SameText(const std::string& statute_id, const std::string& version_id,
                                const ParsedStatuteVersion& parsed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare(
        "SELECT count(*) FROM provisions WHERE statute_id = ?1 AND version_id = ?2"));
    q.Bind(1, statute_id).Bind(2, version_id);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row || q.ColumnInt64(0) != static_cast<int64_t>(parsed.articles.size())) return false;
    return Completes(statute_id, version_id, parsed);
  }

  absl::Status DropVersion(const std::string& statute_id, const std::string& version_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<const char*> tables = {"provisions", "statute_versions"};
    if (file_index()) tables.insert(tables.begin(), "provision_fts");
    for (const char* table : tables) {
      const std::string sql =
          absl::StrCat("DELETE FROM ", table, " WHERE statute_id = ?1 AND version_id = ?2");
      ASSIGN_OR_RETURN(Statement del, db_->Prepare(sql));
      del.Bind(1, statute_id).Bind(2, version_id);
      RETURN_IF_ERROR(del.Run());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Hit>> Search(absl::string_view query,
                                          const std::vector<std::string>& versions, int offset,
                                          int limit) override {
    if (file_index()) {
      absl::MutexLock lock(&mu_);
      return SearchIndex(*db_, query, versions, offset, limit);
    }
    absl::MutexLock lock(&index_mu_);
    if (memory_index_ == nullptr) return std::vector<Hit>();  // nothing loaded yet
    return SearchIndex(*memory_index_, query, versions, offset, limit);
  }

  absl::StatusOr<std::unique_ptr<Watch>> WatchImports(std::function<void()> on_import) override {
    if (uri_.empty()) return std::unique_ptr<Watch>();  // one process writes the file
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Listener> listener,
                     pg::Listener::Start(uri_, kStatutesChannel, std::move(on_import)));
    return std::unique_ptr<Watch>(new ListenerWatch(std::move(listener)));
  }

  // Fills the full-text index from stored provisions if it is empty (a
  // database made before the index existed).
  absl::Status RebuildIndexIfEmpty() {
    if (!file_index()) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT count(*) FROM provision_fts"));
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (row && q.ColumnInt64(0) > 0) return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(WriteTransaction tx, WriteTransaction::Begin(*db_));
    std::vector<std::tuple<std::string, std::string, v1::Provision>> rows;
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT statute_id, version_id, article FROM provisions"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        v1::Provision article;
        if (!article.ParseFromString(std::string(q.ColumnBlob(2)))) {
          return absl::DataLossError("unreadable provision row");
        }
        rows.emplace_back(q.ColumnText(0), q.ColumnText(1), std::move(article));
      }
    }
    for (const auto& [statute, version, article] : rows) {
      RETURN_IF_ERROR(IndexArticle(*db_, statute, version, article));
    }
    return tx.Commit();
  }

  absl::StatusOr<std::vector<StoredStatute>> LoadAll() override {
    ASSIGN_OR_RETURN(std::vector<StoredStatute> all, ReadAll());
    if (!file_index()) {
      // Built beside the one in use, which keeps answering meanwhile.
      ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> fresh, BuildMemoryIndex(all));
      absl::MutexLock lock(&index_mu_);
      memory_index_ = std::move(fresh);
    }
    return all;
  }

 private:
  bool file_index() const { return uri_.empty(); }

  absl::StatusOr<std::vector<StoredStatute>> ReadAll() {
    absl::MutexLock lock(&mu_);
    // The three reads see one snapshot: an import committed between them
    // (another replica's, another process's) would otherwise give versions
    // whose statute was not read.
    RETURN_IF_ERROR(db_->Exec(file_index() ? "BEGIN"
                                           : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    struct EndRead {
      Database* db;
      ~EndRead() { (void)db->Exec("ROLLBACK"); }
    } end_read{db_.get()};
    const auto unmatched = [] {
      return absl::DataLossError("a statute version or article without its statute");
    };
    std::vector<StoredStatute> out;
    absl::flat_hash_map<std::string, size_t> index;
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT statute_id, title, short_title, aliases, issuing_body, kind FROM statutes "
          "ORDER BY statute_id"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        StoredStatute s;
        s.statute.set_name(absl::StrCat("statutes/", q.ColumnText(0)));
        s.statute.set_title(q.ColumnText(1));
        s.statute.set_short_title(q.ColumnText(2));
        for (absl::string_view a : absl::StrSplit(q.ColumnBlob(3), '\n', absl::SkipEmpty())) {
          s.statute.add_aliases(std::string(a));
        }
        s.statute.set_issuing_body(q.ColumnText(4));
        const int64_t kind = q.ColumnInt64(5);
        if (v1::Statute::Kind_IsValid(static_cast<int>(kind))) {
          s.statute.set_kind(static_cast<v1::Statute::Kind>(kind));
        }
        index[q.ColumnText(0)] = out.size();
        out.push_back(std::move(s));
      }
    }
    absl::flat_hash_map<std::pair<std::string, std::string>, size_t> version_index;
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT statute_id, version_id, version FROM statute_versions "
          "ORDER BY statute_id, version_id"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        auto statute = index.find(q.ColumnText(0));
        if (statute == index.end()) return unmatched();
        StoredStatute& s = out[statute->second];
        StoredStatute::Version v;
        if (!v.version.ParseFromString(std::string(q.ColumnBlob(2)))) {
          return absl::DataLossError("unreadable statute version row");
        }
        version_index[{q.ColumnText(0), q.ColumnText(1)}] = s.versions.size();
        s.versions.push_back(std::move(v));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement q, db_->Prepare(
          "SELECT statute_id, version_id, article FROM provisions "
          "ORDER BY statute_id, version_id, ord"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        auto statute = index.find(q.ColumnText(0));
        auto version = version_index.find({q.ColumnText(0), q.ColumnText(1)});
        if (statute == index.end() || version == version_index.end()) return unmatched();
        auto& v = out[statute->second].versions[version->second];
        v1::Provision article;
        if (!article.ParseFromString(std::string(q.ColumnBlob(2)))) {
          return absl::DataLossError("unreadable provision row");
        }
        v.articles.push_back(std::move(article));
      }
    }
    return out;
  }

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
  const std::string uri_;
  absl::Mutex index_mu_;
  std::unique_ptr<sqlite::Database> memory_index_ ABSL_GUARDED_BY(index_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<StatuteStore>> OpenStatuteStore(const std::string& db) {
  ASSIGN_OR_RETURN(std::unique_ptr<Database> opened, OpenGuidanceDatabase(db));
  auto store = std::make_unique<SqlStatuteStore>(std::move(opened), pg::IsUri(db) ? db : "");
  RETURN_IF_ERROR(store->RebuildIndexIfEmpty());
  return std::unique_ptr<StatuteStore>(std::move(store));
}

}  // namespace counsel::guidance
