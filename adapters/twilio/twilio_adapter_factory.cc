// Registers the `twilio` type; this file does nothing else.
#include "adapters/api/registry.h"
#include "adapters/api/voip_error.h"
#include "adapters/twilio/curl_api.h"
#include "adapters/twilio/twilio_adapter.h"
#include "adapters/twilio/twilio_config.h"
#include "adapters/twilio/twilio_credentials.h"

namespace voipd::adapters::twilio {
namespace {

class TwilioAdapterFactory final
    : public TypedAdapterFactory<voip::config::v1::TwilioAdapterConfig> {
 public:
  std::string name() const override { return "twilio"; }

 protected:
  absl::Status ValidateTyped(voip::config::v1::TwilioAdapterConfig& config) const override {
    return ValidateTwilioConfig(config);
  }
  absl::Status CheckFilesTyped(const voip::config::v1::TwilioAdapterConfig& config,
                               const SecretReader& secrets) const override {
    // What the adapter reads at start and on every rotation check: each
    // configured file, and the Account SID's and key's shapes.
    TwilioCredentials credentials(&secrets, SettingsFromConfig(config));
    return credentials.Reload();
  }

  absl::StatusOr<AdapterPtr> CreateTyped(const voip::config::v1::TwilioAdapterConfig& config,
                                         const AdapterContext& context) const override {
    // libcurl is loaded only when a twilio system exists (curl_api.h).
    if (absl::Status loaded = LoadCurl(); !loaded.ok()) {
      return ConfigurationError(std::string(loaded.message()));
    }
    absl::StatusOr<std::shared_ptr<TwilioAdapter>> adapter =
        TwilioAdapter::Create(SettingsFromConfig(config), context);
    if (!adapter.ok()) return adapter.status();
    return AdapterPtr(*std::move(adapter));
  }
};

REGISTER_ADAPTER(TwilioAdapterFactory);

}  // namespace
}  // namespace voipd::adapters::twilio
