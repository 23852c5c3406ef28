// What every call of one SIP system shares: settings, the libre stack
// objects, the event sink and the media clock. Owned by SipStack; loop
// thread only.
#pragma once

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "adapters/api/logger.h"
#include "adapters/api/provider_event.h"
#include "adapters/sip/sip_config.h"
#include "adapters/sip/wav_prompt.h"

struct sip;
struct sipsess_sock;

namespace voipd::adapters::sip {

class MediaClock;
class SipCall;

struct SipContext {
  std::string system;  // the configured system's name
  SipSettings settings;
  CallEventSink* events = nullptr;
  const Logger* logger = nullptr;  // nullptr: stderr (LoggerOr)
  struct ::sip* stack = nullptr;
  struct ::sipsess_sock* sessions = nullptr;
  std::string route;      // settings.OutboundRoute()
  std::string local_ip;   // SIP, RTP and SDP address
  std::string contact_user;
  std::string password;   // from password_file; empty = none. Never logged.
  std::shared_ptr<const WavPrompt> prompt;
  MediaClock* clock = nullptr;
  // Called once by a call after it reported kEnded and released its libre
  // objects; the stack forgets and later deletes it.
  absl::AnyInvocable<void(SipCall*)> on_call_finished;
};

}  // namespace voipd::adapters::sip
