#include "adapters/sip/re_loop.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"

namespace voipd::adapters::sip {
namespace {

TEST(ReLoopTest, OneLoopPerProcessWhileHeld) {
  absl::StatusOr<std::shared_ptr<ReLoop>> a = ReLoop::Acquire();
  absl::StatusOr<std::shared_ptr<ReLoop>> b = ReLoop::Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_FALSE((*a)->InLoopThread());
}

TEST(ReLoopTest, RunsTasksInPostingOrderOnItsThread) {
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire();
  std::vector<int> seen;
  std::atomic<bool> on_loop{true};
  for (int i = 0; i < 1000; ++i) {
    loop->Post([&, i] {
      on_loop = on_loop && loop->InLoopThread();
      seen.push_back(i);
    });
  }
  loop->RunSync([] {});
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_TRUE(on_loop);
}

TEST(ReLoopTest, PostsFromManyThreads) {
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire();
  std::atomic<int> count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) loop->Post([&] { ++count; });
    });
  }
  for (auto& t : threads) t.join();
  loop->RunSync([] {});
  EXPECT_EQ(count.load(), 4000);
}

TEST(ReLoopTest, RunSyncInsideTheLoopRunsInline) {
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire();
  bool inner = false;
  loop->RunSync([&] { loop->RunSync([&] { inner = true; }); });
  EXPECT_TRUE(inner);
}

TEST(ReLoopTest, RestartsAfterTheLastOwnerLeft) {
  for (int round = 0; round < 3; ++round) {
    std::shared_ptr<ReLoop> loop = *ReLoop::Acquire();
    absl::Notification ran;
    loop->Post([&] { ran.Notify(); });
    EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
  }
}

TEST(ReLoopTest, LastOwnerMayLetGoOnTheLoopThread) {
  absl::Notification released;
  {
    std::shared_ptr<ReLoop> loop = *ReLoop::Acquire();
    ReLoop* raw = loop.get();
    raw->Post([owner = std::move(loop), &released]() mutable {
      owner.reset();  // ~ReLoop on its own thread: detaches, never joins itself
      released.Notify();
    });
  }
  EXPECT_TRUE(released.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::shared_ptr<ReLoop> again = *ReLoop::Acquire();
  absl::Notification ran;
  again->Post([&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

}  // namespace
}  // namespace voipd::adapters::sip
