// Registers the `sandbox` type; this file does nothing else.
#include "adapters/api/registry.h"
#include "adapters/sandbox/sandbox_adapter.h"

namespace voipd::adapters::sandbox {
namespace {

class SandboxAdapterFactory final
    : public TypedAdapterFactory<voip::config::v1::SandboxAdapterConfig> {
 public:
  std::string name() const override { return "sandbox"; }

 protected:
  absl::Status ValidateTyped(voip::config::v1::SandboxAdapterConfig& config) const override {
    if (config.time_scale() == 0) config.set_time_scale(1);
    if (config.time_scale() < 0 || config.time_scale() > 10000) {
      return absl::InvalidArgumentError("time_scale: must be > 0 and <= 10000");
    }
    if (config.default_ring_timeout_seconds() < 0) {
      return absl::InvalidArgumentError("default_ring_timeout_seconds: must be >= 0");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<AdapterPtr> CreateTyped(const voip::config::v1::SandboxAdapterConfig& config,
                                         const AdapterContext& context) const override {
    return std::make_shared<SandboxAdapter>(config, context);
  }
};

REGISTER_ADAPTER(SandboxAdapterFactory);

}  // namespace
}  // namespace voipd::adapters::sandbox
