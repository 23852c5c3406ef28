#include "adapters/webrtc/signaling_message.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::webrtc {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxToken = 4096;
constexpr size_t kMaxTo = 256;
constexpr size_t kMaxRequestId = 128;
constexpr size_t kMaxSessionId = 128;
constexpr size_t kMaxSdp = 60000;
constexpr size_t kMaxCandidate = 2048;
constexpr size_t kMaxMid = 64;
constexpr size_t kMaxUfrag = 256;
constexpr size_t kMaxPageError = 256;

struct TypeName {
  const char* name;
  MessageType type;
};
constexpr std::array<TypeName, 11> kTypes = {{
    {"register", MessageType::kRegister},
    {"call", MessageType::kCall},
    {"ringing", MessageType::kRinging},
    {"accept", MessageType::kAccept},
    {"reject", MessageType::kReject},
    {"hangup", MessageType::kHangup},
    {"sdp", MessageType::kSdp},
    {"ice", MessageType::kIce},
    {"state", MessageType::kState},
    {"held", MessageType::kHeld},
    {"muted", MessageType::kMuted},
}};

absl::Status Bad(const std::string& field, const std::string& what) {
  return InvalidArgumentError(field, absl::StrCat(field, ": ", what));
}

// Printable ASCII without control characters (ids, tokens, names).
bool Printable(const std::string& s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// A required (or optional) string member of at most `max` bytes.
absl::Status GetString(const json& obj, const char* field, size_t max, bool required,
                       bool printable, std::string* out) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) {
    return required ? Bad(field, "is required") : absl::OkStatus();
  }
  if (!it->is_string()) return Bad(field, "must be a string");
  const std::string& value = it->get_ref<const std::string&>();
  if (required && value.empty()) return Bad(field, "is required");
  if (value.size() > max) return Bad(field, absl::StrCat("longer than ", max, " bytes"));
  if (printable && !Printable(value)) return Bad(field, "contains non-printable characters");
  *out = value;
  return absl::OkStatus();
}

absl::Status GetBool(const json& obj, const char* field, bool* out) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_boolean()) return Bad(field, "must be true or false");
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status ParseDescription(const json& obj, json* out) {
  auto it = obj.find("description");
  if (it == obj.end() || !it->is_object()) return Bad("description", "must be an object");
  std::string type, sdp;
  if (absl::Status s = GetString(*it, "type", 16, true, true, &type); !s.ok()) {
    return Bad("description.type", "must be \"offer\" or \"answer\"");
  }
  if (type != "offer" && type != "answer") {
    return Bad("description.type", "must be \"offer\" or \"answer\"");
  }
  auto sdp_it = it->find("sdp");
  if (sdp_it == it->end() || !sdp_it->is_string() || sdp_it->get_ref<const std::string&>().empty()) {
    return Bad("description.sdp", "is required");
  }
  if (sdp_it->get_ref<const std::string&>().size() > kMaxSdp) {
    return Bad("description.sdp", absl::StrCat("longer than ", kMaxSdp, " bytes"));
  }
  sdp = sdp_it->get<std::string>();
  *out = json{{"type", type}, {"sdp", std::move(sdp)}};
  return absl::OkStatus();
}

absl::Status ParseCandidate(const json& obj, json* out) {
  auto it = obj.find("candidate");
  if (it == obj.end()) return Bad("candidate", "is required (null ends the candidates)");
  if (it->is_null()) {
    *out = nullptr;
    return absl::OkStatus();
  }
  if (!it->is_object()) return Bad("candidate", "must be an object or null");
  json c = json::object();
  std::string candidate;
  if (absl::Status s = GetString(*it, "candidate", kMaxCandidate, false, true, &candidate);
      !s.ok()) {
    return Bad("candidate.candidate", "must be a string");
  }
  c["candidate"] = candidate;
  auto mid = it->find("sdpMid");
  if (mid == it->end() || mid->is_null()) {
    c["sdpMid"] = nullptr;
  } else if (mid->is_string() && mid->get_ref<const std::string&>().size() <= kMaxMid &&
             Printable(mid->get<std::string>())) {
    c["sdpMid"] = mid->get<std::string>();
  } else {
    return Bad("candidate.sdpMid", "must be a short string or null");
  }
  auto index = it->find("sdpMLineIndex");
  if (index == it->end() || index->is_null()) {
    c["sdpMLineIndex"] = nullptr;
  } else if (index->is_number_unsigned() && index->get<uint64_t>() <= 65535) {
    c["sdpMLineIndex"] = index->get<uint64_t>();
  } else {
    return Bad("candidate.sdpMLineIndex", "must be an integer 0..65535 or null");
  }
  auto ufrag = it->find("usernameFragment");
  if (ufrag == it->end() || ufrag->is_null()) {
    c["usernameFragment"] = nullptr;
  } else if (ufrag->is_string() && ufrag->get_ref<const std::string&>().size() <= kMaxUfrag &&
             Printable(ufrag->get<std::string>())) {
    c["usernameFragment"] = ufrag->get<std::string>();
  } else {
    return Bad("candidate.usernameFragment", "must be a short string or null");
  }
  *out = std::move(c);
  return absl::OkStatus();
}

