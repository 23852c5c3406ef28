// Short, lower-case call status names ("on_hold") for humans and for
// `list --status`, instead of the proto's CALL_STATUS_ON_HOLD.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "voip/v1/call.pb.h"

namespace voipd::voipctl {

// "connected" for CALL_STATUS_CONNECTED; "unspecified" for 0 and for values
// this build does not know.
std::string CallStatusName(voip::v1::CallStatus status);

// Accepts the short name in any case ("ringing", "ON_HOLD") and the proto
// name ("CALL_STATUS_RINGING"); std::nullopt for anything else.
std::optional<voip::v1::CallStatus> ParseCallStatus(std::string_view name);

// The accepted short names, comma-separated, for help and error texts.
std::string CallStatusNameList();

}  // namespace voipd::voipctl
