"""Shared pieces of the asterisk-ami integration tests: a voipd whose
`pbx` system points at an AmiReplayServer, gRPC stubs, and a WatchCall
collector. Everything goes through the public gRPC API.

Environment (set by ctest): VOIPD_BIN, VOIPD_PROTO_DIR.
"""
import os
import sys
import tempfile
import time
import unittest

import grpc
from google.protobuf import duration_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "harness"))
sys.path.insert(0, HERE)

import call_stream  # noqa: E402
import voipd_harness  # noqa: E402
import voipd_protos  # noqa: E402
from ami_replay_server import AmiReplayServer  # noqa: E402,F401

P = voipd_protos.load()
pb = P.voip_service_pb2
cpb = P.call_pb2
epb = P.errors_pb2
S = cpb

TRANSCRIPTS = os.path.join(HERE, "transcripts")
SECRET = "voipd-secret"
RPC_TIMEOUT = 15
TERMINAL = {S.CALL_STATUS_DISCONNECTED, S.CALL_STATUS_FAILED, S.CALL_STATUS_BUSY,
            S.CALL_STATUS_UNAVAILABLE}

# Originate Local/<N>@test into agent,wait (peer README, "Simple originate"):
# the originated channel is the target itself, which is voipd's direct mode.
DIRECT = '{ channel: "Local/{target}@test", context: agent, exten: wait }'
# Originate Local/100@test (the "agent") into agent,<N>, whose dialplan
# Dial()s Local/<N>@test: voipd's click-to-call with the agent "100".
CLICK = '{ agent_channel: "Local/{from}@test", context: agent }'


