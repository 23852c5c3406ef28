// Test support shared by the adapter and core unit tests:
//   IoThread       an io_context on its own thread, with a deterministic Drain()
//   IoPause        blocks the io thread so no timer can fire meanwhile
//   RecordingSink  a CallEventSink that records and lets tests wait on events
//   TestAdapter    a scripted adapters::Adapter double (in the spirit of
//                  baresip's test/mock modules) whose far end the test drives
//
// Header-only: the unit-test binary globs *_test.cc only. Every wait takes a
// deadline; nothing here sleeps.
#pragma once

#include <utility>  // before asio (toolchain notes)

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "adapters/api/adapter.h"
#include "adapters/api/provider_event.h"
#include "adapters/api/voip_error.h"

namespace voipd::test {

// Generous: only reached when something is broken.
inline constexpr absl::Duration kWaitTimeout = absl::Seconds(10);

// Runs an io_context on a thread until destroyed.
class IoThread {
 public:
  IoThread() { Launch(); }
  ~IoThread() { Stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::io_context* io() { return &io_; }

  // The barrier for "nothing more will happen": lets run() return once every
  // pending handler and timer has completed (cancelled timers complete at
  // once), then starts the loop again. False (and the loop is stopped hard)
  // if work is still pending after `timeout`.
  bool Drain(absl::Duration timeout = kWaitTimeout) {
    guard_.reset();
    const bool drained = finished_->WaitForNotificationWithTimeout(timeout);
    if (!drained) io_.stop();
    thread_.join();
    io_.restart();
    Launch();
    return drained;
  }

  // Stops the loop; queued handlers are destroyed with the io_context, never
  // run. Idempotent.
  void Stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  void Launch() {
    guard_.emplace(io_.get_executor());
    finished_ = std::make_shared<absl::Notification>();
    thread_ = std::thread([this, finished = finished_] {
      io_.run();
      finished->Notify();
    });
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::shared_ptr<absl::Notification> finished_;
  std::thread thread_;
};

// While alive, the io thread is parked inside a handler: no timer handler can
// run, so a test can look at state that would otherwise race with timers.
class IoPause {
 public:
  explicit IoPause(boost::asio::io_context* io)
      : entered_(std::make_shared<absl::Notification>()),
        release_(std::make_shared<absl::Notification>()) {
    boost::asio::post(*io, [entered = entered_, release = release_] {
      entered->Notify();
      release->WaitForNotificationWithTimeout(kWaitTimeout);
    });
    parked_ = entered_->WaitForNotificationWithTimeout(kWaitTimeout);
  }
  ~IoPause() { Release(); }
  IoPause(const IoPause&) = delete;
  IoPause& operator=(const IoPause&) = delete;

  // False if the io thread never reached the pause (the test must fail).
  bool parked() const { return parked_; }
  void Release() {
    if (!release_->HasBeenNotified()) release_->Notify();
  }

 private:
  std::shared_ptr<absl::Notification> entered_;
  std::shared_ptr<absl::Notification> release_;
  bool parked_ = false;
};

inline const char* KindName(adapters::ProviderEventKind kind) {
  switch (kind) {
    case adapters::ProviderEventKind::kRinging:  return "ringing";
    case adapters::ProviderEventKind::kAnswered: return "answered";
    case adapters::ProviderEventKind::kHeld:     return "held";
    case adapters::ProviderEventKind::kResumed:  return "resumed";
    case adapters::ProviderEventKind::kMuted:    return "muted";
    case adapters::ProviderEventKind::kUnmuted:  return "unmuted";
    case adapters::ProviderEventKind::kEnded:    return "ended";
  }
  return "?";
}

inline std::vector<adapters::ProviderEventKind> KindsOf(
    const std::vector<adapters::ProviderEvent>& events) {
  std::vector<adapters::ProviderEventKind> kinds;
  for (const auto& e : events) kinds.push_back(e.kind);
  return kinds;
}

inline std::string Describe(const std::vector<adapters::ProviderEvent>& events) {
  std::string out = "[";
  for (const auto& e : events) absl::StrAppend(&out, out.size() > 1 ? ", " : "", KindName(e.kind));
  return out + "]";
}

// Records every event; thread-safe.
class RecordingSink final : public adapters::CallEventSink {
 public:
  using Predicate = std::function<bool(const std::vector<adapters::ProviderEvent>&)>;

  void OnProviderEvent(adapters::ProviderEvent event) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }

  std::vector<adapters::ProviderEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  std::vector<adapters::ProviderEvent> EventsFor(const std::string& session_id) const {
    absl::MutexLock lock(&mu_);
    return FilterLocked(session_id);
  }

  // Waits until `pred` holds for the session's events; returns them either way
  // (check `*satisfied`).
  std::vector<adapters::ProviderEvent> WaitFor(const std::string& session_id, Predicate pred,
                                               bool* satisfied,
                                               absl::Duration timeout = kWaitTimeout) const {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return pred(FilterLocked(session_id)); };
    *satisfied = mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    return FilterLocked(session_id);
  }

