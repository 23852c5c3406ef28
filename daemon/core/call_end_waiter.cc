#include "daemon/core/call_end_waiter.h"

#include <chrono>

namespace voipd {

void CallEndWaiter::Ended(const voip::v1::CallSession& session) {
  Answer answer;
  {
    absl::MutexLock lock(&mu_);
    if (!answer_) return;  // already answered (the provider refused)
    if (timer_) timer_->cancel();
    if (!accepted_) {
      ended_ = session;  // kept until the provider's answer arrives
      return;
    }
    answer = std::move(answer_);
  }
  std::move(answer)(session);
}

void CallEndWaiter::Accepted(boost::asio::io_context& io, absl::Duration timeout,
                             absl::AnyInvocable<void()> end_locally) {
  Answer answer;
  std::optional<voip::v1::CallSession> ended;
  {
    absl::MutexLock lock(&mu_);
    if (!answer_) return;
    accepted_ = true;
    if (!ended_) {
      // Most providers report the end before they answer the hangup: the
      // timer is only armed for the ones that have not yet.
      timer_ = std::make_unique<boost::asio::steady_timer>(io);
      timer_->expires_after(absl::ToChronoNanoseconds(timeout));
      timer_->async_wait([end_locally = std::move(end_locally)](
                             boost::system::error_code ec) mutable {
        if (!ec) end_locally();
      });
      return;
    }
    answer = std::move(answer_);
    ended = std::move(ended_);
  }
  std::move(answer)(std::move(*ended));
}

void CallEndWaiter::Finish(absl::StatusOr<voip::v1::CallSession> result) {
  Answer answer;
  {
    absl::MutexLock lock(&mu_);
    if (!answer_) return;
    if (timer_) timer_->cancel();
    answer = std::move(answer_);
  }
  std::move(answer)(std::move(result));
}

}  // namespace voipd
