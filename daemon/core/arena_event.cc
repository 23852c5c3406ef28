#include "daemon/core/arena_event.h"

#include <cstddef>

#include "google/protobuf/arena.h"

namespace voipd {
namespace {

// A typical event (a session with two labels) takes ~810 bytes of arena plus
// the arena's own header and fits from 1,152; this leaves room for a few more
// labels without asking malloc for a second block (a larger event just does).
// Not more: the resume window holds 10,000 events by default, and each keeps
// its whole block (on the heap a typical session took ~0.8 KiB).
constexpr size_t kInitialBlock = 1536;

struct ArenaEvent {
  ArenaEvent() : arena(block, sizeof(block)) {
    event = google::protobuf::Arena::CreateMessage<voip::v1::CallEvent>(&arena);
  }
  alignas(std::max_align_t) char block[kInitialBlock];
  google::protobuf::Arena arena;  // after `block`: destroyed before it
  voip::v1::CallEvent* event;
};

}  // namespace

std::shared_ptr<voip::v1::CallEvent> NewArenaEvent() {
  auto holder = std::make_shared<ArenaEvent>();
  voip::v1::CallEvent* event = holder->event;
  return std::shared_ptr<voip::v1::CallEvent>(std::move(holder), event);
}

}  // namespace voipd
