"""Shared helpers of the durable-history integration tests (issue 8).

Every test drives the real voipd binary over loopback with a state directory
(`--state-dir`), so calls and events go to state_dir/voipd.db. Waits are
deadline polls, never fixed sleeps; nothing is skipped (a missing binary or
tool is an error).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "harness"))

import voipd_harness  # noqa: E402
import voipd_protos  # noqa: E402
from call_stream import Stream, poll  # noqa: E402,F401

P = voipd_protos.load([os.path.join(REPO, "tests", "integration", "python", "protos")],
                      ["health_check.proto"])
pb = P.voip_service_pb2
cpb = P.call_pb2
epb = P.errors_pb2
health_pb2 = P.modules["health_check_pb2"]
health_pb2_grpc = P.modules["health_check_pb2_grpc"]

TERMINAL = {cpb.CALL_STATUS_DISCONNECTED, cpb.CALL_STATUS_FAILED, cpb.CALL_STATUS_BUSY,
            cpb.CALL_STATUS_UNAVAILABLE}
RPC_TIMEOUT = 15
WAIT = 20

ANSWERS = "+12015550100"
BUSY = "+12015550101"
NO_ANSWER = "+12015550102"
PROVIDER_FAILURE = "+12015550103"
REMOTE_HANGUP = "+12015550104"
NETWORK_FAILURE = "+12015550105"

BASE_CONFIG = """\
listen: ["127.0.0.1:0"]
default_region: US
default_system: sandbox
systems:
  sandbox: {{ type: sandbox, time_scale: 20{sandbox_extra} }}
  other: {{ type: sandbox, time_scale: 20 }}
