// The login actions, and MD5 through OpenSSL.
#include "adapters/asterisk_ami/ami_login.h"

#include "gtest/gtest.h"

namespace voipd::adapters::asterisk_ami {
namespace {

TEST(AmiLoginTest, Md5MatchesTheRfc1321Vectors) {
  EXPECT_EQ(*Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(*Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(AmiLoginTest, PlaintextLoginAsRecorded) {
  // As in transcript 01, plus the Events mask.
  auto login = LoginAction("voipd", "voipd-secret", "call", /*md5=*/false, "");
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(login->Serialize(),
            "Action: Login\r\nUsername: voipd\r\nSecret: voipd-secret\r\nEvents: call\r\n\r\n");
}

TEST(AmiLoginTest, Md5LoginSendsTheKeyNotTheSecret) {
  auto login = LoginAction("voipd", "voipd-secret", "", /*md5=*/true, "840415273");
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(login->Get("AuthType"), "MD5");
  EXPECT_EQ(login->Get("Key"), *Md5Hex("840415273voipd-secret"));
  EXPECT_FALSE(login->Has("Secret"));
  EXPECT_FALSE(login->Has("Events"));
  EXPECT_FALSE(LoginAction("voipd", "s", "", true, "").ok()) << "no challenge";
  EXPECT_EQ(ChallengeAction().Serialize(), "Action: Challenge\r\nAuthType: MD5\r\n\r\n");
}

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
