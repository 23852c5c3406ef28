#include "tests/integration/cpp/event_stream.h"

#include "absl/strings/str_cat.h"

namespace voipd::integration {
namespace {

constexpr char kVoipErrorTypeUrl[] = "type.googleapis.com/voip.v1.VoipError";
// Streams outlive any single test step but never a whole test.
constexpr absl::Duration kStreamDeadline = absl::Seconds(90);

std::string Short(voip::v1::CallStatus status) {
  std::string name = voip::v1::CallStatus_Name(status);
  const std::string prefix = "CALL_STATUS_";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

}  // namespace

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

bool IsTerminal(voip::v1::CallStatus status) {
  return status == voip::v1::CALL_STATUS_DISCONNECTED || status == voip::v1::CALL_STATUS_FAILED ||
         status == voip::v1::CALL_STATUS_BUSY || status == voip::v1::CALL_STATUS_UNAVAILABLE;
}

std::string Describe(const std::vector<voip::v1::CallEvent>& events) {
  std::string out;
  for (const auto& e : events) {
    absl::StrAppend(&out, "\n  #", e.sequence(), " ", e.session().session_id().substr(0, 8), " ",
                    voip::v1::CallEventType_Name(e.type()), " ", Short(e.previous_status()), "->",
                    Short(e.session().status()));
  }
  return out.empty() ? " (none)" : out;
}

std::optional<voip::v1::VoipError> DecodeVoipError(const grpc::Status& status,
                                                   google::rpc::Status* rpc, std::string* why) {
  if (status.error_details().empty()) {
    *why = "no error details (grpc-status-details-bin) on the status";
    return std::nullopt;
  }
  if (!rpc->ParseFromString(status.error_details())) {
    *why = "error details are not a google.rpc.Status";
    return std::nullopt;
  }
  std::optional<voip::v1::VoipError> found;
  for (const auto& any : rpc->details()) {
    if (any.type_url() != kVoipErrorTypeUrl) continue;
    voip::v1::VoipError error;
    if (!error.ParseFromString(any.value())) {
      *why = "a VoipError detail does not parse";
      return std::nullopt;
    }
    if (found) {
      *why = "more than one VoipError detail";
      return std::nullopt;
    }
    found = std::move(error);
  }
  if (!found) {
    std::string urls;
    for (const auto& any : rpc->details()) absl::StrAppend(&urls, " ", any.type_url());
    *why = absl::StrCat("no ", kVoipErrorTypeUrl, " among the details:", urls);
  }
  return found;
}

std::unique_ptr<EventStream> EventStream::Watch(voip::v1::VoipService::Stub* stub,
                                                const std::string& session_id) {
  std::unique_ptr<EventStream> stream(new EventStream());
  stream->context_.set_deadline(DeadlineIn(kStreamDeadline));
  voip::v1::WatchCallRequest request;
  request.set_session_id(session_id);
  stream->reader_ = stub->WatchCall(&stream->context_, request);
  stream->thread_ = std::thread([s = stream.get()] { s->Run(); });
  return stream;
}

std::unique_ptr<EventStream> EventStream::Subscribe(
    voip::v1::VoipService::Stub* stub, const voip::v1::SubscribeCallEventsRequest& request) {
  std::unique_ptr<EventStream> stream(new EventStream());
  stream->context_.set_deadline(DeadlineIn(kStreamDeadline));
  stream->reader_ = stub->SubscribeCallEvents(&stream->context_, request);
  stream->thread_ = std::thread([s = stream.get()] { s->Run(); });
  return stream;
}

EventStream::~EventStream() {
  Cancel();
  if (thread_.joinable()) thread_.join();
}

void EventStream::Run() {
  voip::v1::CallEvent event;
  while (reader_->Read(&event)) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
    cv_.notify_all();
  }
  grpc::Status status = reader_->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  status_ = std::move(status);
  done_ = true;
  cv_.notify_all();
}

void EventStream::Cancel() {
  if (!done()) context_.TryCancel();
}

std::vector<voip::v1::CallEvent> EventStream::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

bool EventStream::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

bool EventStream::WaitFor(const Predicate& pred, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                      [&] { return pred(events_) || done_; }) &&
         pred(events_);
}

std::optional<voip::v1::CallEvent> EventStream::WaitForStatus(const std::string& session_id,
                                                              voip::v1::CallStatus status,
                                                              absl::Duration timeout) {
  auto find = [&](const std::vector<voip::v1::CallEvent>& events)
      -> std::optional<voip::v1::CallEvent> {
    for (const auto& e : events) {
      if (e.session().session_id() == session_id && e.session().status() == status) return e;
    }
    return std::nullopt;
  };
  WaitFor([&](const auto& events) { return find(events).has_value(); }, timeout);
  return find(events());
}

std::optional<voip::v1::CallEvent> EventStream::WaitForTerminal(const std::string& session_id,
                                                                absl::Duration timeout) {
  auto find = [&](const std::vector<voip::v1::CallEvent>& events)
      -> std::optional<voip::v1::CallEvent> {
    for (const auto& e : events) {
      if (e.session().session_id() == session_id && IsTerminal(e.session().status())) return e;
    }
    return std::nullopt;
  };
  WaitFor([&](const auto& events) { return find(events).has_value(); }, timeout);
  return find(events());
}

std::optional<grpc::Status> EventStream::WaitDone(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] { return done_; })) {
    return std::nullopt;
  }
  return status_;
}

}  // namespace voipd::integration
