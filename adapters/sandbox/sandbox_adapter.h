// The `sandbox` adapter: a call simulator with realistic timings, so voipd
// works out of the box and tests have a deterministic far end. The outcome is
// chosen by the dialled number (see docs/adapters/sandbox.md).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "voip/config/v1/sandbox.pb.h"

namespace voipd::adapters::sandbox {

// The scripted behaviours, picked from the number's last digits.
enum class Script {
  kAnswer,             // +12015550100 and every other number
  kBusy,               // +12015550101
  kNoAnswer,           // +12015550102
  kProviderFailure,    // +12015550103
  kRemoteHangup,       // +12015550104
  kNetworkError,       // +12015550105
};
Script ScriptForTarget(const std::string& target);

class SandboxAdapter final : public Adapter,
                             public std::enable_shared_from_this<SandboxAdapter> {
 public:
  SandboxAdapter(const voip::config::v1::SandboxAdapterConfig& config,
                 const AdapterContext& context);
  ~SandboxAdapter() override;

  Capabilities capabilities() const override;
  Health health() const override;
  void StartCall(const DialRequest& request, DialCallback done) override;
  void EndCall(const CallRef& call, DoneCallback done) override;
  void Hold(const CallRef& call, bool hold, DoneCallback done) override;
  void Mute(const CallRef& call, bool mute, DoneCallback done) override;
  void SimulateInbound(const InboundCall& call,
                       absl::AnyInvocable<void(absl::StatusOr<voip::v1::CallSession>) &&> done)
      override;
  void Shutdown() override;

 private:
  struct SimCall;

  // What a scripted step does to the call's own state when it becomes due.
  enum class StepKind {
    kPlain,
    kAnswers,         // the far end picks up: drops the until-answered steps
    kUntilAnswered,   // the ring timeout: dropped once the call is answered
  };
  // Runs `fn` after `delay` (simulated time) unless the call ended first (or,
  // for kUntilAnswered, was answered first).
  void After(const std::string& session_id, absl::Duration delay,
             absl::AnyInvocable<void() &&> fn, StepKind kind = StepKind::kPlain);
  void AddStepLocked(const std::string& session_id, SimCall& call, absl::Duration delay,
                     absl::AnyInvocable<void() &&> fn, StepKind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Points the call's timer at its earliest step.
  void Arm(const std::string& session_id, SimCall& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Timer expiry: runs the steps that are due, re-arms for the rest.
  void RunDue(const std::string& session_id);
  void Emit(ProviderEvent event);
  // Reports the far end's answer (the kAnswers step already marked the call).
  void EmitAnswered(const std::string& session_id);
  void EndSimulated(const std::string& session_id, EndOutcome outcome,
                    voip::v1::HangupSource source, voip::v1::ErrorCode code,
                    voip::v1::ProviderCause cause, std::string message);
  absl::Duration Scaled(absl::Duration d) const;

  const voip::config::v1::SandboxAdapterConfig config_;
  AdapterContext context_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<SimCall>> calls_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_call_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace voipd::adapters::sandbox
