#!/usr/bin/env bash
# bench/run.sh: issue 4's benchmark harness, end to end; the measurements take at most
# 10 minutes (~6 typically), after an incremental build.
#
# Builds the harness (build-bench/, -DVOIPD_BUILD_BENCH=ON, Release, ninja -j2),
# then runs, each next to its same-run reference:
#   f  idle daemon: time to ready, idle RSS
#   a  StartCall+EndCall on the sandbox, closed loop 16/64, open-loop sweep  | bare gRPC unary
#   d  1,000 subscribers fan-out (sweep), 10,000 idle subscribers          | bare gRPC streaming
#   b  StartCall through `sip` to a SIPp UAS, 5 s hold, BYE                  | SIPp UAC -> SIPp UAS
#   c  10,000 established SIP calls (media none), 1,000 with G.711 media
#   e  the asterisk-ami parser on a replayed capture (Google Benchmark)
# and writes docs/performance.md (machine, load average, exact commands,
# results, targets) and docs/perf/*.png (gnuplot). Raw JSON stays in
# build-bench/bench-results/. Timings are reported, never asserted.
#
# Usage: bench/run.sh [--quick] [--no-build] [--only "f a d b c e"]
#   --quick     shorter windows (a smoke run, ~3 min; numbers are rougher)
#   --no-build  use the binaries already in build-bench/
# Environment: BENCH_BUILD_DIR, BENCH_BUDGET_S (default 600: the measurements,
# typically ~6 min, stop starting new steps when it runs out), BENCH_BUILD_LIMIT_S
# (default 1200: the incremental build before them, seconds when nothing changed).
# Traffic stays on 127.0.0.1. Every process it starts is bounded by `timeout`
# and stopped by its pid at exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
OUT=$BUILD/bench-results
BUDGET_S=${BENCH_BUDGET_S:-600}
QUICK=0
DO_BUILD=1
ONLY="f a d b c e"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-build) DO_BUILD=0 ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

T_START=$(date +%s)
DEADLINE=$((T_START + ${BENCH_BUILD_LIMIT_S:-1200}))  # the build; reset after it
PY=/usr/bin/python3
BIN=$BUILD/bench
VOIPD=$BUILD/daemon/voipd
CFG=$ROOT/bench/configs
declare -a STARTED=()   # pids of the servers this script started

log() { printf '[%4ds] %s\n' $(( $(date +%s) - T_START )) "$*" >&2; }
remaining() { echo $(( DEADLINE - $(date +%s) )); }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }

# Scenario bookkeeping: meta/<scenario>.json notes (not run: reason, load average).
note() {  # note SCENARIO KEY VALUE(json)
  mkdir -p "$OUT/meta"
  $PY - "$OUT/meta/$1.json" "$2" "$3" <<'EOF'
import json, os, sys
path, key, value = sys.argv[1:]
data = json.load(open(path)) if os.path.exists(path) else {}
data[key] = json.loads(value)
json.dump(data, open(path, "w"), indent=2)
EOF
}
not_run() {  # not_run SCENARIO REASON
  log "not run: $1: $2"
  echo "not run: $1: $2"
  note "$1" not_run "$($PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$2")"
}
scenario_start() { note "$1" loadavg_start "\"$(loadavg)\""; log "scenario $1 (load average $(loadavg); $(remaining) s left)"; }
need() {  # need SCENARIO SECONDS: enough budget left?
  if (( $(remaining) < $2 )); then not_run "$1" "time budget (needs ~$2 s, $(remaining) s left)"; return 1; fi
}

