// voipd-swarm: S event streams over K connections.
//
// --mode fanout: every stream receives every event while events are
// published at --event-rate per second (voipd: sandbox calls placed by the
// built-in load generator, 4 events per answered call; reference: its Publish
// RPC). Per delivered event it records latency = receive time - CallEvent.time
// (same machine clock), gaps in the sequence and drops (events published in the
// measured range that a stream never received).
//
// --mode idle: opens the streams, checks each one is live (it received a
// probe event), then reports the server's RSS with them open.
//
// The measured range is fenced by probe events: B = last event of the probes
// that proved every stream live; F = the first event of a probe published after
// the load. Everything strictly between B and F must reach every stream.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>

#include "abseil_setting.h"

#include "bench/v1/reference.grpc.pb.h"
#include "call_driver.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace bench {
namespace {

using voip::v1::CallEvent;

struct SwarmOptions {
  Target target = Target::kVoipd;
  std::string addr;
  std::string mode = "fanout";
  int subscribers = 1000;
  int connections = 10;
  double event_rate = 20;     // events published per second (fanout)
  double duration_s = 10;     // publishing time (fanout)
  double hold_s = 2;          // idle: how long the streams stay open after the RSS sample
  double settle_timeout_s = 40;
  pid_t server_pid = 0;
  // voipd's events come from sandbox calls: 4 per answered call.
  int events_per_call = 4;
  double call_hold_s = 0.1;
  std::string number = "+12015550100";
};

class Swarm;

class Stream final : public grpc::ClientReadReactor<CallEvent> {
 public:
  Stream(Swarm* swarm) : swarm_(swarm) {}
  void Start(voip::v1::VoipService::Stub* voip, bench::v1::ReferenceService::Stub* ref) {
    if (voip != nullptr) {
      voip->async()->SubscribeCallEvents(&ctx_, &request_, this);
    } else {
      ref->async()->Subscribe(&ctx_, &request_, this);
    }
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    const int64_t now = WallNanos();
    const int64_t sent = event_.time().seconds() * 1000000000LL + event_.time().nanos();
    samples_.push_back({event_.sequence(), (now - sent) / 1000});
    last_seq_.store(event_.sequence());
    count_.fetch_add(1);
    StartRead(&event_);
  }
  void OnDone(const grpc::Status& status) override;
  void Cancel() { ctx_.TryCancel(); }

  uint64_t last_seq() const { return last_seq_.load(); }
  int64_t count() const { return count_.load(); }
  bool done() const { return done_.load(); }
  // Read only after done().
  const grpc::Status& status() const { return status_; }
  struct Sample {
    uint64_t seq;
    int64_t latency_us;
  };
  const std::vector<Sample>& samples() const { return samples_; }
  bool cancelled_by_us = false;

 private:
  Swarm* const swarm_;
  grpc::ClientContext ctx_;
  voip::v1::SubscribeCallEventsRequest request_;
  CallEvent event_;
  std::vector<Sample> samples_;
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<int64_t> count_{0};
  std::atomic<bool> done_{false};
  grpc::Status status_;
};

// Publishes marker events and the load.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Publishes a few events; returns {first, last} sequence, {0, 0} on failure.
  virtual std::pair<uint64_t, uint64_t> Probe() = 0;
  virtual Json Load(double events_per_s, double duration_s) = 0;
};

