#include "clients/voipctl/json_format.h"

#include "google/protobuf/util/json_util.h"

namespace voipd::voipctl {
namespace {

google::protobuf::util::JsonPrintOptions PrintOptions() {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  return options;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  // Printing a well-formed message cannot fail; an empty object keeps the
  // one-object-per-line promise if it ever does.
  if (!google::protobuf::util::MessageToJsonString(message, &json, PrintOptions()).ok()) {
    return "{}";
  }
  return json;
}

std::string ErrorToJson(const RpcError& error) {
  voip::v1::VoipError voip_error;
  if (error.voip_error) {
    voip_error = *error.voip_error;
  } else {
    voip_error.set_message(error.message);
  }
  // Appended to the VoipError's own object rather than merged through a
  // Struct, so the fields keep the proto's order. Code names need no
  // escaping.
  std::string body = ToJson(voip_error);
  const std::string separator = body == "{}" ? "" : ",";
  body.insert(body.size() - 1, separator + "\"grpc_code\":\"" + GrpcCodeName(error.code) + "\"");
  return "{\"error\":" + body + "}";
}

}  // namespace voipd::voipctl
