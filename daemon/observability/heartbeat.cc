#include "daemon/observability/heartbeat.h"

#include <utility>  // before asio (toolchain notes)

#include <atomic>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace voipd {

struct Heartbeat::State : std::enable_shared_from_this<State> {
  State(boost::asio::io_context* io, absl::Duration period, std::function<void()> tick)
      : timer(*io), period(absl::ToChronoNanoseconds(period)), tick(std::move(tick)) {}

  void Arm() {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopped.load()) return;
      self->tick();
      self->Arm();
    });
  }

  boost::asio::steady_timer timer;
  const std::chrono::nanoseconds period;
  const std::function<void()> tick;
  std::atomic<bool> stopped{false};
};

Heartbeat::Heartbeat(boost::asio::io_context* io, absl::Duration period,
                     std::function<void()> tick)
    : state_(std::make_shared<State>(io, period, std::move(tick))) {}

Heartbeat::~Heartbeat() { Stop(); }

void Heartbeat::Start() {
  boost::asio::post(state_->timer.get_executor(), [s = state_] { s->Arm(); });
}

void Heartbeat::Stop() {
  state_->stopped.store(true);
  // Cancel on the timer's own thread: steady_timer is not thread-safe.
  boost::asio::post(state_->timer.get_executor(), [s = state_] { s->timer.cancel(); });
}

}  // namespace voipd