class VoipdPublisher final : public Publisher {
 public:
  explicit VoipdPublisher(const SwarmOptions& o) : o_(o) {
    channel_ = MakeChannels(o.addr, 1, std::chrono::seconds(10)).front();
    stub_ = voip::v1::VoipService::NewStub(channel_);
  }
  std::pair<uint64_t, uint64_t> Probe() override {
    voip::v1::StartCallRequest start;
    start.mutable_to()->set_number(o_.number);
    (*start.mutable_labels())["bench.probe"] = "1";
    voip::v1::CallSession started;
    grpc::ClientContext c1;
    c1.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!stub_->StartCall(&c1, start, &started).ok()) return {0, 0};
    voip::v1::EndCallRequest end;
    end.set_session_id(started.session_id());
    voip::v1::CallSession ended;
    grpc::ClientContext c2;
    c2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!stub_->EndCall(&c2, end, &ended).ok()) return {0, 0};
    return {started.last_sequence(), ended.last_sequence()};
  }
  Json Load(double events_per_s, double duration_s) override {
    DriverOptions d;
    d.target = Target::kVoipd;
    d.addr = o_.addr;
    d.connections = 1;
    d.rate = events_per_s / o_.events_per_call;
    d.warmup_s = 0;
    d.duration_s = duration_s;
    d.hold_s = o_.call_hold_s;
    d.number = o_.number;
    d.rpc_timeout_s = 10;
    return RunCallLoad(d);
  }

 private:
  const SwarmOptions o_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<voip::v1::VoipService::Stub> stub_;
};

class ReferencePublisher final : public Publisher {
 public:
  explicit ReferencePublisher(const SwarmOptions& o) {
    channel_ = MakeChannels(o.addr, 1, std::chrono::seconds(10)).front();
    stub_ = bench::v1::ReferenceService::NewStub(channel_);
  }
  std::pair<uint64_t, uint64_t> Probe() override {
    bench::v1::PublishRequest req;
    req.set_count(1);
    bench::v1::PublishReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!stub_->Publish(&ctx, req, &reply).ok()) return {0, 0};
    return {reply.first_sequence(), reply.last_sequence()};
  }
  Json Load(double events_per_s, double duration_s) override {
    bench::v1::PublishRequest req;
    req.set_count(static_cast<uint64_t>(events_per_s * duration_s));
    req.set_rate_per_s(events_per_s);
    bench::v1::PublishReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(static_cast<int>(duration_s) + 30));
    grpc::Status s = stub_->Publish(&ctx, req, &reply);
    Json j;
    j["status"] = GrpcCodeName(s.error_code());
    j["published"] = reply.last_sequence() + 1 - reply.first_sequence();
    return j;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<bench::v1::ReferenceService::Stub> stub_;
};

class Swarm {
 public:
  explicit Swarm(SwarmOptions o) : o_(std::move(o)) {}

  void OnStreamDone() {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_count_;
    cv_.notify_all();
  }

  Json Run() {
    Json j;
    j["target"] = o_.target == Target::kVoipd ? "voipd" : "reference";
    j["mode"] = o_.mode;
    j["subscribers"] = o_.subscribers;
    j["connections"] = o_.connections;
    const double cpu0 = SelfCpuSeconds();
    const ProcSample server_idle = SampleProc(o_.server_pid);
    std::unique_ptr<Publisher> publisher;
    if (o_.target == Target::kVoipd) {
      publisher = std::make_unique<VoipdPublisher>(o_);
    } else {
      publisher = std::make_unique<ReferencePublisher>(o_);
    }
    auto channels = MakeChannels(o_.addr, o_.connections, std::chrono::seconds(10));
    std::vector<std::unique_ptr<voip::v1::VoipService::Stub>> voip_stubs;
    std::vector<std::unique_ptr<bench::v1::ReferenceService::Stub>> ref_stubs;
    for (auto& ch : channels) {
      voip_stubs.push_back(voip::v1::VoipService::NewStub(ch));
      ref_stubs.push_back(bench::v1::ReferenceService::NewStub(ch));
    }
    const auto open_start = Clock::now();
    for (int i = 0; i < o_.subscribers; ++i) {
      streams_.push_back(std::make_unique<Stream>(this));
      const size_t k = static_cast<size_t>(i) % channels.size();
      if (o_.target == Target::kVoipd) {
        streams_.back()->Start(voip_stubs[k].get(), nullptr);
      } else {
        streams_.back()->Start(nullptr, ref_stubs[k].get());
      }
    }
    // Probe until every stream has received something: then each is live.
    uint64_t baseline = 0;
    int probes = 0;
    const auto settle_deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(o_.settle_timeout_s));
    size_t live = 0;
    while (Clock::now() < settle_deadline) {
      auto [first, last] = publisher->Probe();
      ++probes;
      if (last > 0) baseline = last;
      std::this_thread::sleep_for(std::chrono::milliseconds(o_.subscribers > 2000 ? 500 : 200));
      live = 0;
      size_t dead = 0;
      for (auto& s : streams_) {
        if (s->done()) ++dead;
        else if (s->count() > 0) ++live;
      }
      if (live + dead == streams_.size()) break;
    }
    j["streams_live"] = live;
    j["probes"] = probes;
    j["open_s"] = Seconds(Clock::now() - open_start);
    WaitAllReach(baseline, std::chrono::seconds(10));

