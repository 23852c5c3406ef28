#include "clients/voipctl/exit_codes.h"

#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace voipd::voipctl {
namespace {

RpcError WithVoipError(absl::StatusCode code, voip::v1::ErrorCode error_code) {
  RpcError error;
  error.code = code;
  error.voip_error.emplace();
  error.voip_error->set_error_code(error_code);
  return error;
}

RpcError GrpcOnly(absl::StatusCode code) {
  RpcError error;
  error.code = code;
  return error;
}

TEST(ExitCodesTest, Success) { EXPECT_EQ(ExitCodeFor(RpcError()), kExitOk); }

TEST(ExitCodesTest, DomainCodesDecide) {
  using absl::StatusCode;
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kNotFound, voip::v1::SESSION_NOT_FOUND)),
            kExitNotFound);
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kNotFound, voip::v1::UNKNOWN_SYSTEM)),
            kExitNotFound);
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kUnavailable, voip::v1::NETWORK_ERROR)),
            kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kUnavailable, voip::v1::PROVIDER_ERROR)),
            kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kInvalidArgument, voip::v1::INVALID_NUMBER)),
            kExitRejected);
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kFailedPrecondition, voip::v1::INVALID_STATE)),
            kExitRejected);
  EXPECT_EQ(ExitCodeFor(
                WithVoipError(StatusCode::kFailedPrecondition, voip::v1::DIAL_VIA_SYSTEM_DISABLED)),
            kExitRejected);
  // UNIMPLEMENTED alone is "anything else"; the domain code makes it a
  // rejection.
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kUnimplemented, voip::v1::UNSUPPORTED_OPERATION)),
            kExitRejected);
  EXPECT_EQ(ExitCodeFor(WithVoipError(StatusCode::kResourceExhausted, voip::v1::RATE_LIMITED)),
            kExitRejected);
  EXPECT_EQ(
      ExitCodeFor(WithVoipError(StatusCode::kFailedPrecondition, voip::v1::CONFIGURATION_ERROR)),
      kExitOther);
}

TEST(ExitCodesTest, GrpcCodeDecidesWithoutVoipError) {
  using absl::StatusCode;
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kNotFound)), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kUnavailable)), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kDeadlineExceeded)), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kInvalidArgument)), kExitRejected);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kFailedPrecondition)), kExitRejected);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kOutOfRange)), kExitRejected);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kInternal)), kExitOther);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kUnimplemented)), kExitOther);
  EXPECT_EQ(ExitCodeFor(GrpcOnly(StatusCode::kCancelled)), kExitOther);
}

TEST(ExitCodesTest, UnknownDomainCodeFallsBackToGrpcCode) {
  EXPECT_EQ(ExitCodeFor(
                WithVoipError(absl::StatusCode::kNotFound, static_cast<voip::v1::ErrorCode>(999))),
            kExitNotFound);
}

TEST(DecodeRpcErrorTest, FindsVoipErrorInStatusDetails) {
  voip::v1::VoipError voip_error;
  voip_error.set_error_code(voip::v1::SESSION_NOT_FOUND);
  voip_error.set_session_id("c-1");
  google::rpc::Status status;
  status.set_code(5);
  auto* other = status.add_details();
  other->set_type_url("type.googleapis.com/google.rpc.DebugInfo");
  auto* detail = status.add_details();
  detail->set_type_url("type.googleapis.com/voip.v1.VoipError");
  detail->set_value(voip_error.SerializeAsString());

  const RpcError error = DecodeRpcError(5, "no call", status.SerializeAsString());
  EXPECT_EQ(error.code, absl::StatusCode::kNotFound);
  ASSERT_TRUE(error.voip_error.has_value());
  EXPECT_EQ(error.voip_error->session_id(), "c-1");
  EXPECT_EQ(error.CodeName(), "SESSION_NOT_FOUND");
}

TEST(DecodeRpcErrorTest, WithoutDetailsUsesGrpcCodeName) {
  const RpcError error = DecodeRpcError(14, "connection refused", "");
  EXPECT_FALSE(error.voip_error.has_value());
  EXPECT_EQ(error.CodeName(), "UNAVAILABLE");
  EXPECT_EQ(ExitCodeFor(error), kExitUnavailable);
}

TEST(DecodeRpcErrorTest, GarbledDetailsAreIgnored) {
  const RpcError error = DecodeRpcError(5, "x", "\xff\xff\xff");
  EXPECT_FALSE(error.voip_error.has_value());
  EXPECT_EQ(error.CodeName(), "NOT_FOUND");
}

}  // namespace
}  // namespace voipd::voipctl
