// HistoryStore against real SQLite files in a temporary directory: writes,
// recovery, ListCalls filters and pagination, retention, migrations and the
// refusal to touch files voipd did not write.
#include "daemon/history/history_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "daemon/core/proto_time.h"
#include "daemon/history/history_schema.h"
#include "gtest/gtest.h"

namespace voipd::history {
namespace {

using voip::v1::CallEvent;
using voip::v1::CallSession;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/voipd-history-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// One event of one call, as the EventBus would have stamped it.
std::shared_ptr<const CallEvent> Event(uint64_t sequence, const std::string& id,
                                       voip::v1::CallStatus status,
                                       voip::v1::CallStatus previous, absl::Time created,
                                       const std::string& to = "+12015550100",
                                       std::map<std::string, std::string> labels = {},
                                       voip::v1::CallDirection direction =
                                           voip::v1::CALL_DIRECTION_OUTBOUND) {
  CallEvent event;
  event.set_sequence(sequence);
  *event.mutable_time() = ToProtoTimestamp(created + absl::Seconds(sequence));
  event.set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
  event.set_previous_status(previous);
  CallSession* s = event.mutable_session();
  s->set_session_id(id);
  s->set_status(status);
  s->set_system_name("sandbox");
  s->set_direction(direction);
  s->set_from("+12015550199");
  s->mutable_to()->set_number(to);
  s->set_to_normalized(to);
  *s->mutable_created_at() = ToProtoTimestamp(created);
  if (status >= voip::v1::CALL_STATUS_DISCONNECTED) {
    *s->mutable_ended_at() = ToProtoTimestamp(created + absl::Seconds(sequence));
  }
  s->set_last_sequence(sequence);
  s->mutable_labels()->insert(labels.begin(), labels.end());
  return std::make_shared<const CallEvent>(std::move(event));
}

class HistoryStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<HistoryStore> OpenStore(absl::Duration retention = absl::Hours(24 * 90)) {
    HistoryOptions options;
    options.path = dir_.File("voipd.db");
    options.synchronous_full = false;
    options.retention = retention;
    absl::StatusOr<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Writes call `id`: initiating (seq), ringing (seq+1) and, if `end`,
  // disconnected (seq+2).
  void WriteCall(HistoryStore& store, uint64_t seq, const std::string& id, bool end,
                 absl::Time created, const std::string& to = "+12015550100",
                 std::map<std::string, std::string> labels = {},
                 voip::v1::CallDirection direction = voip::v1::CALL_DIRECTION_OUTBOUND) {
    WriteBatch batch;
    batch.events.push_back(Event(seq, id, voip::v1::CALL_STATUS_INITIATING,
                                 voip::v1::CALL_STATUS_UNSPECIFIED, created, to, labels,
                                 direction));
    batch.events.push_back(Event(seq + 1, id, voip::v1::CALL_STATUS_RINGING,
                                 voip::v1::CALL_STATUS_INITIATING, created, to, labels,
                                 direction));
    if (end) {
      batch.events.push_back(Event(seq + 2, id, voip::v1::CALL_STATUS_DISCONNECTED,
                                   voip::v1::CALL_STATUS_RINGING, created, to, labels,
                                   direction));
    }
    ASSERT_TRUE(store.Write(batch).ok());
  }

  std::vector<std::string> Ids(HistoryStore& store, voip::v1::ListCallsRequest request,
                               const std::string& number = "") {
    std::vector<std::string> ids;
    for (;;) {
      absl::StatusOr<voip::v1::ListCallsResponse> page = store.List(request, number);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return ids;
      for (const auto& call : page->calls()) ids.push_back(call.session_id());
      if (page->next_page_token().empty()) return ids;
      request.set_page_token(page->next_page_token());
    }
  }

