// One writer per stream, following gRPC's callback-API contract: one write
// in flight; the message stays alive until OnWriteDone; Finish exactly once,
// also after cancellation; delete only in OnDone.
//
// gRPC may run reactions inline (OnWriteDone inside StartWrite, OnDone inside
// Finish) and concurrently with wake-ups from publishers, so all gRPC calls
// happen in one serialised drain loop (Pump) guarded by an atomic request
// counter instead of a mutex that an inline reaction could try to retake.
#include "daemon/server/event_stream.h"

#include <atomic>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/call_state_machine.h"
#include "daemon/core/proto_time.h"
#include "daemon/core/request_validation.h"
#include "daemon/server/grpc_status.h"
#include "daemon/server/rpc_context.h"

namespace voipd {
namespace {

using voip::v1::CallEvent;

class StreamPump : public std::enable_shared_from_this<StreamPump> {
 public:
  StreamPump(CallEventWriter* writer, bool watch, EventBus* bus, Metrics* metrics,
             StreamCaller caller)
      : writer_(writer), watch_(watch), bus_(bus), metrics_(metrics), caller_(std::move(caller)) {}

  // `first` (WatchCall's snapshot) is written before anything from `sub`;
  // events up to `skip_through` are then skipped as already contained in it.
  void Start(SubscriptionPtr sub, CallEventPtr first, uint64_t skip_through) {
    sub_ = std::move(sub);
    first_ = std::move(first);
    skip_through_ = skip_through;
    Pump();
  }

  void Pump() {
    if (requests_.fetch_add(1) > 0) return;  // the running loop will see it
    do {
      PumpOnce();
    } while (requests_.fetch_sub(1) > 1);
  }

  void OnWriteDone(bool ok) {
    if (!ok) write_failed_.store(true);
    in_flight_.store(false);
    Pump();
  }
  void OnCancel() {
    cancelled_.store(true);
    Pump();
  }
  void OnDone() {
    if (sub_) sub_->Close();
  }

 private:
  void Finish(const grpc::Status& status) {
    finished_ = true;
    writer_->Finish(status);  // may run OnDone inline: touch nothing after
  }

  // The token lost its rights on a reload: nothing more is written.
  void EndUngranted(const absl::Status& status) {
    AuditLine(false, caller_.grant.principal_name(), caller_.peer, caller_.grant.method(),
              "", status.message());
    metrics_->CounterAdd(kAuthFailures,
                         {{"rpc", caller_.grant.method()},
                          {"reason", absl::StatusCodeToString(status.code())}});
    if (absl::IsUnavailable(status) && !watch_) {
      voip::v1::VoipError error = GetVoipError(status).value_or(voip::v1::VoipError());
      error.set_message(absl::StrCat(status.message(), " (after_sequence=", sub_->cursor(),
                                     " resumes where this stream stopped)"));
      (*error.mutable_details())["resume_after_sequence"] = absl::StrCat(sub_->cursor());
      Finish(ToGrpcStatus(MakeVoipError(std::move(error), absl::StatusCode::kUnavailable)));
      return;
    }
    Finish(ToGrpcStatus(status));
  }

  void PumpOnce() {
    if (finished_ || !sub_) return;
    if (in_flight_.load()) {
      CutIfStalled();
      return;
    }
    if (cancelled_.load() || write_failed_.load()) {
      Finish(cut_.ok() ? grpc::Status::CANCELLED : ToGrpcStatus(cut_));
      return;
    }
    if (finish_after_write_) {
      Finish(grpc::Status::OK);
      return;
    }
    if (absl::Status granted = caller_.grant.Check(); !granted.ok()) {
      EndUngranted(granted);
      return;
    }
    CallEventPtr next = std::move(first_);
    while (next == nullptr) {
      absl::StatusOr<CallEventPtr> event = sub_->Next();
      if (!event.ok()) {
        if (absl::IsResourceExhausted(event.status())) {
          metrics_->CounterAdd(kSubscribersDropped, {});
        }
        Finish(ToGrpcStatus(event.status()));
        return;
      }
      if (*event == nullptr) return;  // the bus wakes us when there is more
      if ((*event)->sequence() > skip_through_) next = std::move(*event);
    }
    if (watch_ && IsTerminal(next->session().status())) finish_after_write_ = true;
    const uint64_t last = bus_->last_sequence();
    metrics_->HistogramObserve(
        kEventDeliveryLag, {},
        last > next->sequence() ? static_cast<double>(last - next->sequence()) : 0.0);
    current_ = std::move(next);
    in_flight_.store(true);
    write_started_ = absl::Now();
    writer_->StartWrite(current_.get());  // may run OnWriteDone inline
  }

