// voipctl: the command-line client for voipd. Parses the command line,
// connects, runs the chosen subcommand and exits with its code (see
// exit_codes.h).
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/client_credentials.h"
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
  CredentialFiles credentials;
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
  CredentialFiles& files = options->credentials;
  app.add_option("--token-file", files.token_file,
                 "File holding the API token (voipd's auth.tokens), sent as "
                 "`authorization: Bearer`; never give a token on the command line")
      ->envname("VOIPD_TOKEN_FILE")
      ->type_name("PATH");
  app.add_flag("--tls", files.tls, "Connect with TLS, trusting the system's CAs");
  app.add_option("--tls-ca-file", files.tls_ca_file,
                 "Connect with TLS, trusting this CA (PEM) for voipd's certificate")
      ->envname("VOIPD_TLS_CA_FILE")
      ->type_name("PATH");
  app.add_option("--tls-cert-file", files.tls_cert_file,
                 "Client certificate (PEM) for mTLS; needs --tls-key-file")
      ->envname("VOIPD_TLS_CERT_FILE")
      ->type_name("PATH");
  app.add_option("--tls-key-file", files.tls_key_file, "Key (PEM) of --tls-cert-file")
      ->envname("VOIPD_TLS_KEY_FILE")
      ->type_name("PATH");
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

  absl::StatusOr<ClientCredentials> credentials = LoadCredentials(global.credentials);
  if (!credentials.ok()) {
    std::cerr << "voipctl: " << credentials.status().message() << "\n";
    return kExitUsage;
  }

  // Before the client: gRPC's threads must inherit the blocked SIGINT.
  std::unique_ptr<InterruptWatcher> interrupts;
  if (selected.streams) interrupts = std::make_unique<InterruptWatcher>();
  VoipClient client(global.addr, std::chrono::duration<double>(global.timeout_seconds),
                    *credentials);
  if (interrupts) interrupts->OnInterrupt([&client] { client.CancelStreams(); });
  Printer printer(global.json, std::cout, std::cerr);
  printer.HintWhenUnauthenticated(credentials->token.empty());
  CommandEnv env{client, printer, interrupts.get()};
  const int exit_code = selected.run(env);
  // Stop watching before the client that the callback cancels goes away.
  interrupts.reset();
  return exit_code;
}

}  // namespace
}  // namespace voipd::voipctl

int main(int argc, char** argv) { return voipd::voipctl::Main(argc, argv); }
