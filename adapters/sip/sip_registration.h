// REGISTER with refresh (libre's sipreg does the transactions, digest
// challenges and refresh timing); each outcome updates the system's health.
// Loop thread only.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "adapters/sip/health_cell.h"
#include "adapters/sip/sip_context.h"

struct sip_msg;
struct sipreg;

namespace voipd::adapters::sip {

class SipRegistration {
 public:
  static absl::StatusOr<std::unique_ptr<SipRegistration>> Start(const SipContext* context,
                                                               HealthCell* health);
  // Releasing sipreg sends a REGISTER with Expires: 0 when registered.
  ~SipRegistration();

 private:
  SipRegistration(const SipContext* context, HealthCell* health);
  static void OnResponse(int err, const struct sip_msg* msg, void* arg);

  const SipContext* const ctx_;
  HealthCell* const health_;
  struct ::sipreg* reg_ = nullptr;
};

}  // namespace voipd::adapters::sip
