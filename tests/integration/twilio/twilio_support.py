"""Shared pieces of the twilio integration tests: stubs, a voipd configured
with a `twilio` system, and a WatchCall reader.

Environment (set by ctest): VOIPD_BIN, VOIPD_PROTO_DIR.
"""
import os
import socket
import sys
import tempfile
import time
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "harness"))

import call_stream  # noqa: E402
import voipd_harness  # noqa: E402
import voipd_protos  # noqa: E402

import scripted_twilio  # noqa: E402

P = voipd_protos.load()
pb = P.voip_service_pb2
cpb = P.call_pb2
epb = P.errors_pb2

TERMINAL = {cpb.CALL_STATUS_DISCONNECTED, cpb.CALL_STATUS_FAILED, cpb.CALL_STATUS_BUSY,
            cpb.CALL_STATUS_UNAVAILABLE}
RPC_TIMEOUT = 15
WAIT = 10
PUBLIC_URL = "https://voipd.example.test/twilio"  # behind a (pretend) TLS proxy
FROM = "+15005550006"
TO = "+12015550100"


def free_port():
    """A loopback port nobody listens on right now (for webhook.listen)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_name(s):
    """"RINGING" for CALL_STATUS_RINGING."""
    return cpb.CallStatus.Name(s)[len("CALL_STATUS_"):]


def check_binary():
    binary = os.environ.get("VOIPD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError("VOIPD_BIN must name the voipd binary (got %r)" % binary)


class Credentials:
    """Account SID and Auth Token files in a temporary directory."""

    def __init__(self, account_sid=scripted_twilio.ACCOUNT_SID, token=scripted_twilio.AUTH_TOKEN):
        self.dir = tempfile.TemporaryDirectory(prefix="voipd-twilio-creds-")
        self.account_sid_file = os.path.join(self.dir.name, "account_sid")
        self.auth_token_file = os.path.join(self.dir.name, "auth_token")
        with open(self.account_sid_file, "w") as f:
            f.write(account_sid + "\n")
        with open(self.auth_token_file, "w") as f:
            f.write(token + "\n")


def daemon_config(creds, base_url, webhook_port=None, public_url=PUBLIC_URL, webhook_extra=None,
                  **extra):
    """voipd.yaml with one `twilio` system (the default). `webhook_extra`:
    more keys of the `webhook` section (max_connections, read_timeout...)."""
    lines = [
        "listen: [\"127.0.0.1:0\"]",
        "default_region: US",
        "default_system: twilio",
        "log_level: debug",
        "shutdown: { grace: \"1s\" }",
        "systems:",
        "  twilio:",
        "    type: twilio",
        "    account_sid_file: %s" % creds.account_sid_file,
        "    auth_token_file: %s" % creds.auth_token_file,
        "    base_url: %s" % base_url,
        "    default_from: \"%s\"" % FROM,
    ]
    if webhook_port is not None:
        more = "".join(", %s: %s" % kv for kv in (webhook_extra or {}).items())
        lines.append("    webhook: { listen: \"127.0.0.1:%d\", public_url: \"%s\"%s }"
                     % (webhook_port, public_url, more))
    for key, value in extra.items():
        lines.append("    %s: %s" % (key, value))
    return "\n".join(lines) + "\n"


class Watch(call_stream.Stream):
    """WatchCall on a thread (the shared harness Stream); every event of one call."""

    def __init__(self, stub, session_id):
        super().__init__(stub.WatchCall(pb.WatchCallRequest(session_id=session_id)))
        self.session_id = session_id
        # Without this a status callback posted right after StartCall could
        # land before the server took the snapshot: INITIATING never seen.
        self.wait_started(RPC_TIMEOUT)

    def statuses(self):
        """The status sequence, snapshot first, MUTE_CHANGED as "mute=X"."""
        return ["mute=%s" % e.session.muted if e.type == cpb.CALL_EVENT_TYPE_MUTE_CHANGED
                else status_name(e.session.status) for e in self.snapshot()]

    def wait(self, pred, what, timeout=WAIT):
        return self.wait_for(lambda evs: next((e for e in evs if pred(e)), None),
                             "%s of %s" % (what, self.session_id), timeout)

    def wait_status(self, status, timeout=WAIT):
        return self.wait(lambda e: e.session.status == status, status_name(status), timeout)

    def wait_terminal(self, timeout=WAIT):
        return self.wait(lambda e: e.session.status in TERMINAL, "a terminal status", timeout)

    def settle(self, seconds=0.3):
        """Gives stray events time to arrive before asserting their absence."""
        time.sleep(seconds)
        return self.statuses()


class TwilioDaemonTestCase(unittest.TestCase):
    """One scripted Twilio and one voipd per class. Subclasses set
    `webhooks`, `extra` (more config keys for the twilio system) and
    `webhook_extra` (more keys of its `webhook` section)."""

    webhooks = True
    extra = {}
    webhook_extra = {}

    @classmethod
    def setUpClass(cls):
        check_binary()
        cls.creds = Credentials()
        cls.webhook_port = free_port() if cls.webhooks else None
        cls.twilio = scripted_twilio.ScriptedTwilio(
            public_url=PUBLIC_URL,
            webhook_addr="127.0.0.1:%d" % cls.webhook_port if cls.webhooks else None).start()
        cls.voipd = voipd_harness.Voipd(config_text=daemon_config(
            cls.creds, cls.twilio.url, cls.webhook_port, webhook_extra=cls.webhook_extra,
            **cls.extra))
        cls.voipd.start()
        cls.channel = grpc.insecure_channel(cls.voipd.addr)
        cls.stub = P.voip_service_pb2_grpc.VoipServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        code = cls.voipd.stop()
        log = cls.voipd.log()
        cls.voipd.__exit__(None, None, None)  # closes the log, removes the temp dir
        cls.twilio.stop()
        cls.creds.dir.cleanup()
        if code != 0:
            raise AssertionError("voipd exited with %s:\n%s" % (code, log))
        if scripted_twilio.AUTH_TOKEN in log:
            raise AssertionError("the Auth Token appears in voipd's log")

    def run(self, result=None):
        # Show the daemon log next to a failure: it has the adapter's view.
        outcome = super().run(result)
        if result is not None and (result.failures or result.errors):
            last = (result.failures + result.errors)[-1]
            if last[0] is self and os.environ.get("VOIPD_TEST_QUIET") is None:
                sys.stderr.write("\n--- voipd log (%s) ---\n%s\n" % (
                    self.id(), self.voipd.log()[-6000:]))
        return outcome

    # ---------------------------------------------------------------- helpers
    def start_call(self, to=TO, **kw):
        """StartCall; returns (session, Watch, CallSid)."""
        session = self.stub.StartCall(pb.StartCallRequest(
            to=cpb.ContactPhoneNumber(number=to), **kw), timeout=RPC_TIMEOUT)
        watch = Watch(self.stub, session.session_id)
        self.addCleanup(watch.cancel)
        return session, watch, session.provider_call_id

    def start_call_error(self, to=TO, **kw):
        """StartCall that must fail; returns (grpc.RpcError, VoipError)."""
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.StartCall(pb.StartCallRequest(
                to=cpb.ContactPhoneNumber(number=to), **kw), timeout=RPC_TIMEOUT)
        return ctx.exception, P.voip_error(ctx.exception)

    def answer(self, sid, watch):
        """Drives a call to CONNECTED through signed callbacks."""
        self.assertEqual(self.twilio.status_callback(sid, "initiated", 0)[0], 204)
        self.assertEqual(self.twilio.status_callback(sid, "ringing", 1)[0], 204)
        watch.wait_status(cpb.CALL_STATUS_RINGING)
        self.assertEqual(self.twilio.status_callback(sid, "in-progress", 2)[0], 204)
        watch.wait_status(cpb.CALL_STATUS_CONNECTED)

    def system_health(self):
        caps = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        return next(s.health for s in caps.systems if s.name == "twilio")

    def assert_one_terminal(self, watch):
        statuses = watch.settle()
        terminal = [s for s in statuses if s in {status_name(t) for t in TERMINAL}]
        self.assertEqual(len(terminal), 1, statuses)
        return statuses
