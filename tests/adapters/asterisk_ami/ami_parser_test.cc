// The incremental AMI parser on every recorded transcript, cut every way, and
// on malformed and oversized input.
#include "adapters/asterisk_ami/ami_parser.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/adapters/asterisk_ami/transcript.h"

namespace voipd::adapters::asterisk_ami {
namespace {

using test::ReadTranscript;
using test::ServerStream;
using test::TranscriptFiles;
using test::TranscriptRecord;

std::vector<AmiMessage> ParseWhole(absl::string_view bytes, size_t* errors = nullptr) {
  AmiParser parser;
  std::vector<AmiMessage> out;
  parser.Feed(bytes, out);
  if (errors) *errors = parser.errors();
  return out;
}

std::vector<AmiMessage> ParseCuts(absl::string_view bytes, const std::vector<size_t>& cuts,
                                  size_t* errors = nullptr) {
  AmiParser parser;
  std::vector<AmiMessage> out;
  size_t pos = 0;
  for (size_t cut : cuts) {
    parser.Feed(bytes.substr(pos, cut - pos), out);
    pos = cut;
  }
  parser.Feed(bytes.substr(pos), out);
  if (errors) *errors = parser.errors();
  return out;
}

TEST(AmiParserTest, TranscriptsAreAllThere) {
  EXPECT_EQ(TranscriptFiles().size(), 22u) << test::TranscriptDir();
}

// Server bytes were cut at message boundaries when recorded, so each S>C
// record is exactly one message: the parser must find the same ones.
TEST(AmiParserTest, EachServerRecordIsOneMessage) {
  for (const std::string& file : TranscriptFiles()) {
    SCOPED_TRACE(file);
    const std::vector<TranscriptRecord> records = ReadTranscript(file);
    ASSERT_FALSE(records.empty());
    size_t errors = 99;
    const std::vector<AmiMessage> all = ParseWhole(ServerStream(records), &errors);
    EXPECT_EQ(errors, 0u);
    size_t i = 0;
    for (const TranscriptRecord& r : records) {
      if (!r.from_server || r.eof) continue;
      ASSERT_LT(i, all.size());
      if (i == 0) {
        EXPECT_EQ(all[0].type(), AmiMessageType::kGreeting);
        EXPECT_EQ(all[0].greeting(), "Asterisk Call Manager/11.0.0");
      } else {
        AmiParser alone;
        std::vector<AmiMessage> one;
        alone.Feed("Asterisk Call Manager/11.0.0\r\n", one);
        one.clear();
        alone.Feed(r.bytes, one);
        ASSERT_EQ(one.size(), 1u) << r.bytes;
        EXPECT_EQ(one[0], all[i]);
        EXPECT_NE(all[i].type(), AmiMessageType::kOther) << r.bytes;
      }
      ++i;
    }
    EXPECT_EQ(i, all.size());
  }
}

// Feeding one byte at a time splits the stream at every position at once.
TEST(AmiParserTest, ByteByByteEqualsWhole) {
  for (const std::string& file : TranscriptFiles()) {
    SCOPED_TRACE(file);
    const std::string stream = ServerStream(ReadTranscript(file));
    std::vector<size_t> cuts;
    for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(ParseCuts(stream, cuts), ParseWhole(stream));
  }
}

// And each single cut on its own, for the short sessions (the long ones
// would be quadratic; byte-by-byte above already covers every position).
TEST(AmiParserTest, EverySingleSplitEqualsWhole) {
  for (const std::string& file : TranscriptFiles()) {
    const std::string stream = ServerStream(ReadTranscript(file));
    if (stream.size() > 4000) continue;
    SCOPED_TRACE(file);
    const std::vector<AmiMessage> whole = ParseWhole(stream);
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      ASSERT_EQ(ParseCuts(stream, {cut}), whole) << "cut at " << cut;
    }
  }
}

TEST(AmiParserTest, RandomMultiCutsEqualWhole) {
  std::mt19937 rng(20261123);
  for (const std::string& file : TranscriptFiles()) {
    SCOPED_TRACE(file);
    const std::string stream = ServerStream(ReadTranscript(file));
    const std::vector<AmiMessage> whole = ParseWhole(stream);
    for (int round = 0; round < 40; ++round) {
      std::vector<size_t> cuts;
      std::uniform_int_distribution<size_t> pos(0, stream.size());
      for (int k = 0; k < 1 + round * 3; ++k) cuts.push_back(pos(rng));
      std::sort(cuts.begin(), cuts.end());
      ASSERT_EQ(ParseCuts(stream, cuts), whole) << "round " << round;
    }
  }
}

TEST(AmiParserTest, OriginateResponseIsAnEventDespiteItsResponseHeader) {
  const auto msgs = ParseWhole(
      "Asterisk Call Manager/11.0.0\r\n"
      "Event: OriginateResponse\r\nActionID: a1\r\nResponse: Failure\r\nReason: 5\r\n\r\n");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].type(), AmiMessageType::kEvent);
  EXPECT_TRUE(msgs[1].IsEvent("originateresponse"));
  EXPECT_EQ(msgs[1].Get("reason"), "5") << "lookups ignore case";
}

