#include "daemon/security/listener_policy.h"

#include <gtest/gtest.h>

#include "daemon/security/tenant_scope.h"

namespace voipd {
namespace {

TEST(ListenerPolicyTest, PublicListenerNeedsAuthOrExplicitOptOut) {
  SecuritySettings open;
  absl::Status refused = CheckListenerExposure({"127.0.0.1:1", "0.0.0.0:50051"}, open, "listen");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("listen[1]"), absl::string_view::npos) << refused;
  EXPECT_NE(refused.message().find("toll fraud"), absl::string_view::npos) << refused;
  EXPECT_TRUE(CheckListenerExposure({"127.0.0.1:1", "unix:/x"}, open, "listen").ok());

  SecuritySettings insecure;
  insecure.allow_insecure = true;
  EXPECT_TRUE(CheckListenerExposure({"0.0.0.0:50051"}, insecure, "listen").ok());

  SecuritySettings tokens;
  tokens.tokens.push_back(TokenSpec{});
  EXPECT_TRUE(CheckListenerExposure({"0.0.0.0:50051"}, tokens, "listen").ok());

  SecuritySettings mtls;
  mtls.tls.cert_file = "c";
  mtls.tls.client_ca_file = "ca";
  EXPECT_TRUE(CheckListenerExposure({"0.0.0.0:50051"}, mtls, "listen").ok());

  SecuritySettings tls_only;  // a server certificate alone proves nothing about the client
  tls_only.tls.cert_file = "c";
  EXPECT_FALSE(CheckListenerExposure({"0.0.0.0:50051"}, tls_only, "listen").ok());
}

TEST(TenantScopeTest, RestrictedPrincipalSeesOnlyItsLabels) {
  Principal acme{"acme", 0, {{"tenant", "acme"}}};
  google::protobuf::Map<std::string, std::string> labels;
  EXPECT_FALSE(CanSee(acme, labels));
  labels["tenant"] = "globex";
  EXPECT_FALSE(CanSee(acme, labels));
  ForceLabels(acme, &labels);  // a client cannot pick another tenant
  EXPECT_EQ(labels["tenant"], "acme");
  EXPECT_TRUE(CanSee(acme, labels));
  EXPECT_TRUE(CanSee(Principal{"admin", 0, {}}, labels));
}

}  // namespace
}  // namespace voipd
