#include "common/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace counsel {
namespace {

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/counsel-keyfile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& bytes, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << bytes;
    chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(KeyFileTest, LoadsPrivateFileOfEnoughBytes) {
  auto key = LoadKeyFile(Write("ok.key", std::string(32, 'x'), 0600));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
}

TEST_F(KeyFileTest, RefusesMissingShortAndWorldReadableFiles) {
  auto missing = LoadKeyFile(dir_ + "/none.key");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("does not exist"), absl::string_view::npos);

  auto shorter = LoadKeyFile(Write("short.key", std::string(31, 's'), 0600));
  EXPECT_EQ(shorter.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(shorter.status().message().find("31 bytes"), absl::string_view::npos);
  EXPECT_EQ(shorter.status().message().find("sssss"), absl::string_view::npos)
      << "the message must not echo key material";

  auto open = LoadKeyFile(Write("open.key", std::string(32, 'w'), 0644));
  EXPECT_EQ(open.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(open.status().message().find("chmod 600"), absl::string_view::npos);
}

TEST_F(KeyFileTest, CreateMakesPrivateRandomFileOnce) {
  const std::string path = dir_ + "/new.key";
  ASSERT_TRUE(CreateKeyFile(path).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto a = LoadKeyFile(path);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(CreateKeyFile(path).code(), absl::StatusCode::kFailedPrecondition);
  const std::string other = dir_ + "/other.key";
  ASSERT_TRUE(CreateKeyFile(other).ok());
  EXPECT_NE(*a, *LoadKeyFile(other));
}

}  // namespace
}  // namespace counsel
