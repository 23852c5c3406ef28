#include "adapters/sip/sip_registration.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/sip/sip_credentials.h"
#include "adapters/sip/sip_log.h"

#include <re.h>  // last: libre's headers define short macros (MIN, MAX, ...)

namespace voipd::adapters::sip {

SipRegistration::SipRegistration(const SipContext* context, HealthCell* health)
    : ctx_(context), health_(health) {}

SipRegistration::~SipRegistration() { mem_deref(reg_); }

absl::StatusOr<std::unique_ptr<SipRegistration>> SipRegistration::Start(const SipContext* ctx,
                                                                        HealthCell* health) {
  std::unique_ptr<SipRegistration> self(new SipRegistration(ctx, health));
  const SipSettings& s = ctx->settings;
  const std::string registrar = absl::StrCat("sip:", s.server.ForUri());
  const std::string aor = absl::StrCat("sip:", s.username, "@", s.server.HostForUri());
  const char* routev[] = {ctx->route.c_str()};
  health->Set(Health::State::kDegraded, absl::StrCat("registering with ", s.server.ForUri()));
  // Credentials come from the context, which outlives sipreg's last
  // (un-)REGISTER transaction.
  const int err = sipreg_register(
      &self->reg_, ctx->stack, registrar.c_str(), aor.c_str(),
      s.from_display_name.empty() ? nullptr : s.from_display_name.c_str(), aor.c_str(),
      static_cast<uint32_t>(absl::ToInt64Seconds(s.register_expires)), ctx->contact_user.c_str(),
      routev, 1, 0, &ProvideCredentials, const_cast<SipContext*>(ctx), false,
      &SipRegistration::OnResponse, self.get(), nullptr, nullptr);
  if (err != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot send REGISTER via ", ctx->route, ": ", std::strerror(err)));
  }
  return self;
}

void SipRegistration::OnResponse(int err, const struct sip_msg* msg, void* arg) {
  auto* self = static_cast<SipRegistration*>(arg);
  const std::string server = self->ctx_->settings.server.ForUri();
  if (err != 0 || msg == nullptr) {
    const std::string why = absl::StrCat("REGISTER with ", server, " failed: ",
                                         std::strerror(err != 0 ? err : EPROTO),
                                         "; retrying");
    SipLogWarn(*self->ctx_, why);
    self->health_->Set(Health::State::kUnhealthy, why);
    return;
  }
  if (msg->scode < 200) return;
  const std::string status =
      absl::StrCat(msg->scode, " ", std::string(msg->reason.p, msg->reason.l));
  if (msg->scode >= 200 && msg->scode < 300) {
    if (self->health_->Get().state != Health::State::kHealthy) {
      SipLogInfo(*self->ctx_, absl::StrCat("registered with ", server));
    }
    self->health_->Set(Health::State::kHealthy, absl::StrCat("registered with ", server));
    return;
  }
  std::string why;
  if (msg->scode == 401 || msg->scode == 407) {
    why = absl::StrCat("CONFIGURATION_ERROR: ", server, " refused the credentials of '",
                       self->ctx_->settings.username, "' (", status, ")");
  } else {
    why = absl::StrCat("REGISTER with ", server, " rejected (", status, "); retrying");
  }
  SipLogWarn(*self->ctx_, why);
  self->health_->Set(Health::State::kUnhealthy, why);
}

}  // namespace voipd::adapters::sip
