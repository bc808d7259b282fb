// The content files an import reads, in the order it must read them.
#ifndef COUNSEL_GUIDANCE_CONTENT_PATHS_H_
#define COUNSEL_GUIDANCE_CONTENT_PATHS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace counsel::guidance {

// Files as named, with folders expanded to their statute (*.md, README.md
// excepted) and advice (*.json) files: statutes first, whose provisions the
// advice cites, each kind by name so that older versions load first.
// NOT_FOUND for a path that is neither a file nor a folder.
absl::StatusOr<std::vector<std::string>> ExpandContentPaths(const std::vector<std::string>& paths);

}  // namespace counsel::guidance

#endif  // COUNSEL_GUIDANCE_CONTENT_PATHS_H_
