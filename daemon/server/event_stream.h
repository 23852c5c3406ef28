// Server-streaming reactors for WatchCall and SubscribeCallEvents.
#pragma once

#include <grpcpp/grpcpp.h>

#include "daemon/core/call_registry.h"
#include "daemon/core/event_bus.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd {

using CallEventWriter = grpc::ServerWriteReactor<voip::v1::CallEvent>;

// WatchCall: the call's snapshot, then each change; OK after the terminal event.
CallEventWriter* NewWatchCallStream(EventBus* bus, CallRegistry* registry,
                                    const std::string& session_id);

// SubscribeCallEvents: every matching event, resuming after a sequence.
CallEventWriter* NewSubscribeStream(EventBus* bus, const voip::v1::SubscribeCallEventsRequest& req);

}  // namespace voipd
