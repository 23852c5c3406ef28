#include "clients/voipctl/voip_client.h"

#include <mutex>

#include "grpcpp/grpcpp.h"
#include "voip/v1/voip_service.grpc.pb.h"

namespace voipd::voipctl {
namespace {

using voip::v1::VoipService;

RpcError FromGrpc(const grpc::Status& status) {
  return DecodeRpcError(status.error_code(), status.error_message(), status.error_details());
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentialsFor(
    const ClientCredentials& credentials) {
  // voipd listens on loopback or a unix socket without TLS by default.
  if (!credentials.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = credentials.ca_pem;  // empty: gRPC's default roots
  options.pem_cert_chain = credentials.cert_pem;
  options.pem_private_key = credentials.key_pem;
  return grpc::SslCredentials(options);
}

}  // namespace

struct VoipClient::Impl {
  std::unique_ptr<VoipService::Stub> stub;
  std::chrono::duration<double> unary_timeout;
  // Sent as metadata on each call rather than as call credentials: gRPC
  // sends call credentials only over TLS, and voipd's loopback listener,
  // where tokens are common, is plaintext.
  std::string authorization;

  void Authorize(grpc::ClientContext* context) const {
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  }

  std::mutex mu;
  bool cancelled = false;                 // guarded by mu
  grpc::ClientContext* stream = nullptr;  // guarded by mu; the running stream

  // Each unary call gets a fresh context: a ClientContext is single-use.
  void SetDeadline(grpc::ClientContext* context) const {
    // gRPC deadlines are system_clock time points.
    context->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(unary_timeout));
  }

  template <typename Request, typename Response, typename Method>
  RpcResult<Response> Unary(Method method, const Request& request) {
    grpc::ClientContext context;
    SetDeadline(&context);
    Authorize(&context);
    RpcResult<Response> result;
    result.error = FromGrpc((stub.get()->*method)(&context, request, &result.value));
    return result;
  }

  template <typename Request, typename Method>
  RpcError Stream(Method method, const Request& request, const EventSink& sink) {
    grpc::ClientContext context;
    Authorize(&context);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (cancelled) return DecodeRpcError(grpc::StatusCode::CANCELLED, "cancelled", "");
      stream = &context;
    }
    std::unique_ptr<grpc::ClientReader<voip::v1::CallEvent>> reader =
        (stub.get()->*method)(&context, request);
    voip::v1::CallEvent event;
    bool stopped = false;
    while (reader->Read(&event)) {
      if (!sink(event)) {
        stopped = true;
        context.TryCancel();
        break;
      }
    }
    // Finish only after Read returned false: drain what a cancel left.
    if (stopped) {
      while (reader->Read(&event)) {
      }
    }
    const grpc::Status status = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mu);
      stream = nullptr;
    }
    return FromGrpc(status);
  }
};

VoipClient::VoipClient(const std::string& addr, std::chrono::duration<double> unary_timeout,
                       const ClientCredentials& credentials)
    : impl_(std::make_unique<Impl>()) {
  impl_->stub =
      VoipService::NewStub(grpc::CreateChannel(addr, ChannelCredentialsFor(credentials)));
  impl_->unary_timeout = unary_timeout;
  if (!credentials.token.empty()) impl_->authorization = "Bearer " + credentials.token;
}

VoipClient::~VoipClient() = default;

RpcResult<voip::v1::CallSession> VoipClient::StartCall(const voip::v1::StartCallRequest& request) {
  return impl_->Unary<voip::v1::StartCallRequest, voip::v1::CallSession>(
      &VoipService::Stub::StartCall, request);
}

RpcResult<voip::v1::CallSession> VoipClient::EndCall(const voip::v1::EndCallRequest& request) {
  return impl_->Unary<voip::v1::EndCallRequest, voip::v1::CallSession>(&VoipService::Stub::EndCall,
                                                                       request);
}

RpcResult<voip::v1::CallSession> VoipClient::GetCallStatus(
    const voip::v1::GetCallStatusRequest& request) {
  return impl_->Unary<voip::v1::GetCallStatusRequest, voip::v1::CallSession>(
      &VoipService::Stub::GetCallStatus, request);
}

RpcResult<voip::v1::CallSession> VoipClient::Hold(const voip::v1::HoldRequest& request) {
  return impl_->Unary<voip::v1::HoldRequest, voip::v1::CallSession>(&VoipService::Stub::Hold,
                                                                    request);
}

RpcResult<voip::v1::CallSession> VoipClient::Mute(const voip::v1::MuteRequest& request) {
  return impl_->Unary<voip::v1::MuteRequest, voip::v1::CallSession>(&VoipService::Stub::Mute,
                                                                    request);
}

RpcResult<voip::v1::ListCallsResponse> VoipClient::ListCalls(
    const voip::v1::ListCallsRequest& request) {
  return impl_->Unary<voip::v1::ListCallsRequest, voip::v1::ListCallsResponse>(
      &VoipService::Stub::ListCalls, request);
}

RpcResult<voip::v1::CallSession> VoipClient::SimulateInboundCall(
    const voip::v1::SimulateInboundCallRequest& request) {
  return impl_->Unary<voip::v1::SimulateInboundCallRequest, voip::v1::CallSession>(
      &VoipService::Stub::SimulateInboundCall, request);
}

RpcResult<voip::v1::GetCapabilitiesResponse> VoipClient::GetCapabilities() {
  return impl_->Unary<voip::v1::GetCapabilitiesRequest, voip::v1::GetCapabilitiesResponse>(
      &VoipService::Stub::GetCapabilities, voip::v1::GetCapabilitiesRequest());
}

RpcError VoipClient::WatchCall(const voip::v1::WatchCallRequest& request, const EventSink& sink) {
  return impl_->Stream(&VoipService::Stub::WatchCall, request, sink);
}

RpcError VoipClient::SubscribeCallEvents(const voip::v1::SubscribeCallEventsRequest& request,
                                         const EventSink& sink) {
  return impl_->Stream(&VoipService::Stub::SubscribeCallEvents, request, sink);
}

void VoipClient::CancelStreams() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->cancelled = true;
  if (impl_->stream != nullptr) impl_->stream->TryCancel();
}

}  // namespace voipd::voipctl
