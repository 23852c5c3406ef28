// A periodic tick on the daemon's io_context. The watchdog keepalive is sent
// from here rather than from a thread of its own: if the event loop that
// runs adapters' timers and I/O gets stuck, the keepalives stop and systemd
// restarts the daemon.
#pragma once

#include <functional>
#include <memory>

#include "absl/time/time.h"

namespace boost::asio {
class io_context;
}

namespace voipd {

class Heartbeat {
 public:
  // Runs `tick` on `io` every `period`, first after one period.
  Heartbeat(boost::asio::io_context* io, absl::Duration period, std::function<void()> tick);
  ~Heartbeat();

  void Start();
  // Stops further ticks. Safe from any thread; a tick already running
  // finishes.
  void Stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace voipd
