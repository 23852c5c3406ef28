#include "adapters/sip/sip_message_util.h"

#include "absl/strings/str_cat.h"
#include "adapters/sip/sip_status_mapping.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {

std::string Text(const struct pl& slice) {
  return std::string(slice.p != nullptr ? slice.p : "", slice.l);
}

bool HasSdp(const struct sip_msg* msg) {
  return msg != nullptr && msg->mb != nullptr && mbuf_get_left(msg->mb) > 0 &&
         msg_ctype_cmp(&msg->ctyp, "application", "sdp");
}

std::string StatusLine(const struct sip_msg* msg) {
  return absl::StrCat(msg->scode, " ", Text(msg->reason));
}

int ReasonQ850(const struct sip_msg* msg) {
  if (msg == nullptr) return 0;
  const struct sip_hdr* hdr = sip_msg_hdr(msg, SIP_HDR_REASON);
  return hdr != nullptr ? ParseQ850Cause(Text(hdr->val)) : 0;
}

voip::v1::ProviderCause CauseOf(const struct sip_msg* msg) {
  voip::v1::ProviderCause cause;
  if (msg != nullptr && !msg->req) {
    cause.set_sip_code(msg->scode);
    cause.set_sip_reason(Text(msg->reason));
  }
  cause.set_q850_cause(ReasonQ850(msg));
  return cause;
}

}  // namespace voipd::adapters::sip
