#include "daemon/security/security_config.h"

#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/config/secret_file_reader.h"
#include "daemon/config/yaml_nodes.h"
#include "daemon/config/yaml_to_proto.h"
#include "daemon/security/listener_policy.h"
#include "daemon/security/scopes.h"
#include "daemon/security/token_hash.h"

namespace voipd {
namespace {

// Validates one token. Messages name the token and field but never echo the
// hash: hashes of short tokens can be brute-forced, so they stay out of logs.
absl::Status LoadToken(const voip::config::v1::TokenConfig& in, const std::string& field,
                       const std::string& source, const YAML::Node& node,
                       std::set<std::string>* names, TokenSpec* out) {
  if (in.name().empty() || in.name().size() > 64) {
    return InvalidSetting(source, Child(node, "name"),
                          absl::StrCat(field, ".name: 1-64 characters"));
  }
  if (!names->insert(in.name()).second) {
    return InvalidSetting(source, Child(node, "name"),
                          absl::StrCat(field, ".name: '", in.name(), "' is used twice"));
  }
  std::optional<std::string> hash = DecodeSha256Hex(in.sha256());
  if (!hash.has_value()) {
    return InvalidSetting(source, Child(node, "sha256"),
                          absl::StrCat(field,
                                       ".sha256: must be the 64 hex digits of the token's "
                                       "SHA-256 (printf %s \"$TOKEN\" | sha256sum)"));
  }
  out->name = in.name();
  out->sha256 = *std::move(hash);
  if (in.scopes().empty()) {
    return InvalidSetting(
        source, node,
        absl::StrCat(field, ".scopes: at least one of calls:read, calls:write, admin"));
  }
  for (int i = 0; i < in.scopes_size(); ++i) {
    std::optional<Scope> scope = ParseScope(in.scopes(i));
    if (!scope.has_value()) {
      return InvalidSetting(source, Item(Child(node, "scopes"), i),
                            absl::StrCat(field, ".scopes[", i, "]: '", in.scopes(i),
                                         "' is not one of calls:read, calls:write, admin"));
    }
    out->scopes |= *scope;
  }
  out->labels.insert(in.labels().begin(), in.labels().end());
  out->start_calls_per_minute = in.start_calls_per_minute();
  out->start_call_burst = in.start_call_burst();
  out->max_concurrent_calls = in.max_concurrent_calls();
  return absl::OkStatus();
}

absl::Status LoadTokens(const voip::config::v1::AuthConfig& auth, const YAML::Node& auth_node,
                        const std::string& source, std::vector<TokenSpec>* out) {
  std::set<std::string> names;
  for (int i = 0; i < auth.tokens_size(); ++i) {
    TokenSpec spec;
    const std::string field = absl::StrCat("auth.tokens[", i, "]");
    if (absl::Status s = LoadToken(auth.tokens(i), field, source,
                                   Item(Child(auth_node, "tokens"), i), &names, &spec);
        !s.ok()) {
      return s;
    }
    out->push_back(std::move(spec));
  }
  if (auth.token_file().empty()) return absl::OkStatus();

  const std::string path = ResolveCredentialPath(auth.token_file());
  absl::StatusOr<std::string> text = SecretFileReader().ReadSecretFile(path);
  if (!text.ok()) {
    return InvalidSetting(source, Child(auth_node, "token_file"),
                          absl::StrCat("auth.token_file: ", text.status().message()));
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ": not valid YAML"));
  }
  voip::config::v1::TokenFile file;
  if (absl::Status s = YamlToProto(root, {path, ""}, &file); !s.ok()) return s;
  for (int i = 0; i < file.tokens_size(); ++i) {
    TokenSpec spec;
    const std::string field = absl::StrCat("tokens[", i, "]");
    if (absl::Status s = LoadToken(file.tokens(i), field, path, Item(Child(root, "tokens"), i),
                                   &names, &spec);
        !s.ok()) {
      return s;
    }
    out->push_back(std::move(spec));
  }
  if (file.tokens_size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tokens: the token file has none"));
  }
  return absl::OkStatus();
}

