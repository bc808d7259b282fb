// Persistent storage of statute versions. Versions are immutable: loading
// the same content again changes nothing, and different content under an
// existing version id is refused.
#ifndef COUNSEL_GUIDANCE_STORE_STATUTE_STORE_H_
#define COUNSEL_GUIDANCE_STORE_STATUTE_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "counsel/guidance/v1/guidance.pb.h"
#include "guidance-svc/statute/statute_file.h"

namespace counsel::guidance {

// A statute with every stored version and its articles.
struct StoredStatute {
  v1::Statute statute;  // without versions
  struct Version {
    v1::StatuteVersion version;  // status left unset
    std::vector<v1::Provision> articles;
  };
  std::vector<Version> versions;  // by effective date
};

struct ImportResult {
  std::string statute;  // statutes/{id}
  std::string version_id;
  bool created = false;
  // An excerpt of the same version was replaced by this fuller text: every
  // article it held is here with the same label and text.
  bool completed_excerpt = false;
  // The same text was stored with another header (a corrected wId map or
  // date provenance): the record was replaced; the text is unchanged.
  bool relinked = false;
  int article_count = 0;
};

// Thread-safe implementations required.
class StatuteStore {
 public:
  virtual ~StatuteStore() = default;

  // Stores a parsed version in one transaction. Returns created=false when
  // the identical content is already stored; AlreadyExists when the version
  // id holds different content.
  virtual absl::StatusOr<ImportResult> ImportVersion(const ParsedStatuteVersion& parsed) = 0;

  // Full-text search (FTS5 trigram) over article text: matches of the
  // phrase `query` (3+ characters) in the given versions ("statute@version"
  // keys), best first, skipping `offset`, at most `limit`.
  struct Hit {
    std::string statute_id, version_id, eid, snippet;
    double score = 0;  // larger is better
  };
  virtual absl::StatusOr<std::vector<Hit>> Search(absl::string_view query,
                                                  const std::vector<std::string>& versions,
                                                  int offset, int limit) = 0;

  // Everything, for building the in-memory catalogue. Search answers from
  // what the last LoadAll read where the index is not kept in the database.
  virtual absl::StatusOr<std::vector<StoredStatute>> LoadAll() = 0;

  // Calls `on_import` whenever another process may have imported (and once
  // after a lost connection to the database comes back), until the Watch
  // is destroyed: where replicas share the database. Null where one
  // process owns it.
  class Watch {
   public:
    virtual ~Watch() = default;
  };
  virtual absl::StatusOr<std::unique_ptr<Watch>> WatchImports(std::function<void()> on_import) = 0;
};

// The statutes in the guidance database `db`: a SQLite file (created and
// migrated on open), or a postgresql:// URI (schema counsel_guidance) that
// every replica shares.
absl::StatusOr<std::unique_ptr<StatuteStore>> OpenStatuteStore(const std::string& db);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_STORE_STATUTE_STORE_H_
