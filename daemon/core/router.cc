#include "daemon/core/router.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/api/voip_error.h"

namespace voipd {

Router::Router(std::vector<RouteRule> rules, std::string default_system)
    : rules_(std::move(rules)), default_system_(std::move(default_system)) {}

absl::StatusOr<RouteDecision> Router::Route(const voip::v1::StartCallRequest& request,
                                            const NormalizedTarget& target,
                                            const SystemDirectory& systems) const {
  const auto& details = request.to().voip_integration_details();
  if (details.has_can_dial_via_system() && !details.can_dial_via_system()) {
    return MakeVoipError(voip::v1::DIAL_VIA_SYSTEM_DISABLED,
                         "to.voip_integration_details.can_dial_via_system: this contact must not "
                         "be dialled through a VoIP system; use a tel: link",
                         "to.voip_integration_details.can_dial_via_system");
  }
  if (!request.preferred_system().empty()) {
    if (!systems.IsConfigured(request.preferred_system())) {
      return MakeVoipError(voip::v1::UNKNOWN_SYSTEM,
                           absl::StrCat("preferred_system: no system named '",
                                        request.preferred_system(), "' is configured"),
                           "preferred_system");
    }
    return RouteDecision{request.preferred_system(), "preferred_system"};
  }

  std::vector<std::string> tried;
  if (!details.system_name().empty()) {
    if (systems.IsConfigured(details.system_name()) && systems.IsHealthy(details.system_name())) {
      return RouteDecision{details.system_name(), "to.voip_integration_details.system_name"};
    }
    tried.push_back(absl::StrCat("to.voip_integration_details.system_name=", details.system_name(),
                                 systems.IsConfigured(details.system_name()) ? " (unhealthy)"
                                                                             : " (not configured)"));
  }
  if (target.kind == adapters::TargetKind::kE164) {
    for (size_t i = 0; i < rules_.size(); ++i) {
      const RouteRule& rule = rules_[i];
      const bool match = (!rule.prefix.empty() && absl::StartsWith(target.value, rule.prefix)) ||
                         (!rule.country.empty() && rule.country == target.region);
      if (match) return RouteDecision{rule.system, absl::StrCat("routes[", i, "]")};
    }
  }
  if (!default_system_.empty()) return RouteDecision{default_system_, "default_system"};
  tried.push_back("routes (no match)");
  tried.push_back("default_system (not set)");
  voip::v1::VoipError error;
  error.set_error_code(voip::v1::UNKNOWN_SYSTEM);
  error.set_message(absl::StrCat("no system can dial '", target.value,
                                 "'; tried: ", absl::StrJoin(tried, ", ")));
  (*error.mutable_details())["tried"] = absl::StrJoin(tried, ", ");
  // No route is the operator's configuration problem, not the caller's.
  return MakeVoipError(std::move(error), absl::StatusCode::kFailedPrecondition);
}

}  // namespace voipd
