// voipd-loadgen: StartCall + EndCall load against voipd or the reference
// server, open loop (--rate) or closed loop (--concurrency). Prints one JSON
// object with throughput, latency percentiles, time to each streamed state,
// error counts and (with --server-pid) the server's CPU and memory.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "abseil_setting.h"

#include "call_driver.h"

int main(int argc, char** argv) {
  bench::UseVoipdAbseilSetting();
  CLI::App app{"voipd-loadgen: StartCall/EndCall load generator"};
  bench::DriverOptions o;
  std::string target = "voipd";
  std::string out = "-";
  app.add_option("--addr", o.addr, "server address host:port")->required();
  app.add_option("--target", target, "voipd or reference")
      ->check(CLI::IsMember({"voipd", "reference"}));
  app.add_option("--connections", o.connections, "TCP connections (distinct channels)");
  app.add_option("--concurrency", o.concurrency, "closed loop: calls in flight");
  app.add_option("--rate", o.rate, "open loop: calls per second");
  app.add_option("--warmup", o.warmup_s, "seconds not measured");
  app.add_option("--duration", o.duration_s, "measured seconds");
  app.add_option("--max-calls", o.max_calls, "hard bound on calls started");
  app.add_option("--hold", o.hold_s, "seconds between StartCall's reply and EndCall");
  app.add_option("--number", o.number, "to.number");
  app.add_option("--system", o.system, "preferred_system");
  app.add_option("--watch-every", o.watch_every,
                 "follow every Nth call's states on a SubscribeCallEvents stream (0 = off)");
  app.add_option("--max-outstanding", o.max_outstanding, "open loop: cap on calls in flight");
  app.add_option("--rpc-timeout", o.rpc_timeout_s, "deadline of each RPC, seconds");
  app.add_flag("--require-connected", o.require_connected,
               "a call succeeds only if it was answered");
  app.add_option("--server-pid", o.server_pid, "sample this process's CPU and RSS");
  app.add_option("--sample-from", o.sample_from_s,
                 "sample the server from this many seconds after the first call...");
  app.add_option("--sample-for", o.sample_for_s, "...for this many seconds");
  app.add_option("--out", out, "JSON output file (- = stdout)");
  CLI11_PARSE(app, argc, argv);
  if ((o.concurrency > 0) == (o.rate > 0)) {
    std::cerr << "give exactly one of --concurrency and --rate\n";
    return 2;
  }
  if (o.duration_s <= 0 || o.duration_s > 600 || o.warmup_s < 0 || o.hold_s < 0 ||
      o.hold_s > 600) {
    std::cerr << "--duration must be in (0, 600], --hold in [0, 600]\n";
    return 2;
  }
  o.target = target == "voipd" ? bench::Target::kVoipd : bench::Target::kReference;
  bench::Json j = bench::RunCallLoad(o);
  bench::WriteJson(j, out);
  std::fflush(nullptr);
  // Skips static destructors: gRPC's may wait on calls a failed drain left.
  _exit(j.contains("warning") ? 3 : 0);
}
