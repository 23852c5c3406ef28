#include "daemon/security/tenant_scope.h"

namespace voipd {

bool CanSee(const Principal& principal,
            const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [key, value] : principal.labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

void ForceLabels(const Principal& principal,
                 google::protobuf::Map<std::string, std::string>* labels) {
  for (const auto& [key, value] : principal.labels) (*labels)[key] = value;
}

void ForceLabels(const Principal& principal, std::map<std::string, std::string>* labels) {
  for (const auto& [key, value] : principal.labels) (*labels)[key] = value;
}

}  // namespace voipd
