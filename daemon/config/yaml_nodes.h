// Reading a yaml-cpp tree without its exceptions, and naming where a setting
// came from. yaml-cpp throws when a parent is missing or of another kind; the
// config loaders would rather see an undefined node and report the setting.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"

namespace voipd {

// node[key], or an undefined node when `node` is not a mapping.
YAML::Node Child(const YAML::Node& node, const std::string& key);

// node[i], or an undefined node when `node` is not a sequence that long.
YAML::Node Item(const YAML::Node& node, size_t i);

// "FILE:LINE: " for a node (1-based line), or "FILE: " when unknown.
std::string Where(const std::string& file, const YAML::Node& node);

// InvalidArgument "FILE:LINE: message" for the node a setting came from.
// Settings left at their default have no node; then it names only the file.
absl::Status InvalidSetting(const std::string& file, const YAML::Node& node,
                            const std::string& message);

}  // namespace voipd
