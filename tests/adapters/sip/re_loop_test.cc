#include "adapters/sip/re_loop.h"

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#include <re.h>  // last: libre's headers define short macros
#include <re_dbg.h>

namespace voipd::adapters::sip {
namespace {

TEST(ReLoopTest, OneLoopPerProcessWhileHeld) {
  absl::StatusOr<std::shared_ptr<ReLoop>> a = ReLoop::Acquire(nullptr);
  absl::StatusOr<std::shared_ptr<ReLoop>> b = ReLoop::Acquire(nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_FALSE((*a)->InLoopThread());
}

TEST(ReLoopTest, RunsTasksInPostingOrderOnItsThread) {
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(nullptr);
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
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(nullptr);
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
  std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(nullptr);
  bool inner = false;
  loop->RunSync([&] { loop->RunSync([&] { inner = true; }); });
  EXPECT_TRUE(inner);
}

TEST(ReLoopTest, RestartsAfterTheLastOwnerLeft) {
  for (int round = 0; round < 3; ++round) {
    std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(nullptr);
    absl::Notification ran;
    loop->Post([&] { ran.Notify(); });
    EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
  }
}

TEST(ReLoopTest, LastOwnerMayLetGoOnTheLoopThread) {
  absl::Notification released;
  {
    std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(nullptr);
    ReLoop* raw = loop.get();
    raw->Post([owner = std::move(loop), &released]() mutable {
      owner.reset();  // ~ReLoop on its own thread: detaches, never joins itself
      released.Notify();
    });
  }
  EXPECT_TRUE(released.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::shared_ptr<ReLoop> again = *ReLoop::Acquire(nullptr);
  absl::Notification ran;
  again->Post([&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

// Records what the loop logs.
class CapturingLogger final : public Logger {
 public:
  bool Enabled(LogSeverity) const override { return true; }
  void Log(LogSeverity severity, absl::string_view component, absl::string_view message,
           const LogContext&) const override {
    absl::MutexLock lock(&mu_);
    records_.push_back({severity, std::string(component), std::string(message)});
  }
  struct Record {
    LogSeverity severity;
    std::string component;
    std::string message;
  };
  std::vector<Record> records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable std::vector<Record> records_;
};

// libre's 170-odd DEBUG_WARNING/dbg_printf records ("tcp: recv handler:
// recv(): ...") would otherwise be libre's own lines on stderr, next to
// voipd's JSON.
TEST(ReLoopTest, LibreRecordsGoToTheLoopsLogger) {
  CapturingLogger logger;
  {
    std::shared_ptr<ReLoop> loop = *ReLoop::Acquire(&logger);
    loop->RunSync([] {
      dbg_printf(DBG_WARNING, "tcp: recv handler: recv(): %m\n", ECONNRESET);
      dbg_printf(DBG_ERR, "main: poll error\n");
    });
  }
  const auto records = logger.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].severity, LogSeverity::kWarn);
  EXPECT_EQ(records[0].component, "sip");
  EXPECT_EQ(records[0].message, "libre: tcp: recv handler: recv(): Connection reset by peer");
  EXPECT_EQ(records[1].severity, LogSeverity::kError);
  EXPECT_EQ(records[1].message, "libre: main: poll error");
}

}  // namespace
}  // namespace voipd::adapters::sip