TEST(AmiParserTest, EmptyValuesAndRepeatedKeysAreKept) {
  const auto msgs = ParseWhole(
      "Event: VarSet\r\nAccountCode: \r\nValue:\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0].Has("AccountCode"));
  EXPECT_EQ(msgs[0].Get("AccountCode"), "");
  EXPECT_EQ(msgs[0].Get("Value"), "");
  EXPECT_EQ(msgs[0].GetAll("Variable"), (std::vector<absl::string_view>{"A=1", "B=2"}));
}

TEST(AmiParserTest, AcceptsBareLineFeeds) {
  const auto crlf = ParseWhole("Response: Success\r\nActionID: 1\r\n\r\n");
  const auto lf = ParseWhole("Response: Success\nActionID: 1\n\n");
  EXPECT_EQ(crlf, lf);
  ASSERT_EQ(lf.size(), 1u);
}

TEST(AmiParserTest, NoGreetingIsFine) {
  const auto msgs = ParseWhole("Response: Success\r\nActionID: x\r\n\r\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type(), AmiMessageType::kResponse);
}

constexpr absl::string_view kFollows =
    "Asterisk Call Manager/1.1\r\n"
    "Response: Follows\r\n"
    "Privilege: Command\r\n"
    "ActionID: cmd-1\r\n"
    "Channel              Location             State   Application(Data)\r\n"
    "\r\n"
    "Key: looks like a header\r\n"
    "0 active channels\r\n"
    "--END COMMAND--\r\n"
    "\r\n"
    "Response: Follows\r\n"
    "Privilege: Command\r\n"
    "no newline before the marker--END COMMAND--\r\n"
    "\r\n"
    "Event: FullyBooted\r\n\r\n";

TEST(AmiParserTest, ResponseFollowsKeepsCommandOutputWithBlankLines) {
  const auto msgs = ParseWhole(kFollows);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[1].type(), AmiMessageType::kResponse);
  EXPECT_EQ(msgs[1].Get("ActionID"), "cmd-1");
  EXPECT_EQ(msgs[1].output(),
            (std::vector<std::string>{
                "Channel              Location             State   Application(Data)", "",
                "Key: looks like a header", "0 active channels"}));
  EXPECT_EQ(msgs[2].output(), std::vector<std::string>{"no newline before the marker"});
  EXPECT_TRUE(msgs[3].IsEvent("FullyBooted"));
}

TEST(AmiParserTest, ResponseFollowsEverySplit) {
  const auto whole = ParseWhole(kFollows);
  for (size_t cut = 0; cut <= kFollows.size(); ++cut) {
    for (size_t cut2 = cut; cut2 <= kFollows.size(); cut2 += 7) {
      ASSERT_EQ(ParseCuts(kFollows, {cut, cut2}), whole) << cut << "," << cut2;
    }
  }
}

TEST(AmiParserTest, NewStyleCommandOutputIsRepeatedOutputHeaders) {
  const auto msgs = ParseWhole(
      "Response: Success\r\nMessage: Command output follows\r\nOutput: line 1\r\n"
      "Output: line 2\r\n\r\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].GetAll("Output").size(), 2u);
}

TEST(AmiParserTest, OversizedMessageIsSkippedAndTheNextOneParses) {
  AmiParser parser(1024);
  std::vector<AmiMessage> out;
  const std::string big =
      absl::StrCat("Event: Big\r\nData: ", std::string(5000, 'x'), "\r\nMore: y\r\n\r\n");
  const std::string stream = absl::StrCat("Event: A\r\n\r\n", big, "Event: B\r\n\r\n");
  // Fed in small pieces: the buffer must never hold more than the limit.
  for (size_t i = 0; i < stream.size(); i += 13) {
    parser.Feed(absl::string_view(stream).substr(i, 13), out);
    ASSERT_LE(parser.buffered_bytes(), 1024u);
  }
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].IsEvent("A"));
  EXPECT_TRUE(out[1].IsEvent("B"));
  EXPECT_EQ(parser.errors(), 1u);
  EXPECT_NE(parser.last_error().find("longer than 1024"), std::string::npos);
  // Same result in one piece.
  size_t errors = 0;
  AmiParser whole(1024);
  std::vector<AmiMessage> out2;
  whole.Feed(stream, out2);
  EXPECT_EQ(out2, out);
  (void)errors;
}

