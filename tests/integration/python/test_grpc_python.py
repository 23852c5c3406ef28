"""The voip.v1 API driven with Python's grpcio against the real voipd binary.

Run (the env is set by ctest):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest discover -s tests/integration/python -v

Nothing here is skipped: a missing binary or stub toolchain is an error.
Waits are deadline-polled (never fixed sleeps); the sandbox runs with
time_scale 20 so a whole call takes well under a second.
"""
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import grpc
from google.protobuf import duration_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "harness"))

import voipd_harness  # noqa: E402
from call_stream import Stream, poll  # noqa: E402,F401
import voipd_protos  # noqa: E402

P = voipd_protos.load([os.path.join(HERE, "protos")],
                      ["health_check.proto", "server_reflection.proto"])
pb = P.voip_service_pb2
cpb = P.call_pb2
epb = P.errors_pb2
health_pb2 = P.modules["health_check_pb2"]
health_pb2_grpc = P.modules["health_check_pb2_grpc"]
reflection_pb2 = P.modules["server_reflection_pb2"]
reflection_pb2_grpc = P.modules["server_reflection_pb2_grpc"]

S = cpb  # statuses and event types live in call.proto
TERMINAL = {S.CALL_STATUS_DISCONNECTED, S.CALL_STATUS_FAILED, S.CALL_STATUS_BUSY,
            S.CALL_STATUS_UNAVAILABLE}
RPC_TIMEOUT = 10  # seconds, for every unary call
WAIT = 10         # seconds, default deadline of every poll

ANSWERS = "+12015550100"
BUSY = "+12015550101"
NO_ANSWER = "+12015550102"
PROVIDER_FAILURE = "+12015550103"
REMOTE_HANGUP = "+12015550104"
NETWORK_FAILURE = "+12015550105"
# A London number (Ofcom's drama range) as dialled in the UK: only a
# default_region of GB makes it +442079460018.
LONDON_NATIONAL = "020 7946 0018"
LONDON_E164 = "+442079460018"

CONFIG = """\
listen: ["127.0.0.1:0"]
default_region: US
default_system: sandbox
systems:
  sandbox: { type: sandbox, time_scale: 20 }
%(extra_systems)s\
events: { window: %(window)d }
"""


def config(window=10000, extra_systems=""):
    return CONFIG % {"window": window, "extra_systems": extra_systems}


def status_name(s):
    return S.CallStatus.Name(s)


def type_name(t):
    return S.CallEventType.Name(t)


def code_name(c):
    return epb.ErrorCode.Name(c)


def describe(events):
    return "\n".join("  #%d %s %s %s->%s" % (e.sequence, e.session.session_id[:8], type_name(e.type),
                                             status_name(e.previous_status),
                                             status_name(e.session.status)) for e in events)


def check_binary():
    binary = os.environ.get("VOIPD_BIN")
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError("VOIPD_BIN must name the voipd binary (got %r)" % binary)


class DaemonTestCase(unittest.TestCase):
    """Starts one voipd for the class (config from `daemon_config`)."""

    daemon_config = config()

    @classmethod
    def setUpClass(cls):
        check_binary()
        cls.voipd = voipd_harness.Voipd(config_text=cls.daemon_config)
        cls.voipd.start()
        cls.channel = grpc.insecure_channel(cls.voipd.addr)
        cls.stub = P.voip_service_pb2_grpc.VoipServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        running = cls.voipd.proc.poll() is None
        try:
            rc = cls.voipd.stop()
        finally:
            log = cls.voipd.log()
            cls.voipd._log.close()
            cls.voipd.tmp.cleanup()
        if running and rc != 0:
            raise AssertionError("voipd exited with %s on SIGTERM:\n%s" % (rc, log[-4000:]))

    def setUp(self):
        self.tag = "%s-%s" % (self._testMethodName, uuid.uuid4().hex[:8])
        self._streams = []
        self.addCleanup(self._close_streams)

    def _close_streams(self):
        for s in self._streams:
            s.cancel()

    # --- helpers ---------------------------------------------------------

    def subscribe(self, after_sequence=None, **filter_fields):
        req = pb.SubscribeCallEventsRequest(filter=pb.CallEventFilter(**filter_fields))
        if after_sequence is not None:
            req.after_sequence = after_sequence
        s = Stream(self.stub.SubscribeCallEvents(req, timeout=90))
        self._streams.append(s)
        return s

    def watch(self, session_id):
        s = Stream(self.stub.WatchCall(pb.WatchCallRequest(session_id=session_id), timeout=90))
        self._streams.append(s)
        return s

    def start_call(self, number, labels=None, end_at_cleanup=True, **fields):
        lab = {"t": self.tag}
        lab.update(labels or {})
        fields.setdefault("request_id", uuid.uuid4().hex)
        session = self.stub.StartCall(
            pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=number), labels=lab, **fields),
            timeout=RPC_TIMEOUT)
        if end_at_cleanup:
            self.addCleanup(self._end_quietly, session.session_id)
        return session

    def _end_quietly(self, session_id):
        try:
            self.stub.EndCall(pb.EndCallRequest(session_id=session_id), timeout=RPC_TIMEOUT)
        except grpc.RpcError:
            pass

    def end(self, session_id):
        return self.stub.EndCall(pb.EndCallRequest(session_id=session_id), timeout=RPC_TIMEOUT)

    def get(self, session_id):
        return self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session_id),
                                       timeout=RPC_TIMEOUT)

    def list_calls(self, **fields):
        fields.setdefault("labels", {"t": self.tag})
        return self.stub.ListCalls(pb.ListCallsRequest(**fields), timeout=RPC_TIMEOUT)

    def wait_call_status(self, session_id, statuses, timeout=WAIT):
        statuses = set(statuses)
        return poll(lambda: (lambda c: c if c.status in statuses else None)(self.get(session_id)),
                    "%s to reach %s" % (session_id, [status_name(s) for s in statuses]), timeout)

    def last_sequence(self):
        """The newest sequence number of the daemon, via a call that starts
        and ends (its DISCONNECTED event is the newest one once EndCall
        returns, as long as no other call is changing)."""
        s = self.start_call(ANSWERS, labels={"marker": "1"})
        self.end(s.session_id)
        got = self.wait_call_status(s.session_id, TERMINAL)
        self.assertGreater(got.last_sequence, 0)
        return got.last_sequence

    def wait_live(self, sub):
        """Waits until an unset-after_sequence subscription (filtered on this
        test's label) is registered: probe calls until one is seen whole."""
        for attempt in range(20):
            probe = self.start_call(ANSWERS, labels={"probe": str(attempt)})
            self.end(probe.session_id)
            try:
                sub.wait_terminal(probe.session_id, timeout=0.5)
            except AssertionError:
                if sub.done:
                    raise
                continue
            return probe
        raise AssertionError("subscription never went live")

    def assertRpcError(self, fn, code, error_code, field=None):
        """fn() must fail with gRPC `code` and a VoipError `error_code`; returns
        the decoded (VoipError, google.rpc.Status)."""
        with self.assertRaises(grpc.RpcError) as cm:
            fn()
        e = cm.exception
        self.assertEqual(e.code(), code, "gRPC status: %s %s" % (e.code(), e.details()))
        status = P.rpc_status(e)
        self.assertIsNotNone(status, "no grpc-status-details-bin trailer in %r"
                             % (e.trailing_metadata(),))
        self.assertEqual(status.code, code.value[0], "google.rpc.Status.code")
        self.assertEqual(status.message, e.details(), "google.rpc.Status.message")
        err = P.voip_error(e)
        self.assertIsNotNone(err, "no %s in details %r" % (voipd_protos.VOIP_ERROR_TYPE_URL,
                                                           [d.type_url for d in status.details]))
        self.assertEqual(code_name(err.error_code), code_name(error_code), "VoipError.error_code")
        self.assertTrue(err.message, "VoipError.message is empty")
        if field is not None:
            self.assertEqual(err.field, field, "VoipError.field")
        return err, status

    def assertContiguous(self, events, first=None):
        seqs = [e.sequence for e in events]
        self.assertTrue(seqs, "no events")
        if first is not None:
            self.assertEqual(seqs[0], first, "first sequence\n" + describe(events))
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                         "sequence has gaps or duplicates:\n" + describe(events))


