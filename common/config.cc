#include "common/config.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"

ABSL_FLAG(std::string, log_level, "info", "Lowest log level written: debug, info, warning, error");

namespace counsel {

std::string EnvVarForFlag(absl::string_view flag_name) {
  return absl::StrCat("COUNSEL_", absl::AsciiStrToUpper(flag_name));
}

std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  // Abseil's lock-order cycle detection takes a global lock on every Mutex
  // acquisition (a few percent of the gateway's CPU under load). The unit
  // tests keep it on; the programs do not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Environment values go first so that the same flag on the command line,
  // parsed later, overrides them.
  std::vector<std::string> env_args;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (const char* value = std::getenv(EnvVarForFlag(name).c_str())) {
      env_args.push_back(absl::StrCat("--", name, "=", value));
    }
  }
  std::vector<char*> args;
  args.push_back(argv[0]);
  for (auto& a : env_args) args.push_back(a.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size() - 1), args.data());
  log::Level level;
  if (log::ParseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    log::SetMinLevel(level);
  }
  std::vector<std::string> out;
  for (size_t i = 1; i < positional.size(); ++i) out.emplace_back(positional[i]);
  return out;
}

}  // namespace counsel
