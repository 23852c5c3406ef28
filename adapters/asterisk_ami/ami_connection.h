// The one persistent AMI session of a system: TCP (or TLS with certificate
// verification), greeting, login (plaintext or MD5 Challenge), ActionID
// correlation, keepalive Pings, and reconnection with exponential backoff and
// jitter. It knows nothing about calls: events go to a Listener.
//
// Threading: every method must be called on `executor` (a strand of the
// adapter's io_context); every handler and Listener callback runs there too.
// health() alone may be called from any thread.
#pragma once

#include <utility>  // before asio: GCC 12 + Boost 1.74 (toolchain notes)

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "adapters/asterisk_ami/ami_message.h"
#include "adapters/asterisk_ami/ami_parser.h"
#include "adapters/asterisk_ami/ami_transport.h"

namespace voipd::adapters::asterisk_ami {

struct AmiConnectionOptions {
  std::string system_name;  // for error messages
  std::string host;
  uint16_t port = 5038;
  bool tls = false;
  std::string tls_ca_file;      // empty: the system's default store
  std::string tls_server_name;  // empty: host
  std::string username;
  std::string secret_file;
  bool md5_auth = false;
  std::string events = "call";  // Login `Events`
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration keepalive_interval = absl::Seconds(20);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration action_timeout = absl::Seconds(10);
  absl::Duration reconnect_min = absl::Milliseconds(500);
  absl::Duration reconnect_max = absl::Seconds(30);
  size_t max_message_bytes = AmiParser::kDefaultMaxMessageBytes;
};

// A completed action: its Response, and for list actions (CoreShowChannels,
// Status) the events that followed it up to the one with `EventList:
// Complete` (excluded).
struct AmiReply {
  AmiMessage response;
  std::vector<AmiMessage> list;
};
// NETWORK_ERROR when the connection dropped (or was never up) before the
// reply; otherwise the reply, whether `Response: Success` or `Error`.
using AmiReplyCallback = absl::AnyInvocable<void(absl::StatusOr<AmiReply>) &&>;

class AmiConnection : public std::enable_shared_from_this<AmiConnection> {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // Logged in (after the first connect and after every reconnect).
    virtual void OnAmiReady() = 0;
    // A ready session was lost; reconnection is already scheduled.
    virtual void OnAmiDown(const absl::Status& why) = 0;
    // Every event that is not part of a list reply.
    virtual void OnAmiEvent(const AmiMessage& event) = 0;
  };

  AmiConnection(Strand strand, AmiConnectionOptions options, const SecretReader* secrets,
                std::weak_ptr<Listener> listener);
  ~AmiConnection();

  void Start();
  // Closes the session for good (no reconnect); fails pending actions.
  void Stop();

  bool ready() const { return state_ == State::kReady; }
  // Why new work cannot be sent now: NETWORK_ERROR, or CONFIGURATION_ERROR
  // when the PBX refused the login.
  absl::Status NotReadyError() const;

  // Sends an action (an ActionID is added) and returns that ActionID; `done`
  // gets the reply. When not ready, `done` runs at once with NotReadyError().
  // A `list` action completes at its `EventList: Complete` event.
  std::string Send(AmiMessage action, AmiReplyCallback done, bool list = false);

  // Thread-safe.
  Health health() const;

 private:
  enum class State { kIdle, kConnecting, kGreeting, kLoggingIn, kReady, kBackoff, kStopped };
  struct Pending {
    AmiReplyCallback done;
    bool list = false;
    AmiReply reply;
    bool got_response = false;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  void Connect();
  void OnResolved(uint64_t gen, const boost::system::error_code& ec,
                  boost::asio::ip::tcp::resolver::results_type results);
  void OnConnected(uint64_t gen, const boost::system::error_code& ec);
  void StartReading(uint64_t gen);
  void OnRead(uint64_t gen, const boost::system::error_code& ec, size_t n);
  void Dispatch(const AmiMessage& message);
  void Login();
  void SendLogin(const std::string& secret, const std::string& challenge);
  void OnLoggedIn();
  // Sends without the ready check (login and keepalive use it).
  std::string SendNow(AmiMessage action, AmiReplyCallback done, bool list, absl::Duration timeout);
  void Write(std::string bytes);
  void WriteNext(uint64_t gen);
  void Complete(const std::string& action_id, absl::StatusOr<AmiReply> result);
  void ScheduleKeepalive();
  // Drops the session: fails pending actions, tells the listener, and
  // schedules a reconnect.
  void Fail(absl::Status why);
  void FailPending(const absl::Status& why);
  void SetHealth(Health::State state, std::string message);
  absl::Duration NextBackoff();

  Strand strand_;
  const AmiConnectionOptions options_;
  const SecretReader* secrets_;
  std::weak_ptr<Listener> listener_;

  State state_ = State::kIdle;
  uint64_t generation_ = 0;                  // bumped per connection: stale handlers return
  std::shared_ptr<AmiTransport> transport_;  // shared with in-flight handlers
  boost::asio::ssl::context ssl_context_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer keepalive_timer_;
  boost::asio::steady_timer backoff_timer_;
  AmiParser parser_;
  std::deque<std::string> write_queue_;
  bool writing_ = false;
  std::map<std::string, Pending> pending_;
  uint64_t next_action_id_ = 1;
  int failed_attempts_ = 0;
  absl::Status last_error_;
  bool auth_refused_ = false;
  std::mt19937_64 rng_;

  mutable absl::Mutex health_mu_;
  Health health_ ABSL_GUARDED_BY(health_mu_);
};

}  // namespace voipd::adapters::asterisk_ami
