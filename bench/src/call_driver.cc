#include "call_driver.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <queue>
#include <thread>
#include <unordered_map>

#include "bench/v1/reference.grpc.pb.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace bench {
namespace {

using voip::v1::CallEvent;
using voip::v1::CallSession;
using voip::v1::CallStatus;

// Runs callbacks at given times on one thread (the EndCall after a hold).
class TimerThread {
 public:
  TimerThread() : thread_([this] { Loop(); }) {}
  ~TimerThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Schedule(TimePoint when, std::function<void()> fn) {
    bool earliest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push(Item{when, next_++, std::move(fn)});
      earliest = queue_.top().order == next_ - 1;
    }
    // Only a new earliest item changes when the loop must wake: with a fixed
    // hold every new EndCall is the latest, and waking the thread for each
    // (a futex wake and two context switches per call) was a measurable
    // share of the load generator's CPU in scenario b.
    if (earliest) cv_.notify_one();
  }

 private:
  struct Item {
    TimePoint when;
    uint64_t order;
    std::function<void()> fn;
    bool operator>(const Item& o) const {
      return when != o.when ? when > o.when : order > o.order;
    }
  };
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (queue_.top().when > Clock::now()) {
        cv_.wait_until(lock, queue_.top().when);
        continue;
      }
      std::function<void()> fn = std::move(const_cast<Item&>(queue_.top()).fn);
      queue_.pop();
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
  uint64_t next_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

struct Call {
  int64_t idx = 0;
  int worker = -1;  // closed loop: the worker that owns the slot
  bool measured = false;
  bool watched = false;
  TimePoint base;   // latency origin: intended time (open loop) or send time
  grpc::ClientContext start_ctx;
  voip::v1::StartCallRequest start_req;
  CallSession start_resp;
  TimePoint end_sent;
  std::unique_ptr<grpc::ClientContext> end_ctx;
  voip::v1::EndCallRequest end_req;
  voip::v1::StartCallRequest ref_end_req;  // the reference's second RPC
  CallSession end_resp;
};

class Driver;

// Follows the watched calls: one SubscribeCallEvents stream filtered on a
// label, recording when each call's states arrive.
class StateWatcher final : public grpc::ClientReadReactor<CallEvent> {
 public:
  explicit StateWatcher(Driver* driver) : driver_(driver) {}
  void Start(voip::v1::VoipService::Stub* stub) {
    (*request_.mutable_filter()->mutable_labels())["bench.watch"] = "1";
    stub->async()->SubscribeCallEvents(&ctx_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    status_ = status;
    cv_.notify_all();
  }
  void Cancel() { ctx_.TryCancel(); }
  grpc::Status WaitDone(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return done_; });
    return done_ ? status_ : grpc::Status(grpc::DEADLINE_EXCEEDED, "watcher did not end");
  }

 private:
  Driver* const driver_;
  grpc::ClientContext ctx_;
  voip::v1::SubscribeCallEventsRequest request_;
  CallEvent event_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

class Driver {
 public:
  explicit Driver(DriverOptions o) : o_(std::move(o)) {}

