// The `sip` adapter: voipd as a SIP user agent towards a PBX, trunk or
// proxy (docs/adapters/sip.md). Methods are called from gRPC threads and
// only post work to the process-wide libre loop (ReLoop), where this
// system's SipStack lives; results come back through the callbacks and the
// thread-safe CallEventSink. No thread per call, no thread per system.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "adapters/sip/health_cell.h"
#include "adapters/sip/re_loop.h"
#include "adapters/sip/sip_config.h"
#include "adapters/sip/wav_prompt.h"

namespace voipd::adapters::sip {

class SipStack;

class SipAdapter final : public Adapter {
 public:
  // Starts the loop if needed and builds the stack on it (binding the SIP
  // port), so that configuration errors surface at start-up.
  static absl::StatusOr<std::shared_ptr<SipAdapter>> Create(
      const SipSettings& settings, const AdapterContext& context, std::string password,
      std::shared_ptr<const WavPrompt> prompt);
  ~SipAdapter() override;

  Capabilities capabilities() const override;
  Health health() const override;
  void StartCall(const DialRequest& request, DialCallback done) override;
  void EndCall(const CallRef& call, DoneCallback done) override;
  void Hold(const CallRef& call, bool hold, DoneCallback done) override;
  void Mute(const CallRef& call, bool mute, DoneCallback done) override;
  void Shutdown() override;
  // Answers from the libre loop thread that every SIP system shares.
  void CheckAlive(absl::AnyInvocable<void() &&> alive) override;

 private:
  SipAdapter(const SipSettings& settings, const AdapterContext& context,
             std::shared_ptr<ReLoop> loop);
  // Runs `work` on the loop with this system's stack; false once stopped.
  bool Post(absl::AnyInvocable<void(SipStack&) &&> work);
  void StopStack();

  const bool media_;
  const bool registers_;
  const std::string system_;
  const std::shared_ptr<ReLoop> loop_;
  const std::shared_ptr<HealthCell> health_;
  absl::Mutex mu_;
  SipStack* stack_ ABSL_GUARDED_BY(mu_) = nullptr;  // owned; lives on the loop
};

}  // namespace voipd::adapters::sip
