#include "daemon/observability/metrics.h"

#include <gtest/gtest.h>

#include "daemon/core/event_bus.h"
#include "daemon/observability/call_metrics.h"
#include "daemon/observability/provider_metrics.h"

namespace voipd {
namespace {

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(MetricsTest, RendersCountersHistogramsAndCollectors) {
  Metrics m;
  m.CounterAdd(kCallsStarted, {{"system", "sandbox"}});
  m.CounterAdd(kCallsStarted, {{"system", "sandbox"}});
  m.CounterAdd(kCallsStarted, {{"system", "we\"ird"}});
  m.HistogramObserve(kRpcDuration, {{"method", "StartCall"}}, 0.003);
  m.AddCollector([](std::string* out) {
    Metrics::AppendGauge(out, "voipd_active_calls", "help", {{{{"system", "sandbox"}}, 4}});
  });
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "# TYPE voipd_calls_started_total counter\n")) << text;
  EXPECT_TRUE(Contains(text, "voipd_calls_started_total{system=\"sandbox\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "voipd_calls_started_total{system=\"we\\\"ird\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "voipd_rpc_duration_seconds_bucket{method=\"StartCall\",le=\"0.0025\"} 0\n"))
      << text;
  EXPECT_TRUE(Contains(text, "voipd_rpc_duration_seconds_bucket{method=\"StartCall\",le=\"0.005\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "voipd_rpc_duration_seconds_bucket{method=\"StartCall\",le=\"+Inf\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "voipd_rpc_duration_seconds_count{method=\"StartCall\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "# TYPE voipd_active_calls gauge\nvoipd_active_calls{system=\"sandbox\"} 4\n"))
      << text;
}

TEST(MetricsTest, ProviderMetricsObserveLatencyBySystemOperationAndOutcome) {
  Metrics m;
  ProviderMetrics provider(&m);
  ProviderRequestObserver& observer = provider;
  observer.OnProviderRequest("pbx", "StartCall", true, absl::Milliseconds(3));
  observer.OnProviderRequest("pbx", "StartCall", true, absl::Milliseconds(30));
  observer.OnProviderRequest("pbx", "Hold", false, absl::Seconds(2));
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "# TYPE voipd_provider_request_seconds histogram\n")) << text;
  const std::string ok = "system=\"pbx\",operation=\"StartCall\",outcome=\"ok\"";
  EXPECT_TRUE(Contains(text, "voipd_provider_request_seconds_bucket{" + ok + ",le=\"0.005\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "voipd_provider_request_seconds_bucket{" + ok + ",le=\"0.05\"} 2\n"))
      << text;
  EXPECT_TRUE(Contains(text, "voipd_provider_request_seconds_count{" + ok + "} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "voipd_provider_request_seconds_sum{" + ok + "} 0.033\n")) << text;
  const std::string error = "system=\"pbx\",operation=\"Hold\",outcome=\"error\"";
  EXPECT_TRUE(Contains(text, "voipd_provider_request_seconds_bucket{" + error + ",le=\"1\"} 0\n"))
      << text;
  EXPECT_TRUE(Contains(text, "voipd_provider_request_seconds_count{" + error + "} 1\n")) << text;
}

voip::v1::CallEvent StatusEvent(voip::v1::CallStatus previous, voip::v1::CallStatus now) {
  voip::v1::CallEvent e;
  e.set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  e.set_previous_status(previous);
  e.mutable_session()->set_status(now);
  e.mutable_session()->set_system_name("sandbox");
  return e;
}

TEST(CallMetricsTest, CountsStartsAndEndsFromTheBus) {
  EventBus bus(100, 100);
  Metrics m;
  absl::StatusOr<std::unique_ptr<CallMetrics>> feed = CallMetrics::Start(&bus, &m);
  ASSERT_TRUE(feed.ok());
  bus.Publish(StatusEvent(voip::v1::CALL_STATUS_UNSPECIFIED, voip::v1::CALL_STATUS_INITIATING));
  bus.Publish(StatusEvent(voip::v1::CALL_STATUS_INITIATING, voip::v1::CALL_STATUS_RINGING));
  bus.Publish(StatusEvent(voip::v1::CALL_STATUS_RINGING, voip::v1::CALL_STATUS_BUSY));
  bus.Publish(StatusEvent(voip::v1::CALL_STATUS_UNSPECIFIED, voip::v1::CALL_STATUS_INITIATING));
  const std::string text = m.Render();
  EXPECT_TRUE(Contains(text, "voipd_calls_started_total{system=\"sandbox\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "voipd_calls_ended_total{system=\"sandbox\",status=\"busy\"} 1\n"))
      << text;
}

}  // namespace
}  // namespace voipd
