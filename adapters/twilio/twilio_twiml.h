// The TwiML voipd sends inline with each call (no TwiML server needed): the
// answered contact joins the call's own conference, so that hold and mute
// work through Twilio's Participant resource.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace voipd::adapters::twilio {

// <Response><Dial><Conference ...>NAME</Conference></Dial></Response>.
// The conference ends when this participant leaves; `status_callback` (may
// be empty) receives the participant "join" event, which carries the
// conference SID.
std::string ConferenceTwiml(absl::string_view conference_name, absl::string_view status_callback);

// The answer to an inbound call's Voice URL request: an optional <Say>
// `greeting`, then the caller joins the call's conference like an outbound
// contact (so hold, mute and the agent leg work the same way). With a
// `status_callback`, the conference reports the caller's "join" and
// "leave" there.
std::string InboundTwiml(absl::string_view greeting, absl::string_view conference_name,
                         absl::string_view status_callback);

// <Response><Reject/></Response>: the call is refused without answering
// (the caller hears busy/unavailable and is not billed).
std::string RejectTwiml();

// <Response><Hangup/></Response>.
std::string HangupTwiml();

// Escapes the five XML special characters for text and attribute values.
std::string XmlEscape(absl::string_view text);

}  // namespace voipd::adapters::twilio
