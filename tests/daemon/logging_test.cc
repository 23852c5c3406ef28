// The core's logger: formats (text key=value, JSON lines, journald fields),
// the level filter, the adapter-facing logger, and the fields that call
// lines from the controller carry.
#include "daemon/logging.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/adapter_logger.h"
#include "tests/daemon/log_capture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voipd {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

TEST(LoggingTest, JsonLinesCarryFieldsAsKeys) {
  LogCapture capture;
  SetLogFormat(LogFormat::kJson);
  LogInfo("calls", "call to +12015550100 \"quoted\"\n",
          {{"session_id", "s-1"}, {"system", "pbx"}, {"empty", ""}});
  ASSERT_THAT(capture.lines(), SizeIs(1));
  const std::string line = capture.lines()[0];
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
  const nlohmann::json record = nlohmann::json::parse(line);
  EXPECT_EQ(record["level"], "info");
  EXPECT_EQ(record["component"], "calls");
  EXPECT_EQ(record["msg"], "call to +12015550100 \"quoted\"\n");
  EXPECT_EQ(record["session_id"], "s-1");
  EXPECT_EQ(record["system"], "pbx");
  EXPECT_FALSE(record.contains("empty")) << line;
  // RFC 3339 UTC with milliseconds (the prefix up to the second is cached).
  EXPECT_THAT(record["time"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                      "\\.[0-9]{3}Z"));
  const absl::Time now = absl::Now();
  absl::Time parsed;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, record["time"].get<std::string>(), &parsed,
                              &error)) << error;
  EXPECT_LT(absl::AbsDuration(now - parsed), absl::Seconds(5));
}

TEST(LoggingTest, TextLinesCarryKeyValueFields) {
  LogCapture capture;
  SetLogFormat(LogFormat::kText);
  LogWarn("registry", "dropped event", {{"session_id", "s-2"}, {"system", "my pbx"}});
  ASSERT_THAT(capture.lines(), SizeIs(1));
  const std::string line = capture.lines()[0];
  EXPECT_THAT(line, HasSubstr(" warn registry: dropped event session_id=s-2 "));
  // A value with a space is quoted so that key=value stays parseable.
  EXPECT_THAT(line, HasSubstr(" system=\"my pbx\"\n"));
}

TEST(LoggingTest, LevelFilterDropsLowerLevelsAndChangesAtRuntime) {
  LogCapture capture;
  SetLogLevel(LogLevel::kWarn);
  LogInfo("calls", "hidden info");
  LogDebug("calls", "hidden debug");
  LogWarn("calls", "shown warn");
  LogError("calls", "shown error");
  std::vector<std::string> lines = capture.lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[0], HasSubstr("shown warn"));
  EXPECT_THAT(lines[1], HasSubstr("shown error"));
  SetLogLevel(LogLevel::kDebug);  // what a reload does
  LogDebug("calls", "now shown");
  EXPECT_THAT(capture.lines(), SizeIs(3));
}

TEST(LoggingTest, JournalFieldsNameSessionSystemAndPriority) {
  const std::vector<std::string> fields =
      JournalFields(LogLevel::kWarn, "calls", "call failed",
                    {{"session_id", "s-3"}, {"system", "pbx"}, {"rpc", ""}, {"x-y", "1"}});
  EXPECT_THAT(fields, Contains("MESSAGE=calls: call failed"));
  EXPECT_THAT(fields, Contains("PRIORITY=4"));
  EXPECT_THAT(fields, Contains("SESSION_ID=s-3"));
  EXPECT_THAT(fields, Contains("SYSTEM=pbx"));
  EXPECT_THAT(fields, Contains("X_Y=1"));
  EXPECT_THAT(fields, Contains("SYSLOG_IDENTIFIER=voipd"));
  EXPECT_THAT(fields, Not(Contains(HasSubstr("RPC="))));
  EXPECT_THAT(JournalFields(LogLevel::kError, "c", "m", {}), Contains("PRIORITY=3"));
  EXPECT_THAT(JournalFields(LogLevel::kInfo, "c", "m", {}), Contains("PRIORITY=6"));
  EXPECT_THAT(JournalFields(LogLevel::kDebug, "c", "m", {}), Contains("PRIORITY=7"));
}

