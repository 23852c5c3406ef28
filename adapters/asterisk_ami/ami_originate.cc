#include "adapters/asterisk_ami/ami_originate.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/api/voip_error.h"

namespace voipd::adapters::asterisk_ami {
namespace {

// Characters a number, extension, SIP URI or agent endpoint needs, and none
// that Asterisk's dial strings or the AMI framing give a meaning to.
bool IsSafe(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("+*#._@:-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ExpandTemplate(absl::string_view pattern, const TemplateValues& values) {
  absl::string_view digits = values.target;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  return absl::StrReplaceAll(pattern, {{"{target}", values.target},
                                       {"{target_digits}", digits},
                                       {"{from}", values.from},
                                       {"{session_id}", values.session_id}});
}

absl::StatusOr<OriginatePlan> BuildOriginate(
    const voip::config::v1::AsteriskAmiAdapterConfig& config, const DialRequest& request) {
  if (request.target.empty() || !IsSafe(request.target)) {
    return InvalidNumberError(
        "to.number", "to.number: only letters, digits and + * # . _ @ : - can be dialled here");
  }
  OriginatePlan plan;
  plan.from = request.from.empty() ? config.default_from() : request.from;
  if (!IsSafe(plan.from)) {
    return InvalidArgumentError("from",
                                "from: only letters, digits and + * # . _ @ : - are allowed");
  }
  const bool click = config.has_click_to_call();
  const std::string& agent_template = config.click_to_call().agent_channel();
  if (click && plan.from.empty() && agent_template.find("{from}") != std::string::npos) {
    return InvalidArgumentError(
        "from", "from: required, the agent to ring (this system has no default_from)");
  }
  const TemplateValues values{request.target, plan.from, request.session_id};
  plan.primary_id = absl::StrCat(config.channel_id_prefix(), request.session_id);
  plan.peer_id = absl::StrCat(plan.primary_id, "-peer");

  const absl::Duration ring_timeout = request.ring_timeout > absl::ZeroDuration()
                                          ? request.ring_timeout
                                          : absl::Seconds(config.default_ring_timeout_seconds());
  const absl::Duration originate_timeout =
      click ? absl::Seconds(config.click_to_call().agent_ring_timeout_seconds()) : ring_timeout;

  plan.ring_deadline = click ? originate_timeout + ring_timeout : ring_timeout;

  AmiMessage& a = plan.action;
  a = AmiMessage::Action("Originate");
  if (click) {
    const auto& c = config.click_to_call();
    a.Add("Channel", ExpandTemplate(agent_template, values));
    a.Add("Context", ExpandTemplate(c.context(), values));
    a.Add("Exten", ExpandTemplate(c.exten(), values));
    a.Add("Priority", absl::StrCat(c.priority()));
  } else {
    const auto& d = config.direct();
    a.Add("Channel", ExpandTemplate(d.channel(), values));
    if (!d.application().empty()) {
      a.Add("Application", d.application());
      if (!d.application_data().empty()) {
        a.Add("Data", ExpandTemplate(d.application_data(), values));
      }
    } else {
      a.Add("Context", ExpandTemplate(d.context(), values));
      a.Add("Exten", ExpandTemplate(d.exten(), values));
      a.Add("Priority", absl::StrCat(d.priority()));
    }
  }
  if (!config.caller_id().empty()) a.Add("CallerID", ExpandTemplate(config.caller_id(), values));
  a.Add("Timeout", absl::StrCat(absl::ToInt64Milliseconds(originate_timeout)));
  // Async: a synchronous Originate blocks the whole AMI session until the
  // call is answered or fails (peer README, file 13).
  a.Add("Async", "true");
  a.Add("Variable", absl::StrCat("VOIPD_SESSION_ID=", request.session_id));
  a.Add("Variable", absl::StrCat("VOIPD_TARGET=", request.target));
  a.Add("Variable",
        absl::StrCat("VOIPD_RING_TIMEOUT=",
                     static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(ring_timeout)))));
  a.Add("ChannelId", plan.primary_id);
  a.Add("OtherChannelId", plan.peer_id);
  return plan;
}

}  // namespace voipd::adapters::asterisk_ami
