#include "guidance-svc/content_paths.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace counsel::guidance {

absl::StatusOr<std::vector<std::string>> ExpandContentPaths(
    const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(p, ec)) {
        const auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".md" || ext == ".json") &&
            entry.path().filename() != "README.md") {
          found.push_back(entry.path().string());
        }
      }
      // Statutes (.md) before advice (.json), whose citations they resolve;
      // within each, by name, so older versions load first.
      std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
        const bool ja = absl::EndsWith(a, ".json"), jb = absl::EndsWith(b, ".json");
        return ja != jb ? jb : a < b;
      });
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      return absl::NotFoundError(absl::StrCat(p, ": no such file or folder"));
    }
  }
  return files;
}

}  // namespace counsel::guidance