events: {{ window: 10000 }}
{extra}"""


def config(extra="", sandbox_extra=""):
    return BASE_CONFIG.format(extra=extra, sandbox_extra=sandbox_extra)


def status_name(s):
    return cpb.CallStatus.Name(s)


def type_name(t):
    return cpb.CallEventType.Name(t)


def code_name(c):
    return epb.ErrorCode.Name(c)


def source_name(s):
    return cpb.HangupSource.Name(s)


def describe(events, limit=60):
    lines = ["  #%d %s %s %s->%s" % (e.sequence, e.session.session_id[:8], type_name(e.type),
                                    status_name(e.previous_status), status_name(e.session.status))
             for e in events]
    if len(lines) > limit:
        lines = lines[:limit // 2] + ["  ..."] + lines[-limit // 2:]
    return "\n".join(lines)


def check_binaries():
    for var in ("VOIPD_BIN",):
        binary = os.environ.get(var)
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("%s must name the binary (got %r)" % (var, binary))


def schema_v1_ddl():
    """kSchemaV1 as written in daemon/history/history_schema.cc."""
    with open(os.path.join(REPO, "daemon", "history", "history_schema.cc")) as f:
        text = f.read()
    m = re.search(r'kSchemaV1\[\]\s*=\s*R"sql\((.*?)\)sql"', text, re.S)
    if not m:
        raise AssertionError("kSchemaV1 not found in daemon/history/history_schema.cc")
    return m.group(1)


class Daemon:
    """One voipd run: the harness process plus a channel and stubs."""

    def __init__(self, state_dir, config_text, cmd_prefix=(), extra_args=()):
        # state_dir None: no --state-dir flag (the config or $STATE_DIRECTORY decides).
        flag = ["--state-dir", state_dir] if state_dir is not None else []
        self.v = voipd_harness.Voipd(config_text=config_text, extra_args=flag + list(extra_args),
                                     cmd_prefix=cmd_prefix)
        self.channel = None
        self.stub = None
        self.health = None
        self.streams = []

    def start(self, timeout=30):
        self.v.start(timeout=timeout)
        self.channel = grpc.insecure_channel(self.v.addr)
        self.stub = P.voip_service_pb2_grpc.VoipServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        return self

    @property
    def pid(self):
        return self.v.proc.pid

    def log(self):
        return self.v.log()

    def close_streams(self):
        for s in self.streams:
            s.cancel()
        self.streams = []

    def kill9(self):
        self.close_streams()
        if self.channel:
            self.channel.close()
        self.v.proc.send_signal(signal.SIGKILL)
        self.v.proc.wait(10)

    def stop(self):
        """SIGTERM; returns the exit code."""
        self.close_streams()
        if self.channel:
            self.channel.close()
        return self.v.stop()

    def cleanup(self):
        try:
            self.close_streams()
            if self.v.proc is not None and self.v.proc.poll() is None:
                self.v.proc.kill()
                self.v.proc.wait(10)
        finally:
            if getattr(self.v, "_log", None):
                self.v._log.close()
            self.v.tmp.cleanup()

    # --- RPC helpers --------------------------------------------------------

    def subscribe(self, after_sequence=None, **filter_fields):
        req = pb.SubscribeCallEventsRequest(filter=pb.CallEventFilter(**filter_fields))
        if after_sequence is not None:
            req.after_sequence = after_sequence
        s = Stream(self.stub.SubscribeCallEvents(req, timeout=300))
        self.streams.append(s)
        return s

    def start_call(self, number, labels=None, request_id=None, **fields):
        req = pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=number), labels=labels or {},
                                  request_id=request_id or uuid.uuid4().hex, **fields)
        return self.stub.StartCall(req, timeout=RPC_TIMEOUT)

    def start_request(self, number, labels, request_id):
        return pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=number), labels=labels,
                                   request_id=request_id)

    def end(self, session_id):
        return self.stub.EndCall(pb.EndCallRequest(session_id=session_id), timeout=RPC_TIMEOUT)

    def get(self, session_id):
        return self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session_id),
                                       timeout=RPC_TIMEOUT)

    def inbound(self, **fields):
        return self.stub.SimulateInboundCall(pb.SimulateInboundCallRequest(**fields),
                                             timeout=RPC_TIMEOUT)

    def list_page(self, **fields):
        return self.stub.ListCalls(pb.ListCallsRequest(**fields), timeout=RPC_TIMEOUT)

    def list_all(self, page_size=1000, between_pages=None, **fields):
        """Follows next_page_token; returns (calls, number of pages)."""
        calls, token, pages = [], "", 0
        while True:
            resp = self.list_page(page_size=page_size, page_token=token, **fields)
            pages += 1
            calls.extend(resp.calls)
            token = resp.next_page_token
            if not token:
                return calls, pages
            if between_pages:
                between_pages(pages)
            if pages > 10000:
                raise AssertionError("ListCalls pagination does not end")

    def wait_call_status(self, session_id, statuses, timeout=WAIT):
        statuses = set(statuses)
        return poll(lambda: (lambda c: c if c.status in statuses else None)(self.get(session_id)),
                    "%s to reach %s" % (session_id, [status_name(s) for s in statuses]), timeout)

    def health_status(self, service):
        resp = self.health.Check(health_pb2.HealthCheckRequest(service=service),
                                 timeout=RPC_TIMEOUT)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

    def metrics(self):
        addr = self.v.ready.get("metrics")
        if not addr:
            raise AssertionError("ready file has no metrics address: %r" % self.v.ready)
        with urllib.request.urlopen("http://%s/metrics" % addr, timeout=RPC_TIMEOUT) as r:
            return r.read().decode()

    def metric(self, name):
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError("metric %s not exported" % name)


class HistoryTestCase(unittest.TestCase):
    """A fresh state directory per test; `daemon()` starts voipd on it."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        check_binaries()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="voipd-hist-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.state_dir = os.path.join(self.tmp, "state")
        os.mkdir(self.state_dir)
        self.db_path = os.path.join(self.state_dir, "voipd.db")
        self.tag = "%s-%s" % (self._testMethodName, uuid.uuid4().hex[:8])

    def daemon(self, config_text=None, cmd_prefix=(), start=True, state_dir=None):
        d = Daemon(state_dir or self.state_dir, config_text or config(), cmd_prefix=cmd_prefix)
        self.addCleanup(d.cleanup)
        if start:
            d.start()
        return d

    def run_voipd(self, config_text=None, state_dir=None, timeout=30):
        """Runs voipd expected to exit by itself; returns (rc, output)."""
        tmp = tempfile.mkdtemp(prefix="voipd-cfg-", dir=self.tmp)
        cfg = os.path.join(tmp, "voipd.yaml")
        with open(cfg, "w") as f:
            f.write(config_text or config())
        proc = subprocess.run(
            [os.environ["VOIPD_BIN"], "--config", cfg, "--ready-file", os.path.join(tmp, "ready"),
             "--state-dir", state_dir or self.state_dir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), os.path.exists(
            os.path.join(tmp, "ready"))

    def assertTerminalSame(self, before, after):
        """The stored terminal snapshot equals the one seen before."""
        self.assertEqual(before, after, "GetCallStatus after restart differs:\n%s\nvs\n%s"
                         % (before, after))
