// The page ↔ voipd signaling protocol (docs/adapters/webrtc.md, "Message
// protocol"): JSON text frames on the WebSocket. Parsing validates every
// field once, here, so the adapter only handles well-formed messages; SDP
// and ICE payloads are re-serialized from their validated fields, never
// relayed as received.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <nlohmann/json.hpp>

namespace voipd::adapters::webrtc {

// Larger messages are answered with an error and otherwise ignored.
inline constexpr size_t kMaxSignalingMessageBytes = 64 * 1024;
inline constexpr size_t kMaxIdentityLength = 64;

enum class MessageType {
  kRegister,  // {token, identity}
  kCall,      // {to, request_id?}: the dial pad / click-to-call
  kRinging,   // {session_id}: the callee page shows the alert
  kAccept,    // {session_id}: the callee answers
  kReject,    // {session_id}: the callee declines
  kHangup,    // {session_id}: either party ends (or cancels) the call
  kSdp,       // {session_id, description: {type: offer|answer, sdp}}
  kIce,       // {session_id, candidate: {...} | null}
  kState,     // {session_id, connection_state}
  kHeld,      // {session_id, held, op?, error?}: hold done (or refused)
  kMuted,     // {session_id, muted, op?, error?}: mute done (or refused)
};

struct SignalingMessage {
  MessageType type = MessageType::kRegister;
  std::string token;
  std::string identity;
  std::string to;
  std::string request_id;
  std::string session_id;
  nlohmann::json payload;        // kSdp: description; kIce: candidate (or null)
  std::string connection_state;  // kState
  bool flag = false;             // kHeld: held; kMuted: muted
  std::optional<uint64_t> op;    // kHeld/kMuted: answers a command
  std::string error;             // kHeld/kMuted: the page could not do it
};

// INVALID_ARGUMENT (VoipError with `field`) for anything malformed, unknown
// or larger than kMaxSignalingMessageBytes.
absl::StatusOr<SignalingMessage> ParseSignalingMessage(absl::string_view text);

// The core's endpoint-name syntax: a letter first, then [A-Za-z0-9._-],
// at most 64 characters.
bool IsValidIdentity(absl::string_view identity);

// "register", "call", ... (for error replies).
const char* MessageTypeName(MessageType type);

}  // namespace voipd::adapters::webrtc
