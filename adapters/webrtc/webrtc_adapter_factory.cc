// Registers the `webrtc` type; this file does nothing else.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "adapters/api/registry.h"
#include "adapters/api/tcp_listener.h"
#include "adapters/webrtc/signaling_message.h"
#include "adapters/webrtc/webrtc_adapter.h"

namespace voipd::adapters::webrtc {
namespace {

class WebRtcAdapterFactory final
    : public TypedAdapterFactory<voip::config::v1::WebRtcAdapterConfig> {
 public:
  std::string name() const override { return "webrtc"; }

 protected:
  absl::Status ValidateTyped(voip::config::v1::WebRtcAdapterConfig& config) const override {
    if (config.listen().empty()) config.set_listen("127.0.0.1:8089");
    // Checked here too (not only when binding) so that --check-config sees it.
    if (absl::StatusOr<boost::asio::ip::tcp::endpoint> parsed =
            ParseIpListen(config.listen(), "listen");
        !parsed.ok()) {
      return absl::InvalidArgumentError(parsed.status().message());
    }
    if (config.web_root().empty()) config.set_web_root(VOIPD_WEB_ROOT_DEFAULT);
    // Checked here too (not only when binding) so that --check-config sees it.
    std::error_code ec;
    if (!std::filesystem::is_directory(config.web_root(), ec)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "web_root: '", config.web_root(),
          "' is not a directory (install clients/web there or point web_root at it)"));
    }
    if (config.heartbeat_timeout_ms() == 0) config.set_heartbeat_timeout_ms(3000);
    if (config.heartbeat_timeout_ms() < 500 || config.heartbeat_timeout_ms() > 60000) {
      return absl::InvalidArgumentError("heartbeat_timeout_ms: must be 500..60000");
    }
    if (config.tls_cert_file().empty() != config.tls_key_file().empty()) {
      return absl::InvalidArgumentError("tls_cert_file: give tls_cert_file and tls_key_file together");
    }
    for (const auto& [field, value] :
         {std::pair<const char*, double>{"default_ring_timeout_seconds",
                                         config.default_ring_timeout_seconds()},
          {"connect_timeout_seconds", config.connect_timeout_seconds()},
          {"command_timeout_seconds", config.command_timeout_seconds()}}) {
      if (value < 0 || value > 3600) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": must be 0 (default)..3600"));
      }
    }
    for (const auto& [number, identity] : config.numbers()) {
      if (number.size() < 2 || number.front() != '+' ||
          number.find_first_not_of("0123456789", 1) != std::string::npos || number.size() > 16) {
        return absl::InvalidArgumentError(
            absl::StrCat("numbers: '", number, "' is not an E.164 number (+ and digits)"));
      }
      if (!IsValidIdentity(identity)) {
        return absl::InvalidArgumentError(
            absl::StrCat("numbers[", number, "]: '", identity, "' is not an agent identity"));
      }
    }
    for (const auto& [identity, token_name] : config.identity_tokens()) {
      if (!IsValidIdentity(identity) || token_name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "identity_tokens: '", identity, "' needs an agent identity and a token name"));
      }
    }
    return absl::OkStatus();
  }
  absl::Status CheckFilesTyped(const voip::config::v1::WebRtcAdapterConfig& config,
                               const SecretReader& secrets) const override {
    if (config.tls_cert_file().empty()) return absl::OkStatus();
    if (absl::Status cert = CheckSecretFile(secrets, "tls_cert_file", config.tls_cert_file());
        !cert.ok()) {
      return cert;
    }
    return CheckSecretFile(secrets, "tls_key_file", config.tls_key_file());
  }

  absl::StatusOr<AdapterPtr> CreateTyped(const voip::config::v1::WebRtcAdapterConfig& config,
                                         const AdapterContext& context) const override {
    absl::StatusOr<std::shared_ptr<WebRtcAdapter>> adapter = WebRtcAdapter::Create(config, context);
    if (!adapter.ok()) return adapter.status();
    return AdapterPtr(std::move(*adapter));
  }
};

REGISTER_ADAPTER(WebRtcAdapterFactory);

}  // namespace
}  // namespace voipd::adapters::webrtc
