// Name-keyed registry of adapter factories, filled at static-initialisation
// time by REGISTER_ADAPTER in each adapter's own factory file. Adapters are
// linked as object libraries so the linker cannot drop a registration.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "adapters/api/adapter_factory.h"

namespace voipd::adapters {

class AdapterRegistry {
 public:
  // Aborts on an empty or duplicate name: two adapters claiming one type is a
  // build error, not something to discover at run time.
  static void Register(std::unique_ptr<AdapterFactory> factory);
  // nullptr when no adapter of that type is compiled in.
  static const AdapterFactory* Find(const std::string& name);
  // Sorted type names.
  static std::vector<std::string> Names();
};

template <typename FactoryT>
struct AdapterRegistration {
  AdapterRegistration() { AdapterRegistry::Register(std::make_unique<FactoryT>()); }
};

}  // namespace voipd::adapters

#define VOIPD_CONCAT_INNER(a, b) a##b
#define VOIPD_CONCAT(a, b) VOIPD_CONCAT_INNER(a, b)
#define REGISTER_ADAPTER(FACTORY)                                      \
  static const ::voipd::adapters::AdapterRegistration<FACTORY> VOIPD_CONCAT( \
      voipd_adapter_registration_, __LINE__)
