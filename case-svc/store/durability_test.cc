// What a synced commit protects, shown with a VFS shim in the spirit of
// LevelDB's fault_injection_test: the shim remembers, for every file, its
// content as of its last sync. A "power cut" keeps only those images. With
// synchronous=FULL every acknowledged (committed) write is in them and the
// database passes integrity_check; with NORMAL, WAL commits are not synced
// and acknowledged writes are lost, so the test can tell the two apart.
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "case-svc/store/writer.h"
#include "common/sqlite.h"
#include "gtest/gtest.h"

namespace counsel::cases {
namespace {

// Durable images of files by path, as of their last xSync.
absl::Mutex g_mu;
std::map<std::string, std::string>* g_synced = new std::map<std::string, std::string>();
sqlite3_vfs* g_real = nullptr;

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string path;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }

int ShimClose(sqlite3_file* f) {
  ShimFile* s = reinterpret_cast<ShimFile*>(f);
  const int rc = s->real->pMethods != nullptr ? s->real->pMethods->xClose(s->real) : SQLITE_OK;
  sqlite3_free(s->real);
  s->path.~basic_string();
  return rc;
}
int ShimRead(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return Real(f)->pMethods->xRead(Real(f), b, n, o);
}
int ShimWrite(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  return Real(f)->pMethods->xWrite(Real(f), b, n, o);
}
int ShimTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int ShimSync(sqlite3_file* f, int flags) {
  const int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (rc != SQLITE_OK) return rc;
  // Remember what this sync made durable: the whole file as it is now.
  sqlite3_int64 size = 0;
  Real(f)->pMethods->xFileSize(Real(f), &size);
  std::string image(static_cast<size_t>(size), '\0');
  if (size > 0) Real(f)->pMethods->xRead(Real(f), image.data(), static_cast<int>(size), 0);
  absl::MutexLock lock(&g_mu);
  (*g_synced)[reinterpret_cast<ShimFile*>(f)->path] = std::move(image);
  return SQLITE_OK;
}
int ShimFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int ShimLock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int ShimUnlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int ShimCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int ShimFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int ShimSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int ShimDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShimShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, p);
}
int ShimShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShimShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShimShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kShimMethods = {
    2, ShimClose, ShimRead, ShimWrite, ShimTruncate, ShimSync, ShimFileSize, ShimLock,
    ShimUnlock, ShimCheckReservedLock, ShimFileControl, ShimSectorSize, ShimDeviceCharacteristics,
    ShimShmMap, ShimShmLock, ShimShmBarrier, ShimShmUnmap, nullptr, nullptr};

int ShimOpen(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  ShimFile* s = reinterpret_cast<ShimFile*>(f);
  s->real = static_cast<sqlite3_file*>(sqlite3_malloc(g_real->szOsFile));
  std::memset(s->real, 0, static_cast<size_t>(g_real->szOsFile));
  new (&s->path) std::string(name != nullptr ? name : "");
  const int rc = g_real->xOpen(g_real, name, s->real, flags, out_flags);
  s->base.pMethods = rc == SQLITE_OK ? &kShimMethods : nullptr;
  if (rc != SQLITE_OK) {
    sqlite3_free(s->real);
    s->path.~basic_string();
  }
  return rc;
}
int ShimDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  {
    absl::MutexLock lock(&g_mu);
    g_synced->erase(name);  // a deleted file does not come back after the cut
  }
  return g_real->xDelete(g_real, name, sync_dir);
}
int ShimAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int ShimFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}

void RegisterShim() {
  static sqlite3_vfs* vfs = [] {
    sqlite::ConfigureProcess();  // before the VFS calls initialise SQLite
    g_real = sqlite3_vfs_find(nullptr);
    auto* v = new sqlite3_vfs(*g_real);
    v->iVersion = 1;
    v->szOsFile = sizeof(ShimFile);
    v->zName = "counsel-fault";
    v->pAppData = nullptr;
    v->xOpen = ShimOpen;
    v->xDelete = ShimDelete;
    v->xAccess = ShimAccess;
    v->xFullPathname = ShimFullPathname;
    sqlite3_vfs_register(v, 0);
    return v;
  }();
  (void)vfs;
}

