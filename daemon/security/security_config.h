// Loads the security sections of voipd.yaml (auth, tls, unix_socket,
// allow_insecure, max_request_bytes) into SecuritySettings, reading
// auth.token_file. Called by the config loader, so start-up, SIGHUP and
// --check-config all validate the same way; errors are FILE:LINE: field.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "daemon/security/security_settings.h"
#include "voip/config/v1/daemon.pb.h"

namespace voipd {

absl::Status LoadSecuritySettings(const voip::config::v1::DaemonConfig& proto,
                                  const YAML::Node& root, const std::string& source,
                                  const std::vector<std::string>& listen,
                                  SecuritySettings* out);

// A relative path resolves against $CREDENTIALS_DIRECTORY (LoadCredential=).
std::string ResolveCredentialPath(const std::string& path);

}  // namespace voipd
