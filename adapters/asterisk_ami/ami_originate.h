// Builds the Originate action for a DialRequest from the system's templates.
// Pure: the adapter sends what this returns, and unit tests check it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/api/adapter.h"
#include "adapters/asterisk_ami/ami_message.h"
#include "voip/config/v1/asterisk_ami.pb.h"

namespace voipd::adapters::asterisk_ami {

struct OriginatePlan {
  AmiMessage action;       // without ActionID (the connection adds it)
  std::string primary_id;  // ChannelId: the originated channel's Uniqueid
  std::string peer_id;     // OtherChannelId: the ;2 half of a Local channel
  std::string from;        // the agent / caller actually used
  // How long voipd lets the call ring before it gives up itself (a backstop
  // for a dialplan that ignores VOIPD_RING_TIMEOUT): the agent's ring time
  // plus the target's in click-to-call.
  absl::Duration ring_deadline;
};

// Values substituted for {target}, {target_digits}, {from}, {session_id}.
struct TemplateValues {
  std::string target;
  std::string from;
  std::string session_id;
};
std::string ExpandTemplate(absl::string_view pattern, const TemplateValues& values);

// INVALID_NUMBER / INVALID_ARGUMENT when the target or `from` holds
// characters that could change the meaning of a dial string (`&` forks a
// Dial, `,` starts options, `/` picks a technology).
absl::StatusOr<OriginatePlan> BuildOriginate(
    const voip::config::v1::AsteriskAmiAdapterConfig& config, const DialRequest& request);

}  // namespace voipd::adapters::asterisk_ami
