#include "adapters/asterisk_ami/ami_connection.h"

#include <openssl/err.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>

#include "absl/strings/str_cat.h"
#include "adapters/api/voip_error.h"
#include "adapters/asterisk_ami/ami_login.h"

namespace voipd::adapters::asterisk_ami {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

std::chrono::nanoseconds Chrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToDoubleSeconds(d), " s"); }

// Boost names an OpenSSL error it finds no reason string for "asio.ssl
// error", and OpenSSL 3 reports a missing or unreadable file as such a
// (system) error; say what the operator can act on.
std::string CaFileProblem(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return ec.message();
  const unsigned long code = static_cast<unsigned int>(ec.value());
  if (ERR_SYSTEM_ERROR(code)) return std::strerror(static_cast<int>(ERR_GET_REASON(code)));
  if (const char* reason = ERR_reason_error_string(code)) return reason;
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

AmiConnection::AmiConnection(Strand strand, AmiConnectionOptions options,
                             const SecretReader* secrets, std::weak_ptr<Listener> listener)
    : strand_(std::move(strand)),
      options_(std::move(options)),
      secrets_(secrets),
      listener_(std::move(listener)),
      ssl_context_(asio::ssl::context::tls_client),
      resolver_(strand_),
      connect_timer_(strand_),
      keepalive_timer_(strand_),
      backoff_timer_(strand_),
      parser_(options_.max_message_bytes),
      rng_(std::random_device{}()) {
  health_.state = Health::State::kUnhealthy;
  health_.message = absl::StrCat("connecting to AMI at ", options_.host, ":", options_.port);
}

AmiConnection::~AmiConnection() = default;

Health AmiConnection::health() const {
  absl::MutexLock lock(&health_mu_);
  return health_;
}

void AmiConnection::SetHealth(Health::State state, std::string message) {
  absl::MutexLock lock(&health_mu_);
  health_.state = state;
  health_.message = std::move(message);
}

void AmiConnection::Start() {
  if (state_ != State::kIdle) return;
  if (options_.tls) {
    // Verification is not optional: an AMI secret over an unverified TLS
    // session is no better than plaintext.
    boost::system::error_code ec;
    ssl_context_.set_verify_mode(asio::ssl::verify_peer, ec);
    if (options_.tls_ca_file.empty()) {
      ssl_context_.set_default_verify_paths(ec);
    } else {
      ssl_context_.load_verify_file(options_.tls_ca_file, ec);
    }
    if (ec) {
      last_error_ = ConfigurationError(absl::StrCat("tls.ca_file: cannot load '",
                                                    options_.tls_ca_file, "': ", CaFileProblem(ec)),
                                       "tls.ca_file");
      auth_refused_ = true;
      SetHealth(Health::State::kUnhealthy, std::string(last_error_.message()));
      state_ = State::kStopped;
      return;
    }
  }
  Connect();
}

void AmiConnection::Stop() {
  if (state_ == State::kStopped) return;
  state_ = State::kStopped;
  ++generation_;
  if (transport_) transport_->Close();
  resolver_.cancel();
  connect_timer_.cancel();
  keepalive_timer_.cancel();
  backoff_timer_.cancel();
  write_queue_.clear();
  writing_ = false;
  FailPending(NetworkError(options_.system_name, "the adapter is shutting down"));
  SetHealth(Health::State::kUnhealthy, "stopped");
}

absl::Status AmiConnection::NotReadyError() const {
  if (auth_refused_ && !last_error_.ok()) return last_error_;
  return NetworkError(options_.system_name,
                      absl::StrCat("not connected to AMI at ", options_.host, ":", options_.port,
                                   last_error_.ok() ? std::string(" (connecting)")
                                                    : absl::StrCat(": ", last_error_.message())));
}

void AmiConnection::Connect() {
  if (state_ == State::kStopped) return;
  state_ = State::kConnecting;
  const uint64_t gen = ++generation_;
  transport_ = std::make_shared<AmiTransport>(strand_, options_.tls ? &ssl_context_ : nullptr);
  parser_.Reset();
  write_queue_.clear();
  writing_ = false;
  auto self = shared_from_this();
  // One deadline covers resolve, connect, TLS, greeting and login: a server
  // that accepts and then says nothing must not hang us.
  connect_timer_.expires_after(Chrono(options_.connect_timeout));
  connect_timer_.async_wait([self, gen](const boost::system::error_code& ec) {
    if (ec || gen != self->generation_ || self->state_ == State::kReady) return;
    self->Fail(NetworkError(
        self->options_.system_name,
        absl::StrCat("no AMI login within ", Seconds(self->options_.connect_timeout))));
  });
  resolver_.async_resolve(
      options_.host, std::to_string(options_.port),
      [self, gen](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        self->OnResolved(gen, ec, std::move(results));
      });
}

void AmiConnection::OnResolved(uint64_t gen, const boost::system::error_code& ec,
                               tcp::resolver::results_type results) {
  if (gen != generation_) return;
  if (ec) {
    Fail(NetworkError(options_.system_name,
                      absl::StrCat("cannot resolve '", options_.host, "': ", ec.message())));
    return;
  }
  auto self = shared_from_this();
  auto transport = transport_;
  asio::async_connect(transport->socket(), results,
                      [self, gen, transport](const boost::system::error_code& ec,
                                             const tcp::endpoint&) { self->OnConnected(gen, ec); });
}

void AmiConnection::OnConnected(uint64_t gen, const boost::system::error_code& ec) {
  if (gen != generation_) return;
  if (ec) {
    Fail(NetworkError(options_.system_name, absl::StrCat("cannot connect to AMI at ", options_.host,
                                                         ":", options_.port, ": ", ec.message())));
    return;
  }
  boost::system::error_code ignored;
  transport_->socket().set_option(tcp::no_delay(true), ignored);
  if (!transport_->is_tls()) {
    state_ = State::kGreeting;
    StartReading(gen);
    return;
  }
  const std::string name =
      options_.tls_server_name.empty() ? options_.host : options_.tls_server_name;
  auto self = shared_from_this();
  auto transport = transport_;
  transport_->Handshake(name, [self, gen, transport, name](const boost::system::error_code& ec) {
    if (gen != self->generation_) return;
    if (ec) {
      self->Fail(NetworkError(
          self->options_.system_name,
          absl::StrCat("TLS handshake with ", self->options_.host, ":", self->options_.port,
                       " failed (certificate for '", name, "' not trusted?): ", ec.message())));
      return;
    }
    self->state_ = State::kGreeting;
    self->StartReading(gen);
  });
}

void AmiConnection::StartReading(uint64_t gen) {
  auto self = shared_from_this();
  auto transport = transport_;
  transport->ReadSome([self, gen, transport](const boost::system::error_code& ec, size_t n) {
    self->OnRead(gen, ec, n);
  });
}

void AmiConnection::OnRead(uint64_t gen, const boost::system::error_code& ec, size_t n) {
  if (gen != generation_) return;
  if (ec) {
    Fail(NetworkError(options_.system_name,
                      ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                          ? std::string("the PBX closed the AMI connection")
                          : absl::StrCat("AMI read failed: ", ec.message())));
    return;
  }
  std::vector<AmiMessage> messages;
  parser_.Feed(absl::string_view(transport_->buffer(), n), messages);
  for (const AmiMessage& message : messages) {
    Dispatch(message);
    if (gen != generation_) return;  // the message ended this connection
  }
  StartReading(gen);
}

void AmiConnection::Dispatch(const AmiMessage& message) {
  if (state_ == State::kGreeting) {
    // Anything first counts as the greeting; a proxy may strip it.
    state_ = State::kLoggingIn;
    Login();
    if (message.type() == AmiMessageType::kGreeting) return;
  }
  switch (message.type()) {
    case AmiMessageType::kGreeting:
    case AmiMessageType::kOther: return;
    case AmiMessageType::kResponse: {
      const std::string id(message.Get("ActionID"));
      auto it = pending_.find(id);
      if (it == pending_.end()) return;  // unsolicited or timed out: nothing waits
      if (it->second.list && message.IsSuccess() &&
          absl::EqualsIgnoreCase(message.Get("EventList"), "start")) {
        it->second.reply.response = message;
        it->second.got_response = true;
        return;  // the items follow as events
      }
      AmiReply reply;
      reply.response = message;
      Complete(id, std::move(reply));
      return;
    }
    case AmiMessageType::kEvent: {
      const std::string id(message.Get("ActionID"));
      if (!id.empty()) {
        auto it = pending_.find(id);
        if (it != pending_.end() && it->second.list) {
          if (absl::EqualsIgnoreCase(message.Get("EventList"), "Complete")) {
            AmiReply reply = std::move(it->second.reply);
            Complete(id, std::move(reply));
          } else {
            it->second.reply.list.push_back(message);
          }
          return;
        }
      }
      if (state_ != State::kReady) return;
      if (auto listener = listener_.lock()) listener->OnAmiEvent(message);
      return;
    }
  }
}

void AmiConnection::Login() {
  // Read at every login so that a corrected secret file is used at the next
  // attempt without a reload. The secret lives only in this frame and in
  // the bytes being written.
  absl::StatusOr<std::string> secret =
      secrets_ != nullptr
          ? secrets_->ReadSecretFile(options_.secret_file)
          : absl::StatusOr<std::string>(ConfigurationError("no secret reader", "secret_file"));
  if (!secret.ok()) {
    auth_refused_ = true;
    Fail(ConfigurationError(absl::StrCat("secret_file: ", secret.status().message()),
                            "secret_file"));
    return;
  }
  if (!options_.md5_auth) {
    SendLogin(*secret, "");
    return;
  }
  AmiMessage challenge = ChallengeAction();
  auto self = shared_from_this();
  const uint64_t gen = generation_;
  SendNow(
      std::move(challenge),
      [self, gen, secret = std::move(*secret)](absl::StatusOr<AmiReply> reply) mutable {
        if (!reply.ok() || gen != self->generation_) return;  // Fail() already ran
        const absl::string_view challenge = reply->response.Get("Challenge");
        if (!reply->response.IsSuccess() || challenge.empty()) {
          self->auth_refused_ = true;
          self->Fail(ConfigurationError(absl::StrCat("auth: the PBX refused the MD5 Challenge: ",
                                                     reply->response.Get("Message")),
                                        "auth"));
          return;
        }
        self->SendLogin(secret, std::string(challenge));
      },
      false, options_.connect_timeout);
}

void AmiConnection::SendLogin(const std::string& secret, const std::string& challenge) {
  absl::StatusOr<AmiMessage> login =
      LoginAction(options_.username, secret, options_.events, options_.md5_auth, challenge);
  if (!login.ok()) {
    auth_refused_ = true;
    Fail(ConfigurationError(absl::StrCat("auth: ", login.status().message()), "auth"));
    return;
  }
  auto self = shared_from_this();
  const uint64_t gen = generation_;
  SendNow(
      std::move(*login),
      [self, gen](absl::StatusOr<AmiReply> reply) {
        if (!reply.ok() || gen != self->generation_) return;
        if (!reply->response.IsSuccess()) {
          // Asterisk says only "Authentication failed", for a wrong
          // secret, an unknown user and a denied address alike.
          self->auth_refused_ = true;
          self->Fail(ConfigurationError(
              absl::StrCat("the PBX refused the AMI login of user '", self->options_.username,
                           "': ", reply->response.Get("Message"),
                           " (check username, secret_file and manager.conf permit=)"),
              "secret_file"));
          return;
        }
        self->OnLoggedIn();
      },
      false, options_.connect_timeout);
}

void AmiConnection::OnLoggedIn() {
  state_ = State::kReady;
  failed_attempts_ = 0;
  auth_refused_ = false;
  last_error_ = absl::OkStatus();
  connect_timer_.cancel();
  SetHealth(Health::State::kHealthy,
            absl::StrCat("logged in to AMI at ", options_.host, ":", options_.port));
  ScheduleKeepalive();
  if (auto listener = listener_.lock()) listener->OnAmiReady();
}

void AmiConnection::ScheduleKeepalive() {
  auto self = shared_from_this();
  const uint64_t gen = generation_;
  keepalive_timer_.expires_after(Chrono(options_.keepalive_interval));
  keepalive_timer_.async_wait([self, gen](const boost::system::error_code& ec) {
    if (ec || gen != self->generation_ || self->state_ != State::kReady) return;
    // A Ping that gets no answer within keepalive_timeout fails the
    // connection through the action timeout: a silent half-open TCP session
    // is found within interval + timeout.
    self->SendNow(
        AmiMessage::Action("Ping"), [](absl::StatusOr<AmiReply>) {}, false,
        self->options_.keepalive_timeout);
    self->ScheduleKeepalive();
  });
}

std::string AmiConnection::Send(AmiMessage action, AmiReplyCallback done, bool list) {
  if (state_ != State::kReady) {
    // Never re-enter the caller: it may be in the middle of its own update.
    asio::post(strand_, [done = std::move(done), error = NotReadyError()]() mutable {
      std::move(done)(error);
    });
    return "";
  }
  return SendNow(std::move(action), std::move(done), list, options_.action_timeout);
}

std::string AmiConnection::SendNow(AmiMessage action, AmiReplyCallback done, bool list,
                                   absl::Duration timeout) {
  const std::string id = absl::StrCat("voipd-", next_action_id_++);
  action.Set("ActionID", id);
  const std::string name(action.Get("Action"));
  Pending pending;
  pending.done = std::move(done);
  pending.list = list;
  pending.timer = std::make_unique<asio::steady_timer>(strand_);
  pending.timer->expires_after(Chrono(timeout));
  auto self = shared_from_this();
  const uint64_t gen = generation_;
  pending.timer->async_wait([self, gen, id, name, timeout](const boost::system::error_code& ec) {
    if (ec || gen != self->generation_ || self->pending_.count(id) == 0) return;
    // A PBX that stops answering is treated as gone: reconnecting and
    // resynchronising is the only way to know the calls' real state.
    self->Fail(NetworkError(self->options_.system_name,
                            absl::StrCat("no reply to ", name, " within ", Seconds(timeout))));
  });
  pending_.emplace(id, std::move(pending));
  Write(action.Serialize());
  return id;
}

void AmiConnection::Write(std::string bytes) {
  write_queue_.push_back(std::move(bytes));
  if (!writing_) WriteNext(generation_);
}

void AmiConnection::WriteNext(uint64_t gen) {
  if (write_queue_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  auto bytes = std::make_shared<std::string>(std::move(write_queue_.front()));
  write_queue_.pop_front();
  auto self = shared_from_this();
  auto transport = transport_;
  transport->WriteAll(
      *bytes, [self, gen, bytes, transport](const boost::system::error_code& ec, size_t) {
        if (gen != self->generation_) return;
        if (ec) {
          self->Fail(NetworkError(self->options_.system_name,
                                  absl::StrCat("AMI write failed: ", ec.message())));
          return;
        }
        self->WriteNext(gen);
      });
}

void AmiConnection::Complete(const std::string& action_id, absl::StatusOr<AmiReply> result) {
  auto it = pending_.find(action_id);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  pending.timer->cancel();
  std::move(pending.done)(std::move(result));
}

void AmiConnection::FailPending(const absl::Status& why) {
  std::map<std::string, Pending> pending;
  pending.swap(pending_);
  for (auto& [id, p] : pending) {
    p.timer->cancel();
    std::move(p.done)(why);
  }
}

absl::Duration AmiConnection::NextBackoff() {
  const double min = absl::ToDoubleSeconds(options_.reconnect_min);
  const double max = std::max(min, absl::ToDoubleSeconds(options_.reconnect_max));
  const int exponent = std::min(failed_attempts_ - 1, 30);
  const double base = std::min(max, min * std::pow(2.0, std::max(exponent, 0)));
  // ±20 % jitter keeps a fleet of daemons from reconnecting in lockstep
  // after a PBX restart.
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return absl::Seconds(base * jitter(rng_));
}

void AmiConnection::Fail(absl::Status why) {
  if (state_ == State::kStopped || state_ == State::kBackoff) return;
  const bool was_ready = state_ == State::kReady;
  // First, so that callbacks run below see a connection that is down (a
  // Send from them fails fast instead of writing to a dead socket).
  state_ = State::kBackoff;
  ++generation_;
  if (transport_) transport_->Close();
  resolver_.cancel();
  connect_timer_.cancel();
  keepalive_timer_.cancel();
  write_queue_.clear();
  writing_ = false;
  last_error_ = why;
  FailPending(NetworkError(options_.system_name, absl::StrCat("AMI: ", why.message())));
  ++failed_attempts_;
  const absl::Duration delay = NextBackoff();
  const std::string retry =
      absl::StrCat("; retrying in ", Seconds(absl::Milliseconds(absl::ToInt64Milliseconds(delay))));
  // Not logged in means no call can be placed: UNHEALTHY at once, also
  // right after a drop, so the router skips the system and grpc.health
  // says NOT_SERVING while StartCall would fail with NETWORK_ERROR.
  SetHealth(Health::State::kUnhealthy,
            was_ready && !auth_refused_
                ? absl::StrCat("AMI connection lost (", why.message(), ")", retry)
                : absl::StrCat(why.message(), retry));
  auto self = shared_from_this();
  backoff_timer_.expires_after(Chrono(delay));
  backoff_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->state_ != State::kBackoff) return;
    self->Connect();
  });
  if (was_ready) {
    if (auto listener = listener_.lock()) listener->OnAmiDown(why);
  }
}

}  // namespace voipd::adapters::asterisk_ami
