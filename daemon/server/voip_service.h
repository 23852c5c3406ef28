// voip.v1.VoipService on gRPC's callback API: each method authorizes the
// caller, applies its tenant restriction and limits, hands the request to
// the CallController and finishes the RPC from the controller's callback, so
// no thread waits on a provider.
#pragma once

#include "daemon/server/grpc_server.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace voipd {

class VoipServiceImpl final : public voip::v1::VoipService::CallbackService {
 public:
  explicit VoipServiceImpl(const ServiceDeps& deps) : deps_(deps) {}

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
  grpc::ServerUnaryReactor* SimulateInboundCall(
      grpc::CallbackServerContext* ctx, const voip::v1::SimulateInboundCallRequest* request,
      voip::v1::CallSession* response) override;
  grpc::ServerUnaryReactor* GetCapabilities(grpc::CallbackServerContext* ctx,
                                            const voip::v1::GetCapabilitiesRequest* request,
                                            voip::v1::GetCapabilitiesResponse* response) override;
  grpc::ServerWriteReactor<voip::v1::CallEvent>* WatchCall(
      grpc::CallbackServerContext* ctx, const voip::v1::WatchCallRequest* request) override;
  grpc::ServerWriteReactor<voip::v1::CallEvent>* SubscribeCallEvents(
      grpc::CallbackServerContext* ctx,
      const voip::v1::SubscribeCallEventsRequest* request) override;

 private:
  // A tenant-restricted caller may only touch calls it can see; others'
  // calls are reported as not found.
  absl::Status CheckVisible(const Principal& principal, const std::string& session_id) const;

  // Hold and Mute have the same shape.
  template <typename Request>
  grpc::ServerUnaryReactor* Toggle(grpc::CallbackServerContext* ctx, const char* method,
                                   const Request* request, voip::v1::CallSession* response,
                                   void (CallController::*op)(const Request&,
                                                              CallController::SessionCallback));

  const ServiceDeps deps_;
};

}  // namespace voipd
