// `history`: every call in the daemon's history matching the filters, oldest
// first, as lines, JSON (--json) or CSV (--csv); follows every page.
// `inbound`: asks a simulator system (sandbox) for an inbound call.
#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/voipctl/call_status_names.h"
#include "clients/voipctl/cli_options.h"
#include "clients/voipctl/command.h"
#include "clients/voipctl/exit_codes.h"
#include "clients/voipctl/history_csv.h"
#include "clients/voipctl/labels.h"
#include "clients/voipctl/printer.h"
#include "clients/voipctl/voip_client.h"
#include "google/protobuf/util/time_util.h"

namespace voipd::voipctl {
namespace {

struct HistoryOptions {
  std::string since;
  std::string until;
  std::string status;
  std::string system;
  std::string number;
  std::string direction;
  std::vector<std::string> labels;
  bool csv = false;
};

// "24h", "90m" (ago) or an RFC 3339 time ("2026-11-23T10:00:00Z").
std::optional<absl::Time> ParseWhen(const std::string& text, absl::Time now) {
  absl::Duration ago;
  if (absl::ParseDuration(text, &ago) && ago >= absl::ZeroDuration()) return now - ago;
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return t;
  return std::nullopt;
}

std::string CheckWhen(const std::string& text) {
  if (ParseWhen(text, absl::Now())) return "";
  return "'" + text + "' is neither a duration such as 24h nor an RFC 3339 time";
}

std::string CheckStatus(const std::string& name) {
  if (ParseCallStatus(name)) return "";
  return "unknown status '" + name + "' (one of: " + CallStatusNameList() + ")";
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

int RunHistory(const HistoryOptions& options, CommandEnv& env) {
  const absl::Time now = absl::Now();
  voip::v1::ListCallsRequest request;
  if (!options.since.empty()) *request.mutable_created_after() = ToProto(*ParseWhen(options.since, now));
  if (!options.until.empty()) *request.mutable_created_before() = ToProto(*ParseWhen(options.until, now));
  if (!options.status.empty()) request.set_status(*ParseCallStatus(options.status));
  request.set_system_name(options.system);
  request.set_number(options.number);
  if (options.direction == "inbound") request.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
  if (options.direction == "outbound") request.set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
  AddLabels(options.labels, request.mutable_labels());
  request.set_page_size(1000);
  if (options.csv) std::cout << HistoryCsvHeader() << "\n";
  const int code = ForEachListedCall(request, env, [&](const voip::v1::CallSession& session) {
    if (!options.csv) return env.printer.Print(session);
    std::cout << HistoryCsvRow(session) << "\n";
    return static_cast<bool>(std::cout);
  });
  std::cout.flush();
  return code;
}

struct InboundOptions {
  std::string system;
  std::string from;
  std::string to;
  std::vector<std::string> labels;
  std::string request_id;
};

int RunInbound(const InboundOptions& options, CommandEnv& env) {
  voip::v1::SimulateInboundCallRequest request;
  request.set_system_name(options.system);
  request.set_from(options.from);
  request.set_to(options.to);
  AddLabels(options.labels, request.mutable_labels());
  request.set_request_id(options.request_id);
  const RpcResult<voip::v1::CallSession> result = env.client.SimulateInboundCall(request);
  if (!result.ok()) {
    env.printer.PrintError(result.error);
    return ExitCodeFor(result.error);
  }
  return env.printer.Print(result.value) ? kExitOk : kExitOther;
}

}  // namespace

void AddHistoryCommand(CLI::App& app, Command* selected) {
  CLI::App* history = app.add_subcommand(
      "history", "Calls from the daemon's history (all of it with a state_dir), oldest first");
  auto options = std::make_shared<HistoryOptions>();
  history->add_option("--since", options->since, "Calls created at or after: 24h (ago) or RFC 3339")
      ->type_name("WHEN")
      ->check(CLI::Validator(CheckWhen, "WHEN", "when"));
  history->add_option("--until", options->until, "Calls created before: 1h (ago) or RFC 3339")
      ->type_name("WHEN")
      ->check(CLI::Validator(CheckWhen, "WHEN", "when"));
  history->add_option("--status", options->status, "Only calls in this status: " + CallStatusNameList())
      ->type_name("STATUS")
      ->check(CLI::Validator(CheckStatus, "STATUS", "status"));
  AddSystemOption(history, &options->system, "Only calls through this system");
  history->add_option("--number", options->number, "Only calls to or from this number");
  history->add_option("--direction", options->direction, "inbound or outbound")
      ->check(CLI::IsMember({"inbound", "outbound"}));
  AddLabelOption(history, &options->labels, "Only calls with this label (repeatable)");
  history->add_flag("--csv", options->csv, "CSV with a header row instead of lines or JSON");
  history->callback([selected, options] {
    selected->run = [options](CommandEnv& env) { return RunHistory(*options, env); };
  });

  CLI::App* inbound = app.add_subcommand(
      "inbound", "Simulate an inbound call on a simulator system (sandbox); needs admin");
  auto in = std::make_shared<InboundOptions>();
  AddSystemOption(inbound, &in->system, "The system (default: the daemon's default)");
  inbound->add_option("--from", in->from, "The caller's number")->required();
  inbound->add_option("--to", in->to, "The dialled number or extension")->required();
  AddLabelOption(inbound, &in->labels, "Label the call (repeatable)");
  AddRequestIdOption(inbound, &in->request_id);
  inbound->callback([selected, in] {
    selected->run = [in](CommandEnv& env) { return RunInbound(*in, env); };
  });
}

}  // namespace voipd::voipctl
