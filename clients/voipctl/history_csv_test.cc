// `voipctl history --csv` rows: RFC 4180 quoting and the columns' content.
#include "clients/voipctl/history_csv.h"

#include "gtest/gtest.h"

namespace voipd::voipctl {
namespace {

TEST(HistoryCsvTest, HeaderNamesEveryColumn) {
  EXPECT_EQ(HistoryCsvHeader(),
            "session_id,created_at,answered_at,ended_at,duration_seconds,direction,system,from,"
            "to,to_normalized,status,end_source,end_error,labels");
}

TEST(HistoryCsvTest, EndedInboundCallRow) {
  voip::v1::CallSession s;
  s.set_session_id("abc");
  s.mutable_created_at()->set_seconds(1700000000);
  s.mutable_answered_at()->set_seconds(1700000001);
  s.mutable_ended_at()->set_seconds(1700000031);
  s.mutable_ended_at()->set_nanos(500000000);
  s.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
  s.set_system_name("sandbox");
  s.set_from("+12015550111");
  s.mutable_to()->set_number("1001");
  s.set_to_normalized("1001");
  s.set_status(voip::v1::CALL_STATUS_DISCONNECTED);
  s.mutable_end_reason()->set_source(voip::v1::HANGUP_SOURCE_SYSTEM);
  s.mutable_end_reason()->set_error_code(voip::v1::DAEMON_RESTART);
  (*s.mutable_labels())["b"] = "2";
  (*s.mutable_labels())["a"] = "1";
  EXPECT_EQ(HistoryCsvRow(s),
            "abc,2023-11-14T22:13:20.000Z,2023-11-14T22:13:21.000Z,2023-11-14T22:13:51.500Z,"
            "30.500,inbound,sandbox,+12015550111,1001,1001,disconnected,system,DAEMON_RESTART,"
            "a=1;b=2");
}

TEST(HistoryCsvTest, FieldsWithCommasQuotesAndNewlinesAreQuoted) {
  voip::v1::CallSession s;
  s.set_session_id("x");
  s.set_from("Smith, \"Bob\"");
  s.mutable_to()->set_number("line1\nline2");
  const std::string row = HistoryCsvRow(s);
  EXPECT_NE(row.find("\"Smith, \"\"Bob\"\"\""), std::string::npos) << row;
  EXPECT_NE(row.find("\"line1\nline2\""), std::string::npos) << row;
  // An active call has no end columns.
  EXPECT_NE(row.find(",unspecified,,,"), std::string::npos) << row;
}

}  // namespace
}  // namespace voipd::voipctl
