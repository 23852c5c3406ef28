// Shared pieces of the benchmark tools: latency samples and their summary,
// per-process CPU and memory from /proc, gRPC channels that really are
// separate TCP connections, and the error key of a failed RPC.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

namespace bench {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Json = nlohmann::ordered_json;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}
// Wall-clock now in nanoseconds since the epoch (compared with
// CallEvent.time, which the server stamps with its system clock).
int64_t WallNanos();

// Latency samples in microseconds; thread-safe. Exact percentiles: the
// benchmarks are short enough to keep every sample.
class Samples {
 public:
  void Add(int64_t micros);
  void AddAll(const std::vector<int64_t>& micros);
  size_t size() const;
  // {count, mean, p50, p90, p99, p999, max} in microseconds; {count: 0} if empty.
  Json Summary() const;

 private:
  mutable std::mutex mu_;
  std::vector<int64_t> values_;
};

// CPU time (user + system, seconds) and memory (kB) of a process, from /proc.
struct ProcSample {
  double cpu_s = 0;
  int64_t rss_kb = 0;
  int64_t hwm_kb = 0;
  int64_t rss_anon_kb = 0;  // private memory: heap, stacks
  int64_t rss_file_kb = 0;  // mapped files: mostly shared libraries
  int threads = 0;
  bool ok = false;
};
ProcSample SampleProc(pid_t pid);
double SelfCpuSeconds();

// `n` channels to `addr`, each its own TCP connection (a distinct channel
// arg plus a local subchannel pool; identical channels would share one).
// Waits up to `timeout` for each to connect.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& addr, int n,
                                                          std::chrono::seconds timeout);

// "UNAVAILABLE/NETWORK_ERROR" (the gRPC code and, when the trailer carries a
// voip.v1.VoipError, its domain code).
std::string ErrorKey(const grpc::Status& status);
const char* GrpcCodeName(grpc::StatusCode code);

// Counts of error keys; thread-safe.
class ErrorCounts {
 public:
  void Add(const std::string& key);
  int64_t total() const;
  Json ToJson() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;
};

// Writes `j` to `path` ("-" = stdout), pretty-printed.
void WriteJson(const Json& j, const std::string& path);

}  // namespace bench
