#include "daemon/security/stream_grant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/api/voip_error.h"
#include "daemon/security/scopes.h"
#include "daemon/security/token_hash.h"
#include "tests/daemon/security/test_tokens.h"

namespace voipd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A stream opened by `secret` on `method`, as the service opens one.
StreamGrant Open(const Authorizer& auth, const std::string& secret,
                 const std::string& method = "SubscribeCallEvents") {
  const std::string header = "Bearer " + secret;
  absl::StatusOr<Principal> principal = auth.Authorize(header, method);
  EXPECT_TRUE(principal.ok()) << principal.status();
  return StreamGrant(&auth, Authorizer::DigestOf(header), *principal, method);
}

TEST(StreamGrantTest, HoldsWhileTheTokenKeepsItsRights) {
  Authorizer auth(
      {TestToken("crm", "crm-secret", kScopeCallsRead), TestToken("ops", "o", kScopeAdmin)});
  StreamGrant grant = Open(auth, "crm-secret");
  EXPECT_TRUE(grant.Check().ok());
  // A reload with the same entry, other tokens changed around it, or the
  // entry renamed: nothing the stream shows changes.
  auth.SetTokens({TestToken("crm", "crm-secret", kScopeCallsRead)});
  EXPECT_TRUE(grant.Check().ok());
  auth.SetTokens({TestToken("crm-v2", "crm-secret", kScopeCallsRead | kScopeCallsWrite),
                  TestToken("new", "n", kScopeAdmin)});
  EXPECT_TRUE(grant.Check().ok());
}

TEST(StreamGrantTest, ARevokedTokenEndsTheStreamForGood) {
  Authorizer auth({TestToken("crm", "crm-secret", kScopeCallsRead)});
  StreamGrant grant = Open(auth, "crm-secret");
  auth.SetTokens({TestToken("ops", "o", kScopeAdmin)});
  absl::Status revoked = grant.Check();
  EXPECT_TRUE(absl::IsUnauthenticated(revoked)) << revoked;
  EXPECT_EQ(GetErrorCode(revoked), voip::v1::AUTHENTICATION_FAILED);
  EXPECT_THAT(revoked.message(), AllOf(HasSubstr("reloaded"), HasSubstr("'crm'"),
                                       Not(HasSubstr("crm-secret"))));
  // Putting the token back does not revive a stream that was told it ended.
  auth.SetTokens({TestToken("crm", "crm-secret", kScopeCallsRead)});
  EXPECT_TRUE(absl::IsUnauthenticated(grant.Check()));
}

TEST(StreamGrantTest, AReloadBetweenTheRpcsAuthorizationAndTheStreamIsSeen) {
  Authorizer auth({TestToken("crm", "crm-secret", kScopeCallsRead)});
  const std::string header = "Bearer crm-secret";
  absl::StatusOr<Principal> principal = auth.Authorize(header, "SubscribeCallEvents");
  ASSERT_TRUE(principal.ok());
  auth.SetTokens({});  // the reload lands before the stream's grant exists...
  auth.SetTokens({TestToken("ops", "o", kScopeAdmin)});
  StreamGrant grant(&auth, Authorizer::DigestOf(header), *principal, "SubscribeCallEvents");
  // ...so its first check, before anything is written, is against the new table.
  EXPECT_TRUE(absl::IsUnauthenticated(grant.Check()));
}

TEST(StreamGrantTest, ARotatedSecretEndsStreamsOfTheOldOne) {
  Authorizer auth({TestToken("crm", "old-secret", kScopeCallsRead)});
  StreamGrant grant = Open(auth, "old-secret");
  auth.SetTokens({TestToken("crm", "new-secret", kScopeCallsRead)});
  EXPECT_TRUE(absl::IsUnauthenticated(grant.Check()));
}

TEST(StreamGrantTest, ALostScopeIsPermissionDenied) {
  Authorizer auth({TestToken("crm", "crm-secret", kScopeCallsRead | kScopeCallsWrite)});
  StreamGrant grant = Open(auth, "crm-secret", "WatchCall");
  auth.SetTokens({TestToken("crm", "crm-secret", kScopeCallsWrite)});
  absl::Status denied = grant.Check();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_EQ(GetVoipError(denied)->details().at("required_scope"), "calls:read");
  EXPECT_THAT(denied.message(), AllOf(HasSubstr("reloaded"), HasSubstr("WatchCall")));
}

