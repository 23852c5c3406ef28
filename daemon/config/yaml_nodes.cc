#include "daemon/config/yaml_nodes.h"

#include "absl/strings/str_cat.h"

namespace voipd {

YAML::Node Child(const YAML::Node& node, const std::string& key) {
  try {
    if (node.IsDefined() && node.IsMap()) return node[key];
  } catch (const YAML::Exception&) {
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node Item(const YAML::Node& node, size_t i) {
  try {
    if (node.IsDefined() && node.IsSequence() && i < node.size()) return node[i];
  } catch (const YAML::Exception&) {
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string Where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return absl::StrCat(file, ": ");
  return absl::StrCat(file, ":", mark.line + 1, ": ");
}

absl::Status InvalidSetting(const std::string& file, const YAML::Node& node,
                            const std::string& message) {
  std::string where = absl::StrCat(file, ": ");
  try {
    if (node.IsDefined()) where = Where(file, node);
  } catch (const YAML::Exception&) {
  }
  return absl::InvalidArgumentError(absl::StrCat(where, message));
}

}  // namespace voipd