  // Waits for the session's first event of `kind`.
  std::optional<adapters::ProviderEvent> WaitForKind(const std::string& session_id,
                                                     adapters::ProviderEventKind kind,
                                                     absl::Duration timeout = kWaitTimeout) const {
    bool ok = false;
    auto events = WaitFor(
        session_id,
        [kind](const std::vector<adapters::ProviderEvent>& evs) {
          for (const auto& e : evs) {
            if (e.kind == kind) return true;
          }
          return false;
        },
        &ok, timeout);
    for (const auto& e : events) {
      if (e.kind == kind) return e;
    }
    return std::nullopt;
  }

 private:
  std::vector<adapters::ProviderEvent> FilterLocked(const std::string& session_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<adapters::ProviderEvent> out;
    for (const auto& e : events_) {
      if (e.session_id == session_id) out.push_back(e);
    }
    return out;
  }

  mutable absl::Mutex mu_;
  std::vector<adapters::ProviderEvent> events_ ABSL_GUARDED_BY(mu_);
};

// A scripted adapter whose far end the test drives by hand (Ring, Answer,
// EndRemote). It never reports anything on its own, so a call on it stays in
// INITIATING until the test says otherwise ("never answers").
struct TestAdapterOptions {
  adapters::Capabilities capabilities = [] {
    adapters::Capabilities caps;
    caps.can_end = caps.can_hold = caps.can_mute = true;
    return caps;
  }();
  // Hold and Mute fail with PROVIDER_ERROR (a SIP 488 to the re-INVITE).
  bool reject_hold_and_mute = false;
  // EndCall answers OK but the provider never confirms (no kEnded).
  bool swallow_end = false;
  // StartCall callbacks are held until CompleteStarts().
  bool defer_start = false;
  // When set, StartCall fails with this (and no call exists).
  absl::Status start_error;
  // Runs inside EndCall after the kEnded event and before `done`: lets a test
  // put something between the provider's confirmation and the callback.
  std::function<void(const std::string& session_id)> after_end_event;
};

class TestAdapter final : public adapters::Adapter {
 public:
  TestAdapter(std::string system_name, adapters::CallEventSink* sink, TestAdapterOptions options)
      : system_name_(std::move(system_name)), sink_(sink), options_(std::move(options)) {}

  adapters::Capabilities capabilities() const override { return options_.capabilities; }
  adapters::Health health() const override {
    absl::MutexLock lock(&mu_);
    return health_;
  }

  void StartCall(const adapters::DialRequest& request, adapters::DialCallback done) override {
    absl::StatusOr<adapters::DialResult> result;
    {
      absl::MutexLock lock(&mu_);
      ++start_calls_;
      last_dial_ = request;
      if (!options_.start_error.ok()) {
        result = options_.start_error;
      } else {
        adapters::DialResult dial;
        dial.provider_call_id = absl::StrCat("test-", start_calls_);
        dial.from = request.from.empty() ? "+15555550000" : request.from;
        result = std::move(dial);
        if (options_.defer_start) {
          deferred_.emplace_back(std::move(done), std::move(result));
          return;
        }
      }
    }
    std::move(done)(std::move(result));
  }

