#!/usr/bin/env bash
# bench/tools/thread_split.sh: where a server's CPU goes, thread by thread, under
# scenario a's load (bench/performance-notes.md, "a, fourth pass").
#
# Starts voipd (bench/configs/sandbox-fast.yaml) or the bare reference server,
# drives it with voipd-loadgen, and counts CPU time and context switches per
# thread with `perf stat --per-thread` over a 3 s window in the middle of the
# run. Prints both per RPC, summed over threads of the same name (voipd names
# its own; gRPC's keep gRPC's names).
#
# Usage: bench/tools/thread_split.sh voipd|reference closed N | open CALLS_PER_S
#   e.g. bench/tools/thread_split.sh voipd closed 16
#        bench/tools/thread_split.sh reference open 12196
# Environment: BENCH_BUILD_DIR (default build-bench). Needs perf (linux-perf)
# and the binaries bench/run.sh builds. Traffic stays on 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
[[ $# -eq 3 ]] || { sed -n '2,16p' "$0"; exit 2; }
WHO=$1 MODE=$2 LOAD=$3
case $WHO in
  voipd) SERVER=("$BUILD/daemon/voipd" --config "$ROOT/bench/configs/sandbox-fast.yaml") ;;
  reference) SERVER=("$BUILD/bench/bench-reference-server") ;;
  *) echo "voipd or reference, not '$WHO'" >&2; exit 2 ;;
esac
case $MODE in
  closed) LOADARG=(--concurrency "$LOAD") ;;
  open) LOADARG=(--rate "$LOAD") ;;
  *) echo "closed or open, not '$MODE'" >&2; exit 2 ;;
esac
command -v perf > /dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }

OUT=$(mktemp -d)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2> /dev/null; wait 2> /dev/null; rm -rf "$OUT"; }
trap cleanup EXIT

timeout -k 5 60 "${SERVER[@]}" --ready-file "$OUT/ready" > /dev/null 2>&1 &
for _ in $(seq 200); do [[ -s $OUT/ready ]] && break; sleep 0.05; done
[[ -s $OUT/ready ]] || { echo "$WHO did not become ready" >&2; exit 1; }
read -r ADDR PID < <(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); \
print(r['listen'][0], r['pid'])" "$OUT/ready")

WINDOW=3
( sleep 1.5; perf stat --per-thread -e context-switches,task-clock -p "$PID" \
    -o "$OUT/perf.txt" -- sleep $WINDOW ) &
STAT=$!
"$BUILD/bench/voipd-loadgen" --target "$WHO" --addr "$ADDR" --server-pid "$PID" \
  "${LOADARG[@]}" --warmup 1 --duration 4 > "$OUT/load.json" 2> /dev/null
wait $STAT

python3 - "$OUT/perf.txt" "$OUT/load.json" "$WINDOW" "$WHO $MODE $LOAD" <<'PY'
import collections, json, re, sys
perf, load, window, title = sys.argv[1], json.load(open(sys.argv[2])), float(sys.argv[3]), sys.argv[4]
rpcs = load["rpcs_per_s"] * window
switches, cpu_ms = collections.Counter(), collections.Counter()
for line in open(perf):
    m = re.match(r"\s*(.+?)-(\d+)\s+([\d,.]+)\s+(?:msec\s+)?(context-switches|task-clock)", line)
    if m:
        value = float(m.group(3).replace(",", ""))
        (switches if m.group(4) == "context-switches" else cpu_ms)[m.group(1)] += value
print("%s: %.0f RPC/s, StartCall p50 %s us p99 %s us" % (
    title, load["rpcs_per_s"], load["start_us"]["p50"], load["start_us"]["p99"]))
print("%-18s %12s %18s" % ("thread", "CPU us/RPC", "switches per RPC"))
for name in sorted(cpu_ms, key=lambda n: -cpu_ms[n]):
    print("%-18s %12.1f %18.3f" % (name, cpu_ms[name] * 1000 / rpcs, switches[name] / rpcs))
print("%-18s %12.1f %18.3f" % ("all", sum(cpu_ms.values()) * 1000 / rpcs,
                                 sum(switches.values()) / rpcs))
PY
