#include "daemon/observability/call_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "daemon/core/call_state_machine.h"

namespace voipd {

struct CallMetrics::State {
  Metrics* metrics = nullptr;
  SubscriptionPtr sub;

  void Drain() {
    for (;;) {
      absl::StatusOr<CallEventPtr> event = sub->Next();
      if (!event.ok() || *event == nullptr) return;  // closed, or nothing more now
      Count(**event);
    }
  }

  void Count(const voip::v1::CallEvent& event) {
    if (event.type() != voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED) return;
    const auto& session = event.session();
    const MetricLabels system = {{"system", session.system_name()}};
    if (event.previous_status() == voip::v1::CALL_STATUS_UNSPECIFIED) {
      metrics->CounterAdd(kCallsStarted, system);
    }
    if (IsTerminal(session.status())) {
      std::string status = voip::v1::CallStatus_Name(session.status());
      constexpr absl::string_view kPrefix = "CALL_STATUS_";
      if (absl::StartsWith(status, kPrefix)) status = absl::AsciiStrToLower(status.substr(kPrefix.size()));
      metrics->CounterAdd(kCallsEnded, {{"system", session.system_name()}, {"status", status}});
    }
  }
};

absl::StatusOr<std::unique_ptr<CallMetrics>> CallMetrics::Start(EventBus* bus, Metrics* metrics) {
  auto state = std::make_shared<State>();
  state->metrics = metrics;
  std::weak_ptr<State> weak = state;
  // Inline: counting is cheaper than handing the wake to the fan-out thread.
  absl::StatusOr<SubscriptionPtr> sub = bus->Subscribe(
      EventFilter{}, std::nullopt,
      [weak] {
        if (auto s = weak.lock()) s->Drain();
      },
      WakeMode::kInline);
  if (!sub.ok()) return sub.status();
  state->sub = std::move(*sub);
  state->Drain();  // arms the wake-up for the first event
  return std::unique_ptr<CallMetrics>(new CallMetrics(std::move(state)));
}

CallMetrics::CallMetrics(std::shared_ptr<State> state) : state_(std::move(state)) {}

CallMetrics::~CallMetrics() {
  if (state_->sub) state_->sub->Close();
}

}  // namespace voipd
