#include "adapters/api/registry.h"

#include <cstdio>
#include <cstdlib>
#include <map>

namespace voipd::adapters {
namespace {

// Function-local static: registrations run during static initialisation, in
// an order we do not control.
std::map<std::string, std::unique_ptr<AdapterFactory>>& Factories() {
  static auto* factories = new std::map<std::string, std::unique_ptr<AdapterFactory>>();
  return *factories;
}

}  // namespace

void AdapterRegistry::Register(std::unique_ptr<AdapterFactory> factory) {
  const std::string name = factory->name();
  if (name.empty() || Factories().count(name) != 0) {
    std::fprintf(stderr, "voipd: adapter type '%s' registered %s\n", name.c_str(),
                 name.empty() ? "without a name" : "twice");
    std::abort();
  }
  Factories().emplace(name, std::move(factory));
}

const AdapterFactory* AdapterRegistry::Find(const std::string& name) {
  auto it = Factories().find(name);
  return it == Factories().end() ? nullptr : it->second.get();
}

std::vector<std::string> AdapterRegistry::Names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Factories()) names.push_back(name);
  return names;
}

}  // namespace voipd::adapters
