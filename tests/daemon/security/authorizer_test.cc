#include "daemon/security/authorizer.h"

#include <gtest/gtest.h>

#include "adapters/api/voip_error.h"
#include "daemon/security/scopes.h"
#include "daemon/security/token_hash.h"
#include "tests/daemon/security/test_tokens.h"

namespace voipd {
namespace {

TEST(AuthorizerTest, WithoutTokensEveryoneIsAnonymousAdmin) {
  Authorizer auth;
  EXPECT_FALSE(auth.enabled());
  absl::StatusOr<Principal> p = auth.Authorize(std::nullopt, "StartCall");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "anonymous");
  EXPECT_TRUE(HasScope(p->scopes, kScopeCallsWrite));
}

TEST(AuthorizerTest, MissingMalformedAndWrongTokensAreUnauthenticated) {
  Authorizer auth({TestToken("crm", "s3cret-token", kScopeCallsRead)});
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Authorize(std::nullopt, "ListCalls").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Authorize("s3cret-token", "ListCalls").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Authorize("Basic s3cret-token", "ListCalls").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Authorize("Bearer wrong", "ListCalls").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Authorize("Bearer ", "ListCalls").status()));
  absl::Status wrong = auth.Authorize("Bearer s3cret-tokeN", "ListCalls").status();
  EXPECT_TRUE(absl::IsUnauthenticated(wrong));
  EXPECT_TRUE(GetVoipError(wrong).has_value());
}

TEST(AuthorizerTest, ScopesGateMethods) {
  Authorizer auth({TestToken("reader", "r", kScopeCallsRead),
                   TestToken("writer", "w", kScopeCallsWrite),
                   TestToken("root", "a", kScopeAdmin)});
  EXPECT_TRUE(auth.Authorize("Bearer r", "ListCalls").ok());
  EXPECT_TRUE(auth.Authorize("bearer r", "WatchCall").ok());  // scheme is case-insensitive
  absl::Status denied = auth.Authorize("Bearer r", "StartCall").status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_EQ(GetVoipError(denied)->details().at("required_scope"), "calls:write");
  EXPECT_TRUE(auth.Authorize("Bearer w", "StartCall").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(auth.Authorize("Bearer w", "GetCallStatus").status()));
  EXPECT_TRUE(auth.Authorize("Bearer a", "StartCall").ok());
  EXPECT_TRUE(auth.Authorize("Bearer a", "SubscribeCallEvents").ok());
  // A method the table does not know is admin-only.
  EXPECT_TRUE(absl::IsPermissionDenied(auth.Authorize("Bearer w", "Reboot").status()));
  EXPECT_TRUE(auth.Authorize("Bearer a", "Reboot").ok());
}

TEST(AuthorizerTest, PrincipalCarriesNameAndLabelsButNoSecret) {
  Authorizer auth({TestToken("acme", "acme-token", kScopeCallsRead, {{"tenant", "acme"}})});
  absl::StatusOr<Principal> p = auth.Authorize("Bearer acme-token", "ListCalls");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "acme");
  EXPECT_EQ(p->labels.at("tenant"), "acme");
}

TEST(AuthorizerTest, SetTokensReplacesTheTable) {
  Authorizer auth({TestToken("old", "old", kScopeAdmin)});
  auth.SetTokens({TestToken("new", "new", kScopeAdmin)});
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Authorize("Bearer old", "ListCalls").status()));
  EXPECT_TRUE(auth.Authorize("Bearer new", "ListCalls").ok());
}

TEST(TokenHashTest, Sha256MatchesKnownVector) {
  // sha256("abc")
  EXPECT_EQ(DecodeSha256Hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            Sha256("abc"));
  EXPECT_FALSE(DecodeSha256Hex("abc").has_value());
  EXPECT_FALSE(DecodeSha256Hex(std::string(64, 'g')).has_value());
  EXPECT_TRUE(ConstantTimeEquals("same", "same"));
  EXPECT_FALSE(ConstantTimeEquals("same", "sane"));
  EXPECT_FALSE(ConstantTimeEquals("same", "same!"));
}

}  // namespace
}  // namespace voipd
