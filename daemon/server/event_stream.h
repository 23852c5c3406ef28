// Server-streaming reactors for WatchCall and SubscribeCallEvents.
#pragma once

#include <functional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "daemon/core/call_registry.h"
#include "daemon/core/event_bus.h"
#include "daemon/observability/metrics.h"
#include "daemon/security/stream_grant.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

using CallEventWriter = grpc::ServerWriteReactor<voip::v1::CallEvent>;

// Who opened a stream: its grant is checked before every write (a reload may
// revoke the token), and the audit line names the peer if that ends it.
struct StreamCaller {
  StreamGrant grant;
  std::string peer;
  // Cancels the RPC (ServerContext::TryCancel): how a stream whose client
  // stopped reading is cut, since no status can pass its unread data.
  std::function<void()> cancel;
};

// WatchCall: the call's snapshot, then each change; OK after the terminal event.
CallEventWriter* NewWatchCallStream(EventBus* bus, CallRegistry* registry, Metrics* metrics,
                                    const std::string& session_id, StreamCaller caller);

// SubscribeCallEvents: every matching event, resuming after a sequence.
CallEventWriter* NewSubscribeStream(EventBus* bus, Metrics* metrics,
                                    const voip::v1::SubscribeCallEventsRequest& req,
                                    StreamCaller caller);

// A stream that ends at once with `status` (e.g. UNAUTHENTICATED).
CallEventWriter* NewFailedStream(const absl::Status& status);

}  // namespace voipd