TEST(StreamGrantTest, NewTenantLabelsAskTheClientToOpenTheStreamAgain) {
  Authorizer auth({TestToken("acme", "acme-secret", kScopeCallsRead, {{"tenant", "acme"}})});
  StreamGrant grant = Open(auth, "acme-secret");
  auth.SetTokens({TestToken("acme", "acme-secret", kScopeCallsRead, {{"tenant", "acme-eu"}})});
  absl::Status changed = grant.Check();
  EXPECT_TRUE(absl::IsUnavailable(changed)) << changed;
  EXPECT_THAT(changed.message(), HasSubstr("open the stream again"));
}

TEST(StreamGrantTest, AnAnonymousStreamEndsWhenTokensBecomeRequired) {
  Authorizer auth;  // no tokens: everyone is anonymous admin
  absl::StatusOr<Principal> anonymous = auth.Authorize(std::nullopt, "SubscribeCallEvents");
  ASSERT_TRUE(anonymous.ok());
  StreamGrant grant(&auth, Authorizer::DigestOf(std::nullopt), *anonymous, "SubscribeCallEvents");
  auth.SetTokens({});  // still none
  EXPECT_TRUE(grant.Check().ok());
  auth.SetTokens({TestToken("ops", "o", kScopeAdmin)});
  absl::Status required = grant.Check();
  EXPECT_TRUE(absl::IsUnauthenticated(required)) << required;
  EXPECT_THAT(required.message(), HasSubstr("a token is now required"));
}

TEST(StreamGrantTest, AStreamThatPresentedATokenBeforeAuthWasOnKeepsItIfItIsValid) {
  // With no tokens configured the header is ignored, but a stream that sent
  // one that the reload then accepts (without tenant labels) goes on.
  Authorizer auth;
  const std::string header = "Bearer ops-secret";
  absl::StatusOr<Principal> anonymous = auth.Authorize(header, "SubscribeCallEvents");
  ASSERT_TRUE(anonymous.ok());
  StreamGrant grant(&auth, Authorizer::DigestOf(header), *anonymous, "SubscribeCallEvents");
  auth.SetTokens({TestToken("ops", "ops-secret", kScopeAdmin)});
  EXPECT_TRUE(grant.Check().ok());
}

TEST(AuthorizerDigestTest, DigestOfAcceptsWhatAuthorizeAccepts) {
  EXPECT_EQ(Authorizer::DigestOf("Bearer abc"), Sha256("abc"));
  EXPECT_EQ(Authorizer::DigestOf("  bearer   abc "), Sha256("abc"));
  EXPECT_FALSE(Authorizer::DigestOf(std::nullopt).has_value());
  EXPECT_FALSE(Authorizer::DigestOf("Basic abc").has_value());
  EXPECT_FALSE(Authorizer::DigestOf("Bearer ").has_value());
  EXPECT_FALSE(Authorizer::DigestOf("Bearer " + std::string(5000, 'x')).has_value());
}

TEST(AuthorizerDigestTest, ReauthenticateFindsTheTokenByDigestOrSaysWhoIsNoLongerAccepted) {
  Authorizer auth({TestToken("reader", "r", kScopeCallsRead)});
  absl::StatusOr<Principal> p = auth.Reauthenticate(Sha256("r"), "reader");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "reader");
  absl::Status gone = auth.Reauthenticate(Sha256("x"), "old-name").status();
  EXPECT_TRUE(absl::IsUnauthenticated(gone));
  EXPECT_EQ(gone.message(), "tokens were reloaded: token 'old-name' is no longer accepted");
  absl::Status required = auth.Reauthenticate(std::nullopt, "anonymous").status();
  EXPECT_EQ(required.message(), "tokens were reloaded: a token is now required");
  EXPECT_TRUE(Authorizer::RequireScope(*p, "ListCalls").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(Authorizer::RequireScope(*p, "StartCall")));
}

TEST(AuthorizerDigestTest, EverySetTokensBumpsTheGeneration) {
  Authorizer auth;
  const uint64_t first = auth.generation();
  auth.SetTokens({});
  EXPECT_GT(auth.generation(), first);
}

}  // namespace
}  // namespace voipd
