#include "daemon/server/rpc_context.h"

#include "absl/strings/str_cat.h"
#include "daemon/logging.h"
#include "daemon/security/scopes.h"
#include "daemon/server/grpc_status.h"
#include "daemon/server/socket_activation.h"

namespace voipd {
namespace {

std::string CodeName(absl::StatusCode code) {
  return absl::StatusCodeToString(code);
}

// Without tokens an "allowed" line names no one (the calls lines already
// say what happened): debug, so a busy daemon does not write one per RPC
// for nothing (bench scenario a). Denials and real tokens stay visible.
LogLevel AuditLevel(bool allowed, absl::string_view token) {
  return !allowed ? LogLevel::kWarn : token == "anonymous" ? LogLevel::kDebug : LogLevel::kInfo;
}

}  // namespace

void AuditLine(bool allowed, absl::string_view token, absl::string_view peer,
               absl::string_view method, absl::string_view session_id,
               absl::string_view outcome, absl::string_view system) {
  const LogLevel level = AuditLevel(allowed, token);
  if (!LogEnabled(level)) return;
  LogWithFields(level, "audit", allowed ? "allowed" : "denied",
                {{"token", token}, {"peer", peer}, {"rpc", method}, {"session_id", session_id},
                 {"system", system}, {"outcome", outcome}});
}

RpcContext::RpcContext(grpc::CallbackServerContext* ctx, const ServiceDeps& deps,
                       const char* method)
    : ctx_(ctx), deps_(deps), method_(method), start_(absl::Now()) {
  const auto& metadata = ctx->client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) authorization_.emplace(it->second.data(), it->second.size());
}

absl::StatusOr<Principal> RpcContext::Authorize(absl::string_view session_id) {
  absl::StatusOr<Principal> principal = deps_.authorizer->Authorize(
      authorization_.has_value() ? std::optional<absl::string_view>(*authorization_)
                                 : std::nullopt,
      method_);
  if (!principal.ok()) {
    const std::string reason = CodeName(principal.status().code());
    deps_.metrics->CounterAdd(kAuthFailures, {{"rpc", method_}, {"reason", reason}});
    // The token name is only known when the token matched but lacked scope.
    // The call's system, when the request names a known call: every line
    // about a call carries both (for an operator, not the caller).
    std::string system;
    if (!session_id.empty() && deps_.registry != nullptr) {
      absl::StatusOr<voip::v1::CallSession> call = deps_.registry->Snapshot(std::string(session_id));
      if (call.ok()) system = call->system_name();
    }
    AuditLine(false, "-", peer(), method_, session_id, principal.status().message(), system);
    return principal.status();
  }
  principal_name_ = principal->name;
  return principal;
}

StreamCaller RpcContext::StreamCallerFor(const Principal& principal) const {
  return StreamCaller{
      StreamGrant(deps_.authorizer,
                  Authorizer::DigestOf(authorization_.has_value()
                                           ? std::optional<absl::string_view>(*authorization_)
                                           : std::nullopt),
                  principal, method_),
      peer(), [ctx = ctx_] { ctx->TryCancel(); }};
}

// Connections voipd accepted itself are "fd:N" to gRPC.
std::string RpcContext::peer() const { return ConnectionPeer(ctx_->peer()); }

void RpcContext::Finish(grpc::ServerUnaryReactor* reactor, const absl::Status& status,
                        absl::string_view session_id, absl::string_view system) const {
  deps_.metrics->HistogramObserve(kRpcDuration, {{"method", method_}},
                                  absl::ToDoubleSeconds(absl::Now() - start_));
  deps_.metrics->CounterAdd(kRpcs, {{"method", method_}, {"code", CodeName(status.code())}});
  const std::optional<Scope> scope = RequiredScope(method_);
  if (scope == kScopeCallsWrite && principal_name_ != "-" &&
      LogEnabled(AuditLevel(true, principal_name_))) {
    AuditLine(true, principal_name_, peer(), method_, session_id,
              status.ok() ? "OK" : CodeName(status.code()), system);
  }

  reactor->Finish(ToGrpcStatus(status));
}

}  // namespace voipd
