// The answer to one hangup (EndCall, or a call ended at shutdown): the call's
// terminal snapshot, once the provider has accepted the hangup and the call
// has ended, in either order.
//
// It is registered with the registry (CallRegistry::OnTerminal) before the
// provider is asked, so the snapshot is taken as the call ends. Reading it
// afterwards could find nothing: retention may prune an ended call as soon
// as other calls end (a short max_ended_calls), and the client would be told
// SESSION_NOT_FOUND for a hangup that worked.
#ifndef VOIPD_DAEMON_CORE_CALL_END_WAITER_H_
#define VOIPD_DAEMON_CORE_CALL_END_WAITER_H_

#include <utility>  // before asio (toolchain notes)
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "voip/v1/call.pb.h"

namespace voipd {

class CallEndWaiter {
 public:
  using Answer = absl::AnyInvocable<void(absl::StatusOr<voip::v1::CallSession>) &&>;

  explicit CallEndWaiter(Answer answer) : answer_(std::move(answer)) {}

  // The registry's terminal callback: the call has ended as `session`.
  void Ended(const voip::v1::CallSession& session);

  // The provider accepted the hangup. Answers with the snapshot once the call
  // has ended; if it has not within `timeout`, runs `end_locally` on `io`,
  // which must end the call (and so call Ended).
  void Accepted(boost::asio::io_context& io, absl::Duration timeout,
                absl::AnyInvocable<void()> end_locally);

  // Answers `result` now, unless already answered: the provider refused the
  // hangup, or the call is no longer in the registry to wait on.
  void Finish(absl::StatusOr<voip::v1::CallSession> result);

 private:
  absl::Mutex mu_;
  Answer answer_ ABSL_GUARDED_BY(mu_);  // empty once answered
  std::optional<voip::v1::CallSession> ended_ ABSL_GUARDED_BY(mu_);
  bool accepted_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<boost::asio::steady_timer> timer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd

#endif  // VOIPD_DAEMON_CORE_CALL_END_WAITER_H_