absl::Status ParseOpReply(const json& obj, SignalingMessage* m) {
  auto op = obj.find("op");
  if (op != obj.end() && !op->is_null()) {
    if (!op->is_number_unsigned()) return Bad("op", "must be a non-negative integer");
    m->op = op->get<uint64_t>();
  }
  return GetString(obj, "error", kMaxPageError, false, false, &m->error);
}

}  // namespace

const char* MessageTypeName(MessageType type) {
  for (const TypeName& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "?";
}

bool IsValidIdentity(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdentityLength) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<SignalingMessage> ParseSignalingMessage(absl::string_view text) {
  if (text.size() > kMaxSignalingMessageBytes) {
    return Bad("message", absl::StrCat("larger than ", kMaxSignalingMessageBytes, " bytes"));
  }
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad("message", "is not valid JSON");
  if (!doc.is_object()) return Bad("message", "must be a JSON object");
  auto type_it = doc.find("type");
  if (type_it == doc.end() || !type_it->is_string()) return Bad("type", "is required");
  const std::string& type_name = type_it->get_ref<const std::string&>();
  SignalingMessage m;
  bool known = false;
  for (const TypeName& t : kTypes) {
    if (type_name == t.name) {
      m.type = t.type;
      known = true;
    }
  }
  if (!known) return Bad("type", "unknown message type");

  absl::Status s;
  switch (m.type) {
    case MessageType::kRegister:
      s = GetString(doc, "token", kMaxToken, true, true, &m.token);
      if (s.ok()) s = GetString(doc, "identity", kMaxIdentityLength, true, true, &m.identity);
      if (s.ok() && !IsValidIdentity(m.identity)) {
        s = Bad("identity", "must start with a letter and use only A-Z a-z 0-9 . _ - (at most 64)");
      }
      break;
    case MessageType::kCall:
      s = GetString(doc, "to", kMaxTo, true, true, &m.to);
      if (s.ok()) s = GetString(doc, "request_id", kMaxRequestId, false, true, &m.request_id);
      break;
    default:
      s = GetString(doc, "session_id", kMaxSessionId, true, true, &m.session_id);
      break;
  }
  if (!s.ok()) return s;
  switch (m.type) {
    case MessageType::kSdp:
      s = ParseDescription(doc, &m.payload);
      break;
    case MessageType::kIce:
      s = ParseCandidate(doc, &m.payload);
      break;
    case MessageType::kState: {
      s = GetString(doc, "connection_state", 16, true, true, &m.connection_state);
      static constexpr std::array<const char*, 6> kStates = {
          "new", "connecting", "connected", "disconnected", "failed", "closed"};
      bool ok = false;
      for (const char* st : kStates) ok = ok || m.connection_state == st;
      if (s.ok() && !ok) s = Bad("connection_state", "is not an RTCPeerConnectionState");
      break;
    }
    case MessageType::kHeld:
      s = GetBool(doc, "held", &m.flag);
      if (s.ok()) s = ParseOpReply(doc, &m);
      break;
    case MessageType::kMuted:
      s = GetBool(doc, "muted", &m.flag);
      if (s.ok()) s = ParseOpReply(doc, &m);
      break;
    default:
      break;
  }
  if (!s.ok()) return s;
  return m;
}

}  // namespace voipd::adapters::webrtc
