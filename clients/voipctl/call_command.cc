// `call NUMBER`: StartCall, and with --watch follow the new call.
#include <cmath>
#include <memory>

#include "CLI/CLI.hpp"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/labels.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"
#include "clients/voipctl/watch_command.h"

namespace voipd::voipctl {
namespace {

struct CallOptions {
  std::string number;
  std::string system;
  std::string from;
  std::vector<std::string> labels;
  std::string request_id;
  double ring_timeout_seconds = 0;  // 0: the system's default
  std::string type;
  bool watch = false;
};

voip::v1::StartCallRequest BuildRequest(const CallOptions& options) {
  voip::v1::StartCallRequest request;
  // As typed: normalising numbers is the daemon's job (it knows the region).
  request.mutable_to()->set_number(options.number);
  request.mutable_to()->set_type(options.type);
  request.set_preferred_system(options.system);
  request.set_from(options.from);
  request.set_request_id(options.request_id);
  if (options.ring_timeout_seconds > 0) {
    double whole = 0;
    const double fraction = std::modf(options.ring_timeout_seconds, &whole);
    request.mutable_ring_timeout()->set_seconds(static_cast<int64_t>(whole));
    request.mutable_ring_timeout()->set_nanos(static_cast<int32_t>(fraction * 1e9));
  }
  AddLabels(options.labels, request.mutable_labels());
  return request;
}

int RunCall(const CallOptions& options, CommandEnv& env) {
  const RpcResult<voip::v1::CallSession> result = env.client.StartCall(BuildRequest(options));
  if (!result.ok()) {
    env.printer.PrintError(result.error);
    return ExitCodeFor(result.error);
  }
  env.printer.Print(result.value);
  if (!options.watch) return kExitOk;
  return WatchSession(result.value.session_id(), env);
}

}  // namespace

void AddCallCommand(CLI::App& app, Command* selected) {
  CLI::App* call = app.add_subcommand("call", "Place an outbound call and print the session");
  auto options = std::make_shared<CallOptions>();
  call->add_option("NUMBER", options->number,
                   "The callee as typed: +12015550100, \"(201) 555-0100\", sip:a@b, 1001")
      ->required();
  AddSystemOption(call, &options->system,
                  "The system to dial through (default: the router's choice)");
  call->add_option("--from", options->from, "The caller (default: the system's)")
      ->type_name("FROM");
  AddLabelOption(call, &options->labels, "Label the call (repeatable)");
  AddRequestIdOption(call, &options->request_id);
  call->add_option("--ring-timeout", options->ring_timeout_seconds,
                   "How long the far end may ring (default: the system's)")
      ->type_name("SECONDS")
      ->check(PositiveSeconds());
  call->add_option("--type", options->type, "The number's label, e.g. mobile or work")
      ->type_name("LABEL");
  call->add_flag("--watch", options->watch, "Then print the call's events until it ends");
  call->callback([selected, options] {
    selected->streams = options->watch;
    selected->run = [options](CommandEnv& env) { return RunCall(*options, env); };
  });
}

}  // namespace voipd::voipctl
