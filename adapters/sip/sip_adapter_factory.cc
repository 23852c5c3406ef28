// Registers the `sip` type; this file does nothing else.
#include "absl/strings/str_cat.h"
#include "adapters/api/registry.h"
#include "adapters/api/voip_error.h"
#include "adapters/sip/sip_adapter.h"
#include "adapters/sip/sip_config.h"
#include "adapters/sip/wav_prompt.h"

namespace voipd::adapters::sip {
namespace {

class SipAdapterFactory final : public TypedAdapterFactory<voip::config::v1::SipAdapterConfig> {
 public:
  std::string name() const override { return "sip"; }

 protected:
  absl::Status ValidateTyped(voip::config::v1::SipAdapterConfig& config) const override {
    return ValidateSipConfig(config);
  }

  absl::Status CheckFilesTyped(const voip::config::v1::SipAdapterConfig& config,
                               const SecretReader& secrets) const override {
    // prompt_wav needs nothing here: the config loader already reads it.
    if (config.password_file().empty()) return absl::OkStatus();
    return CheckSecretFile(secrets, "password_file", config.password_file());
  }

  absl::StatusOr<AdapterPtr> CreateTyped(const voip::config::v1::SipAdapterConfig& config,
                                         const AdapterContext& context) const override {
    absl::StatusOr<SipSettings> settings = ParseSipConfig(config);
    if (!settings.ok()) return settings.status();
    std::string password;
    if (!settings->password_file.empty()) {
      absl::StatusOr<std::string> secret =
          context.secrets->ReadSecretFile(settings->password_file);
      if (!secret.ok()) {
        // The reader's message names the path, never the content.
        return ConfigurationError(absl::StrCat("password_file: ", secret.status().message()),
                                  "password_file");
      }
      password = std::move(*secret);
    }
    std::shared_ptr<const WavPrompt> prompt;
    if (!settings->prompt_wav.empty()) {
      absl::StatusOr<std::shared_ptr<const WavPrompt>> loaded =
          LoadWavPrompt(settings->prompt_wav);
      if (!loaded.ok()) {
        return ConfigurationError(std::string(loaded.status().message()), "prompt_wav");
      }
      prompt = std::move(*loaded);
    }
    absl::StatusOr<std::shared_ptr<SipAdapter>> adapter =
        SipAdapter::Create(*settings, context, std::move(password), std::move(prompt));
    if (!adapter.ok()) return adapter.status();
    return AdapterPtr(std::move(*adapter));
  }
};

REGISTER_ADAPTER(SipAdapterFactory);

}  // namespace
}  // namespace voipd::adapters::sip
