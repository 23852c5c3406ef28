// libre's timers on voipd's heap (adapters/sip/libre_timers.h): libre's own
// semantics, and libre itself using them. Timers run on the real libre loop
// (ReLoop), so tmr_poll/tmr_next_timeout are the ones re_main calls.
#include "adapters/sip/libre_timers.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "adapters/sip/re_loop.h"

#include <re.h>  // last: libre's headers define short macros

extern "C" struct list* tmrl_get(void);

namespace voipd::adapters::sip {
namespace {

// A timer that records its label into a shared log when it fires.
struct Probe {
  struct tmr timer;
  std::string label;
  std::vector<std::string>* log = nullptr;
  absl::Notification* done = nullptr;  // notified when this one fires
  uint64_t expiry = 0;                 // tmr.jfs when started

  static void Fire(void* arg) {
    auto* self = static_cast<Probe*>(arg);
    self->log->push_back(self->label);
    if (self->done != nullptr) self->done->Notify();
  }
};

class LibreTimersTest : public ::testing::Test {
 protected:
  void SetUp() override { loop_ = *ReLoop::Acquire(nullptr); }
  // Runs `body` on the loop thread and waits for it.
  template <typename F>
  void OnLoop(F body) {
    loop_->RunSync(std::move(body));
  }
  std::shared_ptr<ReLoop> loop_;
};

TEST_F(LibreTimersTest, HeapIsInUseAndLibresListStaysEmpty) {
  EXPECT_STREQ(LibreTimerImplementation(), "heap");
  Probe probe;
  std::vector<std::string> log;
  size_t before = 0, during = 0;
  bool list_empty = false, running = false;
  OnLoop([&] {
    before = LibreTimersRunning();
    tmr_init(&probe.timer);
    probe.log = &log;
    tmr_start(&probe.timer, 60'000, &Probe::Fire, &probe);
    during = LibreTimersRunning();
    running = tmr_isrunning(&probe.timer);
    list_empty = list_isempty(tmrl_get());
    tmr_cancel(&probe.timer);
  });
  EXPECT_EQ(during, before + 1);
  EXPECT_TRUE(running);
  EXPECT_TRUE(list_empty) << "a timer went into libre's own list: the interposition is not active";
  OnLoop([&] {
    running = tmr_isrunning(&probe.timer);
    during = LibreTimersRunning();
  });
  EXPECT_FALSE(running);
  EXPECT_EQ(during, before);
  EXPECT_TRUE(log.empty());
}

TEST_F(LibreTimersTest, FiresInExpiryOrderAndFifoAmongEqualExpiries) {
  std::vector<std::string> log;
  absl::Notification last;
  std::vector<std::unique_ptr<Probe>> probes;
  const std::vector<std::pair<std::string, uint64_t>> plan = {
      {"30", 30}, {"10a", 10}, {"20", 20}, {"0a", 0}, {"10b", 10}, {"0b", 0}};
  OnLoop([&] {
    // tmr_start reads the clock per call; start them within one millisecond
    // so equal delays mean equal expiries.
    for (const auto& [label, delay] : plan) {
      auto probe = std::make_unique<Probe>();
      tmr_init(&probe->timer);
      probe->label = label;
      probe->log = &log;
      if (delay == 30) probe->done = &last;
      tmr_start(&probe->timer, delay, &Probe::Fire, probe.get());
      probe->expiry = probe->timer.jfs;
      probes.push_back(std::move(probe));
    }
  });
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::vector<std::string> seen;
  OnLoop([&] { seen = log; });
  ASSERT_EQ(seen.size(), plan.size());
  // Expiry order; among probes with the same expiry, start order.
  std::vector<std::string> expected;
  std::vector<Probe*> sorted;
  for (auto& p : probes) sorted.push_back(p.get());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Probe* a, const Probe* b) { return a->expiry < b->expiry; });
  for (const Probe* p : sorted) expected.push_back(p->label);
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(seen.front(), "0a");
  EXPECT_EQ(seen.back(), "30");
}

TEST_F(LibreTimersTest, RestartMovesATimerAndCancelFromAHandlerStopsADueTimer) {
  std::vector<std::string> log;
  absl::Notification moved_fired;
  Probe moved, victim, killer;
  struct Killer {
    static void Fire(void* arg) {
      auto* probes = static_cast<std::pair<Probe*, Probe*>*>(arg);
      probes->first->log->push_back("killer");
      tmr_cancel(&probes->second->timer);  // due in the same poll, must not run
    }
  };
  std::pair<Probe*, Probe*> killer_arg{&killer, &victim};
  OnLoop([&] {
    for (Probe* p : {&moved, &victim, &killer}) {
      tmr_init(&p->timer);
      p->log = &log;
    }
    moved.label = "moved";
    moved.done = &moved_fired;
    tmr_start(&moved.timer, 60'000, &Probe::Fire, &moved);
    tmr_start(&moved.timer, 20, &Probe::Fire, &moved);  // restart: once, soon
    killer.label = "killer";
    tmr_start(&killer.timer, 5, &Killer::Fire, &killer_arg);
    victim.label = "victim";
    tmr_start(&victim.timer, 5, &Probe::Fire, &victim);
  });
  ASSERT_TRUE(moved_fired.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::vector<std::string> seen;
  bool victim_running = true;
  OnLoop([&] {
    seen = log;
    victim_running = tmr_isrunning(&victim.timer);
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"killer", "moved"}));
  EXPECT_FALSE(victim_running);
}

TEST_F(LibreTimersTest, AHandlerMayRestartItsOwnTimer) {
  struct Periodic {
    struct tmr timer;
    int fired = 0;
    absl::Notification done;
    static void Fire(void* arg) {
      auto* self = static_cast<Periodic*>(arg);
      if (++self->fired < 5) {
        tmr_start(&self->timer, 1, &Periodic::Fire, self);
      } else {
        self->done.Notify();
      }
    }
  } periodic;
  OnLoop([&] {
    tmr_init(&periodic.timer);
    tmr_start(&periodic.timer, 1, &Periodic::Fire, &periodic);
  });
  ASSERT_TRUE(periodic.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  bool running = true;
  OnLoop([&] { running = tmr_isrunning(&periodic.timer); });
  EXPECT_EQ(periodic.fired, 5);
  EXPECT_FALSE(running);
}

// Many timers started, restarted and cancelled at random: every survivor
// fires exactly once, in (expiry, start) order, and nothing is left behind.
TEST_F(LibreTimersTest, RandomStartsRestartsAndCancelsKeepTheOrder) {
  constexpr int kTimers = 3000;
  struct Record {
    struct tmr timer;
    uint64_t expiry = 0;
    uint64_t start_order = 0;
    bool cancelled = false;
    int fired = 0;
    std::vector<const Record*>* order = nullptr;
    static void Fire(void* arg) {
      auto* self = static_cast<Record*>(arg);
      ++self->fired;
      self->order->push_back(self);
    }
  };
  std::vector<Record> records(kTimers);
  std::vector<const Record*> order;
  absl::Notification all_due;
  size_t baseline = 0;
  OnLoop([&] {
    baseline = LibreTimersRunning();
    std::mt19937 rng(42);
    uint64_t started = 0;
    for (Record& r : records) {
      tmr_init(&r.timer);
      r.order = &order;
      tmr_start(&r.timer, rng() % 40, &Record::Fire, &r);
      r.expiry = r.timer.jfs;
      r.start_order = started++;
    }
    for (int i = 0; i < kTimers / 3; ++i) {
      Record& r = records[rng() % kTimers];
      if (rng() % 2 == 0) {
        tmr_cancel(&r.timer);
        r.cancelled = true;
      } else {
        tmr_start(&r.timer, rng() % 40, &Record::Fire, &r);
        r.expiry = r.timer.jfs;
        r.start_order = started++;
        r.cancelled = false;
      }
    }
  });
  // Every timer is due within 40 ms of being started; a 100 ms timer
  // started now runs after all of them.
  Probe sentinel;
  std::vector<std::string> sentinel_log;
  sentinel.log = &sentinel_log;
  sentinel.done = &all_due;
  OnLoop([&] {
    tmr_init(&sentinel.timer);
    tmr_start(&sentinel.timer, 100, &Probe::Fire, &sentinel);
  });
  ASSERT_TRUE(all_due.WaitForNotificationWithTimeout(absl::Seconds(5)));
  size_t after = 0;
  std::vector<const Record*> seen;
  OnLoop([&] {
    after = LibreTimersRunning();
    seen = order;
  });
  EXPECT_EQ(after, baseline);
  size_t survivors = 0;
  for (const Record& r : records) {
    EXPECT_EQ(r.fired, r.cancelled ? 0 : 1);
    survivors += r.cancelled ? 0 : 1;
  }
  ASSERT_EQ(seen.size(), survivors);
  for (size_t i = 1; i < seen.size(); ++i) {
    const Record* a = seen[i - 1];
    const Record* b = seen[i];
    ASSERT_TRUE(a->expiry < b->expiry || (a->expiry == b->expiry && a->start_order < b->start_order))
        << "out of order at " << i;
  }
}

// libre's own modules start timers through the replacement: a DNS query's
// retransmission timer lands in the heap, and goes when the query does.
TEST_F(LibreTimersTest, LibreModulesUseTheHeap) {
  size_t baseline = 0, with_query = 0, after = 0;
  bool list_empty = false;
  int err = 0;
  struct dnsc* dns = nullptr;
  struct dns_query* query = nullptr;
  OnLoop([&] {
    baseline = LibreTimersRunning();
    struct sa server;
    sa_set_str(&server, "127.0.0.1", 9);  // discard port: no answer, loopback only
    err = dnsc_alloc(&dns, nullptr, &server, 1);
    if (err == 0) {
      err = dnsc_query(&query, dns, "voipd.invalid", DNS_TYPE_A, DNS_CLASS_IN, true,
                       [](int, const struct dnshdr*, struct list*, struct list*, struct list*,
                          void*) {},
                       nullptr);
    }
    with_query = LibreTimersRunning();
    list_empty = list_isempty(tmrl_get());
    mem_deref(query);
    mem_deref(dns);
    after = LibreTimersRunning();
  });
  ASSERT_EQ(err, 0);
  EXPECT_GT(with_query, baseline);
  EXPECT_TRUE(list_empty);
  EXPECT_EQ(after, baseline);
}

}  // namespace
}  // namespace voipd::adapters::sip
