// voipctl: the command-line client for voipd. Parses the command line,
// connects, runs the chosen subcommand and exits with its code (see
// exit_codes.h).
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/interrupt_watcher.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"

namespace voipd::voipctl {
namespace {

struct GlobalOptions {
  std::string addr = "127.0.0.1:50051";
  bool json = false;
  double timeout_seconds = 10;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions* options) {
  app.add_option("--addr", options->addr, "voipd's address: HOST:PORT or unix:PATH")
      ->envname("VOIPD_ADDR")
      ->type_name("ADDR")
      ->capture_default_str();
  app.add_flag("--json", options->json,
               "Print one JSON object per line (errors as {\"error\": {...}})");
  app.add_option("--timeout", options->timeout_seconds, "Deadline of each non-streaming request")
      ->type_name("SECONDS")
      ->check(PositiveSeconds())
      ->capture_default_str();
}

int Main(int argc, char** argv) {
  CLI::App app("Place and control calls through voipd.", "voipctl");
  // Global options may also follow the subcommand: `voipctl status ID --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(std::string(kExitCodesHelp));
  GlobalOptions global;
  AddGlobalOptions(app, &global);
  Command selected;
  AddCallCommand(app, &selected);
  AddSessionCommands(app, &selected);
  AddListCommand(app, &selected);
  AddWatchCommand(app, &selected);
  AddEventsCommand(app, &selected);
  AddSystemsCommand(app, &selected);
  AddHistoryCommand(app, &selected);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // app.exit prints help or the error; --help is a success.
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }

  // Before the client: gRPC's threads must inherit the blocked SIGINT.
  std::unique_ptr<InterruptWatcher> interrupts;
  if (selected.streams) interrupts = std::make_unique<InterruptWatcher>();
  VoipClient client(global.addr, std::chrono::duration<double>(global.timeout_seconds));
  if (interrupts) interrupts->OnInterrupt([&client] { client.CancelStreams(); });
  Printer printer(global.json, std::cout, std::cerr);
  CommandEnv env{client, printer, interrupts.get()};
  const int exit_code = selected.run(env);
  // Stop watching before the client that the callback cancels goes away.
  interrupts.reset();
  return exit_code;
}

}  // namespace
}  // namespace voipd::voipctl

int main(int argc, char** argv) { return voipd::voipctl::Main(argc, argv); }
