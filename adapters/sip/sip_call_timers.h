// SipCall's libre timers, shared by sip_call.cc and sip_call_reinvite.cc.
// Internal: include it last (it pulls in libre's macro-heavy headers).
#pragma once

#include "adapters/sip/sip_call.h"

#include <re.h>

namespace voipd::adapters::sip {

struct SipCall::Timers {
  struct tmr no_response;  // no response at all to the INVITE
  struct tmr ring;         // no answer: CANCEL
  struct tmr reinvite;     // no final response to a hold/resume re-INVITE
  struct tmr answer;       // inbound: auto-answer (inbound.answer_after)
};

}  // namespace voipd::adapters::sip
