#include "clients/voipctl/labels.h"

namespace voipd::voipctl {

std::string CheckLabel(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) return "label '" + text + "' is not of the form key=value";
  if (eq == 0) return "label '" + text + "' has an empty key";
  return "";
}

void AddLabels(const std::vector<std::string>& labels,
               google::protobuf::Map<std::string, std::string>* out) {
  for (const std::string& label : labels) {
    const auto eq = label.find('=');
    (*out)[label.substr(0, eq)] = label.substr(eq + 1);
  }
}

}  // namespace voipd::voipctl
