// LivenessGate: which adapters' own loops have stopped answering probes.
#include "daemon/observability/liveness_gate.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Answers probes only when the test says its loop came round.
class LoopAdapter final : public adapters::Adapter {
 public:
  adapters::Capabilities capabilities() const override { return {}; }
  adapters::Health health() const override { return {}; }
  void StartCall(const adapters::DialRequest&, adapters::DialCallback) override {}
  void EndCall(const adapters::CallRef&, adapters::DoneCallback) override {}
  void Hold(const adapters::CallRef&, bool, adapters::DoneCallback) override {}
  void Mute(const adapters::CallRef&, bool, adapters::DoneCallback) override {}
  void CheckAlive(absl::AnyInvocable<void() &&> alive) override {
    if (answers_inline) {
      std::move(alive)();
      return;
    }
    pending.push_back(std::move(alive));
  }
  void LoopComesRound() {
    for (auto& alive : pending) std::move(alive)();
    pending.clear();
  }

  bool answers_inline = false;
  std::vector<absl::AnyInvocable<void() &&>> pending;
};

SystemTable Table(const std::map<std::string, std::shared_ptr<LoopAdapter>>& adapters) {
  std::map<std::string, SystemEntry> entries;
  for (const auto& [name, adapter] : adapters) {
    entries[name] = SystemEntry{name, "test", adapter, "test/" + name};
  }
  return SystemTable(std::move(entries), "", "US", {});
}

TEST(LivenessGateTest, ASystemWhoseProbeWaitsPastTheLimitIsStuckUntilItAnswers) {
  auto sip = std::make_shared<LoopAdapter>();
  auto sandbox = std::make_shared<LoopAdapter>();
  sandbox->answers_inline = true;  // no loop of its own
  const SystemTable table = Table({{"sip", sip}, {"sandbox", sandbox}});
  LivenessGate gate(absl::Seconds(10));
  const absl::Time t0 = absl::Now();

  EXPECT_THAT(gate.Check(table, t0), IsEmpty());
  ASSERT_EQ(sip->pending.size(), 1u);
  // Still waiting within the limit: not stuck, and no second probe.
  EXPECT_THAT(gate.Check(table, t0 + absl::Seconds(9)), IsEmpty());
  EXPECT_EQ(sip->pending.size(), 1u);
  EXPECT_THAT(gate.Check(table, t0 + absl::Seconds(11)), ElementsAre("sip"));
  EXPECT_THAT(gate.Check(table, t0 + absl::Seconds(20)), ElementsAre("sip"));

  sip->LoopComesRound();
  EXPECT_THAT(gate.Check(table, t0 + absl::Seconds(21)), IsEmpty());
  EXPECT_EQ(sip->pending.size(), 1u) << "a new probe once the last was answered";
  sip->LoopComesRound();
  EXPECT_THAT(gate.Check(table, t0 + absl::Seconds(40)), IsEmpty());
}

TEST(LivenessGateTest, ASystemThatLeftTheTableIsForgotten) {
  auto sip = std::make_shared<LoopAdapter>();
  LivenessGate gate(absl::Seconds(10));
  const absl::Time t0 = absl::Now();
  EXPECT_THAT(gate.Check(Table({{"sip", sip}}), t0), IsEmpty());
  EXPECT_THAT(gate.Check(Table({}), t0 + absl::Minutes(5)), IsEmpty());
  sip->LoopComesRound();  // a late answer touches nothing that is gone
  // Back in the table (a reload): probed afresh.
  EXPECT_THAT(gate.Check(Table({{"sip", sip}}), t0 + absl::Minutes(6)), IsEmpty());
  EXPECT_EQ(sip->pending.size(), 1u);
  sip->LoopComesRound();
}

}  // namespace
}  // namespace voipd
