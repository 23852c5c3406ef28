// The one 20 ms tick that drives every RTP endpoint of a system. A timer per
// call would cost libre a sorted-list insert per call per frame; one shared
// tick costs one timer however many calls are up. Loop thread only.
#pragma once

#include <memory>

#include "absl/container/flat_hash_set.h"

namespace voipd::adapters::sip {

class RtpEndpoint;

class MediaClock {
 public:
  MediaClock();
  ~MediaClock();
  MediaClock(const MediaClock&) = delete;
  MediaClock& operator=(const MediaClock&) = delete;

  // The tick runs only while at least one endpoint is registered.
  void Add(RtpEndpoint* endpoint);
  void Remove(RtpEndpoint* endpoint);
  // Milliseconds on libre's monotonic clock.
  static uint64_t NowMs();

 private:
  struct Timer;
  static void OnTick(void* arg);
  void Schedule();

  std::unique_ptr<Timer> timer_;
  absl::flat_hash_set<RtpEndpoint*> endpoints_;
};

}  // namespace voipd::adapters::sip
