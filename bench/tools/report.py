#!/usr/bin/python3
"""Turns bench/run.sh's raw results into docs/performance.md and docs/perf/*.png.

    report.py --results build-bench/bench-results --root .

Reads the JSON each tool wrote (one file per step), the exact command lines
(commands.tsv), machine.json and meta/*.json; prints the results table; writes
the Markdown page and gnuplot plots of latency against load. Targets are
evaluated here and reported (met / missed), never asserted.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

KIB = 1024.0


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Results:
    def __init__(self, d):
        self.d = d
        self.machine = load(os.path.join(d, "machine.json")) or {}
        self.meta = {}
        for p in glob.glob(os.path.join(d, "meta", "*.json")):
            self.meta[os.path.basename(p)[:-5]] = load(p) or {}
        self.commands = []
        try:
            for line in open(os.path.join(d, "commands.tsv")):
                step, _, cmd = line.rstrip("\n").partition("\t")
                self.commands.append((step, cmd))
        except OSError:
            pass

    def j(self, name):
        return load(os.path.join(self.d, name + ".json"))

    def rounds(self, name):
        """Every round of a repeated step (NAME_r1, NAME_r2, ...), or NAME itself."""
        found = []
        for i in range(1, 100):
            x = self.j("%s_r%d" % (name, i))
            if x is None:
                break
            found.append(x)
        if not found and self.j(name):
            found.append(self.j(name))
        return found

    def median(self, name, key="rpcs_per_s"):
        """The round whose `key` is the median (the lower one of an even count)."""
        runs = sorted((x for x in self.rounds(name) if x.get(key)), key=lambda x: x[key])
        return runs[(len(runs) - 1) // 2] if runs else None

    def not_run(self, scenario):
        return self.meta.get(scenario, {}).get("not_run")

    def cmds(self, prefix):
        return [c for s, c in self.commands if s.startswith(prefix)]


def ms(us, digits=2):
    return "—" if us is None else ("%.*f" % (digits, us / 1000.0))


def pct(summary, key):
    if not summary or not summary.get("count"):
        return None
    return summary.get(key)


def fmt(v, digits=0):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{}f}".format(v, digits)


def yes_no(ok):
    return "—" if ok is None else ("**yes**" if ok else "**no**")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def code_block(lines):
    if not lines:
        return ""
    return "```sh\n" + "\n".join(lines) + "\n```\n"


# ------------------------------------------------------------------ scenarios

def answered(x):
    if "answered_before_end" not in x or not x.get("calls_total"):
        return "—"
    return "%.0f %%" % (100.0 * x["answered_before_end"] / x["calls_total"])


def scenario_a(r):
    rows, details, summary = [], [], []
    if r.not_run("a"):
        summary.append(("a", "StartCall + EndCall on sandbox", "not run: " + r.not_run("a"),
                        "", "", "≥ 0.5 × reference", "—"))
        return summary, ""
    spread = []
    for c in (16, 64):
        # Medians of the interleaved rounds (bench/run.sh): single samples of
        # either server swing by a third on a shared VM.
        v, ref = r.median("a_voipd_c%d" % c), r.median("a_ref_c%d" % c)
        vq = v and v.get("rpcs_per_s")
        rq = ref and ref.get("rpcs_per_s")
        ratio = vq / rq if vq and rq else None
        summary.append(("a", "closed loop, %d in flight: RPC/s (StartCall + EndCall), median of %d "
                        "rounds" % (c, len(r.rounds("a_voipd_c%d" % c))),
                        fmt(vq), fmt(rq) + " (bare unary)", fmt(ratio, 2) if ratio else "—",
                        "≥ 0.5 × reference", yes_no(ratio >= 0.5 if ratio else None)))
        vr, rr = r.rounds("a_voipd_c%d" % c), r.rounds("a_ref_c%d" % c)
        if len(vr) > 1 and len(vr) == len(rr):
            spread.append((
                "closed %d" % c,
                " / ".join(fmt(x.get("rpcs_per_s")) for x in vr),
                " / ".join(fmt(x.get("rpcs_per_s")) for x in rr),
                " / ".join(fmt(a.get("rpcs_per_s", 0) / b["rpcs_per_s"], 2) if b.get("rpcs_per_s")
                           else "—" for a, b in zip(vr, rr)),
                " / ".join(fmt(x.get("server", {}).get("cpu_us_per_rpc"), 1) for x in vr),
                " / ".join(fmt(x.get("server", {}).get("cpu_us_per_rpc"), 1) for x in rr)))
        for name, x in (("voipd", v), ("reference", ref)):
            if not x:
                continue
            s = x.get("server", {})
            rows.append((name, "closed %d (median round)" % c, fmt(x.get("calls_per_s")),
                         fmt(x.get("rpcs_per_s")), answered(x),
                         ms(pct(x["start_us"], "p50")), ms(pct(x["start_us"], "p99")),
                         ms(pct(x["end_us"], "p50")), ms(pct(x["end_us"], "p99")),
                         fmt(s.get("cores"), 2), fmt(s.get("cpu_us_per_rpc"), 1),
                         fmt(sum(x.get("errors", {}).values()))))
    for c in (16, 64):
        x = r.j("a_voipd_history_c%d" % c)
        if not x:
            continue
        s = x.get("server", {})
        rows.append(("voipd + history", "closed %d" % c, fmt(x.get("calls_per_s")),
                     fmt(x.get("rpcs_per_s")), answered(x),
                     ms(pct(x["start_us"], "p50")), ms(pct(x["start_us"], "p99")),
                     ms(pct(x["end_us"], "p50")), ms(pct(x["end_us"], "p99")),
                     fmt(s.get("cores"), 2), fmt(s.get("cpu_us_per_rpc"), 1),
                     fmt(sum(x.get("errors", {}).values()))))
    sweep = []
    for f in (10, 25, 50, 75, 90):
        v, ref = r.j("a_voipd_open%d" % f), r.j("a_ref_open%d" % f)
        if v:
            sweep.append((f, v, ref))
            for name, x in (("voipd", v), ("reference", ref)):
                if not x:
                    continue
                s = x.get("server", {})
                rows.append((name, "open %d %% (%s/s)" % (f, fmt(x.get("rate"))),
                             fmt(x.get("calls_per_s")), fmt(x.get("rpcs_per_s")), answered(x),
                             ms(pct(x["start_us"], "p50")), ms(pct(x["start_us"], "p99")),
                             ms(pct(x["end_us"], "p50")), ms(pct(x["end_us"], "p99")),
                             fmt(s.get("cores"), 2), fmt(s.get("cpu_us_per_rpc"), 1),
                             fmt(sum(x.get("errors", {}).values()))))
    half = r.j("a_voipd_open50")
    href = r.j("a_ref_open50")
    p99 = pct(half["start_us"], "p99") if half else None
    summary.append(("a", "p99 StartCall at half of voipd's max (%s calls/s, open loop)"
                    % fmt(half.get("rate") if half else None),
                    ms(p99) + " ms", (ms(pct(href["start_us"], "p99")) + " ms") if href else "—", "—",
                    "< 2 ms", yes_no(p99 < 2000 if p99 is not None else None)))
    out = ["### a. StartCall + EndCall on the sandbox\n",
           "voipd runs `bench/configs/sandbox-fast.yaml` (sandbox, `time_scale: 10000`: rings "
           "30 µs and answers 130 µs after StartCall; default `log_level: info`). The reference is "
           "`bench-reference-server`: the same gRPC/protobuf build and the same request/response "
           "messages, with a handler that does nothing. A *call* is StartCall, then EndCall as "
           "soon as StartCall returns (two RPCs; the reference does two `Unary` calls); "
           "*answered* is the share of calls voipd had already answered when EndCall ended them. "
           "Closed loop first, in rounds: the reference and voipd take turns (who goes first "
           "alternates), and each figure is the median round, because one short sample of "
           "either server swings by a third on this shared VM. The open-loop sweep then offers "
           "10–90 % of voipd's best median closed-loop rate to both servers, latency measured "
           "from the intended send time. All bench processes use voipd's Abseil mutex setting "
           "(deadlock detection off; gRPC's own locks are Abseil mutexes). Client and server "
           "share the machine; the client uses 2 TCP connections for both servers. "
           "*voipd + history* is the same closed loop with `--state-dir` (SQLite history, "
           "`synchronous: full`; docs/history.md): StartCall never waits for the disk, EndCall "
           "answers once its terminal event's batch is committed.\n",
           md_table(("server", "load", "calls/s", "RPC/s", "answered", "StartCall p50 ms", "p99 ms",
                     "EndCall p50 ms", "p99 ms", "server cores", "server CPU µs/RPC", "errors"),
                    rows), "",
           "![StartCall latency against load](perf/a_latency.png)\n"]
    if spread:
        out += ["Every closed-loop round, in the order run (the two servers take turns, who goes "
                "first alternating between rounds; the table above and the summary use the "
                "median round of each):\n",
                md_table(("load", "voipd RPC/s", "reference RPC/s", "ratio", "voipd CPU µs/RPC",
                          "reference CPU µs/RPC"), spread), ""]
    states = []
    for f, v, _ in sweep:
        t = v.get("time_to_state_us", {})
        row = ["%d %%" % f]
        for st in ("CALL_STATUS_INITIATING", "CALL_STATUS_RINGING", "CALL_STATUS_CONNECTED",
                   "CALL_STATUS_DISCONNECTED"):
            s = t.get(st)
            row.append("%s / %s" % (ms(pct(s, "p50")), ms(pct(s, "p99"))) if s else "—")
        states.append(row)
    if states:
        out += ["Time from StartCall (intended send) to each state arriving on a "
                "`SubscribeCallEvents` stream, every 20th call, p50 / p99 ms (a call EndCall "
                "ended before it was answered has no CONNECTED):\n",
                md_table(("load", "INITIATING", "RINGING", "CONNECTED", "DISCONNECTED"), states), ""]
    out += ["Commands:\n", code_block(r.cmds("a_"))]
    return summary, "\n".join(out)


def plot_a(r, perf_dir, gp):
    pts = []
    for f in (10, 25, 50, 75, 90):
        v, ref = r.j("a_voipd_open%d" % f), r.j("a_ref_open%d" % f)
        if v:
            pts.append((v["rate"], pct(v["start_us"], "p50"), pct(v["start_us"], "p99"),
                        pct(ref["start_us"], "p50") if ref else None,
                        pct(ref["start_us"], "p99") if ref else None))
    if not pts:
        return
    dat = os.path.join(perf_dir, "a_latency.dat")
    with open(dat, "w") as f:
        f.write("# offered_calls_per_s voipd_p50_ms voipd_p99_ms ref_p50_ms ref_p99_ms\n")
        for p in pts:
            f.write(" ".join("NaN" if x is None else ("%g" % (x / 1000.0 if i else x))
                             for i, x in enumerate(p)) + "\n")
    gp.append(("a_latency.png", "StartCall latency against offered load (open loop)",
               "offered load (calls/s, StartCall + EndCall)", "latency (ms)", dat,
               [(2, "voipd p50"), (3, "voipd p99"), (4, "bare gRPC unary p50"),
                (5, "bare gRPC unary p99")], True))


def scenario_d(r):
    summary, rows = [], []
    if r.not_run("d"):
        summary.append(("d", "fan-out to 1,000 subscribers", "not run: " + r.not_run("d"),
                        "", "", "100 %, p99 < 50 ms", "—"))
        return summary, ""
    for target in ("voipd", "reference"):
        for rate in (10, 20, 40, 80):
            x = r.j("d_%s_r%d" % (target, rate))
            if not x:
                continue
            s = x.get("server", {})
            pub = x.get("publisher", {})
            rows.append((target, fmt(x.get("publish_rate"), 1), fmt(x.get("deliveries_per_s")),
                         fmt(x.get("delivered_pct"), 2), fmt(x.get("gaps")), fmt(x.get("drops")),
                         ms(pct(x.get("latency_us"), "p50")), ms(pct(x.get("latency_us"), "p99")),
                         ms(pct(x.get("latency_us"), "max")), fmt(s.get("cores"), 2),
                         ms(pct(pub.get("start_us"), "p50")) if target == "voipd" else "—",
                         ", ".join("%s %s" % (k, v) for k, v in x.get("streams_ended_early", {}).items()) or "—"))
    v, ref = r.j("d_voipd_r20"), r.j("d_reference_r20")
    vd = v and v.get("delivered_pct")
    rd = ref and ref.get("delivered_pct")
    summary.append(("d", "1,000 subscribers, 20 events/s × 1,000 = 20,000 deliveries/s: delivered",
                    fmt(vd, 2) + " %" if vd is not None else "—",
                    fmt(rd, 2) + " %" if rd is not None else "—", "—", "100 %",
                    yes_no(vd == 100.0 and v.get("gaps") == 0 if vd is not None else None)))
    vp = pct(v.get("latency_us"), "p99") if v else None
    rp = pct(ref.get("latency_us"), "p99") if ref else None
    summary.append(("d", "… p99 delivery latency (receive time − CallEvent.time)",
                    ms(vp, 1) + " ms", (ms(rp, 1) + " ms (bare streaming)") if rp is not None else "—",
                    fmt(vp / rp, 2) if vp and rp else "—", "< 50 ms",
                    yes_no(vp < 50000 if vp is not None else None)))
    iv, ir = r.j("d_voipd_idle"), r.j("d_reference_idle")
    idle_rows = []
    for name, x in (("voipd", iv), ("reference", ir)):
        if x and x.get("server"):
            s = x["server"]
            idle_rows.append((name, fmt(x.get("streams_live")), fmt(s["rss_kb_before_streams"] / KIB, 1),
                              fmt(s["rss_kb"] / KIB, 1), fmt(s["rss_kb_per_stream"], 1),
                              fmt(x.get("open_s"), 1)))
    vm = iv["server"]["rss_kb"] / KIB if iv and iv.get("server") else None
    rm = ir["server"]["rss_kb"] / KIB if ir and ir.get("server") else None
    live_ok = iv and iv.get("streams_live") == 10000
    summary.append(("d", "10,000 idle subscribers: server RSS",
                    (fmt(vm, 1) + " MiB") if vm else "—", (fmt(rm, 1) + " MiB") if rm else "—",
                    fmt(vm / rm, 2) if vm and rm else "—", "< 250 MB",
                    yes_no(vm < 250 * 1e6 / 2**20 and live_ok if vm else None)))
    out = ["### d. Fan-out\n",
           "Each of 1,000 `SubscribeCallEvents` streams (over 10 connections) receives every event. "
           "voipd's events come from sandbox calls placed open-loop by the swarm itself "
           "(4 events per call: INITIATING, RINGING, CONNECTED, DISCONNECTED; `time_scale: 10000`, "
           "hold 0.1 s), so 20 events/s × 1,000 subscribers = the target's 20,000 events/s in "
           "total. The reference server publishes the same `CallEvent` payload to a plain "
           "one-queue-per-stream fan-out. Latency = receive time − `CallEvent.time` (one clock). "
           "The measured range is fenced by probe events; a drop is an event of that range a "
           "stream never got, a gap a jump in its sequence.\n",
           md_table(("server", "events/s", "deliveries/s", "delivered %", "gaps", "drops",
                     "p50 ms", "p99 ms", "max ms", "server cores", "StartCall p50 ms",
                     "streams ended early"), rows), "",
           "![Delivery latency against load](perf/d_latency.png)\n"]
    if idle_rows:
        out += ["Idle subscribers (10,000 streams over 20 connections, each proven live by a "
                "probe event; RSS read 2 s later):\n",
                md_table(("server", "live streams", "RSS before MiB", "RSS with streams MiB",
                          "KiB per stream", "open s"), idle_rows), ""]
    out += ["Commands:\n", code_block(r.cmds("d_"))]
    return summary, "\n".join(out)


def plot_d(r, perf_dir, gp):
    rows = []
    for rate in (10, 20, 40, 80):
        v, ref = r.j("d_voipd_r%d" % rate), r.j("d_reference_r%d" % rate)
        if v or ref:
            rows.append((rate * 1000,
                         pct(v.get("latency_us"), "p50") if v else None,
                         pct(v.get("latency_us"), "p99") if v else None,
                         pct(ref.get("latency_us"), "p50") if ref else None,
                         pct(ref.get("latency_us"), "p99") if ref else None))
    if not rows:
        return
    dat = os.path.join(perf_dir, "d_latency.dat")
    with open(dat, "w") as f:
        f.write("# deliveries_per_s voipd_p50_ms voipd_p99_ms ref_p50_ms ref_p99_ms\n")
        for p in rows:
            f.write(" ".join("NaN" if x is None else ("%g" % (x / 1000.0 if i else x))
                             for i, x in enumerate(p)) + "\n")
    gp.append(("d_latency.png", "Fan-out to 1,000 subscribers: delivery latency against load",
               "deliveries/s (events/s × 1,000 subscribers)", "latency (ms)", dat,
               [(2, "voipd p50"), (3, "voipd p99"), (4, "bare gRPC streaming p50"),
                (5, "bare gRPC streaming p99")], True))


SIP_STEP_COLUMNS = ("calls/s", "calls", "failed", "StartCall p50 ms", "p99 ms",
                    "to CONNECTED p50 ms", "p99 ms", "voipd cores", "voipd CPU µs/call", "errors")


def sip_steps(r, prefix):
    """Rows of one voipd rate search (PREFIX_rN.json + PREFIX_uas_rN.json) and its best rate."""
    rows, best = [], None
    for p in sorted(glob.glob(os.path.join(r.d, prefix + "_r*.json")),
                    key=lambda p: int(re.search(r"_r(\d+)", p).group(1))):
        x = load(p)
        if not x:
            continue
        uas = r.j(os.path.basename(p)[:-5].replace(prefix + "_r", prefix + "_uas_r")) or {}
        t = x.get("time_to_state_us", {})
        con = t.get("CALL_STATUS_CONNECTED")
        s = x.get("server", {})
        # The same call may fail on both sides: count the larger of the two.
        failed = max(x.get("failed_total", 0), uas.get("FailedCall(C)") or 0)
        rows.append((fmt(x.get("rate")), fmt(x.get("calls_total")), fmt(failed),
                     ms(pct(x["start_us"], "p50")), ms(pct(x["start_us"], "p99")),
                     ms(pct(con, "p50")), ms(pct(con, "p99")), fmt(s.get("cores"), 2),
                     fmt(s.get("cpu_us_per_call"), 0),
                     ", ".join("%s %s" % (k, v) for k, v in x.get("errors", {}).items()) or "—"))
        if failed == 0 and x.get("calls_total"):
            best = max(best or 0, x.get("calls_per_s") or x.get("rate"))
    return rows, best


def scenario_b(r):
    summary = []
    out = ["### b. StartCall through `sip` to a SIPp UAS (5 s hold, BYE)\n"]
    if r.not_run("b"):
        summary.append(("b", "SIP calls/s with 0 failures", "not run: " + r.not_run("b"), "", "",
                        "≥ 0.5 × reference, 0 failed", "—"))
        return summary, "\n".join(out + ["not run: " + r.not_run("b") + "\n"])
    ref_rows, ref_best, ref_last_ok = [], None, False
    for p in sorted(glob.glob(os.path.join(r.d, "b_ref_r*.json")),
                    key=lambda p: int(re.search(r"_r(\d+)", p).group(1))):
        x = load(p)
        if not x:
            continue
        uas = r.j(os.path.basename(p)[:-5].replace("b_ref_r", "b_ref_uas_r")) or {}
        ok = x.get("exit_code") == 0 and x.get("FailedCall(C)") == 0
        created_s = max(x.get("wall_s", 0) - x.get("hold_s", 0), 1e-9)
        achieved = x.get("SuccessfulCall(C)", 0) / created_s
        ref_rows.append((fmt(x.get("rate")), fmt(x.get("TotalCallCreated")),
                         fmt(x.get("SuccessfulCall(C)")), fmt(x.get("FailedCall(C)")),
                         fmt(uas.get("FailedCall(C)")), fmt(achieved), fmt(x.get("exit_code"))))
        if ok:
            ref_best = max(ref_best or 0, min(achieved, x.get("rate")))
        ref_last_ok = ok
    v_rows, v_best = sip_steps(r, "b_voipd")
    list_rows, list_best = sip_steps(r, "b_list")
    ratio = v_best / ref_best if v_best and ref_best else None
    vtxt = fmt(v_best) if v_best else ("not run: " + r.not_run("b_voipd") if r.not_run("b_voipd") else "—")
    summary.append(("b", "max SIP calls/s with 0 failed calls (INVITE…5 s…BYE)", vtxt,
                    # SIPp passed every step: its maximum is at least this.
                    (("≥ " if ref_last_ok else "") + fmt(ref_best) + " (SIPp UAC → UAS)")
                    if ref_best else "—",
                    fmt(ratio, 2) if ratio else "—", "≥ 0.5 × reference, 0 failed",
                    yes_no(ratio >= 0.5 if ratio else None)))
    out += ["The reference is SIPp's built-in `uac` against its built-in `uas` (INVITE, 180, 200, "
            "ACK, 5 s pause, BYE, 200), stepping the rate up until a step has a failed call. "
            "*achieved* = successful calls / (wall time − hold). The highest step the rate search "
            "reached bounds the figure from below: on 2 shared cores SIPp itself is the limit.\n",
            md_table(("target calls/s", "created", "successful", "failed (UAC)", "failed (UAS)",
                      "achieved calls/s", "exit"), ref_rows) if ref_rows else "(no reference steps ran)",
            ""]
    if v_rows:
        out += ["voipd: `voipd-loadgen` open loop → voipd (`bench/configs/sip-load.yaml.in`, "
                "`media: none`) → SIPp `uas`; EndCall 5 s after StartCall returns. A call counts as "
                "failed if any RPC fails, it was never answered, it ended other than DISCONNECTED, "
                "or SIPp's UAS counted it failed. The search stops at the first step with a failure. "
                "libre's timers run on voipd's heap (`adapters/sip/libre_timers.h`), so the cost per "
                "call does not depend on how many SIP timers are running.\n",
                md_table(SIP_STEP_COLUMNS, v_rows), "",
                "![SIP StartCall latency against load](perf/b_latency.png)\n"]
        if list_rows:
            out += ["The same build with libre's own sorted timer list (`VOIPD_LIBRE_TIMERS=list`), "
                    "for comparison (best: %s calls/s):\n" % (fmt(list_best) if list_best else "none"),
                    md_table(SIP_STEP_COLUMNS, list_rows), ""]
    elif r.not_run("b_voipd"):
        out += ["voipd: not run: %s\n" % r.not_run("b_voipd")]
    out += ["Commands:\n", code_block(r.cmds("b_"))]
    return summary, "\n".join(out)


def plot_b(r, perf_dir, gp):
    rows = []
    for p in sorted(glob.glob(os.path.join(r.d, "b_voipd_r*.json")),
                    key=lambda p: int(re.search(r"_r(\d+)", p).group(1))):
        x = load(p)
        if not x:
            continue
        con = x.get("time_to_state_us", {}).get("CALL_STATUS_CONNECTED")
        rows.append((x["rate"], pct(x["start_us"], "p50"), pct(x["start_us"], "p99"),
                     pct(con, "p50"), pct(con, "p99")))
    if not rows:
        return
    dat = os.path.join(perf_dir, "b_latency.dat")
    with open(dat, "w") as f:
        f.write("# calls_per_s start_p50_ms start_p99_ms connected_p50_ms connected_p99_ms\n")
        for p in rows:
            f.write(" ".join("NaN" if x is None else ("%g" % (x / 1000.0 if i else x))
                             for i, x in enumerate(p)) + "\n")
    gp.append(("b_latency.png", "SIP calls through voipd to SIPp: latency against load",
               "offered load (calls/s, 5 s hold)", "latency (ms)", dat,
               [(2, "StartCall p50"), (3, "StartCall p99"), (4, "to CONNECTED p50"),
                (5, "to CONNECTED p99")], True))


def scenario_c(r):
    summary = []
    out = ["### c. Established SIP calls\n"]
    if r.not_run("c"):
        summary.append(("c", "established SIP calls", "not run: " + r.not_run("c"), "", "",
                        "≤ 10 KiB/call; < 0.5 core", "—"))
        return summary, "\n".join(out + ["not run: " + r.not_run("c") + "\n"])
    x = r.j("c_nomedia")
    calls = r.meta.get("c", {}).get("nomedia_calls")
    if x and x.get("server"):
        s = x["server"]
        total = x.get("calls_total", 0)
        failed = x.get("failed_total", 0)
        per = (s["rss_kb_end"] - s["rss_kb_start"]) / max(total, 1)
        if failed == 0 and total:
            value, met = fmt(per, 1) + " KiB", yes_no(per <= 10)
        else:
            value, met = "n/a: %s of %s calls failed" % (fmt(failed), fmt(total)), yes_no(False)
        summary.append(("c", "RSS per established call, media none (%s calls up at once)" % fmt(calls),
                        value, "—", "—", "≤ 10 KiB", met))
        out += ["`media: none`; %s calls placed at %s calls/s and held until all are up; RSS read "
                "before the first call and when the last one is up.\n" % (fmt(calls), fmt(x.get("rate"))),
                md_table(("calls", "failed", "RSS before MiB", "RSS with calls MiB", "KiB per call",
                          "StartCall p99 ms", "errors"),
                         [(fmt(x.get("calls_total")), fmt(x.get("failed_total")),
                           fmt(s["rss_kb_start"] / KIB, 1), fmt(s["rss_kb_end"] / KIB, 1),
                           fmt(per, 1) if failed == 0 else "—",
                           ms(pct(x["start_us"], "p99")),
                           ", ".join("%s %s" % (k, v) for k, v in x.get("errors", {}).items()) or "—")]),
                ""]
    else:
        summary.append(("c", "RSS per established call, media none", "no result", "—", "—",
                        "≤ 10 KiB", "—"))
    y = r.j("c_media")
    if y and y.get("server"):
        s = y["server"]
        summary.append(("c", "CPU with 1,000 G.711 calls (RTP both ways)",
                        fmt(s["cores"], 3) + " core", "—", "—", "< 0.5 core",
                        yes_no(s["cores"] < 0.5 and y.get("failed_total") == 0)))
        out += ["Media on: 1,000 calls (250/s for 4 s), PCMU 20 ms packets to a SIPp UAS that "
                "echoes them back (`-rtp_echo`); voipd's CPU measured over %s s while all are up.\n"
                % fmt(s.get("sample_window_s"), 1),
                md_table(("calls", "failed", "voipd cores", "RSS MiB", "errors"),
                         [(fmt(y.get("calls_total")), fmt(y.get("failed_total")), fmt(s["cores"], 3),
                           fmt(s["rss_kb_end"] / KIB, 1),
                           ", ".join("%s %s" % (k, v) for k, v in y.get("errors", {}).items()) or "—")]),
                ""]
    else:
        summary.append(("c", "CPU with 1,000 G.711 calls", "no result", "—", "—", "< 0.5 core", "—"))
    out += ["Commands:\n", code_block(r.cmds("c_"))]
    return summary, "\n".join(out)


def scenario_e(r):
    out = ["### e. AMI parser\n"]
    if r.not_run("e"):
        return ([("e", "AMI parser on a replayed capture", "not run: " + r.not_run("e"), "", "",
                  "≥ 200 MB/s", "—")], "\n".join(out + ["not run: " + r.not_run("e") + "\n"]))
    x = r.j("e_ami_parser")
    if not x:
        return [("e", "AMI parser", "no result", "", "", "≥ 200 MB/s", "—")], "\n".join(out)
    rows, best4k = [], None
    for b in x.get("benchmarks", []):
        mbs = b.get("bytes_per_second", 0) / 1e6
        rows.append((b["name"], fmt(mbs, 1), fmt(b.get("messages_per_s")),
                     fmt(b.get("parse_errors")), fmt(b.get("real_time"), 2)))
        if b["name"].endswith("/4096"):
            best4k = mbs
    out += ["`bench/fixtures/ami_server_stream.txt` is the server side of the 22 recorded Asterisk "
            "22 AMI sessions (903 messages, 314 KB), replayed 32 times in one stream and fed to "
            "`AmiParser::Feed` in read-sized chunks; one thread.\n",
            md_table(("benchmark (chunk bytes)", "MB/s", "messages/s", "parse errors",
                      "ms per 10 MB pass"), rows), "",
            "Commands:\n", code_block(r.cmds("e_"))]
    return ([("e", "AMI parser, replayed capture, 4 KiB reads, one core", fmt(best4k, 0) + " MB/s",
              "—", "—", "≥ 200 MB/s", yes_no(best4k >= 200 if best4k else None))], "\n".join(out))


def scenario_f(r):
    out = ["### f. Idle daemon\n"]
    if r.not_run("f"):
        return ([("f", "idle daemon", "not run: " + r.not_run("f"), "", "", "", "—")],
                "\n".join(out))
    x = r.j("f_startup")
    if not x or "ready_ms_median" not in x:
        return [("f", "idle daemon", "no result", "", "", "", "—")], "\n".join(out)
    rows = [(q["run"], fmt(q.get("ready_ms"), 1), fmt(q.get("rss_kb_idle", 0) / KIB, 1),
             fmt(q.get("rss_anon_kb_idle", 0) / KIB, 1), fmt(q.get("rss_file_kb_idle", 0) / KIB, 1),
             fmt(q.get("threads")), fmt(q.get("stop_ms"), 0), q.get("error", "—")) for q in x["runs"]]
    rm = x["rss_kb_idle_median"] / KIB
    summary = [("f", "time to ready (fork → ready file, median of %d)" % len(x["runs"]),
                "%s ms (max %s)" % (fmt(x["ready_ms_median"], 1), fmt(x["ready_ms_max"], 1)),
                "—", "—", "< 100 ms", yes_no(x["ready_ms_median"] < 100)),
               ("f", "idle RSS after %g s" % x.get("idle_s", 0),
                "%s MiB (%s MB)" % (fmt(rm, 1), fmt(x["rss_kb_idle_median"] * 1024 / 1e6, 1)), "—", "—",
                "< 30 MB", yes_no(x["rss_kb_idle_median"] * 1024 < 30e6))]
    out += ["`voipd-startup` starts voipd on `bench/configs/sandbox-default.yaml` (the embedded "
            "default's sandbox, port 0), polls for the `--ready-file` every 0.1 ms, reads "
            "`/proc/PID/status` after the idle time, then sends SIGTERM. RSS is judged in "
            "decimal MB (the stricter reading of the target).\n",
            md_table(("run", "ready ms", "idle RSS MiB", "of which anonymous", "of which files",
                      "threads", "SIGTERM → exit ms", "error"), rows),
            "", "Commands:\n", code_block(r.cmds("f_"))]
    return summary, "\n".join(out)


# ------------------------------------------------------------------ output

def gnuplot(perf_dir, plots):
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed: no plots."
    for png, title, xl, yl, dat, series, logy in plots:
        script = ["set terminal pngcairo size 900,540 font 'sans,10'",
                  "set output '%s'" % os.path.join(perf_dir, png),
                  "set title \"%s\"" % title, "set xlabel \"%s\"" % xl, "set ylabel \"%s\"" % yl,
                  "set grid", "set key top left", "set datafile missing 'NaN'"]
        if logy:
            script.append("set logscale y")
        styles = ["lc rgb '#1f77b4' dt 2", "lc rgb '#1f77b4' dt 1", "lc rgb '#d62728' dt 2",
                  "lc rgb '#d62728' dt 1"]
        parts = ["'%s' using 1:%d with linespoints lw 2 pt 7 %s title \"%s\""
                 % (dat, col, styles[i % 4], name) for i, (col, name) in enumerate(series)]
        script.append("plot " + ", ".join(parts))
        p = subprocess.run(["gnuplot"], input="\n".join(script), text=True, capture_output=True,
                           timeout=30)
        if p.returncode != 0:
            sys.stderr.write("gnuplot failed for %s: %s\n" % (png, p.stderr))
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--root")
    ap.add_argument("--best-median-calls", nargs="+", metavar="STEP",
                    help="print the highest median calls/s of these repeated steps and exit "
                         "(bench/run.sh sizes a's open-loop sweep with it)")
    args = ap.parse_args()
    r = Results(args.results)
    if args.best_median_calls:
        best = [r.median(n, "calls_per_s") for n in args.best_median_calls]
        print(max((x["calls_per_s"] for x in best if x), default=0))
        return
    if not args.root:
        ap.error("--root is required")
    perf_dir = os.path.join(args.root, "docs", "perf")
    os.makedirs(perf_dir, exist_ok=True)
    for old in glob.glob(os.path.join(perf_dir, "*.png")) + glob.glob(os.path.join(perf_dir, "*.dat")):
        os.remove(old)

    sections, summary = [], []
    for fn in (scenario_a, scenario_b, scenario_c, scenario_d, scenario_e, scenario_f):
        s, text = fn(r)
        summary += s
        sections.append(text)
    plots = []
    plot_a(r, perf_dir, plots)
    plot_b(r, perf_dir, plots)
    plot_d(r, perf_dir, plots)
    plot_note = gnuplot(perf_dir, plots)

    m = r.machine
    run = r.meta.get("run", {})
    nproc = m.get("nproc") or 1
    try:
        busy = float(m.get("loadavg_before", "0").split()[0]) > 0.5 * nproc
    except ValueError:
        busy = False
    head = ["# voipd performance",
            "",
            "_Written by `bench/run.sh` (%s); do not edit by hand. Re-run it to refresh every "
            "figure and plot. The analysis in \"Where the time goes\" comes from "
            "`bench/performance-notes.md`._" % m.get("date_utc", "?"),
            "",
            "## Machine and run",
            "",
            md_table(("nproc", "CPU", "memory", "kernel", "load average before", "after",
                      "gRPC", "SIPp", "commit", "run time"),
                     [(m.get("nproc"), m.get("model_name"), "%s MiB" % fmt(m.get("mem_mb")),
                       m.get("kernel"), m.get("loadavg_before"), run.get("loadavg_after", "?"),
                       m.get("grpc"), m.get("sipp"),
                       "%s%s" % (m.get("git"), " + %d changed files" % m["git_dirty_files"]
                                 if m.get("git_dirty_files") else ""),
                       "%s s of measurements (+ build %s s)" % (run.get("bench_s", "?"), m.get("build_s", "?")))]),
            ""]
    loads = ["%s: %s" % (k, v["loadavg_start"]) for k, v in sorted(r.meta.items())
             if isinstance(v, dict) and "loadavg_start" in v]
    if loads:
        head += ["Load average (1/5/15 min) at the start of each scenario: " + "; ".join(loads) + ".", ""]
    if busy:
        head += ["> **Noisy run.** The load average before the run was %s on %d cores: other work "
                 "shared the CPUs, so absolute figures are low and jittery. Same-run ratios "
                 "(voipd / reference) are the meaningful numbers; rerun on a quiet machine for "
                 "the record." % (m.get("loadavg_before"), nproc), ""]
    if m.get("quick"):
        head += ["> **Quick run** (`--quick`): shorter windows and fewer load steps.", ""]
    head += ["## Results", "",
             md_table(("#", "scenario", "voipd", "reference (same run)", "ratio", "target", "met"),
                      summary), ""]
    if plot_note:
        head += [plot_note, ""]
    notes_path = os.path.join(args.root, "bench", "performance-notes.md")
    notes = open(notes_path).read() if os.path.exists(notes_path) else ""
    how = ["## How to run", "",
           "```sh",
           "bench/run.sh            # build (build-bench/, Release, -j2), then measure everything (≤ 10 min), write this page",
           "bench/run.sh --quick    # shorter smoke run",
           "bench/run.sh --no-build --only \"a d\"   # some scenarios with the binaries already built",
           "```", "",
           "Raw JSON of every step: `build-bench/bench-results/` (`$OUT` in the commands below). "
           "The tools (`build-bench/bench/`): `voipd-loadgen` (open/closed-loop StartCall + EndCall, "
           "latencies, time to each streamed state, error codes), `voipd-swarm` (S subscribers "
           "over K connections: delivery latency, gaps, drops; idle memory), `voipd-startup`, "
           "`bench-reference-server` (bare gRPC unary and streaming), `ami-parser-bench` "
           "(Google Benchmark). Each prints `--help`.", ""]
    doc = "\n".join(head) + "\n## Scenarios\n\n" + "\n".join(sections) + "\n" + notes + "\n" + "\n".join(how)
    with open(os.path.join(args.root, "docs", "performance.md"), "w") as f:
        f.write(doc)

    # The table on stdout.
    w = [3, 62, 22, 30, 6, 28, 7]
    print()
    print("  ".join(h.ljust(x) for h, x in zip(("#", "scenario", "voipd", "reference", "ratio",
                                                 "target", "met"), w)))
    for row in summary:
        print("  ".join(str(c).replace("**", "")[:x + 20].ljust(x) for c, x in zip(row, w)))
    print("\nload average before %s, after %s; docs/performance.md written"
          % (m.get("loadavg_before"), run.get("loadavg_after", "?")))


if __name__ == "__main__":
    main()
