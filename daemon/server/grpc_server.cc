#include "daemon/server/grpc_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "daemon/logging.h"
#include "daemon/server/plaintext_listener.h"
#include "daemon/server/server_credentials.h"
#include "daemon/server/socket_activation.h"
#include "daemon/server/voip_service.h"

namespace voipd {

struct GrpcServer::Impl {
  std::unique_ptr<VoipServiceImpl> service;
  // Declared before `server` so they outlive it: the TLS certificate fetcher
  // that gRPC calls at each handshake lives in them.
  std::vector<std::shared_ptr<grpc::ServerCredentials>> credentials;
  absl::Mutex mu;  // guards server against SetServing racing Shutdown
  std::unique_ptr<grpc::Server> server ABSL_GUARDED_BY(mu);
  // What each health entry ("" = the daemon) was last set to. gRPC sends
  // every set to every Watch, so a value is set only when it changes.
  std::map<std::string, bool> health ABSL_GUARDED_BY(mu);
  // Accepts on the sockets systemd passed and on the plaintext listeners
  // voipd bound itself (plaintext_listener.h); nullptr if there are none.
  std::unique_ptr<FdAcceptor> acceptor;
  std::vector<std::string> unix_paths;  // of voipd's own listeners, removed at shutdown
  std::shared_ptr<TlsCertificateStore> tls;  // nullptr: no TLS
  std::vector<std::string> bound;
};

namespace {

// Listeners bound but not yet handed to an FdAcceptor: closed (and their
// socket files removed) if the start fails half-way.
struct OwnListeners {
  std::vector<PlaintextListener> listeners;
  ~OwnListeners() {
    for (const PlaintextListener& l : listeners) {
      if (l.fd >= 0) close(l.fd);
      if (!l.unix_path.empty()) unlink(l.unix_path.c_str());
    }
  }
};

// chmod/chown a unix listener after bind: gRPC creates it with the umask.
absl::Status ApplyUnixSocketSettings(const std::string& address,
                                     const UnixSocketSettings& settings) {
  if (!absl::StartsWith(address, "unix:")) return absl::OkStatus();
  std::string path = address.substr(5);
  if (absl::StartsWith(path, "//")) path = path.substr(2);  // unix:///abs/path
  if (settings.mode >= 0 && chmod(path.c_str(), static_cast<mode_t>(settings.mode)) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot chmod ", path, ": ", std::strerror(errno)));
  }
  if (!settings.group.empty()) {
    group* g = getgrnam(settings.group.c_str());
    if (g == nullptr || chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot give ", path, " to group ", settings.group, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                              const ServiceDeps& deps) {
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<VoipServiceImpl>(deps);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Oversized requests are refused by gRPC before any handler sees them.
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.security.max_request_bytes));
  const bool activated = !options.activated_fds.empty();
  if (activated && options.security.tls.enabled()) {
    // gRPC 1.51 serves accepted fds only without TLS
    // (grpc_server_add_channel_from_fd, grpc/grpc_posix.h): refuse rather
    // than serve plaintext where the operator asked for TLS.
    for (int fd : options.activated_fds) {
      const std::string where = DescribeSocket(fd);
      if (!absl::StartsWith(where, "unix:")) {
        return absl::FailedPreconditionError(absl::StrCat(
            "tls is configured but the socket-activated listener ", where,
            " would serve plaintext: gRPC 1.51 cannot use TLS on sockets passed by systemd. "
            "Use a unix socket in voipd.socket (ListenStream=/run/voipd/voipd.sock), or drop "
            "voipd.socket and put the TLS address in `listen`"));
      }
    }
  }
  if (options.security.tls.enabled()) {
    absl::StatusOr<std::shared_ptr<TlsCertificateStore>> store =
        TlsCertificateStore::Load(options.security.tls);
    if (!store.ok()) return store.status();
    impl->tls = std::move(*store);
  }
  const std::vector<std::string> listen = activated ? std::vector<std::string>{} : options.listen;
  std::vector<int> ports(listen.size(), 0);
  // own_index[i]: listen[i]'s entry in `own`, or -1 when gRPC listens on it.
  OwnListeners own;
  std::vector<int> own_index(listen.size(), -1);
  for (size_t i = 0; i < listen.size(); ++i) {
    if (impl->tls == nullptr || absl::StartsWith(listen[i], "unix:")) {
      absl::StatusOr<std::optional<PlaintextListener>> mine = BindPlaintextListener(listen[i]);
      if (!mine.ok()) return mine.status();
      if (mine->has_value()) {
        own_index[i] = static_cast<int>(own.listeners.size());
        own.listeners.push_back(std::move(**mine));
        continue;
      }
    }
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
        ServerCredentialsFor(listen[i], impl->tls);
    if (!creds.ok()) return creds.status();
    builder.AddListeningPort(listen[i], *creds, &ports[i]);
    impl->credentials.push_back(*creds);
  }
  builder.RegisterService(impl->service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", absl::StrJoin(listen, ", "),
                     " (address in use, or not an address of this host?)"));
  }
  for (size_t i = 0; i < listen.size(); ++i) {
    std::string address = listen[i];
    if (own_index[i] >= 0) {
      address = own.listeners[own_index[i]].bound;
    } else if (ports[i] == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", listen[i]));
    } else if (!absl::StartsWith(address, "unix:") && absl::EndsWith(address, ":0")) {
      address = absl::StrCat(address.substr(0, address.size() - 1), ports[i]);
    }
    if (absl::Status s = ApplyUnixSocketSettings(address, options.security.unix_socket);
        !s.ok()) {
      return s;
    }
    impl->bound.push_back(std::move(address));
  }
  // Plaintext only: TCP with TLS configured was refused above for activated
  // sockets, and is never bound by voipd itself.
  std::vector<int> accept_on = options.activated_fds;
  for (int fd : options.activated_fds) impl->bound.push_back(DescribeSocket(fd));
  for (PlaintextListener& l : own.listeners) {
    accept_on.push_back(std::exchange(l.fd, -1));
    if (!l.unix_path.empty()) impl->unix_paths.push_back(std::exchange(l.unix_path, ""));
  }
  if (!accept_on.empty()) {
    grpc::Server* raw = server.get();
    impl->acceptor = std::make_unique<FdAcceptor>(
        std::move(accept_on), [raw](int fd) { grpc::AddInsecureChannelFromFd(raw, fd); });
  }
  {
    absl::MutexLock lock(&impl->mu);
    impl->server = std::move(server);
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

const std::vector<std::string>& GrpcServer::bound_addresses() const { return impl_->bound; }

void GrpcServer::SetServing(bool serving) { SetComponentServing("", serving); }

void GrpcServer::SetComponentServing(const std::string& service, bool serving) {
  absl::MutexLock lock(&impl_->mu);
  if (!impl_->server) return;
  auto [it, added] = impl_->health.try_emplace(service, serving);
  if (!added && it->second == serving) return;
  it->second = serving;
  if (auto* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus(service, serving);
  }
}

void GrpcServer::StopServing() {
  absl::MutexLock lock(&impl_->mu);
  if (!impl_->server) return;
  for (auto& [service, serving] : impl_->health) serving = false;
  if (auto* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus(false);  // every entry, also ones never set
  }
}

absl::Status GrpcServer::ReloadTls() {
  if (impl_->tls == nullptr) return absl::OkStatus();
  return impl_->tls->Reload();
}

void GrpcServer::Shutdown(absl::Duration deadline) {
  // Stop handing new connections to the server before it goes away.
  impl_->acceptor.reset();
  std::unique_ptr<grpc::Server> server;
  {
    absl::MutexLock lock(&impl_->mu);
    server = std::move(impl_->server);
  }
  if (!server) return;
  server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  server->Wait();
  for (const std::string& path : impl_->unix_paths) unlink(path.c_str());
}

}  // namespace voipd
