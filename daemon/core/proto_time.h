// absl::Time → google.protobuf.Timestamp with full precision.
// (TimeUtil::GetCurrentTime() in Debian's protobuf 3.21 drops the nanoseconds.)
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace voipd {

inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

inline google::protobuf::Timestamp ProtoNow() { return ToProtoTimestamp(absl::Now()); }

}  // namespace voipd
