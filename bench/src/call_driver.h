// The load generator's engine: StartCall, then EndCall after a hold time,
// either open-loop at a target rate (latency measured from the intended send
// time, so a slow server cannot hide its queueing) or closed-loop with a fixed
// number of calls in flight. Against the reference server the same two RPCs
// are ReferenceService.Unary calls with the same message types.
//
// Everything is bounded: issuing stops after warmup + duration or max_calls,
// every RPC has a deadline, and the drain waits at most hold + deadline.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"

namespace bench {

enum class Target { kVoipd, kReference };

struct DriverOptions {
  Target target = Target::kVoipd;
  std::string addr;
  int connections = 2;
  int concurrency = 0;   // > 0: closed loop with this many calls in flight
  double rate = 0;       // > 0: open loop, calls per second
  double warmup_s = 1;   // calls started before this are not measured
  double duration_s = 5;
  int64_t max_calls = 2'000'000;
  double hold_s = 0;     // EndCall this long after StartCall returned
  std::string number = "+12015550100";
  std::string system;    // preferred_system; empty = routing decides
  int watch_every = 0;   // every Nth call is followed on a SubscribeCallEvents stream
  int64_t max_outstanding = 100'000;  // open loop: calls in flight beyond this are refused
  double rpc_timeout_s = 10;
  // A call counts as successful only if it was answered (SIP scenarios).
  bool require_connected = false;
  pid_t server_pid = 0;  // sampled (CPU, RSS) at the start and end of the window
  // Server sampling window, seconds after the first call (default: the
  // measured window). Lets a run measure the plateau of long-held calls.
  double sample_from_s = -1;
  double sample_for_s = -1;
  bool quiet = false;
};

// Runs one load and returns its results as JSON (see docs/performance.md).
Json RunCallLoad(const DriverOptions& options);

}  // namespace bench