    std::function<void(Json&)> analyse;
    if (o_.mode == "idle") {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      const ProcSample server = SampleProc(o_.server_pid);
      const ProcSample self = SampleProc(getpid());
      if (server.ok) {
        Json s;
        s["rss_kb_before_streams"] = server_idle.rss_kb;
        s["rss_kb"] = server.rss_kb;
        s["hwm_kb"] = server.hwm_kb;
        s["threads"] = server.threads;
        s["rss_kb_per_stream"] =
            static_cast<double>(server.rss_kb - server_idle.rss_kb) / o_.subscribers;
        j["server"] = s;
      }
      j["client_rss_kb"] = self.rss_kb;
      std::this_thread::sleep_for(std::chrono::duration<double>(o_.hold_s));
    } else {
      const ProcSample before = SampleProc(o_.server_pid);
      const auto t0 = Clock::now();
      j["publisher"] = publisher->Load(o_.event_rate, o_.duration_s);
      const auto t1 = Clock::now();
      const ProcSample after = SampleProc(o_.server_pid);
      const uint64_t fence = publisher->Probe().first;
      const auto drain_start = Clock::now();
      const bool reached = WaitAllReach(fence, std::chrono::seconds(15));
      j["fence_reached"] = reached;
      j["drain_s"] = Seconds(Clock::now() - drain_start);
      j["load_s"] = Seconds(t1 - t0);
      if (before.ok && after.ok) {
        Json s;
        s["cpu_s"] = after.cpu_s - before.cpu_s;
        s["cores"] = (after.cpu_s - before.cpu_s) / Seconds(t1 - t0);
        s["rss_kb"] = after.rss_kb;
        s["hwm_kb"] = after.hwm_kb;
        j["server"] = s;
      }
      analyse = [this, baseline, fence, load_s = Seconds(t1 - t0)](Json& out) {
        Analyse(baseline, fence, load_s, out);
      };
    }
    // Close every stream and wait for each to end.
    for (auto& s : streams_) {
      if (!s->done()) {
        s->cancelled_by_us = true;
        s->Cancel();
      }
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(10),
                   [this] { return done_count_ == streams_.size(); });
      j["streams_closed"] = done_count_;
    }
    Json ends = Json::object();
    for (auto& s : streams_) {
      if (!s->done()) {
        ends["never ended"] = ends.value("never ended", 0) + 1;
      } else if (!(s->cancelled_by_us && s->status().error_code() == grpc::CANCELLED)) {
        const std::string key = GrpcCodeName(s->status().error_code());
        ends[key] = ends.value(key, 0) + 1;
      }
    }
    j["streams_ended_early"] = ends;
    if (analyse) analyse(j);
    j["client_cpu_s"] = SelfCpuSeconds() - cpu0;
    return j;
  }

 private:
  bool WaitAllReach(uint64_t seq, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      bool all = true;
      for (auto& s : streams_) {
        if (!s->done() && s->last_seq() < seq) {
          all = false;
          break;
        }
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Runs once the streams have ended (a stream that did not end is counted as
  // having received nothing: its samples may still be growing).
  void Analyse(uint64_t baseline, uint64_t fence, double /*load_s*/, Json& j) {
    const uint64_t expected = fence > baseline + 1 ? fence - baseline - 1 : 0;
    j["range"] = {baseline + 1, fence - 1};
    j["events_published"] = expected;
    // Per second of publishing (the load call also waits for its calls to end).
    j["publish_rate"] = static_cast<double>(expected) / o_.duration_s;
    j["event_rate_target"] = o_.event_rate;
    std::vector<int64_t> lat;
    lat.reserve(expected * streams_.size());
    uint64_t delivered = 0, gaps = 0, duplicates = 0, incomplete_streams = 0;
    for (auto& s : streams_) {
      static const std::vector<Stream::Sample> kNone;
      const auto& v = s->done() ? s->samples() : kNone;
      const size_t n = v.size();
      uint64_t prev = baseline;
      uint64_t got = 0;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t seq = v[i].seq;
        if (seq <= baseline) continue;
        if (seq >= fence) break;
        if (seq <= prev) {
          ++duplicates;
          continue;
        }
        if (seq != prev + 1) ++gaps;
        prev = seq;
        ++got;
        lat.push_back(v[i].latency_us);
      }
      if (prev + 1 != fence && expected > 0) ++gaps;  // missing tail
      delivered += got;
      if (got != expected) ++incomplete_streams;
    }
    const uint64_t want = expected * streams_.size();
    j["deliveries_expected"] = want;
    j["delivered"] = delivered;
    j["delivered_pct"] = want ? 100.0 * static_cast<double>(delivered) / want : 0.0;
    j["drops"] = want - delivered;
    j["gaps"] = gaps;
    j["duplicates"] = duplicates;
    j["incomplete_streams"] = incomplete_streams;
    j["deliveries_per_s"] = static_cast<double>(delivered) / o_.duration_s;
    Samples samples;
    samples.AddAll(lat);
    j["latency_us"] = samples.Summary();
  }

  const SwarmOptions o_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t done_count_ = 0;
};

void Stream::OnDone(const grpc::Status& status) {
  status_ = status;
  done_.store(true);
  swarm_->OnStreamDone();
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  bench::UseVoipdAbseilSetting();
  CLI::App app{"voipd-swarm: many event subscribers, fan-out latency and idle memory"};
  bench::SwarmOptions o;
  std::string target = "voipd";
  std::string out = "-";
  app.add_option("--addr", o.addr, "server address host:port")->required();
  app.add_option("--target", target, "voipd or reference")
      ->check(CLI::IsMember({"voipd", "reference"}));
  app.add_option("--mode", o.mode, "fanout or idle")->check(CLI::IsMember({"fanout", "idle"}));
  app.add_option("--subscribers", o.subscribers, "streams");
  app.add_option("--connections", o.connections, "TCP connections the streams share");
  app.add_option("--event-rate", o.event_rate, "fanout: events published per second");
  app.add_option("--duration", o.duration_s, "fanout: seconds of publishing");
  app.add_option("--hold", o.hold_s, "idle: seconds the streams stay open after measuring");
  app.add_option("--call-hold", o.call_hold_s, "voipd: seconds each generated call stays up");
  app.add_option("--number", o.number, "voipd: number the generated calls dial");
  app.add_option("--server-pid", o.server_pid, "sample this process's CPU and RSS");
  app.add_option("--out", out, "JSON output file (- = stdout)");
  CLI11_PARSE(app, argc, argv);
  if (o.subscribers < 1 || o.subscribers > 50000 || o.connections < 1 || o.duration_s <= 0 ||
      o.duration_s > 300 || o.hold_s < 0 || o.hold_s > 300) {
    std::cerr << "bad bounds: subscribers 1..50000, duration (0, 300], hold [0, 300]\n";
    return 2;
  }
  o.target = target == "voipd" ? bench::Target::kVoipd : bench::Target::kReference;
  auto* swarm = new bench::Swarm(o);  // never destroyed: see _exit below
  bench::Json j = swarm->Run();
  bench::WriteJson(j, out);
  std::fflush(nullptr);
  _exit(0);  // streams that never ended would block gRPC's static teardown
}
