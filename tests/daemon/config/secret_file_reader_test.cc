#include "daemon/config/secret_file_reader.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "adapters/api/voip_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using ::testing::HasSubstr;

class SecretFileReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    unsetenv("CREDENTIALS_DIRECTORY");
  }
  void TearDown() override {
    unsetenv("CREDENTIALS_DIRECTORY");
    std::filesystem::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::ofstream((dir_ / name).string(), std::ios::binary) << content;
    return (dir_ / name).string();
  }
  // Every failure is a CONFIGURATION_ERROR naming the path, never the content.
  std::string FailureMessage(const std::string& path) {
    absl::StatusOr<std::string> secret = reader_.ReadSecretFile(path);
    EXPECT_FALSE(secret.ok());
    if (secret.ok()) return "";
    EXPECT_EQ(GetErrorCode(secret.status()), voip::v1::CONFIGURATION_ERROR);
    EXPECT_THAT(secret.status().message(), HasSubstr(path));
    return std::string(secret.status().message());
  }

  std::filesystem::path dir_;
  SecretFileReader reader_;
};

TEST_F(SecretFileReaderTest, FinalNewlinesAreNotPartOfTheSecret) {
  EXPECT_EQ(*reader_.ReadSecretFile(Write("s", "s3cret\r\n\n")), "s3cret");
  EXPECT_EQ(*reader_.ReadSecretFile(Write("t", "with space \n")), "with space ");
}

TEST_F(SecretFileReaderTest, RelativeNamesAreSystemdCredentials) {
  Write("ami_secret", "from-credentials");
  setenv("CREDENTIALS_DIRECTORY", dir_.c_str(), 1);
  EXPECT_EQ(*reader_.ReadSecretFile("ami_secret"), "from-credentials");
}

TEST_F(SecretFileReaderTest, MissingFileSaysWhy) {
  EXPECT_THAT(FailureMessage((dir_ / "absent").string()), HasSubstr("No such file"));
}

TEST_F(SecretFileReaderTest, EmptyFileIsRefused) {
  EXPECT_THAT(FailureMessage(Write("empty", "\n")), HasSubstr("is empty"));
}

TEST_F(SecretFileReaderTest, DirectoryIsNamedAsOne) {
  std::filesystem::create_directories(dir_ / "creds");
  EXPECT_THAT(FailureMessage((dir_ / "creds").string()), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace voipd
