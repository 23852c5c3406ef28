#include "daemon/config/yaml_to_proto.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "daemon/config/yaml_nodes.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace voipd {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

absl::Status Error(const YamlSource& src, const YAML::Node& node, const std::string& path,
                   const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(Where(src.file, node), path, ": ", message));
}

// Sets (or adds, for repeated fields) one scalar value.
absl::Status SetScalar(const YAML::Node& node, const YamlSource& src, const std::string& path,
                       Message* message, const FieldDescriptor* field) {
  if (!node.IsScalar()) return Error(src, node, path, "expected a single value");
  const std::string& text = node.Scalar();
  const Reflection* r = message->GetReflection();
  const bool rep = field->is_repeated();
  auto bad = [&](const char* what) {
    return Error(src, node, path, absl::StrCat("expected ", what, ", got '", text, "'"));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(message, field, text) : r->SetString(message, field, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      const std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true" || lower == "yes" || lower == "on") {
        v = true;
      } else if (lower == "false" || lower == "no" || lower == "off") {
        v = false;
      } else {
        return bad("true or false");
      }
      rep ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      rep ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      rep ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a non-negative integer");
      rep ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad("a non-negative integer");
      rep ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(text, &v)) return bad("a number");
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      } else {
        rep ? r->AddFloat(message, field, v) : r->SetFloat(message, field, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = field->enum_type()->FindValueByName(absl::AsciiStrToUpper(text));
      if (value == nullptr) return bad("one of the documented names");
      rep ? r->AddEnum(message, field, value) : r->SetEnum(message, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return Error(src, node, path, "unsupported field type");
}

absl::Status SetField(const YAML::Node& node, const YamlSource& src, const std::string& path,
                      Message* message, const FieldDescriptor* field) {
  const Reflection* r = message->GetReflection();
  if (field->is_map()) {
    if (!node.IsMap()) return Error(src, node, path, "expected a mapping");
    const FieldDescriptor* key_field = field->message_type()->map_key();
    const FieldDescriptor* value_field = field->message_type()->map_value();
    for (const auto& kv : node) {
      Message* entry = r->AddMessage(message, field);
      const std::string key_path = absl::StrCat(path, "[", kv.first.Scalar(), "]");
      if (absl::Status s = SetScalar(kv.first, src, key_path, entry, key_field); !s.ok()) return s;
      if (absl::Status s = SetField(kv.second, src, key_path, entry, value_field); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  if (field->is_repeated()) {
    if (!node.IsSequence()) return Error(src, node, path, "expected a list");
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        Message* item = r->AddMessage(message, field);
        if (absl::Status s = YamlToProto(node[i], {src.file, item_path}, item); !s.ok()) return s;
      } else if (absl::Status s = SetScalar(node[i], src, item_path, message, field); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return YamlToProto(node, {src.file, path}, r->MutableMessage(message, field));
  }
  return SetScalar(node, src, path, message, field);
}

}  // namespace

absl::Status YamlToProto(const YAML::Node& node, const YamlSource& source, Message* message,
                         const std::set<std::string>& ignore) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return Error(source, node, source.path.empty() ? "(document)" : source.path,
                 "expected a mapping of keys to values");
  }
  const auto* descriptor = message->GetDescriptor();
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (ignore.count(key) != 0) continue;
    const FieldDescriptor* field = descriptor->FindFieldByName(key);
    if (field == nullptr) {
      std::string known;
      for (int i = 0; i < descriptor->field_count(); ++i) {
        absl::StrAppend(&known, i == 0 ? "" : ", ", descriptor->field(i)->name());
      }
      return Error(source, kv.first, Join(source.path, key),
                   absl::StrCat("unknown setting (known: ", known, ")"));
    }
    if (absl::Status s = SetField(kv.second, source, Join(source.path, key), message, field);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace voipd
