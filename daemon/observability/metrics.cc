#include "daemon/observability/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace voipd {
namespace {

std::string Escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string LabelText(const MetricLabels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [key, value] : labels) {
    absl::StrAppend(&out, out.empty() ? "" : ",", key, "=\"", Escape(value), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Counts print as integers; 15 significant digits keep bounds such as
  // 0.0025 readable (17 would print 0.0025000000000000001).
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.15g", v);
}

}  // namespace

Metrics::Metrics() {
  const std::vector<double> latency = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
  Declare(kCallsStarted, "Calls created, by system.", {}, false);
  Declare(kCallsEnded, "Calls that reached a terminal status, by system and status.", {}, false);
  Declare(kRpcs, "Finished RPCs by method and gRPC status code.", {}, false);
  Declare(kRpcDuration, "Unary RPC latency by method, from arrival to reply.", latency, true);
  Declare(kSubscribersDropped,
          "Event streams closed because the subscriber fell too far behind.", {}, false);
  Declare(kEventDeliveryLag,
          "Events published after the one being delivered, sampled at each delivery.",
          {0, 1, 4, 16, 64, 256, 1024, 4096}, true);
  Declare(kAuthFailures, "Requests refused as unauthenticated or not permitted, by reason.", {},
          false);
  Declare(kRateLimited, "StartCalls refused by a per-token limit, by token and limit.", {}, false);
  // Providers answer in milliseconds (SIP, AMI) to seconds (REST with retries).
  Declare(kProviderRequestDuration,
          "Adapter operation latency, from the call into the adapter to its answer, by system, "
          "operation and outcome.",
          latency, true);
}

void Metrics::Declare(const std::string& name, std::string help, std::vector<double> bounds,
                      bool histogram) {
  absl::MutexLock lock(&mu_);
  Family& f = families_[name];
  f.help = std::move(help);
  f.bounds = std::move(bounds);
  f.histogram = histogram;
}

void Metrics::CounterAdd(absl::string_view name, const MetricLabels& labels, double value) {
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.histogram) return;
  std::vector<double>& v = it->second.series[labels];
  if (v.empty()) v.assign(1, 0);
  v[0] += value;
}

void Metrics::HistogramObserve(absl::string_view name, const MetricLabels& labels,
                               double value) {
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it == families_.end() || !it->second.histogram) return;
  const Family& f = it->second;
  std::vector<double>& v = it->second.series[labels];
  // Layout: one cumulative count per bound, then +Inf (= count), then sum.
  if (v.empty()) v.assign(f.bounds.size() + 2, 0);
  for (size_t i = 0; i < f.bounds.size(); ++i) {
    if (value <= f.bounds[i]) v[i] += 1;
  }
  v[f.bounds.size()] += 1;
  v[f.bounds.size() + 1] += value;
}

void Metrics::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

void Metrics::AppendGauge(std::string* out, const std::string& name, const std::string& help,
                          const std::vector<std::pair<MetricLabels, double>>& samples) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n");
  for (const auto& [labels, value] : samples) {
    absl::StrAppend(out, name, LabelText(labels), " ", Number(value), "\n");
  }
}

std::string Metrics::Render() const {
  std::string out;
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, f] : families_) {
      absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ",
                      f.histogram ? "histogram" : "counter", "\n");
      for (const auto& [labels, v] : f.series) {
        if (!f.histogram) {
          absl::StrAppend(&out, name, LabelText(labels), " ", Number(v[0]), "\n");
          continue;
        }
        for (size_t i = 0; i < f.bounds.size(); ++i) {
          absl::StrAppend(&out, name, "_bucket",
                          LabelText(labels, absl::StrCat("le=\"", Number(f.bounds[i]), "\"")),
                          " ", Number(v[i]), "\n");
        }
        absl::StrAppend(&out, name, "_bucket", LabelText(labels, "le=\"+Inf\""), " ",
                        Number(v[f.bounds.size()]), "\n");
        absl::StrAppend(&out, name, "_sum", LabelText(labels), " ",
                        Number(v[f.bounds.size() + 1]), "\n");
        absl::StrAppend(&out, name, "_count", LabelText(labels), " ",
                        Number(v[f.bounds.size()]), "\n");
      }
    }
    collectors = collectors_;
  }
  // Collectors take other components' locks: run them outside ours.
  for (const Collector& c : collectors) c(&out);
  return out;
}

}  // namespace voipd
