// daemon/stderr_batcher.h: lines reach stderr whole, in order and complete,
// whether written at once or batched. stderr (fd 2) is pointed at a file
// for the duration of each test.
#include "daemon/stderr_batcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace voipd {
namespace {

class StderrBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FlushStderrLines();
    std::fflush(stderr);
    char path[] = "/tmp/voipd-stderr-XXXXXX";
    file_fd_ = mkstemp(path);
    ASSERT_GE(file_fd_, 0);
    path_ = path;
    saved_fd_ = dup(2);
    ASSERT_GE(saved_fd_, 0);
    ASSERT_GE(dup2(file_fd_, 2), 0);
    // A quiet moment: the batcher's load window from earlier lines is over.
    absl::SleepFor(absl::Milliseconds(10));
  }
  void TearDown() override {
    FlushStderrLines();
    dup2(saved_fd_, 2);
    close(saved_fd_);
    close(file_fd_);
    unlink(path_.c_str());
  }
  // What reached fd 2 so far, as lines (the last one must be complete).
  std::vector<std::string> Written() {
    std::string data;
    char buf[65536];
    ssize_t n;
    off_t offset = 0;
    while ((n = pread(file_fd_, buf, sizeof buf, offset)) > 0) {
      data.append(buf, static_cast<size_t>(n));
      offset += n;
    }
    EXPECT_TRUE(data.empty() || data.back() == '\n') << "a partial line was written";
    std::vector<std::string> lines = absl::StrSplit(data, '\n', absl::SkipEmpty());
    return lines;
  }

  int file_fd_ = -1;
  int saved_fd_ = -1;
  std::string path_;
};

TEST_F(StderrBatcherTest, AQuietLineIsWrittenAtOnce) {
  WriteStderrLine("one quiet line\n", /*urgent=*/false);
  EXPECT_EQ(Written(), std::vector<std::string>{"one quiet line"});
}

TEST_F(StderrBatcherTest, AnUrgentLineIsWrittenAtOnceAfterEverythingPendingBeforeIt) {
  for (int i = 0; i < 500; ++i) WriteStderrLine(absl::StrCat("info ", i, "\n"), false);
  WriteStderrLine("error line\n", /*urgent=*/true);
  const std::vector<std::string> lines = Written();  // no flush: the urgent write did it
  ASSERT_EQ(lines.size(), 501u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(lines[i], absl::StrCat("info ", i));
  EXPECT_EQ(lines.back(), "error line");
}

TEST_F(StderrBatcherTest, ABurstFromManyThreadsArrivesWholeInOrderAndComplete) {
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) {
        WriteStderrLine(absl::StrCat("thread ", t, " line ", i, " ", std::string(40, 'x'), "\n"),
                        false);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // No explicit flush: the flusher thread writes what the burst left pending.
  std::vector<std::string> lines;
  for (int wait = 0; wait < 200; ++wait) {
    lines = Written();
    if (lines.size() >= kThreads * kLines) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    ASSERT_EQ(parts.size(), 5u) << line;
    int t = -1, i = -1;
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &t) && absl::SimpleAtoi(parts[3], &i)) << line;
    ASSERT_TRUE(t >= 0 && t < kThreads) << line;
    EXPECT_EQ(i, next[t]) << "thread " << t << "'s lines out of order";
    EXPECT_EQ(parts[4], std::string(40, 'x'));
    next[t] = i + 1;
  }
}

TEST_F(StderrBatcherTest, FlushWritesWhatIsPending) {
  for (int i = 0; i < 1000; ++i) WriteStderrLine(absl::StrCat("line ", i, "\n"), false);
  FlushStderrLines();
  const std::vector<std::string> lines = Written();
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_EQ(lines.front(), "line 0");
  EXPECT_EQ(lines.back(), "line 999");
}

}  // namespace
}  // namespace voipd
