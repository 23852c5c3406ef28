// The commands that act on one call and print it afterwards: end, status,
// hold, resume, mute, unmute.
#include <functional>
#include <memory>

#include "CLI/CLI.hpp"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"

namespace voipd::voipctl {
namespace {

struct SessionOptions {
  std::string session_id;
  std::string request_id;
};

// Sends one request built from the options and prints the session it returns.
using SessionRpc =
    std::function<RpcResult<voip::v1::CallSession>(const SessionOptions&, VoipClient&)>;

void AddSessionCommand(CLI::App& app, Command* selected, const std::string& name,
                       const std::string& help, bool has_request_id, SessionRpc rpc) {
  CLI::App* command = app.add_subcommand(name, help);
  auto options = std::make_shared<SessionOptions>();
  command->add_option("ID", options->session_id, "Session id")->required();
  if (has_request_id) AddRequestIdOption(command, &options->request_id);
  command->callback([selected, options, rpc = std::move(rpc)] {
    selected->run = [options, rpc](CommandEnv& env) {
      const RpcResult<voip::v1::CallSession> result = rpc(*options, env.client);
      if (!result.ok()) {
        env.printer.PrintError(result.error);
        return static_cast<int>(ExitCodeFor(result.error));
      }
      env.printer.Print(result.value);
      return static_cast<int>(kExitOk);
    };
  });
}

RpcResult<voip::v1::CallSession> Hold(const SessionOptions& options, VoipClient& client,
                                      bool hold) {
  voip::v1::HoldRequest request;
  request.set_session_id(options.session_id);
  request.set_hold(hold);
  request.set_request_id(options.request_id);
  return client.Hold(request);
}

RpcResult<voip::v1::CallSession> Mute(const SessionOptions& options, VoipClient& client,
                                      bool mute) {
  voip::v1::MuteRequest request;
  request.set_session_id(options.session_id);
  request.set_mute(mute);
  request.set_request_id(options.request_id);
  return client.Mute(request);
}

}  // namespace

void AddSessionCommands(CLI::App& app, Command* selected) {
  AddSessionCommand(app, selected, "end", "End a call (cancel it if not yet answered)",
                    /*has_request_id=*/true, [](const SessionOptions& options, VoipClient& client) {
                      voip::v1::EndCallRequest request;
                      request.set_session_id(options.session_id);
                      request.set_request_id(options.request_id);
                      return client.EndCall(request);
                    });
  AddSessionCommand(app, selected, "status", "Print a call", /*has_request_id=*/false,
                    [](const SessionOptions& options, VoipClient& client) {
                      voip::v1::GetCallStatusRequest request;
                      request.set_session_id(options.session_id);
                      return client.GetCallStatus(request);
                    });
  AddSessionCommand(app, selected, "hold", "Put a connected call on hold", true,
                    [](const SessionOptions& o, VoipClient& c) { return Hold(o, c, true); });
  AddSessionCommand(app, selected, "resume", "Take a call off hold", true,
                    [](const SessionOptions& o, VoipClient& c) { return Hold(o, c, false); });
  AddSessionCommand(app, selected, "mute", "Mute voipd's side of a call", true,
                    [](const SessionOptions& o, VoipClient& c) { return Mute(o, c, true); });
  AddSessionCommand(app, selected, "unmute", "Unmute voipd's side of a call", true,
                    [](const SessionOptions& o, VoipClient& c) { return Mute(o, c, false); });
}

}  // namespace voipd::voipctl