absl::Status CheckReadable(const std::string& path, const std::string& source,
                           const YAML::Node& node, const std::string& field) {
  if (access(path.c_str(), R_OK) != 0) {
    return InvalidSetting(
        source, node, absl::StrCat(field, ": cannot read '", path, "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status LoadTls(const voip::config::v1::TlsConfig& tls, const YAML::Node& node,
                     const std::string& source, TlsSettings* out) {
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return InvalidSetting(source, node, "tls: give both cert_file and key_file");
  }
  if (tls.cert_file().empty()) {
    if (!tls.client_ca_file().empty()) {
      return InvalidSetting(source, Child(node, "client_ca_file"),
                            "tls.client_ca_file: needs tls.cert_file and tls.key_file");
    }
    return absl::OkStatus();
  }
  out->cert_file = ResolveCredentialPath(tls.cert_file());
  out->key_file = ResolveCredentialPath(tls.key_file());
  if (absl::Status s = CheckReadable(out->cert_file, source, Child(node, "cert_file"),
                                     "tls.cert_file");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckReadable(out->key_file, source, Child(node, "key_file"),
                                     "tls.key_file");
      !s.ok()) {
    return s;
  }
  if (!tls.client_ca_file().empty()) {
    out->client_ca_file = ResolveCredentialPath(tls.client_ca_file());
    if (absl::Status s = CheckReadable(out->client_ca_file, source,
                                       Child(node, "client_ca_file"), "tls.client_ca_file");
        !s.ok()) {
      return s;
    }
  }
  if (!tls.refresh_interval().empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(tls.refresh_interval(), &d) || d < absl::Seconds(1)) {
      return InvalidSetting(source, Child(node, "refresh_interval"),
                            "tls.refresh_interval: a duration of at least 1s, e.g. 60s");
    }
    out->refresh_interval = d;
  }
  return absl::OkStatus();
}

absl::Status LoadUnixSocket(const voip::config::v1::UnixSocketConfig& unix_socket,
                            const YAML::Node& node, const std::string& source,
                            UnixSocketSettings* out) {
  if (!unix_socket.mode().empty()) {
    int mode = 0;
    if (!absl::numbers_internal::safe_strtoi_base(unix_socket.mode(), &mode, 8) || mode < 0 ||
        mode > 0777) {
      return InvalidSetting(source, Child(node, "mode"),
                            "unix_socket.mode: an octal file mode such as \"0660\"");
    }
    out->mode = mode;
  }
  if (!unix_socket.group().empty()) {
    if (getgrnam(unix_socket.group().c_str()) == nullptr) {
      return InvalidSetting(
          source, Child(node, "group"),
          absl::StrCat("unix_socket.group: no group '", unix_socket.group(), "'"));
    }
    out->group = unix_socket.group();
  }
  return absl::OkStatus();
}

}  // namespace

std::string ResolveCredentialPath(const std::string& path) {
  if (!path.empty() && path.front() != '/') {
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
      return absl::StrCat(dir, "/", path);
    }
  }
  return path;
}

absl::Status LoadSecuritySettings(const voip::config::v1::DaemonConfig& proto,
                                  const YAML::Node& root, const std::string& source,
                                  const std::vector<std::string>& listen,
                                  SecuritySettings* out) {
  SecuritySettings settings;
  if (absl::Status s = LoadTokens(proto.auth(), Child(root, "auth"), source, &settings.tokens);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = LoadTls(proto.tls(), Child(root, "tls"), source, &settings.tls); !s.ok()) {
    return s;
  }
  if (absl::Status s = LoadUnixSocket(proto.unix_socket(), Child(root, "unix_socket"), source,
                                      &settings.unix_socket);
      !s.ok()) {
    return s;
  }
  settings.allow_insecure = proto.allow_insecure();
  if (proto.max_request_bytes() > 0) settings.max_request_bytes = proto.max_request_bytes();
  if (settings.max_request_bytes < 1024 || settings.max_request_bytes > 16 * 1024 * 1024) {
    return InvalidSetting(source, Child(root, "max_request_bytes"),
                          "max_request_bytes: between 1024 and 16777216");
  }
  absl::Status exposed = CheckListenerExposure(listen, settings, "listen");
  if (!exposed.ok())
    return InvalidSetting(source, Child(root, "listen"), std::string(exposed.message()));
  *out = std::move(settings);
  return absl::OkStatus();
}

}  // namespace voipd
