#include "daemon/server/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/server/voip_service.h"

namespace voipd {

struct GrpcServer::Impl {
  std::unique_ptr<VoipServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::vector<std::string> bound;
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() {
  if (impl_->server) {
    impl_->server->Shutdown();
    impl_->server->Wait();
  }
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const std::vector<std::string>& listen, CallController* controller, CallRegistry* registry,
    EventBus* bus) {
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<VoipServiceImpl>(controller, registry, bus);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::vector<int> ports(listen.size(), 0);
  for (size_t i = 0; i < listen.size(); ++i) {
    // TLS and tokens are configured per listener in production (docs/security.md);
    // the default listener is loopback-only.
    builder.AddListeningPort(listen[i], grpc::InsecureServerCredentials(), &ports[i]);
  }
  builder.RegisterService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", absl::StrJoin(listen, ", "),
                     " (address in use, or not an address of this host?)"));
  }
  for (size_t i = 0; i < listen.size(); ++i) {
    if (ports[i] == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", listen[i]));
    }
    std::string address = listen[i];
    if (!absl::StartsWith(address, "unix:") && absl::EndsWith(address, ":0")) {
      address = absl::StrCat(address.substr(0, address.size() - 1), ports[i]);
    }
    impl->bound.push_back(std::move(address));
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

const std::vector<std::string>& GrpcServer::bound_addresses() const { return impl_->bound; }

void GrpcServer::SetServing(bool serving) {
  if (auto* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

void GrpcServer::Shutdown(absl::Duration deadline) {
  if (!impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace voipd
