// Creates adapters of one type from their typed config (Envoy's
// TypedFactory). The core parses a system's YAML into the empty message the
// factory provides, without knowing its type.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "adapters/api/adapter.h"
#include "adapters/api/adapter_context.h"
#include "google/protobuf/message.h"

namespace voipd::adapters {

class AdapterFactory {
 public:
  virtual ~AdapterFactory() = default;
  // The `type:` value in config, e.g. "sandbox".
  virtual std::string name() const = 0;
  virtual std::unique_ptr<google::protobuf::Message> CreateEmptyConfig() const = 0;
  // Fills defaults and checks the config. Errors are InvalidArgument with a
  // message that starts with the offending field name.
  virtual absl::Status Validate(google::protobuf::Message& config) const = 0;
  virtual absl::StatusOr<AdapterPtr> Create(const google::protobuf::Message& config,
                                            const AdapterContext& context) const = 0;
  // Reads, through `secrets`, every file Create (or the adapter later) would
  // read and the config loader has not: secret files, certificates. Opens no
  // socket and starts no thread; `voipd --check-config` runs it on a
  // validated config, so that a missing or unreadable file shows before a
  // start or a reload, as `nginx -t` does. Errors name the field.
  virtual absl::Status CheckFiles(const google::protobuf::Message& config,
                                  const SecretReader& secrets) const {
    return absl::OkStatus();
  }
};

// For CheckFiles: reads the secret file at `path` as the adapter will, and
// puts `field` in front of an error ("password_file: cannot read secret file
// '...': ..."). The content is dropped, never shown.
inline absl::Status CheckSecretFile(const SecretReader& secrets, absl::string_view field,
                                    absl::string_view path) {
  absl::StatusOr<std::string> secret = secrets.ReadSecretFile(path);
  if (secret.ok()) return absl::OkStatus();
  return absl::Status(secret.status().code(), absl::StrCat(field, ": ", secret.status().message()));
}

// Does the downcast once so that each adapter only writes typed hooks.
template <typename ConfigT>
class TypedAdapterFactory : public AdapterFactory {
 public:
  std::unique_ptr<google::protobuf::Message> CreateEmptyConfig() const final {
    return std::make_unique<ConfigT>();
  }
  absl::Status Validate(google::protobuf::Message& config) const final {
    return ValidateTyped(static_cast<ConfigT&>(config));
  }
  absl::StatusOr<AdapterPtr> Create(const google::protobuf::Message& config,
                                    const AdapterContext& context) const final {
    return CreateTyped(static_cast<const ConfigT&>(config), context);
  }
  absl::Status CheckFiles(const google::protobuf::Message& config,
                          const SecretReader& secrets) const final {
    return CheckFilesTyped(static_cast<const ConfigT&>(config), secrets);
  }

 protected:
  virtual absl::Status ValidateTyped(ConfigT& config) const = 0;
  virtual absl::StatusOr<AdapterPtr> CreateTyped(const ConfigT& config,
                                                 const AdapterContext& context) const = 0;
  // Types whose config names no file keep this.
  virtual absl::Status CheckFilesTyped(const ConfigT& config, const SecretReader& secrets) const {
    return absl::OkStatus();
  }
};

}  // namespace voipd::adapters
