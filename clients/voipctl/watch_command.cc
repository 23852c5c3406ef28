#include "clients/voipctl/watch_command.h"

#include <memory>

#include "CLI/CLI.hpp"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/interrupt_watcher.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"

namespace voipd::voipctl {
namespace {

bool IsTerminal(voip::v1::CallStatus status) {
  switch (status) {
    case voip::v1::CALL_STATUS_DISCONNECTED:
    case voip::v1::CALL_STATUS_FAILED:
    case voip::v1::CALL_STATUS_BUSY:
    case voip::v1::CALL_STATUS_UNAVAILABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

int WatchSession(const std::string& session_id, CommandEnv& env) {
  voip::v1::WatchCallRequest request;
  request.set_session_id(session_id);
  bool ended = false;
  const RpcError status = env.client.WatchCall(request, [&](const voip::v1::CallEvent& event) {
    ended = IsTerminal(event.session().status());
    return env.printer.Print(event);
  });
  if (env.interrupts != nullptr && env.interrupts->interrupted()) return kExitInterrupted;
  if (!status.ok()) {
    env.printer.PrintError(status);
    return ExitCodeFor(status);
  }
  if (!ended) {
    // An OK end without the terminal event breaks WatchCall's contract; do
    // not let a script take it for "the call ended".
    RpcError early;
    early.code = absl::StatusCode::kDataLoss;
    early.message = "the watch stream ended before the call did";
    env.printer.PrintError(early);
    return kExitOther;
  }
  return kExitOk;
}

void AddWatchCommand(CLI::App& app, Command* selected) {
  CLI::App* watch =
      app.add_subcommand("watch", "Print a call's events (a snapshot first) until the call ends");
  auto session_id = std::make_shared<std::string>();
  watch->add_option("ID", *session_id, "Session id")->required();
  watch->callback([selected, session_id] {
    selected->streams = true;
    selected->run = [session_id](CommandEnv& env) { return WatchSession(*session_id, env); };
  });
}

}  // namespace voipd::voipctl
