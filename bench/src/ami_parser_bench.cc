// Scenario e: throughput of the asterisk-ami adapter's incremental parser on
// one core, over a replayed capture (bench/fixtures/ami_server_stream.txt: the
// server side of 22 real Asterisk 22 AMI sessions, 903 messages). The capture
// is replayed 32 times (greeting once) and fed the way the connection feeds
// it: in read-sized chunks, messages collected and dropped per read.
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "adapters/asterisk_ami/ami_parser.h"

namespace {

using voipd::adapters::asterisk_ami::AmiMessage;
using voipd::adapters::asterisk_ami::AmiParser;

constexpr int kReplays = 32;

const std::string& Stream() {
  static const std::string* stream = [] {
    const char* env = std::getenv("BENCH_AMI_FIXTURE");
    const std::string path = env ? env : BENCH_FIXTURE_DIR "/ami_server_stream.txt";
    std::ifstream in(path, std::ios::binary);
    std::string capture((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (capture.empty()) throw std::runtime_error("cannot read " + path);
    // Later replays skip the greeting line: one session, many calls.
    const size_t after_greeting = capture.find('\n') + 1;
    auto* s = new std::string(capture);
    for (int i = 1; i < kReplays; ++i) s->append(capture, after_greeting, std::string::npos);
    return s;
  }();
  return *stream;
}

void BM_AmiParser(benchmark::State& state) {
  const std::string& stream = Stream();
  const size_t chunk = static_cast<size_t>(state.range(0));
  size_t messages = 0, errors = 0;
  std::vector<AmiMessage> out;
  for (auto _ : state) {
    AmiParser parser;
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      parser.Feed(absl::string_view(stream).substr(pos, chunk), out);
      messages += out.size();
      out.clear();
    }
    errors += parser.errors();
    benchmark::DoNotOptimize(messages);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["messages_per_s"] =
      benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
  state.counters["parse_errors"] = static_cast<double>(errors);
  state.counters["stream_bytes"] = static_cast<double>(stream.size());
}
// 1 KiB (a slow trickle), 4 KiB and 64 KiB (typical socket reads).
BENCHMARK(BM_AmiParser)->Arg(1024)->Arg(4096)->Arg(65536)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
