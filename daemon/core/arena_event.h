// Published CallEvents built on their own protobuf arena.
//
// A published event holds a whole CallSession (strings, a Timestamp, the
// contact, the labels map): on the heap that is a dozen or more
// allocations to build it and as many frees when it leaves the resume
// window. Bench scenario a spent ~16 % of voipd's CPU building and freeing
// sessions (4 events per call). On an arena whose first block sits in the
// same allocation as the shared_ptr's control block, an event is one
// allocation (plus the buffers of strings too long for SSO) and one free.
#pragma once

#include <memory>

#include "voip/v1/call.pb.h"

namespace voipd {

// A new, empty CallEvent on its own arena. The arena (and so every message
// on it) lives as long as any shared_ptr to the event, including aliasing
// ones such as a CallSessionPtr into its session. Build the session on it
// directly (copy into `mutable_session()`): moving a heap message into an
// arena message copies it.
std::shared_ptr<voip::v1::CallEvent> NewArenaEvent();

}  // namespace voipd
