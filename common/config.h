// Flags with environment fallback: every flag --foo_bar can also be given as
// COUNSEL_FOO_BAR. The command line wins over the environment.
//
//   int main(int argc, char** argv) {
//     std::vector<std::string> args = counsel::ParseFlags(argc, argv, kUsage);
//     ...
//   }
#ifndef COUNSEL_COMMON_CONFIG_H_
#define COUNSEL_COMMON_CONFIG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace counsel {

// Name of the environment variable for a flag: COUNSEL_ + upper-case name.
std::string EnvVarForFlag(absl::string_view flag_name);

// Parses flags from the environment, then the command line; applies the
// --log_level flag. Returns the positional arguments, without argv[0].
std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage);

}  // namespace counsel

#endif  // COUNSEL_COMMON_CONFIG_H_
