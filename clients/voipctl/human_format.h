// voipctl's human-readable output: one line per session, event or system,
// aligned for reading in a terminal, and the `error:` line for stderr.
// Pure functions of the messages, so they can be tested without a daemon.
#pragma once

#include <string>

#include "clients/voipctl/rpc_error.h"
#include "google/protobuf/timestamp.pb.h"
#include "voip/v1/call.pb.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd::voipctl {

// RFC 3339 in UTC with milliseconds: "2026-11-23T21:00:00.123Z"; "-" when
// unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& time);

// "c-1  connected  sandbox  +12015550100  on_hold=no muted=no", then the end
// reason for ended calls and the labels when there are any.
std::string FormatSession(const voip::v1::CallSession& session);

// "#42 2026-11-23T21:00:00.123Z c-1 ringing (was initiating)".
std::string FormatEvent(const voip::v1::CallEvent& event);

// "sandbox  type=sandbox  default  healthy  ops=end,hold,mute  active=0".
std::string FormatSystem(const voip::v1::SystemCapabilities& system);

// "error: SESSION_NOT_FOUND: no call nope (session=nope)".
std::string FormatError(const RpcError& error);

}  // namespace voipd::voipctl
