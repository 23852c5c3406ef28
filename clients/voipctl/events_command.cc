// `events`: SubscribeCallEvents, printing every event until Ctrl-C or the
// daemon ends the stream.
#include <charconv>
#include <cstdint>
#include <memory>

#include "CLI/CLI.hpp"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/interrupt_watcher.h"
#include "clients/voipctl/labels.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"

namespace voipd::voipctl {
namespace {

struct EventsOptions {
  // Whether --after was given: after_sequence=0 (replay everything held)
  // differs from no after_sequence (only new events).
  CLI::Option* after_option = nullptr;
  uint64_t after = 0;
  std::string session_id;
  std::string system;
  std::vector<std::string> labels;
};

// CLI11 reads "-1" into a uint64_t as 2^64-1 and saturates on overflow; a
// sequence number is plain digits that fit.
std::string CheckSequence(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (!text.empty() && ec == std::errc() && ptr == end) return "";
  return "'" + text + "' is not a sequence number";
}

int RunEvents(const EventsOptions& options, CommandEnv& env) {
  voip::v1::SubscribeCallEventsRequest request;
  if (options.after_option->count() > 0) request.set_after_sequence(options.after);
  request.mutable_filter()->set_session_id(options.session_id);
  request.mutable_filter()->set_system_name(options.system);
  AddLabels(options.labels, request.mutable_filter()->mutable_labels());
  const RpcError status = env.client.SubscribeCallEvents(
      request, [&env](const voip::v1::CallEvent& event) { return env.printer.Print(event); });
  // Ctrl-C is how a user normally stops `events`: not a failure.
  if (env.interrupts != nullptr && env.interrupts->interrupted()) return kExitOk;
  if (!status.ok()) {
    env.printer.PrintError(status);
    return ExitCodeFor(status);
  }
  return kExitOk;
}

}  // namespace

void AddEventsCommand(CLI::App& app, Command* selected) {
  CLI::App* events =
      app.add_subcommand("events", "Print every call's events as they happen, until Ctrl-C");
  auto options = std::make_shared<EventsOptions>();
  options->after_option =
      events
          ->add_option("--after", options->after,
                       "First replay the held events with a larger sequence number")
          ->type_name("SEQ")
          ->check(CLI::Validator(CheckSequence, "", "sequence"));
  events->add_option("--session", options->session_id, "Only this call's events")->type_name("ID");
  AddSystemOption(events, &options->system, "Only events of calls through this system");
  AddLabelOption(events, &options->labels,
                 "Only events of calls with this label (repeatable; all must match)");
  events->callback([selected, options] {
    selected->streams = true;
    selected->run = [options](CommandEnv& env) { return RunEvents(*options, env); };
  });
}

}  // namespace voipd::voipctl