  // A write that stays in flight for a second while the subscriber falls
  // behind the lag limit means the client stopped reading (flow control
  // holds the write): the RPC is cancelled, which fails the write and ends
  // the stream. A slow client whose writes still complete is not cut here:
  // its next read gets RESOURCE_EXHAUSTED with the resume point. Only
  // EventBus::WakeLaggards (and a reload's WakeAll) wakes a stream in that
  // state. Runs inside the drain loop before Finish, so the RPC (and its
  // context) is still alive.
  void CutIfStalled() {
    if (!cut_.ok() || !caller_.cancel) return;
    if (absl::Now() - write_started_ < absl::Seconds(1)) return;
    absl::Status lagging = sub_->LagError();
    if (lagging.ok()) return;
    cut_ = std::move(lagging);
    metrics_->CounterAdd(kSubscribersDropped, {});
    caller_.cancel();
  }

  CallEventWriter* const writer_;
  const bool watch_;
  EventBus* const bus_;
  Metrics* const metrics_;
  StreamCaller caller_;  // touched only inside the drain loop
  SubscriptionPtr sub_;
  std::atomic<int> requests_{0};
  std::atomic<bool> in_flight_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> write_failed_{false};
  // Touched only inside the drain loop.
  bool finished_ = false;
  bool finish_after_write_ = false;
  absl::Status cut_;  // why CutIfStalled cancelled the RPC
  absl::Time write_started_;  // of current_
  CallEventPtr first_;
  CallEventPtr current_;  // the message being written
  uint64_t skip_through_ = 0;
};

class EventStreamReactor final : public CallEventWriter {
 public:
  EventStreamReactor(bool watch, EventBus* bus, Metrics* metrics, StreamCaller caller)
      : pump_(std::make_shared<StreamPump>(this, watch, bus, metrics, std::move(caller))) {}
  std::shared_ptr<StreamPump> pump() { return pump_; }

  void OnWriteDone(bool ok) override { pump_->OnWriteDone(ok); }
  void OnCancel() override { pump_->OnCancel(); }
  void OnDone() override {
    pump_->OnDone();
    delete this;
  }

 private:
  std::shared_ptr<StreamPump> pump_;
};

class FailedStream final : public CallEventWriter {
 public:
  explicit FailedStream(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

std::function<void()> WakeFor(const std::shared_ptr<StreamPump>& pump) {
  std::weak_ptr<StreamPump> weak = pump;
  return [weak] {
    if (auto p = weak.lock()) p->Pump();
  };
}

}  // namespace

CallEventWriter* NewFailedStream(const absl::Status& status) { return new FailedStream(status); }

CallEventWriter* NewWatchCallStream(EventBus* bus, CallRegistry* registry, Metrics* metrics,
                                    const std::string& session_id, StreamCaller caller) {
  if (absl::Status s = ValidateSessionId(session_id); !s.ok()) return new FailedStream(s);
  auto* reactor = new EventStreamReactor(/*watch=*/true, bus, metrics, std::move(caller));
  EventFilter filter;
  filter.session_id = session_id;
  // Subscribe before taking the snapshot so that no change can fall between
  // the two; what the snapshot already shows is skipped by sequence.
  absl::StatusOr<SubscriptionPtr> sub =
      bus->Subscribe(std::move(filter), std::nullopt, WakeFor(reactor->pump()));
  absl::StatusOr<voip::v1::CallSession> session =
      sub.ok() ? registry->Snapshot(session_id) : absl::StatusOr<voip::v1::CallSession>(sub.status());
  if (!session.ok()) {
    if (sub.ok()) (*sub)->Close();
    delete reactor;
    return new FailedStream(session.status());
  }
  auto snapshot = std::make_shared<CallEvent>();
  snapshot->set_type(voip::v1::CALL_EVENT_TYPE_SNAPSHOT);
  snapshot->set_sequence(session->last_sequence());
  *snapshot->mutable_time() = ProtoNow();
  const uint64_t skip_through = session->last_sequence();
  *snapshot->mutable_session() = std::move(*session);
  reactor->pump()->Start(std::move(*sub), std::move(snapshot), skip_through);
  return reactor;
}

CallEventWriter* NewSubscribeStream(EventBus* bus, Metrics* metrics,
                                    const voip::v1::SubscribeCallEventsRequest& request,
                                    StreamCaller caller) {
  if (absl::Status s = ValidateCallFilter(request.filter().session_id(),
                                          request.filter().system_name(),
                                          request.filter().labels(), "filter.");
      !s.ok()) {
    return new FailedStream(s);
  }
  EventFilter filter;
  filter.session_id = request.filter().session_id();
  filter.system_name = request.filter().system_name();
  filter.labels.insert(request.filter().labels().begin(), request.filter().labels().end());
  std::optional<uint64_t> after;
  if (request.has_after_sequence()) after = request.after_sequence();
  auto* reactor = new EventStreamReactor(/*watch=*/false, bus, metrics, std::move(caller));
  absl::StatusOr<SubscriptionPtr> sub =
      bus->Subscribe(std::move(filter), after, WakeFor(reactor->pump()));
  if (!sub.ok()) {
    delete reactor;
    return new FailedStream(sub.status());
  }
  reactor->pump()->Start(std::move(*sub), nullptr, 0);
  return reactor;
}

}  // namespace voipd
