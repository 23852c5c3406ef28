#include "daemon/core/arena_event.h"

#include <memory>
#include <optional>
#include <string>

#include "daemon/core/event_bus.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

TEST(ArenaEventTest, EventLivesOnItsOwnArena) {
  std::shared_ptr<voip::v1::CallEvent> event = NewArenaEvent();
  ASSERT_NE(event->GetArena(), nullptr);
  EXPECT_EQ(event->mutable_session()->GetArena(), event->GetArena());
  EXPECT_NE(NewArenaEvent()->GetArena(), event->GetArena());
}

// The registry keeps a call's session as an aliasing pointer into its last
// published event: it must stay valid after the bus dropped the event from
// its window, and a session larger than the arena's first block must work.
TEST(ArenaEventTest, AliasingSessionOutlivesTheWindow) {
  EventBus bus(/*window=*/1, /*max_lag=*/10);
  std::shared_ptr<voip::v1::CallEvent> event = NewArenaEvent();
  voip::v1::CallSession* session = event->mutable_session();
  session->set_session_id("0123456789abcdef0123456789abcdef0123");
  for (int i = 0; i < 100; ++i) {
    (*session->mutable_labels())["label-key-" + std::to_string(i)] =
        "a value long enough to need its own buffer " + std::to_string(i);
  }
  std::shared_ptr<const voip::v1::CallSession> kept;
  {
    CallEventPtr published = bus.Publish(std::move(event));
    kept = std::shared_ptr<const voip::v1::CallSession>(published, &published->session());
  }
  EXPECT_EQ(kept->last_sequence(), 1u);
  bus.Publish(voip::v1::CallEvent());  // evicts the arena event from the window
  EXPECT_EQ(bus.oldest_held_sequence(), 2u);
  EXPECT_EQ(kept->session_id(), "0123456789abcdef0123456789abcdef0123");
  ASSERT_EQ(kept->labels_size(), 100);
  EXPECT_EQ(kept->labels().at("label-key-99"), "a value long enough to need its own buffer 99");
  voip::v1::CallSession copy = *kept;  // arena to heap
  EXPECT_EQ(copy.labels_size(), 100);
}

}  // namespace
}  // namespace voipd
