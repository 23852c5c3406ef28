#include "daemon/server/voip_service.h"

#include <memory>

#include "adapters/api/voip_error.h"
#include "daemon/security/request_scope.h"
#include "daemon/security/tenant_scope.h"
#include "daemon/server/event_stream.h"
#include "daemon/server/rpc_context.h"

namespace voipd {
namespace {

using voip::v1::CallSession;

// Finishes `reactor` with the controller's result. The response object is
// owned by gRPC and stays valid until Finish.
CallController::SessionCallback Reply(std::shared_ptr<RpcContext> rpc,
                                      grpc::ServerUnaryReactor* reactor, CallSession* response,
                                      std::string session_id) {
  return [rpc, reactor, response, session_id](absl::StatusOr<CallSession> result) {
    std::string id = session_id;
    std::string system;
    if (result.ok()) {
      id = result->session_id();
      system = result->system_name();
      *response = std::move(*result);
    } else if (auto detail = GetVoipError(result.status())) {
      system = detail->system_name();
    }
    rpc->Finish(reactor, result.status(), id, system);
  };
}

}  // namespace

absl::Status VoipServiceImpl::CheckVisible(const Principal& principal,
                                           const std::string& session_id) const {
  if (principal.labels.empty()) return absl::OkStatus();
  voip::v1::GetCallStatusRequest query;
  query.set_session_id(session_id);
  absl::StatusOr<CallSession> session = deps_.controller->GetCallStatus(query);
  if (!session.ok()) return session.status();
  if (!CanSee(principal, session->labels())) return SessionNotFoundError(session_id);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* VoipServiceImpl::StartCall(grpc::CallbackServerContext* ctx,
                                                     const voip::v1::StartCallRequest* request,
                                                     CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  auto rpc = std::make_shared<RpcContext>(ctx, deps_, "StartCall");
  absl::StatusOr<Principal> principal = rpc->Authorize("");
  if (!principal.ok()) {
    rpc->Finish(reactor, principal.status(), "");
    return reactor;
  }
  deps_.admission->StartCall(*principal, *request, deps_.controller,
                             Reply(rpc, reactor, response, ""));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::EndCall(grpc::CallbackServerContext* ctx,
                                                   const voip::v1::EndCallRequest* request,
                                                   CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  auto rpc = std::make_shared<RpcContext>(ctx, deps_, "EndCall");
  absl::StatusOr<Principal> principal = rpc->Authorize(request->session_id());
  absl::Status visible =
      principal.ok() ? CheckVisible(*principal, request->session_id()) : principal.status();
  if (!visible.ok()) {
    rpc->Finish(reactor, visible, request->session_id());
    return reactor;
  }
  const bool rescope = NeedsScoping(*principal, *request);
  voip::v1::EndCallRequest scoped;
  if (rescope) {
    scoped = *request;
    ScopeRequestId(*principal, &scoped);
  }
  deps_.controller->EndCall(rescope ? scoped : *request,
                            Reply(rpc, reactor, response, request->session_id()));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::GetCallStatus(
    grpc::CallbackServerContext* ctx, const voip::v1::GetCallStatusRequest* request,
    CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  RpcContext rpc(ctx, deps_, "GetCallStatus");
  absl::StatusOr<Principal> principal = rpc.Authorize(request->session_id());
  absl::StatusOr<CallSession> result =
      principal.ok() ? deps_.controller->GetCallStatus(*request)
                     : absl::StatusOr<CallSession>(principal.status());
  if (result.ok() && !CanSee(*principal, result->labels())) {
    result = SessionNotFoundError(request->session_id());
  }
  if (result.ok()) *response = std::move(*result);
  rpc.Finish(reactor, result.status(), request->session_id());
  return reactor;
}

template <typename Request>
grpc::ServerUnaryReactor* VoipServiceImpl::Toggle(
    grpc::CallbackServerContext* ctx, const char* method, const Request* request,
    CallSession* response,
    void (CallController::*op)(const Request&, CallController::SessionCallback)) {
  auto* reactor = ctx->DefaultReactor();
  auto rpc = std::make_shared<RpcContext>(ctx, deps_, method);
  absl::StatusOr<Principal> principal = rpc->Authorize(request->session_id());
  absl::Status visible =
      principal.ok() ? CheckVisible(*principal, request->session_id()) : principal.status();
  if (!visible.ok()) {
    rpc->Finish(reactor, visible, request->session_id());
    return reactor;
  }
  Request scoped = *request;
  ScopeRequestId(*principal, &scoped);
  (deps_.controller->*op)(scoped, Reply(rpc, reactor, response, request->session_id()));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::Hold(grpc::CallbackServerContext* ctx,
                                                const voip::v1::HoldRequest* request,
                                                CallSession* response) {
  return Toggle(ctx, "Hold", request, response, &CallController::Hold);
}

grpc::ServerUnaryReactor* VoipServiceImpl::Mute(grpc::CallbackServerContext* ctx,
                                                const voip::v1::MuteRequest* request,
                                                CallSession* response) {
  return Toggle(ctx, "Mute", request, response, &CallController::Mute);
}

grpc::ServerUnaryReactor* VoipServiceImpl::ListCalls(grpc::CallbackServerContext* ctx,
                                                     const voip::v1::ListCallsRequest* request,
                                                     voip::v1::ListCallsResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  RpcContext rpc(ctx, deps_, "ListCalls");
  absl::StatusOr<Principal> principal = rpc.Authorize("");
  if (!principal.ok()) {
    rpc.Finish(reactor, principal.status(), "");
    return reactor;
  }
  voip::v1::ListCallsRequest scoped = *request;
  ForceLabels(*principal, scoped.mutable_labels());
  absl::StatusOr<voip::v1::ListCallsResponse> result = deps_.controller->ListCalls(scoped);
  if (result.ok()) *response = std::move(*result);
  rpc.Finish(reactor, result.status(), "");
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::SimulateInboundCall(
    grpc::CallbackServerContext* ctx, const voip::v1::SimulateInboundCallRequest* request,
    CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  auto rpc = std::make_shared<RpcContext>(ctx, deps_, "SimulateInboundCall");
  absl::StatusOr<Principal> principal = rpc->Authorize("");  // admin (scopes.cc)
  if (!principal.ok()) {
    rpc->Finish(reactor, principal.status(), "");
    return reactor;
  }
  voip::v1::SimulateInboundCallRequest scoped = *request;
  ForceLabels(*principal, scoped.mutable_labels());
  ScopeRequestId(*principal, &scoped);
  deps_.controller->SimulateInboundCall(scoped, Reply(rpc, reactor, response, ""));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::GetCapabilities(
    grpc::CallbackServerContext* ctx, const voip::v1::GetCapabilitiesRequest*,
    voip::v1::GetCapabilitiesResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  RpcContext rpc(ctx, deps_, "GetCapabilities");
  absl::StatusOr<Principal> principal = rpc.Authorize("");
  if (principal.ok()) *response = deps_.controller->GetCapabilities();
  rpc.Finish(reactor, principal.status(), "");
  return reactor;
}

grpc::ServerWriteReactor<voip::v1::CallEvent>* VoipServiceImpl::WatchCall(
    grpc::CallbackServerContext* ctx, const voip::v1::WatchCallRequest* request) {
  RpcContext rpc(ctx, deps_, "WatchCall");
  absl::StatusOr<Principal> principal = rpc.Authorize(request->session_id());
  if (!principal.ok()) return NewFailedStream(principal.status());
  if (!request->session_id().empty()) {
    if (absl::Status s = CheckVisible(*principal, request->session_id()); !s.ok()) {
      return NewFailedStream(s);
    }
  }
  return NewWatchCallStream(deps_.bus, deps_.registry, deps_.metrics, request->session_id(),
                            rpc.StreamCallerFor(*principal));
}

grpc::ServerWriteReactor<voip::v1::CallEvent>* VoipServiceImpl::SubscribeCallEvents(
    grpc::CallbackServerContext* ctx, const voip::v1::SubscribeCallEventsRequest* request) {
  RpcContext rpc(ctx, deps_, "SubscribeCallEvents");
  absl::StatusOr<Principal> principal = rpc.Authorize(request->filter().session_id());
  if (!principal.ok()) return NewFailedStream(principal.status());
  voip::v1::SubscribeCallEventsRequest scoped = *request;
  ForceLabels(*principal, scoped.mutable_filter()->mutable_labels());
  return NewSubscribeStream(deps_.bus, deps_.metrics, scoped, rpc.StreamCallerFor(*principal));
}

}  // namespace voipd
