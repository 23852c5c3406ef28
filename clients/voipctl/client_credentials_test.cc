#include "clients/voipctl/client_credentials.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd::voipctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A file with `contents` in a fresh temp dir, removed with the test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char dir[] = "/tmp/voipctl-cred-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/file";
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

absl::StatusOr<ClientCredentials> WithToken(const std::string& contents) {
  TempFile file(contents);
  CredentialFiles files;
  files.token_file = file.path();
  return LoadCredentials(files);
}

TEST(LoadCredentialsTest, NothingGivenMeansPlaintextWithoutToken) {
  absl::StatusOr<ClientCredentials> c = LoadCredentials({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->token.empty());
  EXPECT_FALSE(c->tls);
}

TEST(LoadCredentialsTest, TheTokenIsTheFileTrimmed) {
  EXPECT_EQ(WithToken("vt_abc123\n")->token, "vt_abc123");  // echo TOKEN > file
  EXPECT_EQ(WithToken("  vt_abc123\r\n")->token, "vt_abc123");
}

TEST(LoadCredentialsTest, BadTokenFilesAreRefusedWithoutShowingTheirContents) {
  absl::Status empty = WithToken(" \n").status();
  EXPECT_TRUE(absl::IsInvalidArgument(empty));
  EXPECT_THAT(empty.message(), HasSubstr("is empty"));
  for (const std::string& contents : {std::string("secret-one\nsecret-two\n"),
                                      std::string("Bearer secret-one"),
                                      std::string("secret\x01one")}) {
    absl::Status two = WithToken(contents).status();
    EXPECT_TRUE(absl::IsInvalidArgument(two)) << contents;
    EXPECT_THAT(two.message(), AllOf(HasSubstr("--token-file"), HasSubstr("one token"),
                                     Not(HasSubstr("secret"))));
  }
  absl::Status big = WithToken(std::string(5000, 'x')).status();
  EXPECT_THAT(big.message(), HasSubstr("larger than 4096 bytes"));
  CredentialFiles missing;
  missing.token_file = "/nonexistent/voipd-token";
  absl::Status gone = LoadCredentials(missing).status();
  EXPECT_THAT(gone.message(),
              AllOf(HasSubstr("--token-file"), HasSubstr("/nonexistent/voipd-token"),
                    HasSubstr("No such file")));
}

TEST(LoadCredentialsTest, TlsFilesTurnTlsOnAndACertificateNeedsItsKey) {
  TempFile ca("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
  CredentialFiles files;
  files.tls_ca_file = ca.path();
  absl::StatusOr<ClientCredentials> c = LoadCredentials(files);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->tls);
  EXPECT_THAT(c->ca_pem, HasSubstr("CA"));

  CredentialFiles system_roots;
  system_roots.tls = true;
  EXPECT_TRUE(LoadCredentials(system_roots)->tls);

  CredentialFiles half;
  half.tls_cert_file = ca.path();
  absl::Status s = LoadCredentials(half).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("--tls-key-file"));
}

}  // namespace
}  // namespace voipd::voipctl
