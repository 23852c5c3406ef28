// The `asterisk-ami` adapter: places and controls calls through an Asterisk
// PBX over one persistent AMI connection per system (docs/adapters/asterisk.md).
//
// Threading: every piece of state lives on one strand of the daemon's
// io_context. The Adapter methods, called from gRPC threads, only post onto
// it; health() reads the connection's own locked snapshot.
#pragma once

#include <utility>  // before asio: GCC 12 + Boost 1.74 (toolchain notes)

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "adapters/asterisk_ami/ami_call_tracker.h"
#include "adapters/asterisk_ami/ami_connection.h"
#include "voip/config/v1/asterisk_ami.pb.h"

namespace voipd::adapters::asterisk_ami {

using Config = voip::config::v1::AsteriskAmiAdapterConfig;

class AsteriskAmiAdapter final : public Adapter,
                                 public AmiConnection::Listener,
                                 public AmiCallTracker::Sink,
                                 public std::enable_shared_from_this<AsteriskAmiAdapter> {
 public:
  // `config` must have passed the factory's validation (defaults filled).
  AsteriskAmiAdapter(const Config& config, const AdapterContext& context);
  ~AsteriskAmiAdapter() override;

  // Connects; called once by the factory right after construction.
  void Start();

  Capabilities capabilities() const override;
  Health health() const override;
  void StartCall(const DialRequest& request, DialCallback done) override;
  void EndCall(const CallRef& call, DoneCallback done) override;
  void Hold(const CallRef& call, bool hold, DoneCallback done) override;
  void Mute(const CallRef& call, bool mute, DoneCallback done) override;
  void Readopt(const voip::v1::CallSession& session,
               absl::AnyInvocable<void(absl::StatusOr<bool>) &&> done) override;
  void Shutdown() override;

  // AmiConnection::Listener
  void OnAmiReady() override;
  void OnAmiDown(const absl::Status& why) override;
  void OnAmiEvent(const AmiMessage& event) override;

  // AmiCallTracker::Sink
  void Emit(ProviderEvent event) override;
  void SettleLater(const std::string& session_id) override;
  void HangupChannels(const std::string& session_id,
                      const std::vector<std::string>& channels) override;
  void HoldConfirmed(const std::string& session_id, bool held) override;
  std::optional<std::string> AcceptInbound(const InboundCall& call) override;

 private:
  using ReadoptCallback = absl::AnyInvocable<void(absl::StatusOr<bool>) &&>;
  struct PendingReadopt {
    AmiCallTracker::Adoption adoption;
    ReadoptCallback done;
  };

  struct PendingHold {
    bool hold = false;
    DoneCallback done;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  // The strand-side halves of the Adapter methods.
  void DoStartCall(const DialRequest& request, DialCallback done);
  void DoEndCall(const CallRef& call, DoneCallback done);
  void DoHold(const CallRef& call, bool hold, DoneCallback done);
  void DoMute(const CallRef& call, bool mute, DoneCallback done);
  void DoReadopt(PendingReadopt readopt);
  // Answers `readopts` from a CoreShowChannels reply; on a failed reply
  // they wait for the next login.
  void FinishReadopts(std::vector<PendingReadopt> readopts,
                      const absl::StatusOr<AmiReply>& reply);
  void FinishHold(const std::string& session_id, absl::Status status);
  // Backstop for a dialplan that ignores VOIPD_RING_TIMEOUT.
  void ArmRingDeadline(const std::string& session_id, absl::Duration deadline);
  void CancelTimer(std::map<std::string, std::unique_ptr<boost::asio::steady_timer>>& timers,
                   const std::string& session_id);
  // Runs `fn` on the strand with a strong reference, or fails `on_gone`
  // semantics are left to the caller (used for the Adapter methods).
  template <typename Fn>
  void Post(Fn&& fn);

  const Config config_;
  const AdapterContext context_;
  const CallMode mode_;
  Strand strand_;
  std::shared_ptr<AmiConnection> connection_;
  AmiCallTracker tracker_;
  std::map<std::string, PendingHold> holds_;  // by session id
  std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> settle_timers_;
  std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> ring_timers_;
  // ChannelIds of Originates whose reply was lost with the connection: the
  // call may exist at the PBX although StartCall failed, so it is hung up at
  // the next resynchronisation.
  std::set<std::string> orphan_ids_;
  // Readopt requests waiting for a login (answered from the CoreShowChannels
  // sent after it).
  std::vector<PendingReadopt> readopts_;
  bool shut_down_ = false;
};

}  // namespace voipd::adapters::asterisk_ami
