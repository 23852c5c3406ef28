#include "daemon/server/voip_service.h"

#include "daemon/server/event_stream.h"
#include "daemon/server/grpc_status.h"

namespace voipd {
namespace {

using voip::v1::CallSession;

// Finishes `reactor` with the controller's result. The response object is
// owned by gRPC and stays valid until Finish.
CallController::SessionCallback Reply(grpc::ServerUnaryReactor* reactor, CallSession* response) {
  return [reactor, response](absl::StatusOr<CallSession> result) {
    if (result.ok()) *response = std::move(*result);
    reactor->Finish(ToGrpcStatus(result.status()));
  };
}

template <typename T>
grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, absl::StatusOr<T> result,
                                    T* response) {
  auto* reactor = ctx->DefaultReactor();
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* VoipServiceImpl::StartCall(grpc::CallbackServerContext* ctx,
                                                     const voip::v1::StartCallRequest* request,
                                                     CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  controller_->StartCall(*request, Reply(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::EndCall(grpc::CallbackServerContext* ctx,
                                                   const voip::v1::EndCallRequest* request,
                                                   CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  controller_->EndCall(*request, Reply(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::GetCallStatus(
    grpc::CallbackServerContext* ctx, const voip::v1::GetCallStatusRequest* request,
    CallSession* response) {
  return FinishNow(ctx, controller_->GetCallStatus(*request), response);
}

grpc::ServerUnaryReactor* VoipServiceImpl::Hold(grpc::CallbackServerContext* ctx,
                                                const voip::v1::HoldRequest* request,
                                                CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  controller_->Hold(*request, Reply(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::Mute(grpc::CallbackServerContext* ctx,
                                                const voip::v1::MuteRequest* request,
                                                CallSession* response) {
  auto* reactor = ctx->DefaultReactor();
  controller_->Mute(*request, Reply(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* VoipServiceImpl::ListCalls(grpc::CallbackServerContext* ctx,
                                                     const voip::v1::ListCallsRequest* request,
                                                     voip::v1::ListCallsResponse* response) {
  return FinishNow(ctx, controller_->ListCalls(*request), response);
}

grpc::ServerUnaryReactor* VoipServiceImpl::GetCapabilities(
    grpc::CallbackServerContext* ctx, const voip::v1::GetCapabilitiesRequest*,
    voip::v1::GetCapabilitiesResponse* response) {
  return FinishNow(ctx, absl::StatusOr<voip::v1::GetCapabilitiesResponse>(
                            controller_->GetCapabilities()),
                   response);
}

grpc::ServerWriteReactor<voip::v1::CallEvent>* VoipServiceImpl::WatchCall(
    grpc::CallbackServerContext*, const voip::v1::WatchCallRequest* request) {
  return NewWatchCallStream(bus_, registry_, request->session_id());
}

grpc::ServerWriteReactor<voip::v1::CallEvent>* VoipServiceImpl::SubscribeCallEvents(
    grpc::CallbackServerContext*, const voip::v1::SubscribeCallEventsRequest* request) {
  return NewSubscribeStream(bus_, *request);
}

}  // namespace voipd
