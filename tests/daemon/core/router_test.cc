#include "daemon/core/router.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/api/voip_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using ::testing::HasSubstr;

// The router's own view of the configured systems: name -> healthy.
class FakeDirectory final : public SystemDirectory {
 public:
  FakeDirectory& Add(const std::string& name, bool healthy = true) {
    systems_[name] = healthy;
    return *this;
  }
  bool IsConfigured(const std::string& name) const override { return systems_.count(name) != 0; }
  bool IsHealthy(const std::string& name) const override {
    auto it = systems_.find(name);
    return it != systems_.end() && it->second;
  }

 private:
  std::map<std::string, bool> systems_;
};

NormalizedTarget E164(const std::string& number, const std::string& region) {
  return NormalizedTarget{adapters::TargetKind::kE164, number, region};
}
const NormalizedTarget kUsNumber = E164("+12015550100", "US");
const NormalizedTarget kGbNumber = E164("+442079460958", "GB");

voip::v1::StartCallRequest Request() {
  voip::v1::StartCallRequest request;
  request.mutable_to()->set_number("+1 201-555-0100");
  return request;
}

// The usual deployment: three systems, all healthy.
FakeDirectory ThreeSystems() {
  FakeDirectory dir;
  dir.Add("sandbox").Add("sip").Add("twilio");
  return dir;
}

void ExpectVoipError(const absl::Status& status, voip::v1::ErrorCode code,
                     absl::StatusCode canonical, const std::string& field) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), canonical) << status;
  std::optional<voip::v1::VoipError> error = GetVoipError(status);
  ASSERT_TRUE(error.has_value()) << "no VoipError payload on " << status;
  EXPECT_EQ(error->error_code(), code) << error->ShortDebugString();
  EXPECT_EQ(error->field(), field) << error->ShortDebugString();
}

// 1. can_dial_via_system

TEST(RouterTest, CanDialViaSystemFalseIsRejectedBeforeAnythingElse) {
  // Even an explicit preferred_system must not override the contact's
  // "never through VoIP" flag; clients fall back to a tel: link.
  Router router({{"+1", "", "sip"}}, "sandbox");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_can_dial_via_system(false);
  request.set_preferred_system("twilio");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ExpectVoipError(decision.status(), voip::v1::DIAL_VIA_SYSTEM_DISABLED,
                  absl::StatusCode::kFailedPrecondition,
                  "to.voip_integration_details.can_dial_via_system");
  EXPECT_THAT(decision.status().message(),
              HasSubstr("to.voip_integration_details.can_dial_via_system"));
}

TEST(RouterTest, UnsetCanDialViaSystemMeansAllowed) {
  Router router({}, "sandbox");
  auto request = Request();
  ASSERT_FALSE(request.to().voip_integration_details().has_can_dial_via_system());
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sandbox");
}

TEST(RouterTest, CanDialViaSystemTrueIsAllowed) {
  Router router({}, "sandbox");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_can_dial_via_system(true);
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sandbox");
}

// 2. preferred_system

TEST(RouterTest, PreferredSystemWinsOverEverythingElse) {
  Router router({{"+1", "", "sip"}}, "sandbox");
  auto request = Request();
  request.set_preferred_system("twilio");
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("sip");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "twilio");
  EXPECT_EQ(decision->reason, "preferred_system");
}

TEST(RouterTest, PreferredSystemIsChosenEvenIfUnhealthy) {
  // An explicit choice is honoured: the caller asked for that system and
  // gets its real error rather than a silent reroute.
  FakeDirectory dir;
  dir.Add("sandbox").Add("sip", /*healthy=*/false);
  Router router({}, "sandbox");
  auto request = Request();
  request.set_preferred_system("sip");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, dir);
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sip");
}

TEST(RouterTest, UnknownPreferredSystemIsNotFoundNamingIt) {
  Router router({}, "sandbox");
  auto request = Request();
  request.set_preferred_system("asterisk");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ExpectVoipError(decision.status(), voip::v1::UNKNOWN_SYSTEM, absl::StatusCode::kNotFound,
                  "preferred_system");
  EXPECT_THAT(decision.status().message(), HasSubstr("'asterisk'"));
  // Must not silently fall back to the default system.
  EXPECT_THAT(std::string(decision.status().message()), ::testing::StartsWith("preferred_system"));
}

// 3. to.voip_integration_details.system_name

TEST(RouterTest, ContactSystemIsChosenWhenConfiguredAndHealthy) {
  Router router({{"+1", "", "sip"}}, "sandbox");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("twilio");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "twilio");
  EXPECT_EQ(decision->reason, "to.voip_integration_details.system_name");
}

