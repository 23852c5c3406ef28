// A synchronous VoipService client for one voipctl run. It hides the gRPC
// stub behind plain proto messages and RpcError so that the commands, and
// every header they include, stay free of gRPC.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "clients/voipctl/client_credentials.h"
#include "clients/voipctl/rpc_error.h"
#include "voip/v1/call.pb.h"
#include "voip/v1/voip_service.pb.h"

namespace voipd::voipctl {

class VoipClient {
 public:
  // `addr` is any gRPC target ("127.0.0.1:50051", "unix:/run/voipd.sock");
  // `unary_timeout` bounds each unary call. Streams have no deadline: they
  // run until they end or CancelStreams(). Every call carries the token of
  // `credentials`, if any, over TLS if it says so.
  VoipClient(const std::string& addr, std::chrono::duration<double> unary_timeout,
             const ClientCredentials& credentials = {});
  ~VoipClient();
  VoipClient(const VoipClient&) = delete;
  VoipClient& operator=(const VoipClient&) = delete;

  RpcResult<voip::v1::CallSession> StartCall(const voip::v1::StartCallRequest& request);
  RpcResult<voip::v1::CallSession> EndCall(const voip::v1::EndCallRequest& request);
  RpcResult<voip::v1::CallSession> GetCallStatus(const voip::v1::GetCallStatusRequest& request);
  RpcResult<voip::v1::CallSession> Hold(const voip::v1::HoldRequest& request);
  RpcResult<voip::v1::CallSession> Mute(const voip::v1::MuteRequest& request);
  RpcResult<voip::v1::ListCallsResponse> ListCalls(const voip::v1::ListCallsRequest& request);
  RpcResult<voip::v1::GetCapabilitiesResponse> GetCapabilities();
  RpcResult<voip::v1::CallSession> SimulateInboundCall(
      const voip::v1::SimulateInboundCallRequest& request);

  // Receives each streamed event; returning false stops the stream (the
  // result is then CANCELLED).
  using EventSink = std::function<bool(const voip::v1::CallEvent&)>;

  // Run a stream to its end and return its final status.
  RpcError WatchCall(const voip::v1::WatchCallRequest& request, const EventSink& sink);
  RpcError SubscribeCallEvents(const voip::v1::SubscribeCallEventsRequest& request,
                               const EventSink& sink);

  // Safe from any thread: cancels the running stream and makes any later
  // one end at once with CANCELLED. Used on Ctrl-C.
  void CancelStreams();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace voipd::voipctl
