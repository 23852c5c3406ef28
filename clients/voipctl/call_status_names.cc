#include "clients/voipctl/call_status_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace voipd::voipctl {
namespace {

// absl::string_view: Debian builds Abseil as C++14, where it is not
// std::string_view.
constexpr absl::string_view kPrefix = "CALL_STATUS_";

}  // namespace

std::string CallStatusName(voip::v1::CallStatus status) {
  std::string name = voip::v1::CallStatus_Name(status);
  // Derived from the proto so that a status added later still prints.
  if (!absl::StartsWith(name, kPrefix)) return "unspecified";
  return absl::AsciiStrToLower(absl::string_view(name).substr(kPrefix.size()));
}

std::optional<voip::v1::CallStatus> ParseCallStatus(std::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::string_view(name.data(), name.size()));
  if (!absl::StartsWith(upper, kPrefix)) upper = absl::StrCat(kPrefix, upper);
  voip::v1::CallStatus status;
  if (!voip::v1::CallStatus_Parse(upper, &status) || status == voip::v1::CALL_STATUS_UNSPECIFIED) {
    return std::nullopt;
  }
  return status;
}

std::string CallStatusNameList() {
  std::string list;
  for (int i = voip::v1::CallStatus_MIN; i <= voip::v1::CallStatus_MAX; ++i) {
    if (!voip::v1::CallStatus_IsValid(i) || i == voip::v1::CALL_STATUS_UNSPECIFIED) continue;
    absl::StrAppend(&list, list.empty() ? "" : ", ",
                    CallStatusName(static_cast<voip::v1::CallStatus>(i)));
  }
  return list;
}

}  // namespace voipd::voipctl
