// Everything the core hands an adapter when it creates one: where to report
// events, where to run timers and I/O, and how to read secrets. Adapters get
// no other access to the core (containerd's InitContext, not globals).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/api/call_host.h"
#include "adapters/api/logger.h"
#include "adapters/api/provider_event.h"

namespace boost::asio {
class io_context;
}

namespace voipd::adapters {

// Reads secrets referenced by `*_file` settings. Relative paths resolve
// against $CREDENTIALS_DIRECTORY (systemd LoadCredential=). Errors name the
// path but never contain the secret.
class SecretReader {
 public:
  virtual ~SecretReader() = default;
  virtual absl::StatusOr<std::string> ReadSecretFile(absl::string_view path) const = 0;
};

struct AdapterContext {
  // The configured system's name (several systems may share one type).
  std::string system_name;
  CallEventSink* events = nullptr;
  // Shared I/O loop for timers and sockets. Adapters must not block it.
  boost::asio::io_context* io = nullptr;
  const SecretReader* secrets = nullptr;
  // Inbound calls, calls placed by the adapter's own endpoints, token checks.
  CallHost* host = nullptr;
  // The core's logger (log_level, log_format); nullptr means stderr text,
  // see LoggerOr().
  const Logger* logger = nullptr;
};

}  // namespace voipd::adapters
