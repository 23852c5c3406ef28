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

namespace {

constexpr absl::string_view kXmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

std::string DialConference(absl::string_view conference_name, absl::string_view status_callback,
                           absl::string_view events) {
  // startConferenceOnEnter: the contact does not wait for a moderator;
  // endConferenceOnExit: when the contact hangs up, the agent leg ends too;
  // beep off: a phone call, not a meeting.
  std::string attributes =
      "startConferenceOnEnter=\"true\" endConferenceOnExit=\"true\" beep=\"false\"";
  if (!status_callback.empty()) {
    absl::StrAppend(&attributes, " statusCallback=\"", XmlEscape(status_callback),
                    "\" statusCallbackEvent=\"", events, "\" statusCallbackMethod=\"POST\"");
  }
  return absl::StrCat("<Dial><Conference ", attributes, ">", XmlEscape(conference_name),
                      "</Conference></Dial>");
}

}  // namespace

std::string ConferenceTwiml(absl::string_view conference_name, absl::string_view status_callback) {
  return absl::StrCat(kXmlHeader, "<Response>",
                      DialConference(conference_name, status_callback, "join"), "</Response>");
}

std::string InboundTwiml(absl::string_view greeting, absl::string_view conference_name,
                         absl::string_view status_callback) {
  std::string say;
  if (!greeting.empty()) say = absl::StrCat("<Say>", XmlEscape(greeting), "</Say>");
  return absl::StrCat(kXmlHeader, "<Response>", say,
                      DialConference(conference_name, status_callback, "join leave"),
                      "</Response>");
}

std::string RejectTwiml() { return absl::StrCat(kXmlHeader, "<Response><Reject/></Response>"); }

std::string HangupTwiml() { return absl::StrCat(kXmlHeader, "<Response><Hangup/></Response>"); }

}  // namespace voipd::adapters::twilio