# The exact command lines, for docs/performance.md.
record() {  # record STEP CMD...
  local step=$1 line="" a
  shift
  for a in "$@"; do line+="$(printf '%q' "$a") "; done
  line=${line//$OUT/\$OUT}      # raw results: $OUT = build-bench/bench-results
  line=${line//\\\$OUT/\$OUT}
  line=${line//$ROOT\//}        # paths relative to the repository root
  printf '%s\t%s\n' "$step" "${line% }" >> "$OUT/commands.tsv"
}
# run_json STEP TIMEOUT CMD...: runs CMD (bounded), its stdout is $OUT/STEP.json.
run_json() {
  local step=$1 limit=$2; shift 2
  record "$step" "$@"
  timeout -k 5 "$limit" "$@" > "$OUT/$step.json" 2> "$OUT/$step.err"
  local rc=$?
  if [[ $rc -ne 0 ]]; then log "$step exited $rc (see $OUT/$step.err)"; fi
  return $rc
}
jget() { $PY -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1" "$2" 2>/dev/null; }

# start_server NAME CMD...: starts a server that writes --ready-file (appended
# here); sets SRV_ADDR, SRV_PID (the server itself) and SRV_WRAP (its timeout).
start_server() {
  local name=$1; shift
  local ready=$OUT/$name.ready
  rm -f "$ready"
  timeout -k 5 "$(remaining)" "$@" --ready-file "$ready" 2> "$OUT/$name.log" > /dev/null &
  SRV_WRAP=$!
  STARTED+=("$SRV_WRAP")
  local i
  for i in $(seq 1 200); do
    [[ -s $ready ]] && break
    if ! kill -0 "$SRV_WRAP" 2>/dev/null; then log "$name exited during start-up"; return 1; fi
    sleep 0.05
  done
  [[ -s $ready ]] || { log "$name: no ready file after 10 s"; return 1; }
  SRV_ADDR=$(jget "$ready" listen.0)
  SRV_PID=$(jget "$ready" pid)
  record "$name" "$@" --ready-file "\$OUT/$name.ready"
}
# stop PID: SIGTERM (timeout passes it on), then SIGKILL after 15 s.
stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }; sleep 0.1; done
  log "pid $pid did not stop within 15 s of SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do kill -0 "$pid" 2>/dev/null && stop "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_udp_port() {
  $PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wants() { [[ " $ONLY " == *" $1 "* ]]; }

# ---------------------------------------------------------------- setup
missing=()
command -v gnuplot > /dev/null || missing+=(gnuplot-nox)
command -v sipp > /dev/null || missing+=(sip-tester)
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    log "installing ${missing[*]}"
    apt-get update -qq > /dev/null 2>&1
    apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" > /dev/null 2>&1 \
      || log "apt-get install ${missing[*]} failed"
  else
    log "missing ${missing[*]} (run as root to install them)"
  fi
fi
if [[ $DO_BUILD -eq 1 ]]; then
  log "building in $BUILD (ninja -j2)"
  mkdir -p "$BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DVOIPD_BUILD_BENCH=ON -DVOIPD_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release > "$BUILD/bench-cmake.log" 2>&1 || { cat "$BUILD/bench-cmake.log" >&2; exit 1; }
  timeout "$(remaining)" ninja -C "$BUILD" -j2 voipd voipd-loadgen voipd-swarm voipd-startup \
    bench-reference-server > "$BUILD/bench-ninja.log" 2>&1 || { tail -30 "$BUILD/bench-ninja.log" >&2; exit 1; }
  # Optional targets: the AMI parser benchmark exists only with that adapter.
  if ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q '^bench/ami-parser-bench:'; then
    timeout "$(remaining)" ninja -C "$BUILD" -j2 bench/ami-parser-bench >> "$BUILD/bench-ninja.log" 2>&1 \
      || log "ami-parser-bench did not build"
  fi
fi
for b in "$VOIPD" "$BIN/voipd-loadgen" "$BIN/voipd-swarm" "$BIN/voipd-startup" "$BIN/bench-reference-server"; do
  [[ -x $b ]] || { echo "missing $b: build first" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
T_BENCH=$(date +%s)
DEADLINE=$((T_BENCH + BUDGET_S))   # the measurements get the whole budget
log "results in $OUT"

# Machine and run facts.
$PY - "$OUT/machine.json" "$QUICK" "$(loadavg)" "$((T_BENCH - T_START))" "$ROOT" <<'EOF'
import json, os, platform, subprocess, sys, datetime
path, quick, load, build_s, root = sys.argv[1:]
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "?"
json.dump({
    "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
    "nproc": os.cpu_count(), "model_name": model, "mem_mb": mem,
    "kernel": platform.release(), "loadavg_before": load,
    "git": run("git", "-C", root, "rev-parse", "--short", "HEAD"),
    "git_dirty_files": len([l for l in run("git", "-C", root, "status", "--porcelain").splitlines() if l]),
    "grpc": run("dpkg-query", "-W", "-f", "${Version}", "libgrpc++1.51"),
    "sipp": run("sh", "-c", "sipp -v 2>&1 | grep -o 'v3[^ ]*' | head -1"),
    "quick": quick == "1", "build_s": int(build_s),
}, open(path, "w"), indent=2)
EOF

if [[ $QUICK -eq 1 ]]; then W=2; SW=3; STEP=2; A_ROUNDS=1; A_W=2; else W=4; SW=8; STEP=3; A_ROUNDS=5; A_W=3; fi

# ---------------------------------------------------------------- f: idle daemon
if wants f && need f 30; then
  scenario_start f
  run_json f_startup 60 "$BIN/voipd-startup" --voipd "$VOIPD" --config "$CFG/sandbox-default.yaml" \
    --runs 5 --idle 2 --dir "$OUT" --log "$OUT/f_voipd.log"
fi

# ---------------------------------------------------------------- a: StartCall + EndCall
if wants a && need a 130; then
  scenario_start a
  if start_server a_reference "$BIN/bench-reference-server"; then
    REF_ADDR=$SRV_ADDR REF_PID=$SRV_PID REF_WRAP=$SRV_WRAP
  fi
  if start_server a_voipd "$VOIPD" --config "$CFG/sandbox-fast.yaml"; then
    # Closed loop in interleaved rounds (the reference and voipd take turns,
    # who goes first alternating): one 4 s sample of either swings by a third
    # on this shared VM, so the report compares the medians of the rounds.
    for round in $(seq "$A_ROUNDS"); do
      for c in 16 64; do
        order="ref voipd"; (( round % 2 == 0 )) && order="voipd ref"
        for who in $order; do
          if [[ $who == ref && -n ${REF_ADDR:-} ]]; then
            run_json "a_ref_c${c}_r$round" 60 "$BIN/voipd-loadgen" --target reference \
              --addr "$REF_ADDR" --server-pid "$REF_PID" --concurrency $c --warmup 1 --duration $A_W
          elif [[ $who == voipd ]]; then
            run_json "a_voipd_c${c}_r$round" 60 "$BIN/voipd-loadgen" --target voipd \
              --addr "$SRV_ADDR" --server-pid "$SRV_PID" --concurrency $c --warmup 1 --duration $A_W
          fi
        done
      done
    done
    MAX=$($PY "$ROOT/bench/tools/report.py" --results "$OUT" --best-median-calls a_voipd_c16 a_voipd_c64 \
          2>/dev/null || echo 0)
    # Open-loop sweep at fractions of voipd's best closed-loop rate: latency
    # against load, with the streamed states of every 20th call.
    note a voipd_max_calls_per_s "${MAX:-0}"
    if [[ ${MAX%.*} -gt 0 ]]; then
      for f in 10 25 50 75 90; do
        rate=$($PY -c "print(round($MAX*$f/100, 1))")
        run_json "a_voipd_open$f" 60 "$BIN/voipd-loadgen" --target voipd --addr "$SRV_ADDR" \
          --server-pid "$SRV_PID" --rate "$rate" --warmup 1 --duration $STEP --watch-every 20
        if [[ -n ${REF_ADDR:-} ]]; then
          run_json "a_ref_open$f" 60 "$BIN/voipd-loadgen" --target reference --addr "$REF_ADDR" \
            --server-pid "$REF_PID" --rate "$rate" --warmup 1 --duration $STEP
        fi
      done
    fi
    stop "$SRV_WRAP"
  fi
  # The same closed loop with durable history on (docs/history.md): what the
  # SQLite journal costs StartCall/EndCall (EndCall waits for its batch).
  rm -rf "$OUT/a_state"
  if start_server a_voipd_history "$VOIPD" --config "$CFG/sandbox-fast.yaml" --state-dir "$OUT/a_state"; then
    for c in 16 64; do
      run_json "a_voipd_history_c$c" 60 "$BIN/voipd-loadgen" --target voipd --addr "$SRV_ADDR" \
        --server-pid "$SRV_PID" --concurrency $c --warmup 1 --duration $W
    done
    stop "$SRV_WRAP"
  fi
  rm -rf "$OUT/a_state"
  [[ -n ${REF_WRAP:-} ]] && stop "$REF_WRAP"
  unset REF_ADDR REF_PID REF_WRAP
fi

# ---------------------------------------------------------------- d: fan-out
if wants d && need d 90; then
  scenario_start d
  # Events/s published; each reaches all 1,000 subscribers (20 -> 20,000 deliveries/s).
  if [[ $QUICK -eq 1 ]]; then RATES="20 80"; else RATES="10 20 40 80"; fi
  for target in reference voipd; do
    if [[ $target == reference ]]; then
      start_server d_reference "$BIN/bench-reference-server" || continue
    else
      start_server d_voipd "$VOIPD" --config "$CFG/sandbox-fast.yaml" || continue
    fi
    for r in $RATES; do
      dur=$STEP; [[ $r == 20 ]] && dur=$SW
      run_json "d_${target}_r$r" 90 "$BIN/voipd-swarm" --mode fanout --target $target \
        --addr "$SRV_ADDR" --server-pid "$SRV_PID" --subscribers 1000 --connections 10 \
        --event-rate $r --duration $dur --call-hold 0.1
    done
    stop "$SRV_WRAP"
    # Idle memory on a fresh server.
    if [[ $target == reference ]]; then
      start_server d_reference_idle "$BIN/bench-reference-server" || continue
    else
      start_server d_voipd_idle "$VOIPD" --config "$CFG/sandbox-fast.yaml" || continue
    fi
    run_json "d_${target}_idle" 90 "$BIN/voipd-swarm" --mode idle --target $target \
      --addr "$SRV_ADDR" --server-pid "$SRV_PID" --subscribers 10000 --connections 20 --hold 1
    stop "$SRV_WRAP"
  done
fi

# ---------------------------------------------------------------- b: SIP
HAVE_SIP=0
if "$VOIPD" --check-config --config <(printf 'listen: ["127.0.0.1:0"]\nsystems:\n  t: {type: sip, server: "127.0.0.1:5060", local_address: 127.0.0.1, media: none}\n') > /dev/null 2>&1; then
  HAVE_SIP=1
fi
SIPP_ARGS=(-i 127.0.0.1 -buff_size 4194304 -nostdin)
HOLD_MS=5000
# sipp_uas NAME PORT [extra sipp args]: starts a SIPp UAS (bounded); sets UAS_WRAP.
sipp_uas() {
  local name=$1 port=$2; shift 2
  local args=("${SIPP_ARGS[@]}" -p "$port" -trace_stat -stf "$OUT/$name.csv" -fd 1 "$@")
  record "$name" sipp "${args[@]}"
  ( cd "$OUT" && exec timeout -k 5 "$(remaining)" sipp "${args[@]}" > /dev/null 2> "$OUT/$name.log" ) &
  UAS_WRAP=$!
  STARTED+=("$UAS_WRAP")
  sleep 0.3
}
# sip_rate_search NAME "RATES" [PREFIX...]: voipd (sip-load.yaml, started
# through PREFIX, e.g. `env VAR=value`) against a SIPp UAS, stepping up the
# open-loop rate until a step has a failed call; sets SEARCH_BEST to the last
# clean rate (empty: none).
sip_rate_search() {
  local name=$1 rates=$2 r failed uas_failed
  shift 2
  SEARCH_BEST=
  start_server "$name" "$@" "$VOIPD" --config "$OUT/sip-load.yaml" || return 1
  for r in $rates; do
    (( $(remaining) > 120 )) || break
    sipp_uas "${name}_uas_r$r" "$port" -sn uas
    run_json "${name}_r$r" 120 "$BIN/voipd-loadgen" --target voipd --addr "$SRV_ADDR" \
      --server-pid "$SRV_PID" --rate "$r" --hold 5 --warmup 0 --duration $STEP \
      --require-connected --watch-every 20 --connections 2
    sleep 1.2; stop "$UAS_WRAP"
    $PY "$ROOT/bench/tools/sipp_stats.py" "$OUT/${name}_uas_r$r.csv" > "$OUT/${name}_uas_r$r.json" 2>/dev/null
    failed=$(jget "$OUT/${name}_r$r.json" failed_total || echo 1)
    uas_failed=$(jget "$OUT/${name}_uas_r$r.json" 'FailedCall(C)' || echo 0)
    [[ $failed == 0 && $uas_failed == 0 ]] || break
    SEARCH_BEST=$r
  done
  stop "$SRV_WRAP"
}
if wants b; then
  if ! command -v sipp > /dev/null; then
    not_run b "sipp is not installed"
  elif need b 120; then
    scenario_start b
    # Reference: SIPp UAC -> SIPp UAS (INVITE/180/200/ACK, 5 s hold, BYE): the
    # highest rate at which every call succeeds.
    if [[ $QUICK -eq 1 ]]; then RATES="1000 4000"; else RATES="1000 2000 4000 8000 10000 12000 14000 16000 18000 20000 22000 24000"; fi
    for r in $RATES; do
      (( $(remaining) > 150 )) || break
      port=$(free_udp_port); cport=$(free_udp_port)
      sipp_uas "b_ref_uas_r$r" "$port" -sn uas
      n=$((r * STEP))
      args=(127.0.0.1:$port -sn uac "${SIPP_ARGS[@]}" -p "$cport" -r "$r" -m "$n" -d $HOLD_MS
            -timeout 60 -timeout_error -trace_stat -stf "$OUT/b_ref_uac_r$r.csv" -fd 1)
      record "b_ref_uac_r$r" sipp "${args[@]}"
      t0=$(now)
      ( cd "$OUT" && timeout -k 5 90 sipp "${args[@]}" > /dev/null 2> "$OUT/b_ref_uac_r$r.log" )
      rc=$?
      t1=$(now)
      sleep 1.2; stop "$UAS_WRAP"
      $PY "$ROOT/bench/tools/sipp_stats.py" "$OUT/b_ref_uac_r$r.csv" rate=$r exit_code=$rc \
        wall_s="$($PY -c "print($t1-$t0)")" hold_s=$((HOLD_MS / 1000)) > "$OUT/b_ref_r$r.json" 2>/dev/null
      $PY "$ROOT/bench/tools/sipp_stats.py" "$OUT/b_ref_uas_r$r.csv" > "$OUT/b_ref_uas_r$r.json" 2>/dev/null
      [[ $rc -eq 0 ]] || break
    done
    if [[ $HAVE_SIP -eq 0 ]]; then
      not_run b_voipd "the sip adapter is not in this build (or rejects bench/configs/sip-load.yaml.in)"
    else
      port=$(free_udp_port)
      sed "s/@UAS_PORT@/$port/" "$CFG/sip-load.yaml.in" > "$OUT/sip-load.yaml"
      if [[ $QUICK -eq 1 ]]; then RATES="1000 3000"; else RATES="500 1000 2000 3000 4000 5000 6000 7000 8000 9000 10000"; fi
      sip_rate_search b_voipd "$RATES" && B_BEST=$SEARCH_BEST
      [[ -n $B_BEST ]] || unset B_BEST
      # The same build on libre's own sorted timer list, for comparison
      # (adapters/sip/libre_timers.h): two steps around where it used to fail.
      if [[ $QUICK -eq 0 ]]; then
        sip_rate_search b_list "1500 2500" env VOIPD_LIBRE_TIMERS=list
      fi
    fi
  fi
fi

# ---------------------------------------------------------------- c: established SIP calls
if wants c; then
  if [[ $HAVE_SIP -eq 0 ]]; then
    not_run c "the sip adapter is not in this build (or rejects bench/configs/sip-load.yaml.in)"
  elif ! command -v sipp > /dev/null; then
    not_run c "sipp is not installed"
  elif need c 90; then
    scenario_start c
    # c1: 10,000 calls up at once, media none: RSS per call at the plateau.
    # Placed at 500/s (or b's best rate if lower), well below b's maximum: this
    # ramp measures memory, and 20 s of it keep the CPU free for the samples.
    CALLS=10000; RATE=500; (( ${B_BEST:-500} < RATE )) && RATE=$B_BEST
    [[ $QUICK -eq 1 ]] && CALLS=3000
    RAMP=$(( (CALLS + RATE - 1) / RATE ))
    port=$(free_udp_port)
    sed "s/@UAS_PORT@/$port/" "$CFG/sip-load.yaml.in" > "$OUT/sip-load.yaml"
    if start_server c_voipd_nomedia "$VOIPD" --config "$OUT/sip-load.yaml"; then
      sipp_uas c_nomedia_uas "$port" -sn uas
      run_json c_nomedia 120 "$BIN/voipd-loadgen" --target voipd --addr "$SRV_ADDR" \
        --server-pid "$SRV_PID" --rate $RATE --max-calls $CALLS --warmup 0 --duration $RAMP \
        --hold $((RAMP + 4)) \
        --require-connected --connections 2 --sample-from 0 --sample-for $((RAMP + 2))
      sleep 1.2; stop "$UAS_WRAP"
      stop "$SRV_WRAP"
      note c nomedia_calls $CALLS
    fi
    # c2: 1,000 calls with G.711 media (20 ms packets, echoed back by SIPp):
    # voipd's CPU on the plateau.
    port=$(free_udp_port); mport=$(free_udp_port)
    sed "s/@UAS_PORT@/$port/" "$CFG/sip-media.yaml.in" > "$OUT/sip-media.yaml"
    if start_server c_voipd_media "$VOIPD" --config "$OUT/sip-media.yaml"; then
      sipp_uas c_media_uas "$port" -sf "$ROOT/bench/sip/uas_answer_media.xml" \
        -mi 127.0.0.1 -mp "$mport" -rtp_echo
      run_json c_media 120 "$BIN/voipd-loadgen" --target voipd --addr "$SRV_ADDR" \
        --server-pid "$SRV_PID" --rate 250 --warmup 0 --duration 4 --hold 12 \
        --require-connected --connections 2 --sample-from 6 --sample-for 8
      sleep 1.2; stop "$UAS_WRAP"
      stop "$SRV_WRAP"
    fi
  fi
fi

# ---------------------------------------------------------------- e: AMI parser
if wants e; then
  if [[ ! -x $BIN/ami-parser-bench ]]; then
    not_run e "the asterisk-ami adapter (voipd_ami_parser) is not in this build"
  elif need e 30; then
    scenario_start e
    record e_ami_parser "$BIN/ami-parser-bench" --benchmark_min_time=1 \
      --benchmark_out="\$OUT/e_ami_parser.json" --benchmark_out_format=json
    timeout -k 5 60 "$BIN/ami-parser-bench" --benchmark_min_time=1 \
      --benchmark_out="$OUT/e_ami_parser.json" --benchmark_out_format=json > "$OUT/e_ami_parser.txt" 2>&1 \
      || log "ami-parser-bench failed"
  fi
fi

# ---------------------------------------------------------------- report
note run loadavg_after "\"$(loadavg)\""
note run bench_s "$(( $(date +%s) - T_BENCH ))"
note run total_s "$(( $(date +%s) - T_START ))"
log "writing docs/performance.md"
$PY "$ROOT/bench/tools/report.py" --results "$OUT" --root "$ROOT"
log "done in $(( $(date +%s) - T_START )) s"
