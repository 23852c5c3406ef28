#include "clients/voipctl/history_csv.h"

#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "clients/voipctl/call_status_names.h"
#include "clients/voipctl/human_format.h"
#include "voip/v1/errors.pb.h"

namespace voipd::voipctl {
namespace {

std::string Field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  return absl::StrCat("\"", absl::StrReplaceAll(value, {{"\"", "\"\""}}), "\"");
}

std::string Time(const google::protobuf::Timestamp& t) {
  return (t.seconds() == 0 && t.nanos() == 0) ? "" : FormatTimestamp(t);
}

std::string Lower(const std::string& name, absl::string_view prefix) {
  return absl::AsciiStrToLower(absl::StripPrefix(name, prefix));
}

}  // namespace

std::string HistoryCsvHeader() {
  return "session_id,created_at,answered_at,ended_at,duration_seconds,direction,system,from,to,"
         "to_normalized,status,end_source,end_error,labels";
}

std::string HistoryCsvRow(const voip::v1::CallSession& s) {
  std::string duration;
  if (s.has_answered_at() && s.has_ended_at()) {
    const double seconds = static_cast<double>(s.ended_at().seconds() - s.answered_at().seconds()) +
                           (s.ended_at().nanos() - s.answered_at().nanos()) / 1e9;
    duration = absl::StrFormat("%.3f", seconds);
  }
  std::vector<std::string> labels;
  const std::map<std::string, std::string> sorted(s.labels().begin(), s.labels().end());
  for (const auto& [k, v] : sorted) labels.push_back(absl::StrCat(k, "=", v));
  const bool ended = s.has_ended_at();
  std::vector<std::string> fields = {
      s.session_id(),
      Time(s.created_at()),
      Time(s.answered_at()),
      Time(s.ended_at()),
      duration,
      Lower(voip::v1::CallDirection_Name(s.direction()), "CALL_DIRECTION_"),
      s.system_name(),
      s.from(),
      s.to().number(),
      s.to_normalized(),
      CallStatusName(s.status()),
      ended ? Lower(voip::v1::HangupSource_Name(s.end_reason().source()), "HANGUP_SOURCE_") : "",
      ended && s.end_reason().error_code() != voip::v1::ERROR_CODE_UNSPECIFIED
          ? voip::v1::ErrorCode_Name(s.end_reason().error_code())
          : "",
      absl::StrJoin(labels, ";"),
  };
  for (auto& f : fields) f = Field(f);
  return absl::StrJoin(fields, ",");
}

}  // namespace voipd::voipctl
