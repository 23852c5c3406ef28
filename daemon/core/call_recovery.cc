#include "daemon/core/call_recovery.h"

#include <utility>  // before asio (toolchain notes)
#include <atomic>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/str_cat.h"
#include "daemon/logging.h"

namespace voipd {
namespace {

void EndRecovered(CallRegistry* registry, const std::string& session_id, std::string why) {
  adapters::ProviderEvent ended;
  ended.session_id = session_id;
  ended.kind = adapters::ProviderEventKind::kEnded;
  ended.outcome = adapters::EndOutcome::kDisconnected;
  ended.source = voip::v1::HANGUP_SOURCE_SYSTEM;
  ended.error_code = voip::v1::DAEMON_RESTART;
  ended.message = std::move(why);
  registry->OnProviderEvent(std::move(ended));
}

}  // namespace

void RecoverCalls(const std::vector<voip::v1::CallSession>& calls, const SystemTable& systems,
                  CallRegistry* registry, boost::asio::io_context* io, absl::Duration timeout) {
  for (const voip::v1::CallSession& session : calls) {
    const std::string id = session.session_id();
    const SystemEntry* system = systems.Find(session.system_name());
    adapters::AdapterPtr adapter = system ? system->adapter : nullptr;
    registry->Restore(session, adapter);
    if (adapter == nullptr) {
      EndRecovered(registry, id,
                   absl::StrCat("voipd restarted while the call was active and system '",
                                session.system_name(), "' is no longer configured"));
      continue;
    }
    // Exactly one of the adapter's answer and the timeout decides.
    auto decided = std::make_shared<std::atomic<bool>>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(*io);
    timer->expires_after(absl::ToChronoNanoseconds(timeout));
    timer->async_wait([registry, id, decided, timeout](boost::system::error_code ec) {
      if (ec || decided->exchange(true)) return;
      EndRecovered(registry, id,
                   absl::StrCat("voipd restarted while the call was active; the provider did "
                                "not report it within ", absl::FormatDuration(timeout)));
    });
    adapters::CallRef ref{id, session.provider_call_id()};
    // Weak: the adapter holds this callback until it answers.
    std::weak_ptr<adapters::Adapter> weak = adapter;
    adapter->Readopt(session, [registry, id, decided, timer, weak, ref,
                               system = session.system_name()](absl::StatusOr<bool> alive) {
      if (decided->exchange(true)) {
        auto late = weak.lock();
        if (!alive.ok() || !*alive || late == nullptr) return;
        // Too late: the call already ended here with DAEMON_RESTART, so it
        // must not stay up at the provider. Its kEnded is then a no-op.
        LogWarn("history",
                "the provider still had the call but answered after the recovery deadline: "
                "hanging it up",
                {{"session_id", id}, {"system", system}});
        late->EndCall(ref, [id, system](absl::Status ended) {
          if (!ended.ok()) {
            LogWarn("history", absl::StrCat("hanging up a late re-adopted call failed: ",
                                            ended.message()),
                    {{"session_id", id}, {"system", system}});
          }
        });
        return;
      }
      timer->cancel();
      if (alive.ok() && *alive) {
        LogInfo("history", "call re-adopted after the restart: the provider still has it",
                {{"session_id", id}, {"system", system}});
        return;
      }
      EndRecovered(registry, id,
                   alive.ok() ? "voipd restarted while the call was active; it was ended during "
                                "recovery (the provider cannot report it or it is gone)"
                              : absl::StrCat("voipd restarted while the call was active; "
                                             "re-adopting it failed: ",
                                             alive.status().message()));
    });
  }
}

}  // namespace voipd
