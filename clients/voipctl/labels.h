// `--label k=v` options: checked while parsing (so a bad one is a usage
// error, exit 2) and copied into a request's labels map afterwards.
#pragma once

#include <string>
#include <vector>

#include "google/protobuf/map.h"

namespace voipd::voipctl {

// "" when `text` is a usable label ("k=v", non-empty key; the value may be
// empty or contain '='), otherwise why not. This is CLI11's validator
// contract.
std::string CheckLabel(const std::string& text);

// Adds checked labels to `out`, splitting at the first '='. A repeated key
// keeps its last value, as a repeated option usually does.
void AddLabels(const std::vector<std::string>& labels,
               google::protobuf::Map<std::string, std::string>* out);

}  // namespace voipd::voipctl