// Writes acknowledged ids through the group-commit writer, cuts the power at
// a random point, and returns (acknowledged, found after the cut, integrity).
struct Outcome {
  std::set<int> acked;
  std::set<int> found;
  std::string integrity;
};

Outcome CutPower(const std::string& dir, const std::string& synchronous, int seed) {
  RegisterShim();
  {
    absl::MutexLock lock(&g_mu);
    g_synced->clear();
  }
  const std::string path = dir + "/d.db";
  sqlite::Options o;
  o.synchronous = synchronous;
  o.vfs = "counsel-fault";
  auto db = sqlite::Database::Open(path, o);
  EXPECT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE((*db)->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)").ok());
  // As the store does after its migrations: the schema reaches the main
  // file, synced, before the first acknowledged write.
  EXPECT_TRUE((*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  // Keep the WAL from being checkpointed (and synced) behind our back.
  EXPECT_TRUE((*db)->Exec("PRAGMA wal_autocheckpoint=0").ok());
  Outcome out;
  std::mt19937 rng(seed);
  const int cut = 20 + static_cast<int>(rng() % 60);
  {
    Writer writer(std::move(*db), 16);
    for (int i = 1; i <= cut; ++i) {
      const absl::Status s = writer.Run([i](sql::Database& d) {
        auto stmt = d.Prepare("INSERT INTO t (id, payload) VALUES (?1, ?2)");
        if (!stmt.ok()) return stmt.status();
        stmt->Bind(1, i).BindBlob(2, std::string(300, static_cast<char>('a' + i % 26)));
        return stmt->Run();
      });
      if (s.ok()) out.acked.insert(i);
    }
    // The power goes: what survives is the synced images, copied aside now,
    // before the writer closes (a clean close would checkpoint and sync).
    std::map<std::string, std::string> images;
    {
      absl::MutexLock lock(&g_mu);
      images = *g_synced;
    }
    std::filesystem::create_directories(dir + "/after");
    for (const auto& [file, image] : images) {
      const std::string name = std::filesystem::path(file).filename();
      std::ofstream(dir + "/after/" + name, std::ios::binary) << image;
    }
  }
  auto after = sqlite::Database::Open(dir + "/after/d.db", {});
  if (!after.ok()) {
    out.integrity = "cannot open";
    return out;
  }
  auto rows = (*after)->Prepare("SELECT id FROM t");
  if (rows.ok()) {
    while (*rows->Step()) out.found.insert(static_cast<int>(rows->ColumnInt64(0)));
  }
  auto ic = (*after)->Prepare("PRAGMA integrity_check");
  if (ic.ok() && *ic->Step()) out.integrity = ic->ColumnText(0);
  return out;
}

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-durability-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DurabilityTest, FullSyncLosesNoAcknowledgedWrite) {
  for (int seed = 1; seed <= 5; ++seed) {
    const std::string dir = dir_ + "/full" + std::to_string(seed);
    std::filesystem::create_directories(dir);
    const Outcome o = CutPower(dir, "FULL", seed);
    ASSERT_FALSE(o.acked.empty());
    EXPECT_EQ(o.found, o.acked) << "seed " << seed;
    EXPECT_EQ(o.integrity, "ok") << "seed " << seed;
  }
}

TEST_F(DurabilityTest, NormalSyncLosesAcknowledgedWrites) {
  // The same run with NORMAL: WAL commits are acknowledged before any sync.
  const Outcome o = CutPower(dir_, "NORMAL", 1);
  ASSERT_FALSE(o.acked.empty());
  EXPECT_LT(o.found.size(), o.acked.size())
      << "NORMAL should lose writes here; if not, this test cannot tell FULL from NORMAL";
}

}  // namespace
}  // namespace counsel::cases
