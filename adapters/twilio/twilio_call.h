// One call as the twilio adapter tracks it. Internal to the adapter's two
// .cc files; strand-confined like all call state.
#pragma once

#include <utility>  // before asio (toolchain notes)
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/time/time.h"
#include "adapters/twilio/call_progress.h"
#include "adapters/twilio/twilio_adapter.h"

namespace voipd::adapters::twilio {

struct TwilioAdapter::Call {
  std::string session_id;
  std::string from;
  std::string call_sid;  // the contact leg, known once Twilio answered 201
  bool inbound = false;  // arrived through /voice/incoming
  std::string agent_endpoint;  // dialled into the conference on answer; "" = none
  bool created = false;
  DialCallback dial_done;  // until the create completes
  CallProgress progress;
  bool end_requested = false;
  std::vector<uint64_t> end_waiters;  // EndCalls that arrived before the 201
  // Callbacks that overtook the 201 (the URL names the session): applied,
  // in order, once the DialCallback has run.
  std::vector<std::pair<std::string, StatusReport>> early;  // CallSid, report
  std::string conference_sid;
  std::string agent_sid;  // the agent leg, when voipd dialled one
  bool agent_answered = false;
  bool agent_ended = false;
  std::shared_ptr<boost::asio::steady_timer> poll_timer;
  bool poll_in_flight = false;
  absl::Time last_heard = absl::InfinitePast();
};

template <typename Fn>
void TwilioAdapter::OnStrand(Fn fn) {
  // A weak reference: queued work must not keep a removed adapter alive.
  boost::asio::post(strand_, [weak = weak_from_this(), fn = std::move(fn)]() mutable {
    if (auto self = weak.lock()) fn(*self);
  });
}

template <typename T, typename Fn>
RestCallback<T> TwilioAdapter::Back(Fn fn) {
  return [weak = weak_from_this(), strand = strand_,
          fn = std::move(fn)](absl::StatusOr<T> result) mutable {
    boost::asio::post(strand, [weak, fn = std::move(fn), result = std::move(result)]() mutable {
      if (auto self = weak.lock()) fn(*self, std::move(result));
    });
  };
}

}  // namespace voipd::adapters::twilio