  void EndCall(const adapters::CallRef& call, adapters::DoneCallback done) override {
    {
      absl::MutexLock lock(&mu_);
      ++end_calls_;
    }
    if (!options_.swallow_end) {
      Emit(call.session_id, adapters::ProviderEventKind::kEnded, adapters::EndOutcome::kDisconnected,
           voip::v1::HANGUP_SOURCE_LOCAL);
    }
    if (options_.after_end_event) options_.after_end_event(call.session_id);
    std::move(done)(absl::OkStatus());
  }

  void Hold(const adapters::CallRef& call, bool hold, adapters::DoneCallback done) override {
    {
      absl::MutexLock lock(&mu_);
      ++hold_calls_;
    }
    Toggle(call, hold ? adapters::ProviderEventKind::kHeld : adapters::ProviderEventKind::kResumed,
           std::move(done));
  }

  void Mute(const adapters::CallRef& call, bool mute, adapters::DoneCallback done) override {
    {
      absl::MutexLock lock(&mu_);
      ++mute_calls_;
    }
    Toggle(call, mute ? adapters::ProviderEventKind::kMuted : adapters::ProviderEventKind::kUnmuted,
           std::move(done));
  }

  // --- the far end, driven by the test ---
  void Ring(const std::string& id) { Emit(id, adapters::ProviderEventKind::kRinging); }
  void Answer(const std::string& id) { Emit(id, adapters::ProviderEventKind::kAnswered); }
  void EndRemote(const std::string& id, adapters::EndOutcome outcome) {
    Emit(id, adapters::ProviderEventKind::kEnded, outcome, voip::v1::HANGUP_SOURCE_REMOTE);
  }

  // Completes every deferred StartCall; returns how many.
  int CompleteStarts() {
    std::vector<std::pair<adapters::DialCallback, absl::StatusOr<adapters::DialResult>>> pending;
    {
      absl::MutexLock lock(&mu_);
      pending.swap(deferred_);
    }
    for (auto& [done, result] : pending) std::move(done)(std::move(result));
    return static_cast<int>(pending.size());
  }

  void set_health(adapters::Health health) {
    absl::MutexLock lock(&mu_);
    health_ = std::move(health);
  }

  int start_calls() const {
    absl::MutexLock lock(&mu_);
    return start_calls_;
  }
  int end_calls() const {
    absl::MutexLock lock(&mu_);
    return end_calls_;
  }
  int hold_calls() const {
    absl::MutexLock lock(&mu_);
    return hold_calls_;
  }
  int mute_calls() const {
    absl::MutexLock lock(&mu_);
    return mute_calls_;
  }
  adapters::DialRequest last_dial() const {
    absl::MutexLock lock(&mu_);
    return last_dial_;
  }

 private:
  void Toggle(const adapters::CallRef& call, adapters::ProviderEventKind confirmed,
              adapters::DoneCallback done) {
    if (options_.reject_hold_and_mute) {
      voip::v1::ProviderCause cause;
      cause.set_sip_code(488);
      cause.set_sip_reason("Not Acceptable Here");
      std::move(done)(ProviderError(system_name_, "test: the far end refused the re-INVITE",
                                    std::move(cause)));
      return;
    }
    Emit(call.session_id, confirmed);  // confirmed first, then done (the contract)
    std::move(done)(absl::OkStatus());
  }

  void Emit(const std::string& id, adapters::ProviderEventKind kind,
            adapters::EndOutcome outcome = adapters::EndOutcome::kDisconnected,
            voip::v1::HangupSource source = voip::v1::HANGUP_SOURCE_REMOTE) {
    adapters::ProviderEvent event;
    event.session_id = id;
    event.kind = kind;
    event.outcome = outcome;
    event.source = source;
    event.message = absl::StrCat("test adapter: ", KindName(kind));
    sink_->OnProviderEvent(std::move(event));
  }

  const std::string system_name_;
  adapters::CallEventSink* const sink_;
  const TestAdapterOptions options_;
  mutable absl::Mutex mu_;
  adapters::Health health_ ABSL_GUARDED_BY(mu_);
  int start_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int end_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int hold_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int mute_calls_ ABSL_GUARDED_BY(mu_) = 0;
  adapters::DialRequest last_dial_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<adapters::DialCallback, absl::StatusOr<adapters::DialResult>>> deferred_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace voipd::test
