#include "adapters/asterisk_ami/ami_status_map.h"

#include "absl/strings/ascii.h"

namespace voipd::adapters::asterisk_ami {
namespace {

using voip::v1::HANGUP_SOURCE_REMOTE;
using voip::v1::HANGUP_SOURCE_SYSTEM;

MappedOutcome Busy() { return {EndOutcome::kBusy, HANGUP_SOURCE_REMOTE, {}, "busy"}; }
// The ring timeout is voipd's (it sets Originate Timeout and the dialplan's
// Dial timeout), so an unanswered call was ended by the system.
MappedOutcome NoAnswer() {
  return {EndOutcome::kUnavailable, HANGUP_SOURCE_SYSTEM, {}, "no answer"};
}
MappedOutcome Unreachable(std::string what) {
  return {EndOutcome::kUnavailable, HANGUP_SOURCE_REMOTE, {}, std::move(what)};
}
MappedOutcome Failed(std::string what) {
  return {EndOutcome::kFailed, HANGUP_SOURCE_SYSTEM, voip::v1::PROVIDER_ERROR, std::move(what)};
}

}  // namespace

std::optional<MappedOutcome> MapDialStatus(absl::string_view dial_status) {
  const std::string s = absl::AsciiStrToUpper(dial_status);
  if (s.empty() || s == "ANSWER") return std::nullopt;
  if (s == "BUSY") return Busy();
  if (s == "NOANSWER") return NoAnswer();
  if (s == "CHANUNAVAIL") return Unreachable("channel unavailable");
  if (s == "CONGESTION") return Failed("congestion");
  if (s == "CANCEL") {
    // The calling side gave up before the answer (e.g. the agent hung up).
    return MappedOutcome{EndOutcome::kDisconnected, HANGUP_SOURCE_REMOTE, {}, "cancelled"};
  }
  if (s == "DONTCALL" || s == "TORTURE") return Unreachable("refused by the callee's screening");
  if (s == "INVALIDARGS") return Failed("invalid Dial() arguments in the dialplan");
  return Failed("dial failed");
}

std::optional<MappedOutcome> MapOriginateReason(int reason) {
  switch (reason) {
    case 4:  // AST_CONTROL_ANSWER
      return std::nullopt;
    case 5:  // AST_CONTROL_BUSY
      return Busy();
    case 3:  // AST_CONTROL_RINGING: it rang until Timeout
    case 2:  // AST_CONTROL_RING
      return NoAnswer();
    case 1:  // AST_CONTROL_HANGUP: the far end hung up before answering
      return Unreachable("hung up before answering");
    case 8:  // AST_CONTROL_CONGESTION
      return Failed("congestion");
    case 0:  // no such extension, or the channel technology is not loaded
      return Failed("originate failed (no such channel or extension)");
    default: return Failed("originate failed");
  }
}

MappedOutcome MapUnansweredCause(int q850_cause) {
  switch (q850_cause) {
    case 17:  // user busy
      return Busy();
    case 18:  // no user responding
    case 19:  // no answer from user (user alerted)
      return NoAnswer();
    case 1:   // unallocated number
    case 3:   // no route to destination
    case 20:  // subscriber absent
    case 21:  // call rejected
    case 22:  // number changed
    case 27:  // destination out of order
    case 28:  // invalid number format
      return Unreachable("unreachable");
    case 16:  // normal clearing before answer: someone gave up
      return MappedOutcome{
          EndOutcome::kDisconnected, voip::v1::HANGUP_SOURCE_REMOTE, {}, "cancelled"};
    default:  // 34 congestion, 38 network out of order, 0 unknown...
      return Failed("call failed");
  }
}

}  // namespace voipd::adapters::asterisk_ami