TEST(RouterTest, UnhealthyContactSystemFallsThroughToRoutes) {
  FakeDirectory dir;
  dir.Add("sandbox").Add("sip").Add("twilio", /*healthy=*/false);
  Router router({{"+1", "", "sip"}}, "sandbox");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("twilio");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, dir);
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sip");
}

TEST(RouterTest, UnconfiguredContactSystemFallsThroughToDefault) {
  // Contacts may name a system this daemon does not run; that is a hint,
  // not an error.
  Router router({}, "sandbox");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("elsewhere");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sandbox");
  EXPECT_EQ(decision->reason, "default_system");
}

// 4. route rules

TEST(RouterTest, RoutePrefixMatch) {
  Router router({{"+44", "", "sip"}}, "sandbox");
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), kGbNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sip");
  EXPECT_EQ(decision->reason, "routes[0]");
}

TEST(RouterTest, RoutePrefixMismatchFallsToDefault) {
  Router router({{"+44", "", "sip"}}, "sandbox");
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sandbox");
}

TEST(RouterTest, RouteCountryMatch) {
  Router router({{"", "US", "twilio"}}, "sandbox");
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "twilio");
}

TEST(RouterTest, RouteCountryMatchesRegionNotDialCode) {
  // +1 is shared by the US and Canada; a "US" rule must not catch Canada.
  Router router({{"", "US", "twilio"}}, "sandbox");
  absl::StatusOr<RouteDecision> decision =
      router.Route(Request(), E164("+14165550100", "CA"), ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sandbox");
}

TEST(RouterTest, FirstMatchingRouteWins) {
  Router router({{"+49", "", "sandbox"}, {"", "GB", "sip"}, {"+44", "", "twilio"}}, "sandbox");
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), kGbNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sip");
  EXPECT_EQ(decision->reason, "routes[1]");
}

TEST(RouterTest, RoutesAreIgnoredForSipUriTargets) {
  // Prefix/region rules describe phone numbers; a URI has neither.
  Router router({{"+", "", "twilio"}, {"", "US", "twilio"}}, "sip");
  NormalizedTarget uri{adapters::TargetKind::kSipUri, "sip:+12015550100@example.com", "US"};
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), uri, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sip");
  EXPECT_EQ(decision->reason, "default_system");
}

TEST(RouterTest, RoutesAreIgnoredForExtensionTargets) {
  Router router({{"", "US", "twilio"}}, "sip");
  NormalizedTarget ext{adapters::TargetKind::kExtension, "1001", "US"};
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), ext, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "sip");
}

TEST(RouterTest, ContactSystemBeatsRoutes) {
  Router router({{"+1", "", "sip"}}, "sandbox");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("twilio");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "twilio");
}

// 5. default_system

TEST(RouterTest, DefaultSystemWhenNothingElseMatches) {
  Router router({{"+44", "", "sip"}}, "twilio");
  absl::StatusOr<RouteDecision> decision = router.Route(Request(), kUsNumber, ThreeSystems());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->system, "twilio");
  EXPECT_EQ(decision->reason, "default_system");
}

// 6. nothing

TEST(RouterTest, NoSystemIsUnknownSystemFailedPreconditionWithTriedDetail) {
  // No route is the operator's problem: FAILED_PRECONDITION, not NOT_FOUND,
  // and the detail lists what was tried so the log explains the decision.
  FakeDirectory dir;
  dir.Add("sip", /*healthy=*/false);
  Router router({{"+44", "", "sip"}}, /*default_system=*/"");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("sip");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, dir);
  ExpectVoipError(decision.status(), voip::v1::UNKNOWN_SYSTEM,
                  absl::StatusCode::kFailedPrecondition, "");
  std::optional<voip::v1::VoipError> error = GetVoipError(decision.status());
  ASSERT_TRUE(error.has_value());
  ASSERT_EQ(error->details().count("tried"), 1u) << error->ShortDebugString();
  const std::string& tried = error->details().at("tried");
  EXPECT_THAT(tried, HasSubstr("to.voip_integration_details.system_name=sip (unhealthy)"));
  EXPECT_THAT(tried, HasSubstr("routes"));
  EXPECT_THAT(tried, HasSubstr("default_system"));
  EXPECT_THAT(decision.status().message(), HasSubstr("+12015550100"));
}

TEST(RouterTest, NoSystemNamesUnconfiguredContactSystemInTried) {
  Router router({}, "");
  auto request = Request();
  request.mutable_to()->mutable_voip_integration_details()->set_system_name("ghost");
  absl::StatusOr<RouteDecision> decision = router.Route(request, kUsNumber, FakeDirectory());
  ASSERT_FALSE(decision.ok());
  std::optional<voip::v1::VoipError> error = GetVoipError(decision.status());
  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->details().at("tried"),
              HasSubstr("to.voip_integration_details.system_name=ghost (not configured)"));
}

}  // namespace
}  // namespace voipd
