#include "daemon/security/security_config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "daemon/config/config_loader.h"
#include "daemon/security/scopes.h"
#include "daemon/security/token_hash.h"

namespace voipd {
namespace {

// sha256("s3cret")
constexpr char kHash[] = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0";

std::string Config(const std::string& extra, const std::string& listen = "127.0.0.1:0") {
  return "listen: [\"" + listen + "\"]\nsystems: { sandbox: { type: sandbox } }\n" + extra;
}

TEST(SecurityConfigTest, DefaultsNeedNoAuthOnLoopback) {
  absl::StatusOr<DaemonSettings> s = LoadConfigText(Config(""), "t.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->security.tokens.empty());
  EXPECT_FALSE(s->security.tls.enabled());
  EXPECT_EQ(s->security.max_request_bytes, 64u * 1024);
}

TEST(SecurityConfigTest, RefusesAnUnauthenticatedPublicListener) {
  absl::StatusOr<DaemonSettings> s = LoadConfigText(Config("", "0.0.0.0:50051"), "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("allow_insecure"), absl::string_view::npos) << s.status();
  EXPECT_TRUE(LoadConfigText(Config("allow_insecure: true\n", "0.0.0.0:50051"), "t.yaml").ok());
}

TEST(SecurityConfigTest, LoadsTokens) {
  absl::StatusOr<DaemonSettings> s = LoadConfigText(
      Config(std::string("auth:\n  tokens:\n    - name: crm\n      sha256: ") + kHash +
                 "\n      scopes: [calls:read, calls:write]\n      labels: { tenant: acme }\n"
                 "      start_calls_per_minute: 30\n      max_concurrent_calls: 5\n",
             "0.0.0.0:50051"),
      "t.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->security.tokens.size(), 1u);
  const TokenSpec& t = s->security.tokens[0];
  EXPECT_EQ(t.name, "crm");
  EXPECT_EQ(t.sha256, *DecodeSha256Hex(kHash));
  EXPECT_EQ(t.scopes, kScopeCallsRead | kScopeCallsWrite);
  EXPECT_EQ(t.labels.at("tenant"), "acme");
  EXPECT_EQ(t.start_calls_per_minute, 30u);
  EXPECT_EQ(t.max_concurrent_calls, 5u);
}

TEST(SecurityConfigTest, BadTokensNameTheFieldButNeverTheHash) {
  const std::string bad_hash = "abcdef";
  absl::StatusOr<DaemonSettings> s = LoadConfigText(
      Config("auth:\n  tokens:\n    - { name: crm, sha256: " + bad_hash + ", scopes: [admin] }\n"),
      "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("t.yaml:5: auth.tokens[0].sha256"), absl::string_view::npos)
      << s.status();
  EXPECT_EQ(s.status().message().find(bad_hash), absl::string_view::npos) << s.status();

  s = LoadConfigText(Config(std::string("auth:\n  tokens:\n    - { name: crm, sha256: ") + kHash +
                            ", scopes: [root] }\n"),
                     "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("auth.tokens[0].scopes[0]"), absl::string_view::npos);

  s = LoadConfigText(Config(std::string("auth:\n  tokens:\n    - { name: a, sha256: ") + kHash +
                            ", scopes: [admin] }\n    - { name: a, sha256: " + kHash +
                            ", scopes: [admin] }\n"),
                     "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("used twice"), absl::string_view::npos);
}

TEST(SecurityConfigTest, TokenFileResolvesAgainstCredentialsDirectory) {
  char dir_template[] = "/tmp/voipd-creds-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  {
    std::ofstream f(dir + "/tokens.yaml");
    f << "tokens:\n  - { name: ops, sha256: " << kHash << ", scopes: [admin] }\n";
  }
  setenv("CREDENTIALS_DIRECTORY", dir.c_str(), 1);
  absl::StatusOr<DaemonSettings> s =
      LoadConfigText(Config("auth: { token_file: tokens.yaml }\n"), "t.yaml");
  unsetenv("CREDENTIALS_DIRECTORY");
  std::remove((dir + "/tokens.yaml").c_str());
  rmdir(dir.c_str());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->security.tokens.size(), 1u);
  EXPECT_EQ(s->security.tokens[0].name, "ops");

  s = LoadConfigText(Config("auth: { token_file: /nonexistent/tokens.yaml }\n"), "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("auth.token_file"), absl::string_view::npos);
}

TEST(SecurityConfigTest, TlsAndUnixSocketSettingsAreValidated) {
  absl::StatusOr<DaemonSettings> s =
      LoadConfigText(Config("tls: { cert_file: /etc/hostname }\n"), "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("give both"), absl::string_view::npos);
  s = LoadConfigText(Config("tls: { cert_file: /nonexistent.pem, key_file: /nonexistent.key }\n"),
                     "t.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("tls.cert_file"), absl::string_view::npos);
  s = LoadConfigText(Config("unix_socket: { mode: \"0660\" }\n"), "t.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->security.unix_socket.mode, 0660);
  EXPECT_FALSE(LoadConfigText(Config("unix_socket: { mode: \"0999\" }\n"), "t.yaml").ok());
  EXPECT_FALSE(
      LoadConfigText(Config("unix_socket: { group: no-such-group-voipd }\n"), "t.yaml").ok());
  EXPECT_FALSE(LoadConfigText(Config("log_format: xml\n"), "t.yaml").ok());
}

}  // namespace
}  // namespace voipd
