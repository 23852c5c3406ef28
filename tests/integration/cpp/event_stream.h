// Client-side helpers for the integration tests: reading a server stream on
// a thread so tests can wait (with deadlines) on what arrived, and decoding
// the VoipError carried in a grpc::Status.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "voip/v1/errors.pb.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace voipd::integration {

inline constexpr absl::Duration kRpcTimeout = absl::Seconds(10);
inline constexpr absl::Duration kWait = absl::Seconds(10);

// A deadline for a ClientContext.
std::chrono::system_clock::time_point DeadlineIn(absl::Duration d);

bool IsTerminal(voip::v1::CallStatus status);

// "#12 STATUS_CHANGED RINGING<-INITIATING" lines, for failure messages.
std::string Describe(const std::vector<voip::v1::CallEvent>& events);

// The VoipError inside status.error_details() (a serialized
// google.rpc.Status whose details[] hold it as an Any). `rpc` receives the
// decoded google.rpc.Status. Returns nullopt with `why` set if absent.
std::optional<voip::v1::VoipError> DecodeVoipError(const grpc::Status& status,
                                                   google::rpc::Status* rpc, std::string* why);

// Reads a WatchCall or SubscribeCallEvents stream on its own thread.
class EventStream {
 public:
  using Predicate = std::function<bool(const std::vector<voip::v1::CallEvent>&)>;

  static std::unique_ptr<EventStream> Watch(voip::v1::VoipService::Stub* stub,
                                            const std::string& session_id);
  static std::unique_ptr<EventStream> Subscribe(voip::v1::VoipService::Stub* stub,
                                                const voip::v1::SubscribeCallEventsRequest& request);
  // Cancels the stream if it is still open and joins the reader.
  ~EventStream();

  std::vector<voip::v1::CallEvent> events() const;
  bool done() const;

  // Waits until `pred` holds for the events so far. False on timeout or when
  // the stream ended without it.
  bool WaitFor(const Predicate& pred, absl::Duration timeout = kWait);
  // The first event of the session in `status` (a snapshot counts).
  std::optional<voip::v1::CallEvent> WaitForStatus(const std::string& session_id,
                                                   voip::v1::CallStatus status,
                                                   absl::Duration timeout = kWait);
  std::optional<voip::v1::CallEvent> WaitForTerminal(const std::string& session_id,
                                                     absl::Duration timeout = kWait);
  // The final status once the stream ended; nullopt if still open at timeout.
  std::optional<grpc::Status> WaitDone(absl::Duration timeout = kWait);
  void Cancel();

 private:
  EventStream() = default;
  void Run();

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<voip::v1::CallEvent>> reader_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<voip::v1::CallEvent> events_;
  bool done_ = false;
  grpc::Status status_;
};

}  // namespace voipd::integration
