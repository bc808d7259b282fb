#include "case-svc/store/erasure_ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/ids.h"

namespace counsel::cases {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

constexpr absl::string_view kHeader = "# counsel erasure ledger ";

bool ValidField(absl::string_view s) {
  return !s.empty() && s.size() <= 200 && s.find_first_of("\t\n\r") == absl::string_view::npos;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ErasureLedger>> ErasureLedger::Open(const std::string& path) {
  std::unique_ptr<ErasureLedger> ledger(new ErasureLedger(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return ledger;
    return Errno("cannot read the erasure ledger", path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  absl::string_view header = lines[0];
  if (!absl::ConsumePrefix(&header, kHeader) || !ValidField(header)) {
    return absl::DataLossError(absl::StrCat(path, " is not an erasure ledger"));
  }
  ledger->id_ = std::string(header);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], '\t');
    Entry e;
    const bool ok = f.size() == 3 && absl::SimpleAtoi(f[0], &e.time_micros) &&
                    ValidField(f[1]) && ValidField(f[2]);
    if (!ok) {
      // A torn last line is an append a crash interrupted; its erasure never
      // committed (the ledger is written first), so it is ignored.
      if (i + 1 == lines.size()) break;
      return absl::DataLossError(absl::StrCat("the erasure ledger ", path, " is damaged at line ",
                                              i + 1));
    }
    e.tenant = std::string(f[1]);
    e.key_ref = std::string(f[2]);
    ledger->entries_.push_back(std::move(e));
  }
  return ledger;
}

absl::StatusOr<std::unique_ptr<ErasureLedger>> ErasureLedger::Create(const std::string& path) {
  std::unique_ptr<ErasureLedger> ledger(new ErasureLedger(path));
  ledger->id_ = RandomId(16);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create the erasure ledger", path);
  const std::string line = absl::StrCat(kHeader, ledger->id_, "\n");
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Errno("cannot write the erasure ledger", path);
  // The new file's name must survive a power loss too.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return ledger;
}

absl::Status ErasureLedger::Record(absl::string_view tenant, absl::string_view key_ref,
                                   int64_t time_micros) {
  if (!ValidField(tenant) || !ValidField(key_ref)) {
    return absl::InvalidArgumentError("an erasure ledger field holds a tab or a line break");
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open the erasure ledger", path_);
  const std::string line = absl::StrCat(time_micros, "\t", tenant, "\t", key_ref, "\n");
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Errno("cannot write the erasure ledger", path_);
  entries_.push_back(Entry{time_micros, std::string(tenant), std::string(key_ref)});
  return absl::OkStatus();
}

}  // namespace counsel::cases
