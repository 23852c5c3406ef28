// Pure decisions for inbound calls (INVITEs to voipd), kept free of libre so
// that they are unit-tested without a network: whether to take a call, what
// the core is told about the caller and the dialled party, and which SIP
// status rejects an INVITE the core refused. docs/adapters/sip.md, "Inbound
// calls", has the same rules for users.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "adapters/sip/sip_config.h"
#include "voip/v1/errors.pb.h"

namespace voipd::adapters::sip {

// A final SIP response to send.
struct SipReply {
  uint16_t code = 0;
  std::string reason;
};

struct InboundAdmission {
  bool accept = false;
  SipReply reject;  // when !accept
};

// Disabled -> reject_code; at max_calls (all calls of the system) or at
// inbound.max_concurrent (inbound calls) -> 486 Busy Here.
InboundAdmission AdmitInbound(const SipSettings& settings, size_t active_calls,
                              size_t active_inbound);

// The reason phrase voipd uses for a status it sends (RFC 3261 21's
// phrases; "Rejected" for codes without one).
const char* ReasonPhrase(uint16_t code);

// Where the core's AcceptInbound refused a call: DAEMON_SHUTDOWN and
// RATE_LIMITED -> 503 Service Unavailable, INVALID_ARGUMENT/INVALID_NUMBER
// (a From or To the core does not accept) -> 400 Bad Request, anything
// else -> 500 Server Internal Error.
SipReply RejectionForCoreError(voip::v1::ErrorCode code);

// The parts of a URI libre parsed (From, To or Request-URI).
struct UriParts {
  absl::string_view scheme;  // "sip", "sips" (a trailing ':' is ignored)
  absl::string_view user;    // may be empty
  absl::string_view host;    // without brackets
  uint16_t port = 0;         // 0 = none given
  bool ipv6 = false;
};

// "scheme:user@host[:port]" (host bracketed for IPv6), without parameters
// or headers; the scheme in lower case. Not length-checked: the core
// refuses what is too long or contains control characters.
std::string UriText(const UriParts& uri);

// What was dialled: the To user (the DID or extension a PBX targets), else
// the Request-URI user, else the To URI as text.
std::string DialledParty(const UriParts& to, const UriParts& request_uri);

// A display name made safe for a label: surrounding quotes removed, quoted
// pairs (\x) unescaped, control characters dropped, whitespace trimmed, cut
// to at most `max_bytes` on a UTF-8 character boundary.
std::string SafeDisplayName(absl::string_view raw, size_t max_bytes = 64);

}  // namespace voipd::adapters::sip
