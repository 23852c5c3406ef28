// `list`: ListCalls, following next_page_token so that every match prints.
#include <memory>

#include "CLI/CLI.hpp"
#include "clients/voipctl/call_status_names.h"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/labels.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"

namespace voipd::voipctl {
namespace {

struct ListOptions {
  bool active = false;
  std::string status;
  std::string system;
  std::vector<std::string> labels;
  int page_size = 0;  // 0: the daemon's default
};

std::string CheckStatus(const std::string& name) {
  if (ParseCallStatus(name)) return "";
  return "unknown status '" + name + "' (one of: " + CallStatusNameList() + ")";
}

int RunList(const ListOptions& options, CommandEnv& env) {
  voip::v1::ListCallsRequest request;
  request.set_active_only(options.active);
  if (!options.status.empty()) request.set_status(*ParseCallStatus(options.status));
  request.set_system_name(options.system);
  AddLabels(options.labels, request.mutable_labels());
  request.set_page_size(options.page_size);
  return ForEachListedCall(request, env, [&env](const voip::v1::CallSession& session) {
    return env.printer.Print(session);
  });
}

}  // namespace

int ForEachListedCall(voip::v1::ListCallsRequest request, CommandEnv& env,
                      const std::function<bool(const voip::v1::CallSession&)>& each) {
  do {
    const RpcResult<voip::v1::ListCallsResponse> page = env.client.ListCalls(request);
    if (!page.ok()) {
      env.printer.PrintError(page.error);
      return ExitCodeFor(page.error);
    }
    for (const voip::v1::CallSession& session : page.value.calls()) {
      if (!each(session)) return kExitOther;
    }
    request.set_page_token(page.value.next_page_token());
  } while (!request.page_token().empty());
  return kExitOk;
}

void AddListCommand(CLI::App& app, Command* selected) {
  CLI::App* list = app.add_subcommand("list", "List calls, oldest first, one per line");
  auto options = std::make_shared<ListOptions>();
  list->add_flag("--active", options->active, "Only calls that have not ended");
  list->add_option("--status", options->status,
                   "Only calls in this status: " + CallStatusNameList())
      ->type_name("STATUS")
      ->check(CLI::Validator(CheckStatus, "STATUS", "status"));
  AddSystemOption(list, &options->system, "Only calls through this system");
  AddLabelOption(list, &options->labels, "Only calls with this label (repeatable; all must match)");
  list->add_option("--page-size", options->page_size,
                   "Calls fetched per request; all pages are printed")
      ->type_name("N")
      ->check(CLI::Range(1, 1000));
  list->callback([selected, options] {
    selected->run = [options](CommandEnv& env) { return RunList(*options, env); };
  });
}

}  // namespace voipd::voipctl