TEST(LoggingTest, JournalFormatWithoutJournaldFallsBackToTextOnStderr) {
  // As on a machine without journald, wherever this test runs.
  SetJournalSocketForTesting("/nonexistent/voipd-test/journal/socket");
  char path[] = "/tmp/voipd-logging-test-XXXXXX";
  const int file = mkstemp(path);
  ASSERT_GE(file, 0);
  fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(dup2(file, STDERR_FILENO), STDERR_FILENO);
  SetLogFormat(LogFormat::kJournal);
  LogWarn("calls", "to the journal, or else stderr", {{"session_id", "s-5"}});
  SetLogFormat(LogFormat::kText);
  SetJournalSocketForTesting(nullptr);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string text(4096, '\0');
  const ssize_t n = pread(file, text.data(), text.size(), 0);
  close(file);
  unlink(path);
  ASSERT_GT(n, 0) << "the record was lost";
  text.resize(static_cast<size_t>(n));
  EXPECT_THAT(text, HasSubstr("warn calls: to the journal, or else stderr session_id=s-5\n"));
}

// Restores JOURNAL_STREAM after the test.
class JournalStreamEnv {
 public:
  JournalStreamEnv() {
    if (const char* v = getenv("JOURNAL_STREAM")) saved_ = v;
  }
  ~JournalStreamEnv() {
    if (saved_.empty()) {
      unsetenv("JOURNAL_STREAM");
    } else {
      setenv("JOURNAL_STREAM", saved_.c_str(), 1);
    }
  }

 private:
  std::string saved_;
};

TEST(LoggingTest, AutoFormatIsJournalOnlyWhenStderrIsJournalsStream) {
  JournalStreamEnv restore;
  struct stat st {};
  ASSERT_EQ(fstat(STDERR_FILENO, &st), 0);
  LogFormat format = LogFormat::kJson;

  unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(StderrIsJournal());
  ASSERT_TRUE(ParseLogFormat("auto", &format));
  EXPECT_EQ(format, LogFormat::kText);

  // Inherited by a child whose stderr is elsewhere: not ours.
  setenv("JOURNAL_STREAM", absl::StrCat(st.st_dev, ":", st.st_ino + 1).c_str(), 1);
  EXPECT_FALSE(StderrIsJournal());

  setenv("JOURNAL_STREAM", absl::StrCat(st.st_dev, ":", st.st_ino).c_str(), 1);
  EXPECT_TRUE(StderrIsJournal());
  ASSERT_TRUE(ParseLogFormat("auto", &format));
  EXPECT_EQ(format, LogFormat::kJournal);

  setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(StderrIsJournal());

  // Explicit formats ignore the environment.
  ASSERT_TRUE(ParseLogFormat("json", &format));
  EXPECT_EQ(format, LogFormat::kJson);
  ASSERT_TRUE(ParseLogFormat("journal", &format));
  EXPECT_EQ(format, LogFormat::kJournal);
  EXPECT_FALSE(ParseLogFormat("xml", &format));
}

TEST(LoggingTest, AdapterLoggerWritesThroughTheCoreWithFields) {
  LogCapture capture;
  SetLogFormat(LogFormat::kJson);
  SetLogLevel(LogLevel::kWarn);
  const adapters::Logger& logger = CoreAdapterLogger();
  EXPECT_FALSE(logger.Enabled(adapters::LogSeverity::kInfo));
  EXPECT_TRUE(logger.Enabled(adapters::LogSeverity::kWarn));
  logger.Info("sip", "filtered out", {"pbx", "s-4"});
  logger.Warn("sip", "REGISTER rejected", {"pbx", "s-4"});
  logger.Warn("twilio", "no session", {"cloud", ""});
  const std::vector<std::string> lines = capture.lines();
  ASSERT_THAT(lines, SizeIs(2));
  const nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["component"], "sip");
  EXPECT_EQ(first["level"], "warn");
  EXPECT_EQ(first["system"], "pbx");
  EXPECT_EQ(first["session_id"], "s-4");
  const nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["system"], "cloud");
  EXPECT_FALSE(second.contains("session_id"));
}

}  // namespace
}  // namespace voipd
