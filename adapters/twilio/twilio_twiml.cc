#include "adapters/twilio/twilio_twiml.h"

#include "absl/strings/str_cat.h"

namespace voipd::adapters::twilio {

std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':  out += "&amp;"; break;
      case '<':  out += "&lt;"; break;
      case '>':  out += "&gt;"; break;
      case '"':  out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:   out += c;
    }
  }
  return out;
}

std::string ConferenceTwiml(absl::string_view conference_name, absl::string_view status_callback) {
  // startConferenceOnEnter: the contact does not wait for a moderator;
  // endConferenceOnExit: when the contact hangs up, the agent leg ends too;
  // beep off: a phone call, not a meeting.
  std::string attributes =
      "startConferenceOnEnter=\"true\" endConferenceOnExit=\"true\" beep=\"false\"";
  if (!status_callback.empty()) {
    absl::StrAppend(&attributes, " statusCallback=\"", XmlEscape(status_callback),
                    "\" statusCallbackEvent=\"join\" statusCallbackMethod=\"POST\"");
  }
  return absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial><Conference ",
                      attributes, ">", XmlEscape(conference_name),
                      "</Conference></Dial></Response>");
}

}  // namespace voipd::adapters::twilio