  Json Run() {
    auto channels = MakeChannels(o_.addr, std::max(1, o_.connections), std::chrono::seconds(10));
    for (auto& ch : channels) {
      voip_stubs_.push_back(voip::v1::VoipService::NewStub(ch));
      ref_stubs_.push_back(bench::v1::ReferenceService::NewStub(ch));
    }
    std::unique_ptr<StateWatcher> watcher;
    if (o_.watch_every > 0 && o_.target == Target::kVoipd) {
      // Its own connection, so that its traffic does not queue behind the load.
      watch_channel_ = MakeChannels(o_.addr, 1, std::chrono::seconds(10)).front();
      watch_stub_ = voip::v1::VoipService::NewStub(watch_channel_);
      watcher = std::make_unique<StateWatcher>(this);
      watcher->Start(watch_stub_.get());
    }
    const double cpu0 = SelfCpuSeconds();
    start_ = Clock::now() + std::chrono::milliseconds(50);
    measure_from_ = start_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o_.warmup_s));
    measure_to_ = measure_from_ + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o_.duration_s));
    sample_from_ = measure_from_;
    sample_to_ = measure_to_;
    if (o_.sample_from_s >= 0 && o_.sample_for_s > 0) {
      sample_from_ = start_ + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(o_.sample_from_s));
      sample_to_ = sample_from_ + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o_.sample_for_s));
    }
    std::thread sampler([this] {
      std::this_thread::sleep_until(sample_from_);
      server_before_ = SampleProc(o_.server_pid);
      std::this_thread::sleep_until(sample_to_);
      server_after_ = SampleProc(o_.server_pid);
    });
    if (o_.concurrency > 0) {
      std::this_thread::sleep_until(start_);
      for (int w = 0; w < o_.concurrency; ++w) Issue(NewCall(w, Clock::now()));
    } else {
      Pace();
    }
    // Closed loop: workers stop by themselves once the window is over.
    std::this_thread::sleep_until(measure_to_);
    stopping_.store(true);
    const auto drain_limit = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o_.hold_s + 2 * o_.rpc_timeout_s + 5));
    bool drained;
    {
      std::unique_lock<std::mutex> lock(mu_);
      drained = cv_.wait_for(lock, drain_limit, [this] { return outstanding_ == 0; });
    }
    sampler.join();  // its window may reach into the drain (held calls)
    const double client_cpu = SelfCpuSeconds() - cpu0;
    grpc::Status watch_status;
    if (watcher) {
      watcher->Cancel();
      watch_status = watcher->WaitDone(std::chrono::seconds(5));
    }
    Json j = Report(client_cpu);
    if (watcher) {
      j["watch_stream_status"] = GrpcCodeName(watch_status.error_code());
    }
    if (!drained) {
      j["warning"] = "calls still in flight after the drain limit";
      j["in_flight_at_exit"] = outstanding_.load();
    }
    if (drained) timer_.reset();
    if (!drained) {
      // Callbacks may still reference this object; results are printed by
      // the caller, which then exits without destroying it.
      leak_ = true;
    }
    return j;
  }

  bool leak() const { return leak_; }

  void OnWatchedEvent(const CallEvent& event) {
    const TimePoint now = Clock::now();
    auto it = event.session().labels().find("bench.id");
    if (it == event.session().labels().end()) return;
    const int64_t idx = std::stoll(it->second);
    std::lock_guard<std::mutex> lock(watch_mu_);
    auto w = watched_.find(idx);
    if (w == watched_.end()) return;
    const CallStatus status = event.session().status();
    if (event.type() == voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED) {
      state_samples_[voip::v1::CallStatus_Name(status)].Add(Micros(now - w->second));
    }
    if (status >= voip::v1::CALL_STATUS_DISCONNECTED) watched_.erase(w);
  }

 private:
  Call* NewCall(int worker, TimePoint base) {
    auto* c = new Call;
    c->idx = next_idx_.fetch_add(1);
    c->worker = worker;
    c->base = base;
    c->measured = base >= measure_from_ && base < measure_to_;
    c->watched = o_.watch_every > 0 && c->idx % o_.watch_every == 0 && c->measured;
    auto* to = c->start_req.mutable_to();
    to->set_number(o_.number);
    to->set_type("mobile");
    if (!o_.system.empty()) c->start_req.set_preferred_system(o_.system);
    auto& labels = *c->start_req.mutable_labels();
    labels["bench.id"] = std::to_string(c->idx);
    labels["crm_contact"] = "contact-000000" + std::to_string(c->idx % 100000);
    if (c->watched) labels["bench.watch"] = "1";
    return c;
  }

  size_t Shard(const Call* c) const { return static_cast<size_t>(c->idx) % voip_stubs_.size(); }

  void Issue(Call* c) {
    if (c->watched) {
      std::lock_guard<std::mutex> lock(watch_mu_);
      watched_[c->idx] = c->base;
    }
    outstanding_.fetch_add(1);
    if (c->measured) started_in_window_.fetch_add(1);
    c->start_ctx.set_deadline(Deadline());
    auto done = [this, c](grpc::Status s) { OnStartDone(c, s); };
    if (o_.target == Target::kVoipd) {
      voip_stubs_[Shard(c)]->async()->StartCall(&c->start_ctx, &c->start_req, &c->start_resp,
                                                 std::move(done));
    } else {
      ref_stubs_[Shard(c)]->async()->Unary(&c->start_ctx, &c->start_req, &c->start_resp,
                                           std::move(done));
    }
  }

  std::chrono::system_clock::time_point Deadline() const {
    return std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(
               std::chrono::duration<double>(o_.rpc_timeout_s));
  }

  void OnStartDone(Call* c, const grpc::Status& s) {
    const TimePoint now = Clock::now();
    if (c->measured) start_lat_.Add(Micros(now - c->base));
    if (!s.ok()) {
      errors_.Add(std::string("StartCall ") + ErrorKey(s));
      Finish(c, false);
      return;
    }
    if (o_.hold_s <= 0) {
      IssueEnd(c);
      return;
    }
    timer_->Schedule(now + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o_.hold_s)),
                     [this, c] { IssueEnd(c); });
  }

  void IssueEnd(Call* c) {
    c->end_ctx = std::make_unique<grpc::ClientContext>();
    c->end_ctx->set_deadline(Deadline());
    c->end_sent = Clock::now();
    auto done = [this, c](grpc::Status s) { OnEndDone(c, s); };
    if (o_.target == Target::kVoipd) {
      c->end_req.set_session_id(c->start_resp.session_id());
      voip_stubs_[Shard(c)]->async()->EndCall(c->end_ctx.get(), &c->end_req, &c->end_resp,
                                               std::move(done));
    } else {
      c->ref_end_req.mutable_to()->set_number(c->start_resp.session_id());
      ref_stubs_[Shard(c)]->async()->Unary(c->end_ctx.get(), &c->ref_end_req, &c->end_resp,
                                           std::move(done));
    }
  }

  void OnEndDone(Call* c, const grpc::Status& s) {
    const TimePoint now = Clock::now();
    if (c->measured) end_lat_.Add(Micros(now - c->end_sent));
    if (!s.ok()) {
      errors_.Add(std::string("EndCall ") + ErrorKey(s));
      Finish(c, false);
      return;
    }
    bool ok = true;
    if (o_.target == Target::kVoipd) {
      const CallStatus final_status = c->end_resp.status();
      if (final_status != voip::v1::CALL_STATUS_DISCONNECTED) {
        errors_.Add("call ended " + voip::v1::CallStatus_Name(final_status));
        ok = false;
      } else if (o_.require_connected && !c->end_resp.has_answered_at()) {
        errors_.Add("call never connected");
        ok = false;
      }
      if (c->end_resp.has_answered_at()) answered_.fetch_add(1);
    }
    Finish(c, ok);
  }

  void Finish(Call* c, bool ok) {
    if (c->measured) {
      (ok ? ok_in_window_ : failed_in_window_).fetch_add(1);
    }
    (ok ? ok_total_ : failed_total_).fetch_add(1);
    const int worker = c->worker;
    delete c;
    if (worker >= 0 && !stopping_.load() && Clock::now() < measure_to_ &&
        next_idx_.load() < o_.max_calls) {
      Issue(NewCall(worker, Clock::now()));
    }
    if (outstanding_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }

  void Pace() {
    const double interval = 1.0 / o_.rate;
    for (int64_t i = 0; i < o_.max_calls; ++i) {
      const TimePoint intended =
          start_ + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(interval * static_cast<double>(i)));
      if (intended >= measure_to_) break;
      std::this_thread::sleep_until(intended);
      if (outstanding_.load() >= o_.max_outstanding) {
        refused_.fetch_add(1);
        if (intended >= measure_from_) errors_.Add("client: too many calls in flight");
        continue;
      }
      Issue(NewCall(-1, intended));
    }
  }

  Json Report(double client_cpu) {
    Json j;
    j["target"] = o_.target == Target::kVoipd ? "voipd" : "reference";
    j["mode"] = o_.concurrency > 0 ? "closed" : "open";
    j["concurrency"] = o_.concurrency;
    j["rate"] = o_.rate;
    j["connections"] = o_.connections;
    j["hold_s"] = o_.hold_s;
    j["warmup_s"] = o_.warmup_s;
    j["window_s"] = o_.duration_s;
    j["calls_total"] = next_idx_.load();
    j["calls_in_window"] = started_in_window_.load();
    j["ok_in_window"] = ok_in_window_.load();
    j["failed_in_window"] = failed_in_window_.load();
    j["failed_total"] = failed_total_.load();
    j["refused_by_client"] = refused_.load();
    if (o_.target == Target::kVoipd) {
      // Calls that had been answered when EndCall ended them (all calls).
      j["answered_before_end"] = answered_.load();
    }
    const double calls_per_s = static_cast<double>(ok_in_window_.load()) / o_.duration_s;
    j["calls_per_s"] = calls_per_s;
    j["rpcs_per_s"] = 2 * calls_per_s;  // StartCall + EndCall (Unary + Unary)
    j["start_us"] = start_lat_.Summary();
    j["end_us"] = end_lat_.Summary();
    if (o_.watch_every > 0) {
      Json states = Json::object();
      for (auto& [name, samples] : state_samples_) states[name] = samples.Summary();
      j["time_to_state_us"] = states;
      j["watch_every"] = o_.watch_every;
    }
    j["errors"] = errors_.ToJson();
    j["client_cpu_s"] = client_cpu;
    if (o_.server_pid > 0 && server_before_.ok && server_after_.ok) {
      Json s;
      s["pid"] = o_.server_pid;
      const double cpu = server_after_.cpu_s - server_before_.cpu_s;
      const double window = Seconds(sample_to_ - sample_from_);
      s["sample_window_s"] = window;
      s["cpu_s"] = cpu;
      s["cores"] = cpu / window;
      const int64_t calls = started_in_window_.load();
      s["cpu_us_per_call"] = calls > 0 ? cpu * 1e6 / static_cast<double>(calls) : 0.0;
      s["cpu_us_per_rpc"] = calls > 0 ? cpu * 1e6 / static_cast<double>(2 * calls) : 0.0;
      s["rss_kb_start"] = server_before_.rss_kb;
      s["rss_kb_end"] = server_after_.rss_kb;
      s["hwm_kb"] = server_after_.hwm_kb;
      s["threads"] = server_after_.threads;
      j["server"] = s;
    }
    return j;
  }

  const DriverOptions o_;
  std::vector<std::unique_ptr<voip::v1::VoipService::Stub>> voip_stubs_;
  std::vector<std::unique_ptr<bench::v1::ReferenceService::Stub>> ref_stubs_;
  std::shared_ptr<grpc::Channel> watch_channel_;
  std::unique_ptr<voip::v1::VoipService::Stub> watch_stub_;
  std::unique_ptr<TimerThread> timer_ = std::make_unique<TimerThread>();
  TimePoint start_, measure_from_, measure_to_, sample_from_, sample_to_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> next_idx_{0};
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int64_t> started_in_window_{0}, ok_in_window_{0}, failed_in_window_{0};
  std::atomic<int64_t> ok_total_{0}, failed_total_{0}, refused_{0}, answered_{0};
  Samples start_lat_, end_lat_;
  ErrorCounts errors_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::mutex watch_mu_;
  std::unordered_map<int64_t, TimePoint> watched_;
  std::map<std::string, Samples> state_samples_;
  ProcSample server_before_, server_after_;
  bool leak_ = false;
};

void StateWatcher::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  driver_->OnWatchedEvent(event_);
  StartRead(&event_);
}

}  // namespace

Json RunCallLoad(const DriverOptions& options) {
  auto* driver = new Driver(options);
  Json j = driver->Run();
  if (!driver->leak()) delete driver;
  return j;
}

}  // namespace bench
