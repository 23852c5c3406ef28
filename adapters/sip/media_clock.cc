#include "adapters/sip/media_clock.h"

#include <vector>

#include "adapters/sip/rtp_endpoint.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {
namespace {
constexpr uint64_t kTickMs = 20;
}  // namespace

struct MediaClock::Timer {
  struct tmr tmr;
};

MediaClock::MediaClock() : timer_(std::make_unique<Timer>()) { tmr_init(&timer_->tmr); }

MediaClock::~MediaClock() { tmr_cancel(&timer_->tmr); }

uint64_t MediaClock::NowMs() { return tmr_jiffies(); }

void MediaClock::Add(RtpEndpoint* endpoint) {
  endpoints_.insert(endpoint);
  if (!tmr_isrunning(&timer_->tmr)) Schedule();
}

void MediaClock::Remove(RtpEndpoint* endpoint) {
  endpoints_.erase(endpoint);
  if (endpoints_.empty()) tmr_cancel(&timer_->tmr);
}

void MediaClock::Schedule() { tmr_start(&timer_->tmr, kTickMs, &MediaClock::OnTick, this); }

void MediaClock::OnTick(void* arg) {
  auto* self = static_cast<MediaClock*>(arg);
  const uint64_t now = NowMs();
  // Copy: sending never removes endpoints today, but the tick must stay
  // correct if a send error ever ends a call.
  const std::vector<RtpEndpoint*> endpoints(self->endpoints_.begin(), self->endpoints_.end());
  for (RtpEndpoint* endpoint : endpoints) {
    if (self->endpoints_.contains(endpoint)) endpoint->Tick(now);
  }
  if (!self->endpoints_.empty()) self->Schedule();
}

}  // namespace voipd::adapters::sip
