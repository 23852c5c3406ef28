// The contract between main and the subcommands. Each Add*Command function
// defines a subcommand's options; when CLI11 picks that subcommand it stores
// the code to run in `Command`, and main runs it once the client exists.
#pragma once

#include <functional>

#include "voip/v1/voip_service.pb.h"

namespace CLI {
class App;
}  // namespace CLI

namespace voipd::voipctl {

class InterruptWatcher;
class Printer;
class VoipClient;

// What a running command may use.
struct CommandEnv {
  VoipClient& client;
  Printer& printer;
  // Set when the command streams (Command::streams); null otherwise.
  const InterruptWatcher* interrupts;
};

struct Command {
  // Returns the exit code (see exit_codes.h).
  std::function<int(CommandEnv&)> run;
  // The command reads a stream, so Ctrl-C must cancel it cleanly.
  bool streams = false;
};

void AddCallCommand(CLI::App& app, Command* selected);
void AddSessionCommands(CLI::App& app, Command* selected);  // end, status, hold...
void AddListCommand(CLI::App& app, Command* selected);
void AddWatchCommand(CLI::App& app, Command* selected);
void AddEventsCommand(CLI::App& app, Command* selected);
void AddSystemsCommand(CLI::App& app, Command* selected);
void AddHistoryCommand(CLI::App& app, Command* selected);  // history, inbound

// Runs ListCalls page after page, handing each call to `each` (false stops
// with kExitOther); prints the error and returns its exit code on failure.
int ForEachListedCall(voip::v1::ListCallsRequest request, CommandEnv& env,
                      const std::function<bool(const voip::v1::CallSession&)>& each);

}  // namespace voipd::voipctl
