#include "bench_common.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>

#include "google/rpc/status.pb.h"
#include "voip/v1/errors.pb.h"

namespace bench {

int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Samples::Add(int64_t micros) {
  std::lock_guard<std::mutex> lock(mu_);
  values_.push_back(micros);
}

void Samples::AddAll(const std::vector<int64_t>& micros) {
  std::lock_guard<std::mutex> lock(mu_);
  values_.insert(values_.end(), micros.begin(), micros.end());
}

size_t Samples::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return values_.size();
}

Json Samples::Summary() const {
  std::vector<int64_t> v;
  {
    std::lock_guard<std::mutex> lock(mu_);
    v = values_;
  }
  Json j;
  j["count"] = v.size();
  if (v.empty()) return j;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  const double sum = std::accumulate(v.begin(), v.end(), 0.0);
  j["mean"] = sum / static_cast<double>(v.size());
  j["p50"] = at(0.50);
  j["p90"] = at(0.90);
  j["p99"] = at(0.99);
  j["p999"] = at(0.999);
  j["max"] = v.back();
  return j;
}

ProcSample SampleProc(pid_t pid) {
  ProcSample s;
  if (pid <= 0) return s;
  {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return s;
    // Fields after the command name (which may contain spaces) start at ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream rest(line.substr(close + 2));
    std::vector<std::string> f;
    std::string tok;
    while (rest >> tok) f.push_back(tok);
    // f[0] is field 3 (state); utime is field 14, stime 15.
    if (f.size() < 13) return s;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") status >> s.rss_kb;
    else if (key == "VmHWM:") status >> s.hwm_kb;
    else if (key == "RssAnon:") status >> s.rss_anon_kb;
    else if (key == "RssFile:") status >> s.rss_file_kb;
    else if (key == "Threads:") status >> s.threads;
    status.ignore(1 << 20, '\n');
  }
  s.ok = true;
  return s;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& addr, int n,
                                                          std::chrono::seconds timeout) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("bench.channel_index", i);  // distinct args: no shared connection
    args.SetMaxReceiveMessageSize(16 << 20);
    auto channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + timeout)) {
      std::cerr << "bench: channel " << i << " to " << addr << " did not connect\n";
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_?";
  }
}

std::string ErrorKey(const grpc::Status& status) {
  std::string key = GrpcCodeName(status.error_code());
  if (!status.error_details().empty()) {
    google::rpc::Status detail;
    if (detail.ParseFromString(status.error_details())) {
      for (const auto& any : detail.details()) {
        voip::v1::VoipError error;
        if (any.UnpackTo(&error)) {
          key += "/" + voip::v1::ErrorCode_Name(error.error_code());
          break;
        }
      }
    }
  }
  return key;
}

void ErrorCounts::Add(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[key];
}

int64_t ErrorCounts::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [k, v] : counts_) n += v;
  return n;
}

Json ErrorCounts::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  Json j = Json::object();
  for (const auto& [k, v] : counts_) j[k] = v;
  return j;
}

void WriteJson(const Json& j, const std::string& path) {
  const std::string text = j.dump(2) + "\n";
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

}  // namespace bench
