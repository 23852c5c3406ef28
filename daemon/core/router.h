// Picks the system for a StartCall, in the order of the design note:
//   1. can_dial_via_system == false      → DIAL_VIA_SYSTEM_DISABLED
//   2. preferred_system                  (must be configured)
//   3. to.voip_integration_details.system_name, when configured and healthy
//   4. route rules, first match (E.164 prefix or region)
//   5. default_system
//   6. otherwise UNKNOWN_SYSTEM naming everything that was tried
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/core/number_normalizer.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

struct RouteRule {
  std::string prefix;   // E.164 prefix, e.g. "+44"
  std::string country;  // or ISO region, e.g. "GB"
  std::string system;
};

// What the router needs to know about configured systems.
class SystemDirectory {
 public:
  virtual ~SystemDirectory() = default;
  virtual bool IsConfigured(const std::string& name) const = 0;
  virtual bool IsHealthy(const std::string& name) const = 0;
};

struct RouteDecision {
  std::string system;
  // Which rule chose it, for logs: "preferred_system", "route[0]"...
  std::string reason;
};

class Router {
 public:
  Router(std::vector<RouteRule> rules, std::string default_system);

  absl::StatusOr<RouteDecision> Route(const voip::v1::StartCallRequest& request,
                                      const NormalizedTarget& target,
                                      const SystemDirectory& systems) const;

 private:
  std::vector<RouteRule> rules_;
  std::string default_system_;
};

}  // namespace voipd
