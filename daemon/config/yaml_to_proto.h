// Fills a protobuf message from a YAML mapping, guided by the message's
// descriptor: the schema lives in proto/ and yaml-cpp does the parsing; this
// only maps one tree onto the other, so that every error can name the file,
// line and dotted field path ("voipd.yaml:7: systems.sandbox.time_scale: ...").
#pragma once

#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace voipd {

struct YamlSource {
  std::string file;  // for messages
  std::string path;  // dotted path of `node` ("systems.sandbox")
};

// Keys in `ignore` are skipped (e.g. "type", handled by the caller).
absl::Status YamlToProto(const YAML::Node& node, const YamlSource& source,
                         google::protobuf::Message* message,
                         const std::set<std::string>& ignore = {});

}  // namespace voipd
