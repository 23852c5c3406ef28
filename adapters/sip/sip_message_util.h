// Small readers over libre's parsed SIP messages (libre did the parsing;
// these only copy fields out), shared by the call and stack code.
#pragma once

#include <string>

#include "voip/v1/errors.pb.h"

struct pl;
struct sip_msg;

namespace voipd::adapters::sip {

// A libre string slice as a std::string.
std::string Text(const struct pl& slice);
// True when the message carries an SDP body.
bool HasSdp(const struct sip_msg* msg);
// "486 Busy Here" for a response.
std::string StatusLine(const struct sip_msg* msg);
// The Q.850 cause of the message's Reason header; 0 when absent.
int ReasonQ850(const struct sip_msg* msg);
// SIP code, reason phrase (responses) and Q.850 cause of `msg` (may be
// null).
voip::v1::ProviderCause CauseOf(const struct sip_msg* msg);

}  // namespace voipd::adapters::sip
