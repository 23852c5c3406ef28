// The configured systems (name → adapter instance) plus the routing settings,
// as one immutable snapshot. A config reload builds a new snapshot and swaps
// it in; calls keep the adapter instance they started on, so a reload never
// disturbs a live call.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "adapters/api/adapter.h"
#include "daemon/core/router.h"

namespace voipd {

struct SystemEntry {
  std::string name;
  std::string type;
  adapters::AdapterPtr adapter;
  // type + serialized typed config: equal fingerprints mean a reload may
  // keep the running instance.
  std::string fingerprint;
};

class SystemTable final : public SystemDirectory {
 public:
  SystemTable(std::map<std::string, SystemEntry> systems, std::string default_system,
              std::string default_region, std::vector<RouteRule> routes);

  bool IsConfigured(const std::string& name) const override;
  bool IsHealthy(const std::string& name) const override;
  const SystemEntry* Find(const std::string& name) const;

  const std::map<std::string, SystemEntry>& systems() const { return systems_; }
  const std::string& default_system() const { return default_system_; }
  const std::string& default_region() const { return default_region_; }
  const Router& router() const { return router_; }

 private:
  std::map<std::string, SystemEntry> systems_;
  std::string default_system_;
  std::string default_region_;
  Router router_;
};

using SystemTablePtr = std::shared_ptr<const SystemTable>;

}  // namespace voipd
