// voip.v1.VoipService on gRPC's callback API: each method hands the request
// to the CallController and finishes the RPC from the controller's callback,
// so no thread waits on a provider.
#pragma once

#include "daemon/core/call_controller.h"
#include "daemon/core/call_registry.h"
#include "daemon/core/event_bus.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace voipd {

class VoipServiceImpl final : public voip::v1::VoipService::CallbackService {
 public:
  VoipServiceImpl(CallController* controller, CallRegistry* registry, EventBus* bus)
      : controller_(controller), registry_(registry), bus_(bus) {}

  grpc::ServerUnaryReactor* StartCall(grpc::CallbackServerContext* ctx,
                                      const voip::v1::StartCallRequest* request,
                                      voip::v1::CallSession* response) override;
  grpc::ServerUnaryReactor* EndCall(grpc::CallbackServerContext* ctx,
                                    const voip::v1::EndCallRequest* request,
                                    voip::v1::CallSession* response) override;
  grpc::ServerUnaryReactor* GetCallStatus(grpc::CallbackServerContext* ctx,
                                          const voip::v1::GetCallStatusRequest* request,
                                          voip::v1::CallSession* response) override;
  grpc::ServerUnaryReactor* Hold(grpc::CallbackServerContext* ctx,
                                 const voip::v1::HoldRequest* request,
                                 voip::v1::CallSession* response) override;
  grpc::ServerUnaryReactor* Mute(grpc::CallbackServerContext* ctx,
                                 const voip::v1::MuteRequest* request,
                                 voip::v1::CallSession* response) override;
  grpc::ServerUnaryReactor* ListCalls(grpc::CallbackServerContext* ctx,
                                      const voip::v1::ListCallsRequest* request,
                                      voip::v1::ListCallsResponse* response) override;
  grpc::ServerUnaryReactor* GetCapabilities(grpc::CallbackServerContext* ctx,
                                            const voip::v1::GetCapabilitiesRequest* request,
                                            voip::v1::GetCapabilitiesResponse* response) override;
  grpc::ServerWriteReactor<voip::v1::CallEvent>* WatchCall(
      grpc::CallbackServerContext* ctx, const voip::v1::WatchCallRequest* request) override;
  grpc::ServerWriteReactor<voip::v1::CallEvent>* SubscribeCallEvents(
      grpc::CallbackServerContext* ctx,
      const voip::v1::SubscribeCallEventsRequest* request) override;

 private:
  CallController* const controller_;
  CallRegistry* const registry_;
  EventBus* const bus_;
};

}  // namespace voipd
