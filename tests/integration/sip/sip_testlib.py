"""Shared pieces of the sip adapter's integration tests.

Every test runs the real voipd (tests/integration/harness/voipd_harness.py)
with a `sip` system pointing at a far end on 127.0.0.1: SIPp (Debian
sip-tester) playing a UAS scenario from scenarios/, baresip, or Kamailio. The
test drives voipd over gRPC and checks the streamed call states, the far
end's verdict (SIPp exits 0 only when its scenario passed) and voipd's
per-call media log line ("media PCMU rx=N tx=M packets").

Nothing is skipped: a missing tool is an error. Every wait has a deadline.
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import duration_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SCENARIOS = os.path.join(HERE, "scenarios")
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "harness"))

import voipd_harness  # noqa: E402
import voipd_protos  # noqa: E402
from call_stream import Stream  # noqa: E402,F401

P = voipd_protos.load()
pb = P.voip_service_pb2
cpb = P.call_pb2
epb = P.errors_pb2

S = cpb
TERMINAL = {S.CALL_STATUS_DISCONNECTED, S.CALL_STATUS_FAILED, S.CALL_STATUS_BUSY,
            S.CALL_STATUS_UNAVAILABLE}
RPC_TIMEOUT = 10
WAIT = 10
SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def status_name(s):
    return S.CallStatus.Name(s)


def code_name(c):
    return epb.ErrorCode.Name(c)


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def free_port_pair():
    """An even port whose successor is free too (RTP + RTCP)."""
    for _ in range(200):
        port = free_port()
        if port % 2 or port > 65000:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port pair")


def free_port_range(count, first=40000, last=44999):
    """An even port P such that P .. P+count-1 are all free for UDP on
    127.0.0.1 right now (a small rtp_ports range of the test's own)."""
    for base in range(first, last - count + 2, count + count % 2):
        if not any(port_in_use(port, tcp=False) for port in range(base, base + count)):
            return base
    raise RuntimeError("no %d free UDP ports in %d-%d" % (count, first, last))


def udp_ports_of(pid, host="127.0.0.1"):
    """The local ports of the UDP sockets process `pid` holds on `host`
    (IPv4): its socket inodes (/proc/PID/fd) looked up in /proc/PID/net/udp."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    want = "%08X" % int.from_bytes(socket.inet_aton(host), "little")
    ports = set()
    with open("/proc/%d/net/udp" % pid) as f:
        next(f)  # header
        for line in f:
            fields = line.split()
            addr, port = fields[1].split(":")
            if addr == want and fields[9] in inodes:
                ports.add(int(port, 16))
    return ports


def port_in_use(port, tcp, host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def wait_until(fn, what, timeout=WAIT, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def sip_messages(trace, method, received=True):
    """The messages of a SIPp -trace_msg log (Sipp.messages()) whose start
    line is a `method` request (e.g. "INVITE"), in order: those SIPp
    received (sent by voipd), or with received=False those SIPp sent."""
    direction = "received" if received else "sent"
    found = []
    for entry in re.split(r"^-{20,}[^\n]*\n", trace, flags=re.M):
        head, _, message = entry.partition("\n")
        if direction in head and message.lstrip().startswith(method + " "):
            found.append(message.lstrip())
    return found


def sip_message(trace, method, received=True):
    """The first of sip_messages(); an AssertionError when there is none."""
    found = sip_messages(trace, method, received)
    if not found:
        raise AssertionError("no %s request in the trace:\n%s" % (method, trace[-3000:]))
    return found[0]


class Sipp:
    """One SIPp UAS running `scenario` (a file in scenarios/) for `calls` calls.

    `keys` become -key NAME VALUE (scenario [NAME] keywords). SIPp's media
    port (-mp) is always a fresh free port; the scenarios advertise
    [rtp_port], which is that port unless `rtp_port` is given. Their Contact
    is sip:sipp@[contact]: SIPp's own address unless `contact` is given (a
    relay in front of SIPp puts its own there). With `remote` ("host:port",
    voipd's SIP address) SIPp is the UAC and calls there."""

    def __init__(self, scenario, transport="u1", keys=None, rtp_echo=False, rtp_port=None,
                 calls=1, timeout=30, port=None, contact=None, trace=True, host="127.0.0.1",
                 remote=None):
        self.host = host
        self.remote = remote
        self.scenario = os.path.join(SCENARIOS, scenario)
        if not os.path.exists(self.scenario):
            raise RuntimeError("no scenario %s" % self.scenario)
        self.transport = transport
        self.port = port or free_port()
        self.media_port = free_port_pair()
        self.keys = {
            "rtp_port": str(rtp_port or self.media_port),
            "contact": contact or "%s;transport=%s" % (
                self.addr, "tcp" if transport.startswith("t") else "udp"),
        }
        self.keys.update({k: str(v) for k, v in (keys or {}).items()})
        self.rtp_echo = rtp_echo
        self.trace = trace  # -trace_msg: every message to a file (slow under load)
        self.calls = calls
        self.timeout = timeout
        self.dir = tempfile.mkdtemp(prefix="sipp-")
        self.proc = None

    @property
    def addr(self):
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    def start(self):
        if not os.access(SIPP, os.X_OK):
            raise RuntimeError("sipp not found (install Debian sip-tester)")
        args = [SIPP] + ([self.remote] if self.remote else [])
        args += ["-sf", self.scenario, "-i", self.host, "-p", str(self.port),
                 "-t", self.transport, "-m", str(self.calls), "-timeout", "%ds" % self.timeout,
                 "-timeout_error", "-nostdin", "-trace_err", "-buff_size", "4194304",
                 "-mi", self.host, "-mp", str(self.media_port)]
        if self.trace:
            args.append("-trace_msg")
        if self.rtp_echo:
            args.append("-rtp_echo")
        for k, v in self.keys.items():
            args += ["-key", k, v]
        self._out = open(os.path.join(self.dir, "stdout.txt"), "wb")
        self.proc = subprocess.Popen(args, cwd=self.dir, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        tcp = self.transport.startswith("t")
        wait_until(lambda: self.proc.poll() is not None or port_in_use(self.port, tcp, self.host),
                   "sipp to listen on %d" % self.port, timeout=5)
        if self.proc.poll() is not None:
            raise RuntimeError("sipp exited at once (%s):\n%s" % (self.proc.returncode, self.report()))
        return self

    def wait(self, timeout=None):
        """SIPp's exit code (0: every call passed its scenario)."""
        try:
            return self.proc.wait(timeout or self.timeout + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sipp did not finish:\n%s" % self.report())

    def messages(self):
        """Every SIP message SIPp sent or received (-trace_msg)."""
        text = ""
        for path in glob.glob(os.path.join(self.dir, "*_messages.log")):
            with open(path, "rb") as f:
                text += f.read().decode("utf-8", "replace")
        return text

    def report(self):
        """SIPp's error log and message trace, for assertion messages."""
        text = []
        for pattern in ("*_errors.log", "*_messages.log", "stdout.txt"):
            for path in glob.glob(os.path.join(self.dir, pattern)):
                with open(path, "rb") as f:
                    data = f.read().decode("utf-8", "replace")
                text.append("--- %s ---\n%s" % (os.path.basename(path), data[-6000:]))
        return "\n".join(text)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self._out.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def sip_system(server, **settings):
    """One `systems:` entry of type sip, on loopback."""
    system = {"type": "sip", "server": server, "local_address": "127.0.0.1",
              "response_timeout": "3s", "ring_timeout": "20s"}
    system.update(settings)
    return system


def daemon_config(systems, default=None):
    """voipd.yaml text; JSON is a subset of YAML flow style."""
    return "\n".join([
        'listen: ["127.0.0.1:0"]',
        "default_region: US",
        "default_system: %s" % (default or next(iter(systems))),
        "systems: %s" % json.dumps(systems),
        "",
    ])


class SipTestCase(unittest.TestCase):
    """A fresh voipd per test (start_voipd), torn down with its far ends."""

    def start_voipd(self, systems, default=None):
        binary = os.environ.get("VOIPD_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("VOIPD_BIN must name the voipd binary (got %r)" % binary)
        self.voipd = voipd_harness.Voipd(config_text=daemon_config(systems, default))
        self.voipd.start()
        self.addCleanup(self._stop_voipd)
        self.channel = grpc.insecure_channel(self.voipd.addr)
        self.stub = P.voip_service_pb2_grpc.VoipServiceStub(self.channel)
        return self.voipd

    def _stop_voipd(self):
        self.channel.close()
        try:
            rc = self.voipd.stop()
        finally:
            log = self.voipd.log()
            self.voipd._log.close()
            self.voipd.tmp.cleanup()
        if rc not in (0, None):
            raise AssertionError("voipd exited with %s on SIGTERM:\n%s" % (rc, log[-4000:]))

    def sipp(self, scenario, **kwargs):
        s = Sipp(scenario, **kwargs)
        self.addCleanup(s.stop)
        return s.start()

    def assertSippPassed(self, sipp, timeout=None):
        rc = sipp.wait(timeout)
        self.assertEqual(rc, 0, "sipp failed (%s):\n%s\n--- voipd ---\n%s"
                         % (rc, sipp.report(), self.voipd.log()[-4000:]))

    # --- gRPC helpers -----------------------------------------------------

    def start_call(self, number="+12015550100", system="", ring_timeout=None, **fields):
        req = pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=number),
                                  preferred_system=system, **fields)
        if ring_timeout is not None:
            req.ring_timeout.CopyFrom(duration_pb2.Duration(
                seconds=int(ring_timeout), nanos=int((ring_timeout % 1) * 1e9)))
        return self.stub.StartCall(req, timeout=RPC_TIMEOUT)

    def watch(self, session_id):
        s = Stream(self.stub.WatchCall(pb.WatchCallRequest(session_id=session_id), timeout=90))
        self.addCleanup(s.cancel)
        return s

    def wait_status(self, stream, status, timeout=WAIT):
        return stream.wait_for(
            lambda evs: next((e for e in evs if e.session.status == status), None),
            status_name(status), timeout)

    def wait_terminal(self, stream, timeout=WAIT):
        return stream.wait_for(
            lambda evs: next((e for e in evs if e.session.status in TERMINAL), None),
            "a terminal status", timeout)

    def history(self, session_id, timeout=WAIT):
        """Every status the call went through, replayed from the event window
        (SubscribeCallEvents after_sequence=0) up to its terminal event."""
        req = pb.SubscribeCallEventsRequest(filter=pb.CallEventFilter(session_id=session_id),
                                            after_sequence=0)
        s = Stream(self.stub.SubscribeCallEvents(req, timeout=60))
        try:
            s.wait_for(lambda evs: any(e.session.status in TERMINAL for e in evs),
                       "the terminal event of %s" % session_id, timeout)
            statuses = []
            for e in s.events:
                if e.type == cpb.CALL_EVENT_TYPE_STATUS_CHANGED:
                    statuses.append(e.session.status)
            return statuses, s.events[-1].session
        finally:
            s.cancel()

    def call_connect_and_end(self):
        """Starts a call to the default number, waits until it connects, ends
        it and waits for its end (the far end's scenario checks the rest)."""
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.end_call(call.session_id)
        return self.wait_terminal(watch)

    def end_call(self, session_id):
        return self.stub.EndCall(pb.EndCallRequest(session_id=session_id), timeout=RPC_TIMEOUT)

    def hold(self, session_id, on):
        return self.stub.Hold(pb.HoldRequest(session_id=session_id, hold=on), timeout=RPC_TIMEOUT)

    def mute(self, session_id, on):
        return self.stub.Mute(pb.MuteRequest(session_id=session_id, mute=on), timeout=RPC_TIMEOUT)

    def get(self, session_id):
        return self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session_id),
                                       timeout=RPC_TIMEOUT)

    def capabilities(self, name):
        resp = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        for system in resp.systems:
            if system.name == name:
                return system
        raise AssertionError("no system %s in %s" % (name, resp))

    def assertRpcError(self, fn, error_code):
        with self.assertRaises(grpc.RpcError) as ctx:
            fn()
        err = P.voip_error(ctx.exception)
        self.assertIsNotNone(err, "no VoipError in %s" % ctx.exception)
        self.assertEqual(code_name(err.error_code), code_name(error_code), err)
        return err

    def assertHistory(self, session_id, expected):
        statuses, final = self.history(session_id)
        self.assertEqual([status_name(s) for s in statuses], [status_name(s) for s in expected],
                         "voipd log:\n%s" % self.voipd.log()[-3000:])
        return final

    def media_stats(self, call_id, timeout=5):
        """(rx, tx) RTP packet counts voipd logged when the call ended."""
        pattern = re.compile(r"call %s\b.*? ended: .*; media (\w+) rx=(\d+) tx=(\d+) packets"
                             % re.escape(call_id))
        m = wait_until(lambda: pattern.search(self.voipd.log()), "the media line of %s" % call_id,
                       timeout)
        return int(m.group(2)), int(m.group(3)), m.group(1)


class RtpPeer:
    """A far-end RTP socket: records what voipd sends (payload type and
    payload per packet) and echoes every packet back so that voipd counts
    received media too."""

    def __init__(self, echo=True):
        self.port = free_port_pair()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.1)
        self.echo = echo
        self.packets = []  # (monotonic time, payload type, payload bytes)
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data, src = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            with self._lock:
                self.packets.append((time.monotonic(), data[1] & 0x7F, data[12:]))
            if self.echo:
                self.sock.sendto(data, src)

    def since(self, t):
        with self._lock:
            return [p for p in self.packets if p[0] >= t]

    def collect(self, seconds):
        """Packets that arrive during the next `seconds`."""
        start = time.monotonic()
        time.sleep(seconds)
        return self.since(start)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def write_tone_wav(path, seconds=1.0, hz=440, rate=8000):
    """An 8 kHz mono 16-bit PCM sine tone."""
    import math
    import struct
    import wave
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return path
