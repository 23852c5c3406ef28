// A small Prometheus registry: counter and histogram families with labels,
// plus gauges computed at scrape time by collectors. Rendered in the text
// exposition format (version 0.0.4). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace voipd {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  // Appends text for values known only at scrape time (gauges).
  using Collector = std::function<void(std::string* out)>;

  Metrics();

  // `name` is a view so that the constants below are looked up without
  // building a std::string on every RPC.
  void CounterAdd(absl::string_view name, const MetricLabels& labels, double value = 1);
  void HistogramObserve(absl::string_view name, const MetricLabels& labels, double value);
  void AddCollector(Collector collector);

  std::string Render() const;

  // One gauge family in exposition format, for collectors.
  static void AppendGauge(std::string* out, const std::string& name, const std::string& help,
                          const std::vector<std::pair<MetricLabels, double>>& samples);

 private:
  struct Family {
    std::string help;
    bool histogram = false;
    std::vector<double> bounds;  // histograms: upper bounds, +Inf implied
    // Labels → counter value, or → bucket counts + sum + count.
    std::map<MetricLabels, std::vector<double>> series;
  };
  void Declare(const std::string& name, std::string help, std::vector<double> bounds,
               bool histogram);

  mutable absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

// Names of the metrics voipd exports (docs/operations.md lists them).
inline constexpr char kCallsStarted[] = "voipd_calls_started_total";
inline constexpr char kCallsEnded[] = "voipd_calls_ended_total";
inline constexpr char kRpcDuration[] = "voipd_rpc_duration_seconds";
inline constexpr char kRpcs[] = "voipd_rpcs_total";
inline constexpr char kSubscribersDropped[] = "voipd_subscribers_dropped_total";
inline constexpr char kEventDeliveryLag[] = "voipd_event_delivery_lag_events";
inline constexpr char kAuthFailures[] = "voipd_auth_failures_total";
inline constexpr char kRateLimited[] = "voipd_rate_limited_total";
inline constexpr char kProviderRequestDuration[] = "voipd_provider_request_seconds";

}  // namespace voipd
