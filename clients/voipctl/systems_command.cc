// `systems`: GetCapabilities, one line per configured system.
#include "CLI/CLI.hpp"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"

namespace voipd::voipctl {
namespace {

int RunSystems(CommandEnv& env) {
  const RpcResult<voip::v1::GetCapabilitiesResponse> result = env.client.GetCapabilities();
  if (!result.ok()) {
    env.printer.PrintError(result.error);
    return ExitCodeFor(result.error);
  }
  for (const voip::v1::SystemCapabilities& system : result.value.systems()) {
    if (!env.printer.Print(system)) return kExitOther;
  }
  return kExitOk;
}

}  // namespace

void AddSystemsCommand(CLI::App& app, Command* selected) {
  CLI::App* systems = app.add_subcommand(
      "systems", "List the configured systems: type, default, health, supported operations");
  systems->callback([selected] { selected->run = RunSystems; });
}

}  // namespace voipd::voipctl
