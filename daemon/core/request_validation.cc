#include "daemon/core/request_validation.h"

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"

namespace voipd {
namespace {

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelKey = 64;
constexpr size_t kMaxLabelValue = 256;
constexpr size_t kMaxFrom = 256;
constexpr int64_t kMaxRingTimeoutSeconds = 600;

bool IsPrintable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

absl::Status CheckString(const std::string& value, const std::string& field, size_t max) {
  if (value.size() > max) {
    return InvalidArgumentError(field, absl::StrCat(field, ": longer than ", max, " bytes"));
  }
  if (!IsPrintable(value)) {
    return InvalidArgumentError(field, absl::StrCat(field, ": contains control characters"));
  }
  return absl::OkStatus();
}

// A string -> string map (labels, a label filter, `extra`) named `name`.
template <typename Map>
absl::Status CheckLabels(const Map& labels, const std::string& name = "labels") {
  if (labels.size() > kMaxLabels) {
    return InvalidArgumentError(name, absl::StrCat(name, ": more than ", kMaxLabels));
  }
  for (const auto& [key, value] : labels) {
    // A key that fails its own check is not echoed into the field name: the
    // client would print a newline or a kilobyte of it with the error.
    if (key.empty()) return InvalidArgumentError(name, absl::StrCat(name, ": empty key"));
    if (!IsPrintable(key)) {
      return InvalidArgumentError(name, absl::StrCat(name, ": a key contains control characters"));
    }
    if (key.size() > kMaxLabelKey) {
      // Its first 16 bytes, cut back to a whole UTF-8 character: the message
      // travels in a proto3 string, which must stay valid UTF-8.
      size_t cut = 16;
      while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
      return InvalidArgumentError(
          name, absl::StrCat(name, ": key '", key.substr(0, cut), "...' is longer than ",
                             kMaxLabelKey, " bytes"));
    }
    const std::string field = absl::StrCat(name, "[", key, "]");
    if (absl::Status s = CheckString(value, field, kMaxLabelValue); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRequestId(const std::string& request_id) {
  return CheckString(request_id, "request_id", kMaxIdLength);
}

absl::Status ValidateSessionId(const std::string& session_id) {
  if (session_id.empty()) return InvalidArgumentError("session_id", "session_id: is required");
  return CheckString(session_id, "session_id", kMaxIdLength);
}

absl::Status ValidateStartCall(const voip::v1::StartCallRequest& request) {
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = CheckString(request.from(), "from", kMaxFrom); !s.ok()) return s;
  if (absl::Status s = CheckString(request.preferred_system(), "preferred_system", kMaxIdLength);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckString(request.to().type(), "to.type", kMaxIdLength); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckString(request.to().voip_integration_details().system_name(),
                                   "to.voip_integration_details.system_name", kMaxIdLength);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckLabels(request.to().voip_integration_details().extra(),
                                   "to.voip_integration_details.extra");
      !s.ok()) {
    return s;
  }
  if (request.has_ring_timeout()) {
    const auto& t = request.ring_timeout();
    if (t.seconds() < 0 || t.nanos() < 0 || (t.seconds() == 0 && t.nanos() == 0) ||
        t.seconds() > kMaxRingTimeoutSeconds ||
        (t.seconds() == kMaxRingTimeoutSeconds && t.nanos() > 0)) {
      return InvalidArgumentError(
          "ring_timeout",
          absl::StrCat("ring_timeout: must be > 0 and at most ", kMaxRingTimeoutSeconds, "s"));
    }
  }
  return CheckLabels(request.labels());
}

absl::Status ValidateCallFilter(const std::string& session_id, const std::string& system_name,
                                const google::protobuf::Map<std::string, std::string>& labels,
                                const std::string& prefix) {
  if (absl::Status s = CheckString(session_id, prefix + "session_id", kMaxIdLength); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckString(system_name, prefix + "system_name", kMaxIdLength); !s.ok()) {
    return s;
  }
  return CheckLabels(labels, prefix + "labels");
}

absl::Status ValidateListCalls(const voip::v1::ListCallsRequest& request) {
  if (absl::Status s = ValidateCallFilter("", request.system_name(), request.labels(), "");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckString(request.number(), "number", kMaxFrom); !s.ok()) return s;
  return CheckString(request.page_token(), "page_token", kMaxIdLength);
}

absl::Status ValidateSystemName(const std::string& system_name, const std::string& field) {
  return CheckString(system_name, field, kMaxIdLength);
}

absl::Status ValidateInboundCall(const std::string& provider_call_id, const std::string& from,
                                 const std::string& to,
                                 const std::map<std::string, std::string>& labels) {
  if (absl::Status s = CheckString(provider_call_id, "provider_call_id", kMaxFrom); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckString(from, "from", kMaxFrom); !s.ok()) return s;
  if (to.empty()) return InvalidArgumentError("to", "to: is required");
  if (absl::Status s = CheckString(to, "to", kMaxFrom); !s.ok()) return s;
  return CheckLabels(labels);
}

}  // namespace voipd
