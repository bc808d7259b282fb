#include "common/config.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, config_test_db, "default.db", "test flag");
ABSL_FLAG(int, config_test_port, 1, "test flag");

namespace counsel {
namespace {

TEST(ConfigTest, EnvironmentFillsFlagsAndCommandLineWins) {
  EXPECT_EQ(EnvVarForFlag("config_test_db"), "COUNSEL_CONFIG_TEST_DB");
  setenv("COUNSEL_CONFIG_TEST_DB", "from-env.db", 1);
  setenv("COUNSEL_CONFIG_TEST_PORT", "7", 1);
  char a0[] = "prog", a1[] = "import", a2[] = "--config_test_port=9", a3[] = "file.md";
  char* argv[] = {a0, a1, a2, a3};
  std::vector<std::string> positional = ParseFlags(4, argv, "usage");
  unsetenv("COUNSEL_CONFIG_TEST_DB");
  unsetenv("COUNSEL_CONFIG_TEST_PORT");
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_db), "from-env.db");
  EXPECT_EQ(absl::GetFlag(FLAGS_config_test_port), 9);
  EXPECT_EQ(positional, (std::vector<std::string>{"import", "file.md"}));
}

}  // namespace
}  // namespace counsel
