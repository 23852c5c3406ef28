// HistoryJournal + EventBus: events reach subscribers only once their batch
// went through the store, WhenDurable fires after the write, and a failing
// store turns the journal unhealthy without holding events back.
#include "daemon/history/history_journal.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "daemon/core/event_bus.h"
#include "gtest/gtest.h"

namespace voipd::history {
namespace {

class HistoryJournalTest : public ::testing::Test {
 protected:
  HistoryJournalTest() : bus_(100, 100) {
    char pattern[] = "/tmp/voipd-journal-test-XXXXXX";
    dir_ = mkdtemp(pattern);
    HistoryOptions options;
    options.path = dir_ + "/voipd.db";
    options.synchronous_full = false;
    store_ = std::move(*HistoryStore::Open(options));
  }
  ~HistoryJournalTest() override {
    if (journal_) {
      bus_.SetJournal(nullptr);
      journal_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  // `after_commit` runs on the writer thread after each batch is durable.
  void StartJournal(std::function<void()> after_commit = nullptr) {
    HistoryJournal::Hooks hooks;
    hooks.on_durable = [this, after_commit](uint64_t seq) {
      bus_.MarkDurable(seq);
      if (after_commit) after_commit();
    };
    journal_ = std::make_unique<HistoryJournal>(store_.get(), std::move(hooks));
    HistoryJournal* journal = journal_.get();
    bus_.SetJournal([journal](const CallEventPtr& e) { journal->Append(e); });
  }

  CallEventPtr Publish(const std::string& id) {
    voip::v1::CallEvent event;
    event.set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
    event.mutable_session()->set_session_id(id);
    event.mutable_session()->set_status(voip::v1::CALL_STATUS_INITIATING);
    return bus_.Publish(std::move(event));
  }

  std::string dir_;
  EventBus bus_;
  std::unique_ptr<HistoryStore> store_;
  std::unique_ptr<HistoryJournal> journal_;
};

TEST_F(HistoryJournalTest, SubscribersSeeAnEventOnlyOnceItIsWritten) {
  StartJournal();
  absl::StatusOr<SubscriptionPtr> sub = bus_.Subscribe(EventFilter{}, std::nullopt, [] {});
  ASSERT_TRUE(sub.ok());
  CallEventPtr published = Publish("a");
  ASSERT_TRUE(journal_->Flush(absl::Seconds(10)));
  // Written: it is in the database, and now visible.
  EXPECT_TRUE(store_->Get("a")->has_value());
  absl::StatusOr<CallEventPtr> next = (*sub)->Next();
  ASSERT_TRUE(next.ok());
  ASSERT_NE(*next, nullptr);
  EXPECT_EQ((*next)->sequence(), published->sequence());
  EXPECT_EQ(bus_.last_sequence(), published->sequence());
}

TEST_F(HistoryJournalTest, WithoutTheWriterNothingBecomesVisible) {
  // No journal thread marks anything durable: the bus holds the event back.
  bus_.SetJournal([](const CallEventPtr&) {});
  absl::StatusOr<SubscriptionPtr> sub = bus_.Subscribe(EventFilter{}, std::nullopt, [] {});
  ASSERT_TRUE(sub.ok());
  Publish("a");
  absl::StatusOr<CallEventPtr> next = (*sub)->Next();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, nullptr);
  EXPECT_EQ(bus_.last_sequence(), 0u);
  EXPECT_EQ(bus_.last_published(), 1u);
  bus_.MarkDurable(1);
  next = (*sub)->Next();
  ASSERT_TRUE(next.ok());
  ASSERT_NE(*next, nullptr);
  bus_.SetJournal(nullptr);
}

TEST_F(HistoryJournalTest, WhenDurableRunsAfterTheWrite) {
  StartJournal();
  CallEventPtr published = Publish("a");
  absl::Notification durable;
  bool in_db = false;
  journal_->WhenDurable(published->sequence(), [&] {
    in_db = store_->Get("a")->has_value();
    durable.Notify();
  });
  ASSERT_TRUE(durable.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(in_db);
  // Already durable: runs at once.
  bool now = false;
  journal_->WhenDurable(published->sequence(), [&] { now = true; });
  EXPECT_TRUE(now);
}

TEST_F(HistoryJournalTest, AFailingStoreIsReportedButEventsStillFlow) {
  StartJournal();
  Publish("before");
  ASSERT_TRUE(journal_->Flush(absl::Seconds(10)));
  EXPECT_TRUE(journal_->healthy());
  {
    // Another process breaks the schema under the daemon's feet.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/voipd.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE events", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  absl::StatusOr<SubscriptionPtr> sub = bus_.Subscribe(EventFilter{}, std::nullopt, [] {});
  ASSERT_TRUE(sub.ok());
  CallEventPtr published = Publish("after");
  ASSERT_TRUE(journal_->Flush(absl::Seconds(10)));
  EXPECT_FALSE(journal_->healthy());
  EXPECT_FALSE(journal_->last_error().ok());
  EXPECT_GE(journal_->write_errors(), 1u);
  absl::StatusOr<CallEventPtr> next = (*sub)->Next();
  ASSERT_TRUE(next.ok());
  ASSERT_NE(*next, nullptr) << "events must not be held back by a broken disk";
  EXPECT_EQ((*next)->sequence(), published->sequence());
}

// Group commit: whatever queues while a batch is being written goes to disk
// in the next single transaction, so StartCall never waits for an fsync of
// its own and a burst costs one commit, not one per event.
TEST_F(HistoryJournalTest, EventsQueuedDuringACommitShareTheNextOne) {
  absl::Notification first_committed;
  absl::Notification burst_queued;
  StartJournal([&] {
    if (first_committed.HasBeenNotified()) return;
    first_committed.Notify();
    burst_queued.WaitForNotification();  // the writer is busy "committing"
  });
  Publish("first");
  ASSERT_TRUE(first_committed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  for (int i = 0; i < 500; ++i) Publish(absl::StrCat("burst", i));
  burst_queued.Notify();
  ASSERT_TRUE(journal_->Flush(absl::Seconds(30)));
  EXPECT_EQ(journal_->batches(), 2u) << "the 500 queued events must be one commit";
  absl::StatusOr<Recovered> r = store_->Recover(1000, absl::InfinitePast());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->last_sequence, 501u);
}

TEST_F(HistoryJournalTest, EveryQueuedEventAndKeyIsWritten) {
  StartJournal();
  for (int i = 0; i < 500; ++i) Publish(absl::StrCat("c", i));
  journal_->AppendKey(IdempotencyRecord{"StartCall/k", 1, absl::Now(), std::string("c1")});
  ASSERT_TRUE(journal_->Flush(absl::Seconds(30)));
  absl::StatusOr<Recovered> r = store_->Recover(1000, absl::InfinitePast());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->last_sequence, 500u);
  EXPECT_EQ(r->recent_events.size(), 500u);
  EXPECT_EQ(r->idempotency.size(), 1u);
  EXPECT_LE(journal_->batches(), 501u);
}

}  // namespace
}  // namespace voipd::history
