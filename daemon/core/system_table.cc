#include "daemon/core/system_table.h"

namespace voipd {

SystemTable::SystemTable(std::map<std::string, SystemEntry> systems, std::string default_system,
                         std::string default_region, std::vector<RouteRule> routes)
    : systems_(std::move(systems)),
      default_system_(default_system),
      default_region_(std::move(default_region)),
      router_(std::move(routes), std::move(default_system)) {}

bool SystemTable::IsConfigured(const std::string& name) const { return systems_.count(name) != 0; }

bool SystemTable::IsHealthy(const std::string& name) const {
  const SystemEntry* entry = Find(name);
  return entry != nullptr &&
         entry->adapter->health().state != adapters::Health::State::kUnhealthy;
}

const SystemEntry* SystemTable::Find(const std::string& name) const {
  auto it = systems_.find(name);
  return it == systems_.end() ? nullptr : &it->second;
}

}  // namespace voipd