  TempDir dir_;
  const absl::Time t0_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(HistoryStoreTest, EmptyDatabaseRecoversNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<Recovered> r = store->Recover(100, absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_sequence, 0u);
  EXPECT_TRUE(r->recent_events.empty());
  EXPECT_TRUE(r->active_calls.empty());
}

TEST_F(HistoryStoreTest, RecoverReturnsLastSequenceWindowAndActiveCalls) {
  {
    auto store = OpenStore();
    WriteCall(*store, 1, "ended", true, t0_);
    WriteCall(*store, 4, "active", false, t0_);
  }
  auto store = OpenStore();  // a new process
  absl::StatusOr<Recovered> r = store->Recover(3, absl::InfinitePast());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->last_sequence, 5u);
  ASSERT_EQ(r->recent_events.size(), 3u);  // the window, oldest first
  EXPECT_EQ(r->recent_events.front().sequence(), 3u);
  EXPECT_EQ(r->recent_events.back().sequence(), 5u);
  ASSERT_EQ(r->active_calls.size(), 1u);
  EXPECT_EQ(r->active_calls[0].session_id(), "active");
  EXPECT_EQ(r->active_calls[0].status(), voip::v1::CALL_STATUS_RINGING);
}

TEST_F(HistoryStoreTest, GetReturnsTheLatestSnapshot) {
  auto store = OpenStore();
  WriteCall(*store, 1, "a", true, t0_);
  absl::StatusOr<std::optional<CallSession>> got = store->Get("a");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->status(), voip::v1::CALL_STATUS_DISCONNECTED);
  absl::StatusOr<std::optional<CallSession>> missing = store->Get("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(HistoryStoreTest, AnOlderEventNeverOverwritesANewerSnapshot) {
  auto store = OpenStore();
  WriteCall(*store, 1, "a", true, t0_);
  WriteBatch late;
  late.events.push_back(Event(2, "a", voip::v1::CALL_STATUS_RINGING,
                              voip::v1::CALL_STATUS_INITIATING, t0_));
  ASSERT_TRUE(store->Write(late).ok());
  EXPECT_EQ((*store->Get("a"))->status(), voip::v1::CALL_STATUS_DISCONNECTED);
}

TEST_F(HistoryStoreTest, ListFiltersAndPaginatesInCreationOrder) {
  auto store = OpenStore();
  WriteCall(*store, 1, "c1", true, t0_, "+12015550100", {{"crm", "1"}});
  WriteCall(*store, 4, "c2", false, t0_ + absl::Hours(1), "+12015550101", {{"crm", "2"}});
  WriteCall(*store, 6, "c3", true, t0_ + absl::Hours(2), "1001", {{"crm", "1"}},
            voip::v1::CALL_DIRECTION_INBOUND);
  WriteCall(*store, 9, "c4", true, t0_ + absl::Hours(3), "+12015550100");

  voip::v1::ListCallsRequest all;
  EXPECT_EQ(Ids(*store, all), (std::vector<std::string>{"c1", "c2", "c3", "c4"}));
  voip::v1::ListCallsRequest paged;
  paged.set_page_size(1);
  EXPECT_EQ(Ids(*store, paged), (std::vector<std::string>{"c1", "c2", "c3", "c4"}));

  voip::v1::ListCallsRequest active;
  active.set_active_only(true);
  EXPECT_EQ(Ids(*store, active), (std::vector<std::string>{"c2"}));
  voip::v1::ListCallsRequest labelled;
  (*labelled.mutable_labels())["crm"] = "1";
  EXPECT_EQ(Ids(*store, labelled), (std::vector<std::string>{"c1", "c3"}));
  voip::v1::ListCallsRequest inbound;
  inbound.set_direction(voip::v1::CALL_DIRECTION_INBOUND);
  EXPECT_EQ(Ids(*store, inbound), (std::vector<std::string>{"c3"}));
  voip::v1::ListCallsRequest range;
  *range.mutable_created_after() = ToProtoTimestamp(t0_ + absl::Hours(1));
  *range.mutable_created_before() = ToProtoTimestamp(t0_ + absl::Hours(3));
  EXPECT_EQ(Ids(*store, range), (std::vector<std::string>{"c2", "c3"}));
  EXPECT_EQ(Ids(*store, all, "+12015550100"), (std::vector<std::string>{"c1", "c4"}));
  // The caller matches too.
  EXPECT_EQ(Ids(*store, all, "+12015550199").size(), 4u);
  voip::v1::ListCallsRequest by_status;
  by_status.set_status(voip::v1::CALL_STATUS_DISCONNECTED);
  by_status.set_system_name("sandbox");
  EXPECT_EQ(Ids(*store, by_status), (std::vector<std::string>{"c1", "c3", "c4"}));
}

TEST_F(HistoryStoreTest, ListRejectsBadPagingWithTheField) {
  auto store = OpenStore();
  voip::v1::ListCallsRequest bad_token;
  bad_token.set_page_token("x'; DROP TABLE calls; --");
  absl::StatusOr<voip::v1::ListCallsResponse> r = store->List(bad_token, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(GetVoipError(r.status())->field(), "page_token");
  voip::v1::ListCallsRequest negative;
  negative.set_page_size(-1);
  r = store->List(negative, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(GetVoipError(r.status())->field(), "page_size");
}

TEST_F(HistoryStoreTest, PruneDropsEndedCallsPastRetentionButKeepsTheSequence) {
  auto store = OpenStore(absl::Hours(1));
  WriteCall(*store, 1, "old", true, t0_);
  WriteCall(*store, 4, "live", false, t0_);
  absl::StatusOr<int64_t> pruned = store->Prune(t0_ + absl::Hours(5), absl::InfinitePast());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  EXPECT_FALSE(store->Get("old")->has_value());
  EXPECT_TRUE(store->Get("live")->has_value());  // active calls are never pruned
  // Even with every event of the highest sequence gone, numbering goes on.
  WriteBatch end;
  end.events.push_back(Event(9, "live", voip::v1::CALL_STATUS_DISCONNECTED,
                             voip::v1::CALL_STATUS_RINGING, t0_));
  ASSERT_TRUE(store->Write(end).ok());
  ASSERT_TRUE(store->Prune(t0_ + absl::Hours(50), absl::InfinitePast()).ok());
  EXPECT_EQ(store->Recover(10, absl::InfinitePast())->last_sequence, 9u);
}

TEST_F(HistoryStoreTest, IdempotencyKeysRoundTripIncludingErrors) {
  {
    auto store = OpenStore();
    WriteBatch batch;
    batch.keys.push_back(IdempotencyRecord{"StartCall/a", 42, t0_, std::string("session-1")});
    batch.keys.push_back(IdempotencyRecord{
        "StartCall/b", 7, t0_ + absl::Minutes(1),
        InvalidNumberError("to.number", "to.number: 'x' is not a valid phone number")});
    batch.keys.push_back(IdempotencyRecord{"StartCall/old", 1, t0_ - absl::Hours(48),
                                           std::string("session-0")});
    ASSERT_TRUE(store->Write(batch).ok());
  }
  auto store = OpenStore();
  absl::StatusOr<Recovered> r = store->Recover(10, t0_ - absl::Hours(24));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->idempotency.size(), 2u);  // the expired key is not returned
  EXPECT_EQ(r->idempotency[0].key, "StartCall/a");
  EXPECT_EQ(r->idempotency[0].fingerprint, 42u);
  EXPECT_EQ(*r->idempotency[0].result, "session-1");
  ASSERT_FALSE(r->idempotency[1].result.ok());
  EXPECT_EQ(r->idempotency[1].result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetVoipError(r->idempotency[1].result.status())->field(), "to.number");
}

TEST_F(HistoryStoreTest, MigratesAVersion1DatabaseMovingLabelsIntoTheirTable) {
  const std::string path = dir_.File("voipd.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, kSchemaV1, nullptr, nullptr, nullptr), SQLITE_OK);
    CallSession s = Event(3, "v1call", voip::v1::CALL_STATUS_DISCONNECTED,
                          voip::v1::CALL_STATUS_RINGING, t0_, "+12015550100",
                          {{"crm", "77"}})->session();
    s.clear_direction();  // version 1 never stored it
    const std::string blob = s.SerializeAsString();
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT INTO calls(session_id, created_seq, system, status, "
                                 "from_number, to_number, to_normalized, created_at_us, "
                                 "ended_at_us, last_sequence, session) VALUES('v1call', 1, "
                                 "'sandbox', 5, '+12015550199', '+12015550100', "
                                 "'+12015550100', 1, 2, 3, ?)",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  voip::v1::ListCallsRequest labelled;
  (*labelled.mutable_labels())["crm"] = "77";
  EXPECT_EQ(Ids(*store, labelled), (std::vector<std::string>{"v1call"}));
  voip::v1::ListCallsRequest outbound;
  outbound.set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
  EXPECT_EQ(Ids(*store, outbound), (std::vector<std::string>{"v1call"}));
}

TEST_F(HistoryStoreTest, AFileThatIsNotADatabaseIsDataLossAndLeftAlone) {
  const std::string path = dir_.File("voipd.db");
  const std::string garbage(8192, '\x5a');
  { std::ofstream(path, std::ios::binary) << garbage; }
  HistoryOptions options;
  options.path = path;
  absl::StatusOr<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos);
  std::ifstream in(path, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage);
}

TEST_F(HistoryStoreTest, ForeignAndNewerDatabasesAreRefused) {
  const std::string path = dir_.File("voipd.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other(x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  HistoryOptions options;
  options.path = path;
  absl::StatusOr<std::unique_ptr<HistoryStore>> foreign = HistoryStore::Open(options);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kFailedPrecondition);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  absl::StatusOr<std::unique_ptr<HistoryStore>> newer = HistoryStore::Open(options);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("newer"), absl::string_view::npos);
}

}  // namespace
}  // namespace voipd::history