class CallApiTest(DaemonTestCase):
    """Unary RPCs, WatchCall and the sandbox outcomes on one daemon."""

    def test_lifecycle_on_watch_and_subscribe_streams(self):
        # Filtered by this test's label and replayed from the start of the
        # window: sees the call's events whenever the server registers it.
        sub = self.subscribe(after_sequence=0, labels={"t": self.tag})
        session = self.start_call("+1 201-555-0100", labels={"crm": "42"})
        self.assertTrue(session.session_id)
        self.assertIn(session.status, (S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING))
        self.assertEqual(session.to_normalized, ANSWERS)
        self.assertEqual(session.system_name, "sandbox")
        self.assertEqual(session.direction, S.CALL_DIRECTION_OUTBOUND)
        self.assertEqual(dict(session.labels), {"t": self.tag, "crm": "42"})
        self.assertTrue(session.HasField("created_at"))
        sid = session.session_id

        watch = self.watch(sid)
        snap = watch.wait_for(lambda evs: evs and evs[0], "the snapshot")
        self.assertEqual(type_name(snap.type), "CALL_EVENT_TYPE_SNAPSHOT")
        self.assertEqual(snap.session.session_id, sid)
        self.assertEqual(snap.sequence, snap.session.last_sequence)

        connected = watch.wait_status(sid, S.CALL_STATUS_CONNECTED)
        self.assertTrue(connected.session.HasField("answered_at"))

        held = self.stub.Hold(pb.HoldRequest(session_id=sid, hold=True), timeout=RPC_TIMEOUT)
        self.assertEqual(status_name(held.status), "CALL_STATUS_ON_HOLD")
        self.assertTrue(held.on_hold)
        watch.wait_status(sid, S.CALL_STATUS_ON_HOLD)

        resumed = self.stub.Hold(pb.HoldRequest(session_id=sid, hold=False), timeout=RPC_TIMEOUT)
        self.assertEqual(status_name(resumed.status), "CALL_STATUS_CONNECTED")
        self.assertFalse(resumed.on_hold)

        muted = self.stub.Mute(pb.MuteRequest(session_id=sid, mute=True), timeout=RPC_TIMEOUT)
        self.assertTrue(muted.muted)
        self.assertEqual(status_name(muted.status), "CALL_STATUS_CONNECTED")
        mute_event = watch.wait_for(
            lambda evs: next((e for e in evs if e.type == S.CALL_EVENT_TYPE_MUTE_CHANGED), None),
            "MUTE_CHANGED")
        self.assertTrue(mute_event.session.muted)
        self.assertEqual(status_name(mute_event.session.status), "CALL_STATUS_CONNECTED")

        ended = self.end(sid)
        self.assertEqual(status_name(ended.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(S.HangupSource.Name(ended.end_reason.source), "HANGUP_SOURCE_LOCAL")
        self.assertEqual(ended.end_reason.error_code, epb.ERROR_CODE_UNSPECIFIED)
        self.assertTrue(ended.HasField("ended_at"))

        # WatchCall ends with OK right after the terminal event.
        self.assertEqual(watch.wait_done(), grpc.StatusCode.OK, watch.details)
        w = watch.snapshot()
        self.assertEqual(status_name(w[-1].session.status), "CALL_STATUS_DISCONNECTED")

        expected = [("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_INITIATING"),
                    ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_RINGING"),
                    ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_CONNECTED"),
                    ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_ON_HOLD"),
                    ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_CONNECTED"),
                    ("CALL_EVENT_TYPE_MUTE_CHANGED", "CALL_STATUS_CONNECTED"),
                    ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_DISCONNECTED")]
        sub.wait_terminal(sid)
        events = sub.snapshot()
        self.assertEqual([(type_name(e.type), status_name(e.session.status)) for e in events],
                         expected, "SubscribeCallEvents:\n" + describe(events))
        seqs = [e.sequence for e in events]
        self.assertEqual(seqs, sorted(set(seqs)), "sequences not strictly increasing")
        for prev, e in zip(events, events[1:]):
            if e.type == S.CALL_EVENT_TYPE_STATUS_CHANGED:
                self.assertEqual(status_name(e.previous_status), status_name(prev.session.status),
                                 "previous_status of #%d" % e.sequence)
        for e in events:
            self.assertEqual(e.session.session_id, sid)
            self.assertEqual(e.session.labels["crm"], "42", "labels echoed on every event")
            self.assertTrue(e.HasField("time"))

        # The WatchCall stream is the same history after its snapshot.
        by_seq = {e.sequence: e for e in events}
        self.assertIn(snap.sequence, by_seq, "snapshot's sequence is not one of the call's events")
        self.assertEqual(status_name(snap.session.status),
                         status_name(by_seq[snap.sequence].session.status))
        self.assertEqual([(e.sequence, e.type, e.session.status) for e in w[1:]],
                         [(e.sequence, e.type, e.session.status) for e in events
                          if e.sequence > snap.sequence])

        final = self.get(sid)
        self.assertEqual(status_name(final.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(final.last_sequence, events[-1].sequence)

    def test_hold_and_mute_need_a_connected_call_and_end_call_is_idempotent(self):
        s = self.start_call(NO_ANSWER)  # rings for the default 30 s
        self.wait_call_status(s.session_id, [S.CALL_STATUS_RINGING])
        for fn in (lambda: self.stub.Hold(pb.HoldRequest(session_id=s.session_id, hold=True),
                                          timeout=RPC_TIMEOUT),
                   lambda: self.stub.Mute(pb.MuteRequest(session_id=s.session_id, mute=True),
                                          timeout=RPC_TIMEOUT)):
            err, _ = self.assertRpcError(fn, grpc.StatusCode.FAILED_PRECONDITION, epb.INVALID_STATE)
            self.assertEqual(err.session_id, s.session_id)
        self.assertEqual(status_name(self.get(s.session_id).status), "CALL_STATUS_RINGING")

        ended = self.end(s.session_id)  # cancel before answer
        self.assertEqual(status_name(ended.status), "CALL_STATUS_DISCONNECTED")
        again = self.end(s.session_id)
        self.assertEqual(again, ended, "EndCall on an ended call must return it unchanged")
        self.assertRpcError(lambda: self.stub.Hold(pb.HoldRequest(session_id=s.session_id,
                                                                  hold=True), timeout=RPC_TIMEOUT),
                            grpc.StatusCode.FAILED_PRECONDITION, epb.INVALID_STATE)

    def test_mute_while_on_hold(self):
        s = self.start_call(ANSWERS)
        self.wait_call_status(s.session_id, [S.CALL_STATUS_CONNECTED])
        self.stub.Hold(pb.HoldRequest(session_id=s.session_id, hold=True), timeout=RPC_TIMEOUT)
        muted = self.stub.Mute(pb.MuteRequest(session_id=s.session_id, mute=True), timeout=RPC_TIMEOUT)
        self.assertTrue(muted.muted)
        self.assertTrue(muted.on_hold)
        self.assertEqual(status_name(muted.status), "CALL_STATUS_ON_HOLD")
        unmuted = self.stub.Mute(pb.MuteRequest(session_id=s.session_id, mute=False),
                                 timeout=RPC_TIMEOUT)
        self.assertFalse(unmuted.muted)

    def test_busy(self):
        s = self.start_call(BUSY)
        w = self.watch(s.session_id)
        last = w.wait_terminal(s.session_id)
        self.assertEqual(status_name(last.session.status), "CALL_STATUS_BUSY")
        self.assertEqual(status_name(last.previous_status), "CALL_STATUS_RINGING")
        self.assertIn(S.CALL_STATUS_RINGING, [e.session.status for e in w.snapshot()])
        self.assertEqual(w.wait_done(), grpc.StatusCode.OK, w.details)
        got = self.get(s.session_id)
        self.assertEqual(status_name(got.status), "CALL_STATUS_BUSY")
        self.assertTrue(got.HasField("ended_at"))

        # Watching an ended call: its snapshot, then OK.
        late = self.watch(s.session_id)
        self.assertEqual(late.wait_done(), grpc.StatusCode.OK, late.details)
        self.assertEqual([(type_name(e.type), status_name(e.session.status)) for e in late.snapshot()],
                         [("CALL_EVENT_TYPE_SNAPSHOT", "CALL_STATUS_BUSY")])

    def test_unavailable_after_unscaled_ring_timeout(self):
        t0 = time.monotonic()
        s = self.start_call(NO_ANSWER, ring_timeout=duration_pb2.Duration(seconds=1))
        w = self.watch(s.session_id)
        w.wait_status(s.session_id, S.CALL_STATUS_RINGING)
        last = w.wait_terminal(s.session_id)
        elapsed = time.monotonic() - t0
        self.assertEqual(status_name(last.session.status), "CALL_STATUS_UNAVAILABLE")
        self.assertEqual(status_name(last.previous_status), "CALL_STATUS_RINGING")
        self.assertGreaterEqual(elapsed, 0.9, "the ring timeout (1 s) must not be scaled")
        self.assertEqual(w.wait_done(), grpc.StatusCode.OK, w.details)

    def test_provider_failure(self):
        s = self.start_call(PROVIDER_FAILURE)
        w = self.watch(s.session_id)
        last = w.wait_terminal(s.session_id)
        for session in (last.session, self.get(s.session_id)):
            self.assertEqual(status_name(session.status), "CALL_STATUS_FAILED")
            self.assertEqual(code_name(session.end_reason.error_code), "PROVIDER_ERROR")
            self.assertEqual(session.end_reason.provider_cause.sip_code, 503)

    def test_remote_hangup(self):
        s = self.start_call(REMOTE_HANGUP)
        w = self.watch(s.session_id)
        w.wait_status(s.session_id, S.CALL_STATUS_CONNECTED)
        last = w.wait_terminal(s.session_id)
        self.assertEqual(status_name(last.session.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(S.HangupSource.Name(last.session.end_reason.source), "HANGUP_SOURCE_REMOTE")
        self.assertEqual(w.wait_done(), grpc.StatusCode.OK, w.details)

    def test_network_error_carries_voip_error(self):
        err, status = self.assertRpcError(lambda: self.start_call(NETWORK_FAILURE),
                                          grpc.StatusCode.UNAVAILABLE, epb.NETWORK_ERROR)
        self.assertEqual(err.system_name, "sandbox")
        self.assertEqual([d.type_url for d in status.details].count(voipd_protos.VOIP_ERROR_TYPE_URL), 1)

    def test_invalid_number_names_the_field(self):
        self.assertRpcError(lambda: self.start_call("not-a-number"),
                            grpc.StatusCode.INVALID_ARGUMENT, epb.INVALID_NUMBER, field="to.number")
        self.assertEqual(len(self.list_calls().calls), 0, "a rejected request must not create a call")

    def test_session_not_found(self):
        missing = "no-such-session-" + uuid.uuid4().hex
        calls = {
            "GetCallStatus": lambda: self.get(missing),
            "EndCall": lambda: self.end(missing),
            "Hold": lambda: self.stub.Hold(pb.HoldRequest(session_id=missing, hold=True),
                                           timeout=RPC_TIMEOUT),
            "Mute": lambda: self.stub.Mute(pb.MuteRequest(session_id=missing, mute=True),
                                           timeout=RPC_TIMEOUT),
            "WatchCall": lambda: list(self.stub.WatchCall(pb.WatchCallRequest(session_id=missing),
                                                          timeout=RPC_TIMEOUT)),
        }
        for name, fn in calls.items():
            with self.subTest(rpc=name):
                self.assertRpcError(fn, grpc.StatusCode.NOT_FOUND, epb.SESSION_NOT_FOUND)

    def test_dial_via_system_disabled(self):
        to = cpb.ContactPhoneNumber(
            number=ANSWERS,
            voip_integration_details=cpb.VoipIntegrationDetails(can_dial_via_system=False))
        self.assertRpcError(
            lambda: self.stub.StartCall(pb.StartCallRequest(to=to, labels={"t": self.tag}),
                                        timeout=RPC_TIMEOUT),
            grpc.StatusCode.FAILED_PRECONDITION, epb.DIAL_VIA_SYSTEM_DISABLED)
        self.assertEqual(len(self.list_calls().calls), 0)

    def test_unknown_system(self):
        self.assertRpcError(lambda: self.start_call(ANSWERS, preferred_system="nope"),
                            grpc.StatusCode.NOT_FOUND, epb.UNKNOWN_SYSTEM)
        self.assertEqual(len(self.list_calls().calls), 0)

    def test_start_call_is_idempotent(self):
        rid = uuid.uuid4().hex
        sub = self.subscribe(after_sequence=0, labels={"t": self.tag})
        first = self.start_call(ANSWERS, request_id=rid)
        second = self.start_call(ANSWERS, request_id=rid)
        self.assertEqual(second.session_id, first.session_id)
        calls = self.list_calls().calls
        self.assertEqual([c.session_id for c in calls], [first.session_id], "dialled more than once")
        self.end(first.session_id)
        sub.wait_terminal(first.session_id)
        initiating = [e for e in sub.snapshot() if e.session.status == S.CALL_STATUS_INITIATING]
        self.assertEqual(len(initiating), 1, describe(sub.snapshot()))

    def test_simulated_inbound_retry_rings_in_once(self):
        """SimulateInboundCall mutates too, so a request_id retry returns the
        first session and rings nothing in again."""
        rid = uuid.uuid4().hex

        def ring_in(to="1001"):
            return self.stub.SimulateInboundCall(pb.SimulateInboundCallRequest(
                to=to, request_id=rid, labels={"t": self.tag}, **{"from": "+12015550111"}),
                timeout=RPC_TIMEOUT)
        first = ring_in()
        self.assertEqual(first.direction, cpb.CALL_DIRECTION_INBOUND)
        again = ring_in()
        self.assertEqual(again.session_id, first.session_id)
        err, _ = self.assertRpcError(lambda: ring_in(to="1002"), grpc.StatusCode.INVALID_ARGUMENT,
                                     epb.IDEMPOTENCY_MISMATCH, "request_id")
        inbound = [c for c in self.list_calls().calls
                   if c.direction == cpb.CALL_DIRECTION_INBOUND]
        self.assertEqual([c.session_id for c in inbound], [first.session_id])
        self.end(first.session_id)

    def test_hold_and_mute_retries_do_not_toggle_again(self):
        # README, Idempotency: a retry with the same request_id returns the
        # session as it is now and runs nothing again; the same key with
        # other parameters is IDEMPOTENCY_MISMATCH (INVALID_ARGUMENT, field
        # request_id: daemon/core/idempotency_cache.cc).
        s = self.start_call(ANSWERS)
        sid = s.session_id
        self.wait_call_status(sid, [S.CALL_STATUS_CONNECTED])
        sub = self.subscribe(after_sequence=0, session_id=sid)
        hold = lambda on, rid, session_id=sid: self.stub.Hold(  # noqa: E731
            pb.HoldRequest(session_id=session_id, hold=on, request_id=rid), timeout=RPC_TIMEOUT)
        mute = lambda on, rid, session_id=sid: self.stub.Mute(  # noqa: E731
            pb.MuteRequest(session_id=session_id, mute=on, request_id=rid), timeout=RPC_TIMEOUT)
        hold_a, hold_b = "hold-a-" + self.tag, "hold-b-" + self.tag
        mute_a, mute_b = "mute-a-" + self.tag, "mute-b-" + self.tag

        self.assertTrue(hold(True, hold_a).on_hold)
        self.assertFalse(hold(False, hold_b).on_hold)
        self.assertTrue(mute(True, mute_a).muted)
        self.assertFalse(mute(False, mute_b).muted)
        before = self.get(sid)
        self.assertEqual(status_name(before.status), "CALL_STATUS_CONNECTED")

        # The retries of the first Hold and Mute: the call as it is now
        # (resumed, unmuted), not held or muted a second time.
        for name, retry in (("Hold", lambda: hold(True, hold_a)),
                            ("Mute", lambda: mute(True, mute_a))):
            with self.subTest(rpc=name):
                got = retry()
                self.assertEqual(got.session_id, sid)
                self.assertFalse(got.on_hold, "%s retry put the call on hold again:\n%s"
                                 % (name, got))
                self.assertFalse(got.muted, "%s retry muted the call again:\n%s" % (name, got))
                self.assertEqual(status_name(got.status), "CALL_STATUS_CONNECTED")
                self.assertEqual(got.last_sequence, before.last_sequence,
                                 "%s retry changed the call" % name)
        now = self.get(sid)
        self.assertEqual((status_name(now.status), now.on_hold, now.muted, now.last_sequence),
                         ("CALL_STATUS_CONNECTED", False, False, before.last_sequence))

        # Same key, other parameters: refused, and nothing is run.
        mismatches = {
            "Hold, other value": lambda: hold(False, hold_a),
            "Mute, other value": lambda: mute(False, mute_a),
            "Hold, other session": lambda: hold(True, hold_a, session_id="other-" + sid),
            "Mute, other session": lambda: mute(True, mute_a, session_id="other-" + sid),
        }
        for what, fn in mismatches.items():
            with self.subTest(mismatch=what):
                self.assertRpcError(fn, grpc.StatusCode.INVALID_ARGUMENT,
                                    epb.IDEMPOTENCY_MISMATCH, field="request_id")
        self.assertEqual(self.get(sid).last_sequence, before.last_sequence)

        # The stream agrees: one hold, one resume, one mute, one unmute.
        self.end(sid)
        sub.wait_terminal(sid)
        changes = [(type_name(e.type), status_name(e.session.status), e.session.on_hold,
                    e.session.muted) for e in sub.snapshot()
                   if e.session.status != S.CALL_STATUS_INITIATING
                   and e.session.status != S.CALL_STATUS_RINGING]
        self.assertEqual(changes, [
            ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_CONNECTED", False, False),
            ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_ON_HOLD", True, False),
            ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_CONNECTED", False, False),
            ("CALL_EVENT_TYPE_MUTE_CHANGED", "CALL_STATUS_CONNECTED", False, True),
            ("CALL_EVENT_TYPE_MUTE_CHANGED", "CALL_STATUS_CONNECTED", False, False),
            ("CALL_EVENT_TYPE_STATUS_CHANGED", "CALL_STATUS_DISCONNECTED", False, False),
        ], describe(sub.snapshot()))

    def test_national_number_needs_the_default_region(self):
        # default_region US: a London number in national format is no US number.
        err, _ = self.assertRpcError(lambda: self.start_call(LONDON_NATIONAL),
                                     grpc.StatusCode.INVALID_ARGUMENT, epb.INVALID_NUMBER,
                                     field="to.number")
        self.assertIn("region US", err.message)
        self.assertEqual(len(self.list_calls().calls), 0, "a rejected request must not create a call")

    def test_list_calls_filters_and_pagination(self):
        a = self.start_call(NO_ANSWER, labels={"role": "a"})
        b = self.start_call(NO_ANSWER)
        c = self.start_call(NO_ANSWER)
        self.end(c.session_id)
        other = self.start_call(NO_ANSWER, labels={"t": self.tag + "-other"})
        ids = lambda resp: [x.session_id for x in resp.calls]  # noqa: E731

        everything = self.list_calls()
        self.assertEqual(ids(everything), [a.session_id, b.session_id, c.session_id], "oldest first")
        self.assertEqual(everything.next_page_token, "")
        self.assertNotIn(other.session_id, ids(everything))

        active = self.list_calls(active_only=True)
        self.assertEqual(ids(active), [a.session_id, b.session_id])
        for call in active.calls:
            self.assertNotIn(call.status, TERMINAL)

        self.assertEqual(ids(self.list_calls(labels={"t": self.tag, "role": "a"})), [a.session_id])
        self.assertEqual(ids(self.list_calls(status=S.CALL_STATUS_DISCONNECTED)), [c.session_id])

        pages, token = [], ""
        for _ in range(10):
            resp = self.list_calls(page_size=1, page_token=token)
            self.assertLessEqual(len(resp.calls), 1)
            pages.append(ids(resp))
            token = resp.next_page_token
            if not token:
                break
        self.assertEqual(pages, [[a.session_id], [b.session_id], [c.session_id]])

        on_other = self.list_calls(labels={"t": self.tag + "-other"}, active_only=True)
        self.assertEqual(ids(on_other), [other.session_id])

    def test_get_capabilities(self):
        caps = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual(caps.default_system, "sandbox")
        systems = {s.name: s for s in caps.systems}
        self.assertEqual(sorted(systems), ["sandbox"])
        sb = systems["sandbox"]
        self.assertEqual(sb.type, "sandbox")
        self.assertTrue(sb.is_default)
        self.assertTrue(sb.can_end and sb.can_hold and sb.can_mute)
        self.assertEqual(pb.HealthState.Name(sb.health.state), "HEALTH_STATE_HEALTHY")

        before = sb.active_calls
        s = self.start_call(NO_ANSWER)
        caps = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        self.assertEqual({x.name: x for x in caps.systems}["sandbox"].active_calls, before + 1)
        self.end(s.session_id)

    def test_grpc_health_check(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        resp = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT)
        self.assertEqual(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status), "SERVING")

    def test_server_reflection_lists_and_describes_the_api(self):
        # grpcurl and similar tools depend on reflection to work without .proto files.
        stub = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_symbol="voip.v1.VoipService")]
        responses = list(stub.ServerReflectionInfo(iter(requests), timeout=RPC_TIMEOUT))
        self.assertEqual(len(responses), 2)
        names = {s.name for s in responses[0].list_services_response.service}
        self.assertIn("voip.v1.VoipService", names)
        self.assertIn("grpc.health.v1.Health", names)
        files = responses[1].file_descriptor_response.file_descriptor_proto
        self.assertTrue(files, responses[1])
        self.assertTrue(any(b"voip/v1/voip_service.proto" in f for f in files))

    def test_python_example(self):
        env = dict(os.environ, PYTHONPATH=P.stub_dir)
        script = os.path.join(REPO, "clients", "examples", "python", "click_to_call.py")
        run = lambda *args: subprocess.run(  # noqa: E731
            [sys.executable, script, "--addr", self.voipd.addr, "--talk", "0"] + list(args),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        ok = run(ANSWERS)
        out = ok.stdout.decode()
        self.assertEqual(ok.returncode, 0, out)
        self.assertIn("CALL_STATUS_CONNECTED", out)
        self.assertIn("CALL_STATUS_DISCONNECTED", out)
        bad = run("not-a-number")
        out = bad.stdout.decode()
        self.assertEqual(bad.returncode, 1, out)
        self.assertIn("INVALID_NUMBER", out)
        self.assertIn("to.number", out)
        down = run(NETWORK_FAILURE)
        self.assertEqual(down.returncode, 1, down.stdout.decode())
        self.assertIn("NETWORK_ERROR", down.stdout.decode())


class PythonExampleWithTokenTest(unittest.TestCase):
    """The example against a daemon with auth.tokens: the token comes from a
    file (--token-file or VOIPD_TOKEN_FILE) and goes on every call."""

    def test_python_example_sends_the_token_file(self):
        check_binary()
        token = "vt_" + uuid.uuid4().hex
        cfg = config() + ("auth:\n  tokens:\n    - { name: crm, sha256: %s, "
                          "scopes: [calls:read, calls:write] }\n"
                          % hashlib.sha256(token.encode()).hexdigest())
        tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="voipd-example-"))
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        with voipd_harness.Voipd(config_text=cfg) as d:
            script = os.path.join(REPO, "clients", "examples", "python", "click_to_call.py")

            def run(args, env=None):
                full_env = dict(os.environ, PYTHONPATH=P.stub_dir, VOIPD_TOKEN_FILE="")
                full_env.update(env or {})
                return subprocess.run(
                    [sys.executable, script, "--addr", d.addr, "--talk", "0"] + args, env=full_env,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            for ok in (run(["--token-file", token_file, ANSWERS]),
                       run([ANSWERS], {"VOIPD_TOKEN_FILE": token_file})):
                self.assertEqual(ok.returncode, 0, ok.stdout)
                self.assertIn("CALL_STATUS_CONNECTED", ok.stdout)  # WatchCall carried it
                self.assertIn("CALL_STATUS_DISCONNECTED", ok.stdout)  # and EndCall
                self.assertNotIn(token, ok.stdout)
            refused = run([ANSWERS])
            self.assertEqual(refused.returncode, 1, refused.stdout)
            self.assertIn("AUTHENTICATION_FAILED", refused.stdout)


class EventStreamTest(DaemonTestCase):
    """SubscribeCallEvents ordering, fan-out and resume. Each test ends every
    call it starts, so sequences are attributable."""

    def test_stream_and_list_fields_are_checked_at_the_edge(self):
        """Every string field is bounded where it comes in, naming the field."""
        def first(stream):
            return lambda: next(iter(stream))
        self.assertRpcError(first(self.stub.WatchCall(pb.WatchCallRequest(session_id="s" * 129),
                                                      timeout=RPC_TIMEOUT)),
                            grpc.StatusCode.INVALID_ARGUMENT, epb.INVALID_ARGUMENT, "session_id")
        bad_filter = pb.SubscribeCallEventsRequest(
            filter=pb.CallEventFilter(system_name="sand\nbox"))
        self.assertRpcError(first(self.stub.SubscribeCallEvents(bad_filter, timeout=RPC_TIMEOUT)),
                            grpc.StatusCode.INVALID_ARGUMENT, epb.INVALID_ARGUMENT,
                            "filter.system_name")
        self.assertRpcError(lambda: self.list_calls(page_token="p" * 129),
                            grpc.StatusCode.INVALID_ARGUMENT, epb.INVALID_ARGUMENT, "page_token")
        extra = cpb.ContactPhoneNumber(
            number=ANSWERS,
            voip_integration_details=cpb.VoipIntegrationDetails(extra={"crm": "x" * 257}))
        self.assertRpcError(
            lambda: self.stub.StartCall(pb.StartCallRequest(to=extra), timeout=RPC_TIMEOUT),
            grpc.StatusCode.INVALID_ARGUMENT, epb.INVALID_ARGUMENT,
            "to.voip_integration_details.extra[crm]")

    def test_unset_after_sequence_sends_only_new_events(self):
        old = self.start_call(ANSWERS)
        self.end(old.session_id)
        old_last = self.wait_call_status(old.session_id, TERMINAL).last_sequence
        sub = self.subscribe(labels={"t": self.tag})
        self.wait_live(sub)
        new = self.start_call(ANSWERS)
        self.end(new.session_id)
        sub.wait_terminal(new.session_id)
        events = sub.snapshot()
        self.assertNotIn(old.session_id, [e.session.session_id for e in events], "replayed old events")
        self.assertTrue(all(e.sequence > old_last for e in events), describe(events))
        mine = [status_name(e.session.status) for e in events if e.session.session_id == new.session_id]
        self.assertEqual(mine[0], "CALL_STATUS_INITIATING")
        self.assertEqual(mine[-1], "CALL_STATUS_DISCONNECTED")
        seqs = [e.sequence for e in events]
        self.assertEqual(seqs, sorted(set(seqs)))

    def test_session_filter(self):
        start = self.last_sequence()
        everything = self.subscribe(after_sequence=start)
        a = self.start_call(BUSY)
        b = self.start_call(BUSY)
        only_a = self.subscribe(after_sequence=start, session_id=a.session_id)
        only_a.wait_terminal(a.session_id)
        everything.wait_terminal(a.session_id)
        everything.wait_terminal(b.session_id)
        self.assertEqual(only_a.snapshot(),
                         [e for e in everything.snapshot() if e.session.session_id == a.session_id])

    def test_two_subscribers_see_identical_ordered_events(self):
        start = self.last_sequence()
        a = self.subscribe(after_sequence=start)
        b = self.subscribe(after_sequence=start)
        calls = [self.start_call(n) for n in (ANSWERS, BUSY, PROVIDER_FAILURE, REMOTE_HANGUP)]
        for s in (a, b):
            s.wait_status(calls[0].session_id, S.CALL_STATUS_CONNECTED)
        self.end(calls[0].session_id)
        for s in (a, b):
            for c in calls:
                s.wait_terminal(c.session_id)
        ea, eb = a.snapshot(), b.snapshot()
        n = min(len(ea), len(eb))
        self.assertEqual(ea[:n], eb[:n], "subscribers disagree:\nA:\n%s\nB:\n%s"
                         % (describe(ea), describe(eb)))
        self.assertContiguous(ea, first=start + 1)
        self.assertContiguous(eb, first=start + 1)
        seen = {e.session.session_id for e in ea}
        self.assertTrue(all(c.session_id in seen for c in calls))
        for c in calls:
            mine = [e for e in ea if e.session.session_id == c.session_id]
            self.assertEqual(status_name(mine[0].session.status), "CALL_STATUS_INITIATING")
            self.assertEqual(sum(e.session.status in TERMINAL for e in mine), 1,
                             "exactly one terminal event:\n" + describe(mine))

    def test_resume_after_reconnect(self):
        start = self.last_sequence()
        reference = self.subscribe(after_sequence=start)  # never disconnects
        first = self.subscribe(after_sequence=start)
        a = self.start_call(ANSWERS)
        first.wait_status(a.session_id, S.CALL_STATUS_CONNECTED)
        first.cancel()
        self.assertEqual(first.wait_done(), grpc.StatusCode.CANCELLED)
        seen = first.snapshot()
        last_seen = seen[-1].sequence

        # Missed while disconnected:
        b = self.start_call(BUSY)
        self.end(a.session_id)
        reference.wait_terminal(a.session_id)
        reference.wait_terminal(b.session_id)

        resumed = self.subscribe(after_sequence=last_seen)
        resumed.wait_terminal(a.session_id)
        resumed.wait_terminal(b.session_id)
        # And live again after the replay:
        c = self.start_call(ANSWERS)
        self.end(c.session_id)
        resumed.wait_terminal(c.session_id)
        reference.wait_terminal(c.session_id)

        ref = reference.snapshot()
        got = resumed.snapshot()
        self.assertContiguous(ref, first=start + 1)
        self.assertEqual(seen, ref[:len(seen)], "the first connection saw something else")
        self.assertContiguous(got, first=last_seen + 1)
        self.assertEqual(got, [e for e in ref if e.sequence > last_seen][:len(got)],
                         "resumed stream differs from the uninterrupted one:\nresumed:\n%s\nref:\n%s"
                         % (describe(got), describe(ref)))
        missed = {(e.session.session_id, e.session.status) for e in got}
        self.assertIn((a.session_id, S.CALL_STATUS_DISCONNECTED), missed)
        self.assertIn((b.session_id, S.CALL_STATUS_INITIATING), missed)
        self.assertIn((b.session_id, S.CALL_STATUS_BUSY), missed)
        self.assertIn((c.session_id, S.CALL_STATUS_INITIATING), missed)


class DefaultRegionTest(DaemonTestCase):
    """`default_region` from the config parses numbers typed without a
    country code (README, Configuration and Routing)."""
    daemon_config = config().replace("default_region: US", "default_region: GB")

    def test_national_number_is_normalized_with_the_default_region(self):
        s = self.start_call(LONDON_NATIONAL)
        self.assertEqual(s.to_normalized, LONDON_E164)
        self.assertEqual(s.to.number, LONDON_NATIONAL, "to.number stays as typed")
        self.assertEqual(s.system_name, "sandbox")
        got = self.wait_call_status(s.session_id, [S.CALL_STATUS_CONNECTED])
        self.assertEqual(got.to_normalized, LONDON_E164)
        # Numbers with a country code do not depend on the region.
        us = self.start_call("+1 201-555-0100")
        self.assertEqual(us.to_normalized, ANSWERS)


class SmallWindowTest(DaemonTestCase):
    daemon_config = config(window=5)

    def test_out_of_range_when_older_than_window(self):
        for _ in range(4):
            s = self.start_call(ANSWERS)
            self.end(s.session_id)
        last = self.wait_call_status(s.session_id, TERMINAL).last_sequence
        self.assertGreaterEqual(last, 8)
        oldest = last - 4  # a window of 5 holds last-4 .. last

        too_old = self.subscribe(after_sequence=0)
        self.assertEqual(too_old.wait_done(), grpc.StatusCode.OUT_OF_RANGE, too_old.details)
        self.assertEqual(too_old.snapshot(), [])
        numbers = [int(n) for n in re.findall(r"\d+", too_old.details or "")]
        self.assertIn(oldest, numbers, "message must name the oldest sequence held: %r"
                      % too_old.details)

        just_too_old = self.subscribe(after_sequence=oldest - 2)
        self.assertEqual(just_too_old.wait_done(), grpc.StatusCode.OUT_OF_RANGE)

        whole_window = self.subscribe(after_sequence=oldest - 1)
        whole_window.wait_for(lambda evs: len(evs) >= 5, "5 replayed events")
        self.assertEqual([e.sequence for e in whole_window.snapshot()],
                         list(range(oldest, last + 1)))

        # Nothing to replay, then live: the next event is last + 1.
        live = self.subscribe(after_sequence=last)
        n = self.start_call(ANSWERS)
        self.end(n.session_id)
        live.wait_terminal(n.session_id)
        self.assertContiguous(live.snapshot(), first=last + 1)


SECOND_SYSTEM = "  other: { type: sandbox, time_scale: 20 }\n"
THIRD_SYSTEM = "  third: { type: sandbox, time_scale: 20 }\n"


class ReloadTestCase(DaemonTestCase):
    """Helpers for SIGHUP tests (no tests of its own)."""

    def systems(self):
        caps = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        return sorted(s.name for s in caps.systems)

    def sighup_and_wait_for_rejection(self, what):
        """SIGHUP, then waits for the daemon to report the rejected config
        (an error line in its log) so the checks after it are not early."""
        size = len(self.voipd.log())
        self.voipd.signal(signal.SIGHUP)
        poll(lambda: re.search(r"reject|error|invalid", self.voipd.log()[size:], re.I),
             "voipd to log that it rejected " + what, timeout=5)


class ReloadTest(ReloadTestCase):
    def test_sighup_reload_during_live_call(self):
        sub = self.subscribe(after_sequence=0)
        live = self.start_call(ANSWERS)
        watch = self.watch(live.session_id)
        watch.wait_status(live.session_id, S.CALL_STATUS_CONNECTED)
        self.assertEqual(self.systems(), ["sandbox"])

        self.voipd.rewrite_config(config(extra_systems=SECOND_SYSTEM))
        self.voipd.signal(signal.SIGHUP)
        poll(lambda: self.systems() == ["other", "sandbox"], "the reload to add 'other'")
        self.assertEqual(status_name(self.get(live.session_id).status), "CALL_STATUS_CONNECTED")
        held = self.stub.Hold(pb.HoldRequest(session_id=live.session_id, hold=True),
                              timeout=RPC_TIMEOUT)
        self.assertEqual(status_name(held.status), "CALL_STATUS_ON_HOLD")
        self.stub.Hold(pb.HoldRequest(session_id=live.session_id, hold=False), timeout=RPC_TIMEOUT)
        via_other = self.start_call(ANSWERS, preferred_system="other")
        self.assertEqual(via_other.system_name, "other")
        self.end(via_other.session_id)

        # Broken configs are rejected; the old one stays in force.
        broken = {
            "a YAML syntax error": "listen: [\"127.0.0.1:0\"\nsystems: {{{\n",
            "an unknown adapter type": config(extra_systems="  bad: { type: no-such-adapter }\n"),
            "a default_system that does not exist": config(extra_systems=SECOND_SYSTEM).replace(
                "default_system: sandbox", "default_system: ghost"),
        }
        for what, text in broken.items():
            with self.subTest(config=what):
                self.voipd.rewrite_config(text)
                self.sighup_and_wait_for_rejection(what)
                self.assertIsNone(self.voipd.proc.poll(), "voipd exited on a bad config")
                self.assertEqual(self.systems(), ["other", "sandbox"])
                caps = self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
                self.assertEqual(caps.default_system, "sandbox")
                self.assertEqual(status_name(self.get(live.session_id).status),
                                 "CALL_STATUS_CONNECTED")
                probe = self.start_call(ANSWERS)
                self.end(probe.session_id)

        # A good config is still taken afterwards.
        self.voipd.rewrite_config(config(extra_systems=SECOND_SYSTEM + THIRD_SYSTEM))
        self.voipd.signal(signal.SIGHUP)
        poll(lambda: self.systems() == ["other", "sandbox", "third"], "the reload to add 'third'")

        # The call and both streams lived through all of it.
        self.assertFalse(watch.done, "WatchCall ended during reload: %s" % watch.details)
        self.assertFalse(sub.done, "SubscribeCallEvents ended during reload: %s" % sub.details)
        ended = self.end(live.session_id)
        self.assertEqual(status_name(ended.status), "CALL_STATUS_DISCONNECTED")
        watch.wait_terminal(live.session_id)
        self.assertEqual(watch.wait_done(), grpc.StatusCode.OK, watch.details)
        sub.wait_terminal(live.session_id)
        self.assertContiguous(sub.snapshot(), first=1)


class ReloadRemovingSystemTest(ReloadTestCase):
    daemon_config = config(extra_systems=SECOND_SYSTEM).replace(
        "events:", 'routes: [{prefix: "+44", system: other}]\nevents:')

    def test_live_call_survives_removal_of_its_system(self):
        live = self.start_call("+44 20 7946 0958")
        self.assertEqual(live.system_name, "other", "routes: +44 -> other")
        watch = self.watch(live.session_id)
        watch.wait_status(live.session_id, S.CALL_STATUS_CONNECTED)

        self.voipd.rewrite_config(config())  # `other` and the route are gone
        self.voipd.signal(signal.SIGHUP)
        poll(lambda: self.systems() == ["sandbox"], "the reload to remove 'other'")

        self.assertEqual(status_name(self.get(live.session_id).status), "CALL_STATUS_CONNECTED")
        held = self.stub.Hold(pb.HoldRequest(session_id=live.session_id, hold=True),
                              timeout=RPC_TIMEOUT)
        self.assertEqual(status_name(held.status), "CALL_STATUS_ON_HOLD")
        ended = self.end(live.session_id)
        self.assertEqual(status_name(ended.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(ended.system_name, "other")
        watch.wait_terminal(live.session_id)
        self.assertEqual(watch.wait_done(), grpc.StatusCode.OK, watch.details)
        self.assertEqual(self.start_call("+44 20 7946 0958").system_name, "sandbox")


class ShutdownTest(DaemonTestCase):
    """Each test stops its own daemon."""

    @classmethod
    def setUpClass(cls):
        check_binary()

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        super().setUp()
        DaemonTestCase.setUpClass.__func__(type(self))
        self.addCleanup(DaemonTestCase.tearDownClass.__func__, type(self))

    def test_sigterm_ends_calls_and_streams(self):
        sub = self.subscribe(after_sequence=0)
        talking = self.start_call(ANSWERS, end_at_cleanup=False)
        ringing = self.start_call(NO_ANSWER, end_at_cleanup=False)
        watch = self.watch(talking.session_id)
        watch.wait_status(talking.session_id, S.CALL_STATUS_CONNECTED)
        sub.wait_status(talking.session_id, S.CALL_STATUS_CONNECTED)
        sub.wait_status(ringing.session_id, S.CALL_STATUS_RINGING)

        self.voipd.signal(signal.SIGTERM)
        rc = self.voipd.wait(timeout=20)
        self.assertEqual(rc, 0, "exit code after SIGTERM\n" + self.voipd.log()[-4000:])

        # WatchCall: the terminal event, then the stream ends (OK, or a
        # non-OK status since the server is going away).
        watch.wait_done()
        w = watch.snapshot()
        self.assertEqual(status_name(w[-1].session.status), "CALL_STATUS_DISCONNECTED",
                         "WatchCall's last event\n" + describe(w))

        # SubscribeCallEvents: both terminal events, then UNAVAILABLE.
        self.assertEqual(sub.wait_done(), grpc.StatusCode.UNAVAILABLE, sub.details)
        events = sub.snapshot()
        self.assertContiguous(events, first=1)
        for c in (talking, ringing):
            terminal = [e for e in events if e.session.session_id == c.session_id
                        and e.session.status in TERMINAL]
            self.assertEqual([status_name(e.session.status) for e in terminal],
                             ["CALL_STATUS_DISCONNECTED"], describe(events))
        self.assertIn(events[-1].session.status, TERMINAL, "events after the terminal ones")

    def test_calls_ended_by_sigterm_name_voipd_as_the_source(self):
        # call.proto: HANGUP_SOURCE_SYSTEM is "voipd itself (ring timeout,
        # shutdown, provider error)"; LOCAL is "EndCall through the API".
        sub = self.subscribe(after_sequence=0)
        talking = self.start_call(ANSWERS, end_at_cleanup=False)
        sub.wait_status(talking.session_id, S.CALL_STATUS_CONNECTED)
        self.voipd.signal(signal.SIGTERM)
        self.assertEqual(self.voipd.wait(timeout=20), 0)
        sub.wait_done()
        end = sub.wait_terminal(talking.session_id).session.end_reason
        self.assertEqual(S.HangupSource.Name(end.source), "HANGUP_SOURCE_SYSTEM",
                         "end_reason of a call ended by SIGTERM: %s" % end)


if __name__ == "__main__":
    unittest.main()