TEST(AmiParserTest, ManyShortLinesAlsoCountTowardsTheLimit) {
  AmiParser parser(256);
  std::vector<AmiMessage> out;
  std::string s = "Event: Long\r\n";
  for (int i = 0; i < 100; ++i) s += "K: v\r\n";
  s += "\r\nEvent: After\r\n\r\n";
  parser.Feed(s, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].IsEvent("After"));
  EXPECT_EQ(parser.errors(), 1u);
}

TEST(AmiParserTest, EndlessLineWithoutNewlineStaysBounded) {
  AmiParser parser(512);
  std::vector<AmiMessage> out;
  const std::string chunk(100, 'z');
  for (int i = 0; i < 1000; ++i) {
    parser.Feed(chunk, out);
    ASSERT_LE(parser.buffered_bytes(), 512u);
  }
  parser.Feed("\r\n\r\nEvent: Recovered\r\n\r\n", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].IsEvent("Recovered"));
}

TEST(AmiParserTest, MalformedLinesAreCountedAndSkipped) {
  const std::string s = std::string("Asterisk Call Manager/11.0.0\r\n") +
                        "Event: X\r\nno colon here\r\n: empty key\r\nGood: yes\r\n\r\n" +
                        std::string("\0\0\xff\r\n\r\n", 7) + "Event: Y\r\n\r\n";
  size_t errors = 0;
  const auto msgs = ParseWhole(s, &errors);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[1].headers().size(), 2u);
  EXPECT_EQ(msgs[1].Get("Good"), "yes");
  EXPECT_TRUE(msgs[2].IsEvent("Y"));
  EXPECT_EQ(errors, 3u);
}

// A small deterministic fuzz in the unit tests; the libFuzzer target
// (tests/fuzz/ami_parser_fuzzer.cc) explores much further.
TEST(AmiParserTest, RandomBytesNeverCrashAndSplitsAgree) {
  std::mt19937 rng(7);
  static constexpr char kAlphabet[] =
      "Ab: \r\n-END COMMAND\x00\xff"
      "Response: Follows\r\n";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);  // keeps the NUL
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const size_t n = rng() % 300;
    for (size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    AmiParser a(64), b(64);
    std::vector<AmiMessage> oa, ob;
    a.Feed(s, oa);
    for (char c : s) b.Feed(absl::string_view(&c, 1), ob);
    ASSERT_EQ(oa, ob);
    ASSERT_EQ(a.errors(), b.errors());
    ASSERT_LE(b.buffered_bytes(), 64u);
  }
}

TEST(AmiMessageTest, SerializeDropsLineBreaksInsideValues) {
  AmiMessage action = AmiMessage::Action("Originate");
  action.Add("Channel", "PJSIP/100\r\nAction: Command");
  EXPECT_EQ(action.Serialize(), "Action: Originate\r\nChannel: PJSIP/100Action: Command\r\n\r\n");
}

TEST(AmiMessageTest, SetReplacesEveryOccurrence) {
  AmiMessage m = AmiMessage::Action("Login");
  m.Add("ActionID", "1").Add("ActionID", "2").Set("actionid", "3");
  EXPECT_EQ(m.GetAll("ActionID"), std::vector<absl::string_view>{"3"});
}

}  // namespace
}  // namespace voipd::adapters::asterisk_ami