def transcript(name):
    path = os.path.join(TRANSCRIPTS, name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def status_name(s):
    return S.CallStatus.Name(s)


class Watcher:
    """A WatchCall stream (the shared harness Stream) read as call sessions."""

    def __init__(self, stub, session_id):
        self._stream = call_stream.Stream(stub.WatchCall(pb.WatchCallRequest(session_id=session_id)))
        # The opening snapshot first, so that what the test does next shows up as events.
        self._stream.wait_started(RPC_TIMEOUT)

    @property
    def events(self):
        return self._stream.snapshot()

    def statuses(self):
        """Distinct statuses in the order the stream showed them."""
        out = []
        for ev in self.events:
            if not out or out[-1] != ev.session.status:
                out.append(ev.session.status)
        return [status_name(s) for s in out]

    def last(self):
        events = self.events
        return events[-1].session if events else None

    def wait_for(self, predicate, timeout=15, what="condition"):
        """The first session (snapshot or event) for which predicate holds."""
        try:
            return self._stream.wait_for(
                lambda evs: next((ev.session for ev in evs if predicate(ev.session)), None),
                what, timeout)
        except AssertionError as e:
            last = self.last()
            raise AssertionError("%s; saw %s; end reason %s" % (
                e, self.statuses(), last.end_reason if last else None)) from None

    def wait_status(self, status, timeout=15):
        return self.wait_for(lambda s: s.status == status, timeout, status_name(status))

    def wait_terminal(self, timeout=15):
        return self.wait_for(lambda s: s.status in TERMINAL, timeout, "a terminal status")

    def close(self):
        self._stream.cancel()


def config(port, mode="click_to_call", mode_value=CLICK, secret_file=None, extra=""):
    return """\
listen: ["127.0.0.1:0"]
default_region: US
default_system: pbx
systems:
  pbx:
    type: asterisk-ami
    host: 127.0.0.1
    port: %(port)d
    username: voipd
    secret_file: %(secret)s
    accept_extension: true
    default_from: "100"
    caller_id: '"voipd" <1000>'
    %(mode)s: %(mode_value)s
    reconnect_min_seconds: 0.2
    reconnect_max_seconds: 0.5
    end_settle_seconds: 0.5
    connect_timeout_seconds: 3
%(extra)s\
calls: { end_call_timeout: 5s }
events: { window: 10000 }
""" % {"port": port, "secret": secret_file, "mode": mode, "mode_value": mode_value,
       "extra": "".join("    %s\n" % line for line in extra.splitlines() if line.strip())}


class AmiTestCase(unittest.TestCase):
    """Starts voipd against a replay server; tearDown stops both and fails
    on any mismatch the server recorded."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="voipd-ami-")
        self.secret_file = os.path.join(self._tmp.name, "ami.secret")
        with open(self.secret_file, "w") as f:
            f.write(SECRET + "\n")
        self.voipd = None
        self.server = None
        self.channel = None
        self.watchers = []

    def _failed(self):
        result = getattr(self._outcome, "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in list(result.failures) + list(result.errors))

    def tearDown(self):
        if self._failed() and self.voipd:
            sys.stderr.write("\n--- voipd log of %s ---\n%s\n--- replay: errors %s, actions %s\n"
                             % (self.id(), self.voipd.log(),
                                self.server.errors if self.server else None,
                                self.server.actions if self.server else None))
        for w in self.watchers:
            w.close()
        if self.channel:
            self.channel.close()
        if self.voipd:
            self.voipd.__exit__(None, None, None)  # stops it, closes its log
        if self.server:
            self.server.close()
        self._tmp.cleanup()

    def serve(self, name, **kwargs):
        kwargs.setdefault("seed", hash(self.id()) & 0xFFFFFFF)
        self.server = AmiReplayServer(transcript(name), **kwargs)
        self.server.__enter__()
        return self.server

    def start_voipd(self, port=None, mode="click_to_call", mode_value=CLICK, extra="",
                    wait_ready=True, extra_args=()):
        text = config(port if port is not None else self.server.port, mode, mode_value,
                      self.secret_file, extra)
        self.voipd = voipd_harness.Voipd(config_text=text, extra_args=extra_args)
        try:
            self.voipd.start()
        except Exception:
            self.voipd = None
            raise
        self.channel = grpc.insecure_channel(self.voipd.addr)
        self.stub = P.voip_service_pb2_grpc.VoipServiceStub(self.channel)
        if wait_ready:
            self.wait_health(cpb_health("HEALTHY"))
        return self.stub

    def health(self):
        caps = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        for system in caps.systems:
            if system.name == "pbx":
                return system
        raise AssertionError("no system pbx in %s" % caps)

    def wait_health(self, state, timeout=15, contains=None):
        deadline = time.monotonic() + timeout
        while True:
            h = self.health().health
            if h.state == state and (contains is None or contains in h.message):
                return h
            if time.monotonic() > deadline:
                raise AssertionError("health stayed %s (%s), wanted %s%s\n%s" % (
                    pb.HealthState.Name(h.state), h.message, pb.HealthState.Name(state),
                    " containing %r" % contains if contains else "", self.voipd.log()))
            time.sleep(0.05)

    def start_call(self, number, from_="", ring_timeout=None):
        # `from` is a Python keyword: pass it through a dict.
        req = pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=number), **{"from": from_})
        if ring_timeout is not None:
            req.ring_timeout.CopyFrom(duration_pb2.Duration(seconds=ring_timeout))
        return self.stub.StartCall(req, timeout=RPC_TIMEOUT)

    def watch(self, session_id):
        w = Watcher(self.stub, session_id)
        self.watchers.append(w)
        return w

    def call_and_watch(self, number, from_="", ring_timeout=None):
        """StartCall, then WatchCall before the replay sends the call's
        events: the stream then shows every state from INITIATING on."""
        session = self.start_call(number, from_, ring_timeout)
        w = self.watch(session.session_id)
        w.wait_for(lambda s: True, what="the WatchCall snapshot")
        self.server.release_events()
        return session, w

    def end_call(self, session_id):
        return self.stub.EndCall(pb.EndCallRequest(session_id=session_id), timeout=RPC_TIMEOUT)

    def hold(self, session_id, on):
        return self.stub.Hold(pb.HoldRequest(session_id=session_id, hold=on), timeout=RPC_TIMEOUT)

    def mute(self, session_id, on):
        return self.stub.Mute(pb.MuteRequest(session_id=session_id, mute=on), timeout=RPC_TIMEOUT)

    def assert_error(self, call, code):
        with self.assertRaises(grpc.RpcError) as ctx:
            call()
        err = P.voip_error(ctx.exception)
        self.assertIsNotNone(err, "no VoipError detail on %s" % ctx.exception)
        self.assertEqual(epb.ErrorCode.Name(err.error_code), epb.ErrorCode.Name(code),
                         err.message)
        return err

    def assert_server_clean(self, script_done=True, timeout=10):
        if script_done:
            self.assertTrue(self.server.script_done.wait(timeout),
                            "the replay did not reach its end; errors: %s\nvoipd log:\n%s" % (
                                self.server.errors, self.voipd.log() if self.voipd else ""))
        self.assertEqual(self.server.errors, [])

    def server_waits_for(self, name, timeout=15):
        """True once the replay has sent everything before the recorded
        `name` action and waits for voipd to send it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.waiting_for == name.lower():
                return True
            time.sleep(0.02)
        return False

    def sent(self, name):
        """The actions of that name voipd sent."""
        return [a for a in list(self.server.actions) if a.name() == name.lower()]


def cpb_health(name):
    return pb.HealthState.Value("HEALTH_STATE_" + name)
