"""Inbound calls (a number's Voice URL, <public_url>/voice/incoming) and
re-adoption of calls after kill -9 (Adapter::Readopt: GET Calls/{Sid}),
against the scripted Twilio, which signs every webhook as Twilio does.

Run (the env is set by ctest):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest tests/integration/twilio/test_twilio_inbound.py -v
"""
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

import grpc

import scripted_twilio
from scripted_twilio import ACCOUNT_SID
from twilio_support import (FROM, PUBLIC_URL, RPC_TIMEOUT, TERMINAL, TO, WAIT, Credentials,
                            TwilioDaemonTestCase, Watch, check_binary, cpb, daemon_config, epb,
                            free_port, pb, P, status_name)
import call_stream  # noqa: E402  (on the path once twilio_support is imported)
import voipd_harness  # noqa: E402

CALLER = "+12015550177"
INCOMING = PUBLIC_URL + "/voice/incoming"
INBOUND = "{ enabled: true, greeting: \"Connecting you\" }"


class Events:
    """SubscribeCallEvents (every call) read on a thread by the shared harness Stream."""

    def __init__(self, stub):
        # after_sequence=0: replay from the start, so that no event is missed
        # while the subscription is still on its way to the server.
        self._stream = call_stream.Stream(stub.SubscribeCallEvents(
            pb.SubscribeCallEventsRequest(after_sequence=0), timeout=300))

    def of(self, sid):
        return [e for e in self._stream.snapshot() if e.session.provider_call_id == sid]

    def statuses(self, sid):
        return [status_name(e.session.status) for e in self.of(sid)
                if e.type == cpb.CALL_EVENT_TYPE_STATUS_CHANGED]

    def wait_status(self, sid, status, timeout=WAIT):
        try:
            return self._stream.wait_for(
                lambda evs: next((e for e in evs if e.session.provider_call_id == sid
                                  and e.session.status == status), None),
                "%s for %s" % (status_name(status), sid), timeout)
        except AssertionError as e:
            raise AssertionError("%s; statuses of %s: %s" % (e, sid, self.statuses(sid))) from None

    def cancel(self):
        self._stream.cancel()


def incoming_params(sid, to=FROM):
    return [("AccountSid", ACCOUNT_SID), ("ApiVersion", "2010-04-01"), ("CallSid", sid),
            ("CallStatus", "ringing"), ("Direction", "inbound"), ("From", CALLER), ("To", to),
            ("Caller", CALLER), ("Called", to)]


def number_status(twilio, sid, status, seq):
    """The number's "call status changes" callback: /status, no session."""
    twilio.set_status(sid, status)
    params = [("AccountSid", ACCOUNT_SID), ("ApiVersion", "2010-04-01"), ("CallSid", sid),
              ("CallStatus", status), ("Direction", "inbound"), ("From", CALLER), ("To", FROM),
              ("SequenceNumber", str(seq)),
              ("Timestamp", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))]
    return twilio.post_webhook(PUBLIC_URL + "/status", params)


def conference_event(twilio, session_id, sid, event):
    url = "%s/conference?session=%s" % (PUBLIC_URL, session_id)
    params = [("AccountSid", ACCOUNT_SID), ("ConferenceSid", twilio.conference_sid),
              ("FriendlyName", "voipd-" + session_id), ("CallSid", sid),
              ("StatusCallbackEvent", event), ("Muted", "false"), ("Hold", "false")]
    return twilio.post_webhook(url, params)


def arrive(twilio, sid=None, **kw):
    """A call arrives at the number: Twilio has it ringing and asks voipd."""
    sid = sid or scripted_twilio.new_sid("CA")
    twilio.set_status(sid, "ringing")
    status, body = twilio.post_webhook(INCOMING, incoming_params(sid), **kw)
    return sid, status, body


class InboundTest(TwilioDaemonTestCase):
    extra = {"inbound": INBOUND, "callback_timeout": "30s"}

    def setUp(self):
        self.events = Events(self.stub)
        self.addCleanup(self.events.cancel)

    def session_of(self, body):
        m = re.search(r">voipd-([^<]+)</Conference>", body)
        self.assertIsNotNone(m, body)
        return m.group(1)

    def test_signed_inbound_call_connects_and_ends_through_callbacks(self):
        sid, status, body = arrive(self.twilio)
        self.assertEqual(status, 200, body)
        self.assertIn("<Say>Connecting you</Say>", body)
        session_id = self.session_of(body)
        self.assertIn('statusCallback="%s/conference?session=%s"' % (PUBLIC_URL, session_id), body)
        ringing = self.events.wait_status(sid, cpb.CALL_STATUS_RINGING)
        self.assertEqual(ringing.session.direction, cpb.CALL_DIRECTION_INBOUND)
        self.assertEqual(ringing.session.session_id, session_id)
        self.assertEqual(getattr(ringing.session, "from"), CALLER)
        self.assertEqual(ringing.session.to_normalized, FROM)
        self.assertEqual(number_status(self.twilio, sid, "in-progress", 1)[0], 204)
        self.events.wait_status(sid, cpb.CALL_STATUS_CONNECTED)
        self.assertEqual(number_status(self.twilio, sid, "completed", 2)[0], 204)
        end = self.events.wait_status(sid, cpb.CALL_STATUS_DISCONNECTED)
        self.assertEqual(end.session.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
        # A duplicate completed changes nothing.
        self.assertEqual(number_status(self.twilio, sid, "completed", 2)[0], 204)
        time.sleep(0.3)
        self.assertEqual(self.events.statuses(sid),
                         ["INITIATING", "RINGING", "CONNECTED", "DISCONNECTED"])

    def test_unsigned_or_forged_inbound_is_refused_without_a_session(self):
        sid = scripted_twilio.new_sid("CA")
        self.twilio.set_status(sid, "ringing")
        params = incoming_params(sid)
        self.assertEqual(self.twilio.post_webhook(INCOMING, params, sign=False)[0], 403)
        self.assertEqual(self.twilio.post_webhook(
            INCOMING, params, signature_value="0/KCTR6DLpKmkAf8muzZqo1nDgQ=")[0], 403)
        # Signed for another URL (a forwarded request replayed elsewhere).
        self.assertEqual(self.twilio.post_webhook(
            INCOMING, params, sign_url=PUBLIC_URL + "/status")[0], 403)
        # Signed with another account's token.
        forged = scripted_twilio.signature("f" * 32, INCOMING, params)
        self.assertEqual(self.twilio.post_webhook(INCOMING, params, signature_value=forged)[0], 403)
        # A control call shows the event stream works, so the silence counts.
        control, status, _ = arrive(self.twilio)
        self.assertEqual(status, 200)
        self.events.wait_status(control, cpb.CALL_STATUS_RINGING)
        self.assertEqual(self.events.of(sid), [])
        self.stub.EndCall(pb.EndCallRequest(
            session_id=self.events.of(control)[0].session.session_id), timeout=RPC_TIMEOUT)

    def test_duplicate_delivery_is_one_session(self):
        sid, status, first = arrive(self.twilio)
        status2, second = self.twilio.post_webhook(INCOMING, incoming_params(sid))
        self.assertEqual((status, status2), (200, 200))
        self.assertEqual(first, second)
        self.events.wait_status(sid, cpb.CALL_STATUS_RINGING)
        self.assertEqual(number_status(self.twilio, sid, "completed", 1)[0], 204)
        self.events.wait_status(sid, cpb.CALL_STATUS_DISCONNECTED)
        self.assertEqual(len({e.session.session_id for e in self.events.of(sid)}), 1)
        self.assertEqual(self.events.statuses(sid).count("INITIATING"), 1)

    def test_end_call_hold_and_mute_on_an_inbound_call(self):
        sid, status, body = arrive(self.twilio)
        session_id = self.session_of(body)
        self.events.wait_status(sid, cpb.CALL_STATUS_RINGING)
        # The caller joining its conference is the answer.
        self.assertEqual(conference_event(self.twilio, session_id, sid, "participant-join")[0], 204)
        self.events.wait_status(sid, cpb.CALL_STATUS_CONNECTED)
        self.twilio.set_status(sid, "in-progress")
        participant = r"/Conferences/%s/Participants/%s\.json$" % (self.twilio.conference_sid, sid)
        held = self.stub.Hold(pb.HoldRequest(session_id=session_id, hold=True), timeout=RPC_TIMEOUT)
        self.assertEqual(held.status, cpb.CALL_STATUS_ON_HOLD)
        self.twilio.wait_request("POST", participant, lambda r: r.value("Hold") == "true")
        self.stub.Hold(pb.HoldRequest(session_id=session_id, hold=False), timeout=RPC_TIMEOUT)
        muted = self.stub.Mute(pb.MuteRequest(session_id=session_id, mute=True),
                               timeout=RPC_TIMEOUT)
        self.assertTrue(muted.muted)
        ended = self.stub.EndCall(pb.EndCallRequest(session_id=session_id), timeout=RPC_TIMEOUT)
        self.assertEqual(ended.status, cpb.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        hangup = self.twilio.wait_request("POST", r"/Calls/%s\.json$" % sid)
        self.assertEqual(hangup.value("Status"), "completed")
        self.assertEqual(self.twilio.calls[sid], "completed")

    def test_core_refusal_is_rejected_twiml(self):
        # The core refuses a call without a dialled number: <Reject/>, no session.
        sid = scripted_twilio.new_sid("CA")
        params = [(k, "" if k in ("To", "Called") else v) for k, v in incoming_params(sid)]
        status, body = self.twilio.post_webhook(INCOMING, params)
        self.assertEqual(status, 200, body)
        self.assertIn("<Response><Reject/></Response>", body)
        self.assertNotIn("Conference", body)
        # Delivered again: the same refusal.
        self.assertIn("<Reject/>", self.twilio.post_webhook(INCOMING, params)[1])
        control, _, _ = arrive(self.twilio)
        self.events.wait_status(control, cpb.CALL_STATUS_RINGING)
        self.assertEqual(self.events.of(sid), [])


class ReadoptTest(unittest.TestCase):
    """kill -9 with calls active, restart with the same --state-dir against
    the same scripted Twilio, whose GET Calls/{Sid} decides."""

    def setUp(self):
        check_binary()
        self.creds = Credentials()
        self.addCleanup(self.creds.dir.cleanup)
        self.port = free_port()
        self.twilio = scripted_twilio.ScriptedTwilio(
            public_url=PUBLIC_URL, webhook_addr="127.0.0.1:%d" % self.port).start()
        self.addCleanup(self.twilio.stop)
        self.state = tempfile.mkdtemp(prefix="voipd-twilio-state-")
        self.addCleanup(shutil.rmtree, self.state, True)
        self.config = daemon_config(self.creds, self.twilio.url, self.port,
                                    inbound=INBOUND, callback_timeout="30s")

    def daemon(self):
        v = voipd_harness.Voipd(config_text=self.config, extra_args=["--state-dir", self.state])
        v.start()
        channel = grpc.insecure_channel(v.addr)
        self.addCleanup(channel.close)

        def cleanup():
            if v.proc.poll() is None:
                v.proc.kill()
                v.proc.wait(10)
            v._log.close()
            v.tmp.cleanup()
        self.addCleanup(cleanup)
        return v, P.voip_service_pb2_grpc.VoipServiceStub(channel)

    def kill9(self, v):
        # A crash keeps what voipd had committed (what subscribers could
        # see); StartCall and an inbound webhook answer before their batch is
        # on disk (docs/history.md). ListCalls waits for the journal, so
        # everything so far is on disk when the kill comes.
        with grpc.insecure_channel(v.addr) as channel:
            P.voip_service_pb2_grpc.VoipServiceStub(channel).ListCalls(
                P.voip_service_pb2.ListCallsRequest(page_size=1), timeout=RPC_TIMEOUT)
        v.proc.send_signal(signal.SIGKILL)
        v.proc.wait(10)

    def wait_log(self, v, text):
        deadline = time.monotonic() + WAIT
        while text not in v.log():
            if time.monotonic() > deadline:
                raise AssertionError("%r not in the log:\n%s" % (text, v.log()[-4000:]))
            time.sleep(0.05)

    def status(self, stub, session_id):
        return stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session_id),
                                  timeout=RPC_TIMEOUT)

    def wait_status(self, stub, session_id, status):
        deadline = time.monotonic() + WAIT
        while True:
            s = self.status(stub, session_id)
            if s.status == status:
                return s
            if time.monotonic() > deadline:
                raise AssertionError("%s is %s, not %s" % (session_id, status_name(s.status),
                                                           status_name(status)))
            time.sleep(0.05)

    def outbound(self, stub, answered):
        s = stub.StartCall(pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=TO)),
                           timeout=RPC_TIMEOUT)
        sid = s.provider_call_id
        self.twilio.status_callback(sid, "ringing", 1)
        self.wait_status(stub, s.session_id, cpb.CALL_STATUS_RINGING)
        if answered:
            self.twilio.status_callback(sid, "in-progress", 2)
            self.wait_status(stub, s.session_id, cpb.CALL_STATUS_CONNECTED)
        return s.session_id, sid

    def inbound(self, stub):
        sid, status, body = arrive(self.twilio)
        self.assertEqual(status, 200, body)
        session_id = re.search(r">voipd-([^<]+)</Conference>", body).group(1)
        self.assertEqual(number_status(self.twilio, sid, "in-progress", 1)[0], 204)
        self.wait_status(stub, session_id, cpb.CALL_STATUS_CONNECTED)
        return session_id, sid

    def test_calls_twilio_still_has_are_readopted(self):
        v, stub = self.daemon()
        out_id, out_sid = self.outbound(stub, answered=True)
        late_id, late_sid = self.outbound(stub, answered=False)  # ringing at the crash
        in_id, in_sid = self.inbound(stub)
        self.kill9(v)
        self.twilio.set_status(out_sid, "in-progress")
        self.twilio.set_status(late_sid, "in-progress")  # answered while voipd was down
        self.twilio.set_status(in_sid, "in-progress")

        v2, stub2 = self.daemon()
        for session_id in (out_id, late_id, in_id):
            self.wait_log(v2, "re-adopted session %s" % session_id)
        for sid in (out_sid, late_sid, in_sid):
            self.twilio.wait_request("GET", r"/Calls/%s\.json$" % sid)
        self.assertEqual(self.status(stub2, out_id).status, cpb.CALL_STATUS_CONNECTED)
        self.wait_status(stub2, late_id, cpb.CALL_STATUS_CONNECTED)
        self.assertEqual(self.status(stub2, in_id).status, cpb.CALL_STATUS_CONNECTED)
        watches = {i: Watch(stub2, i) for i in (out_id, late_id, in_id)}
        for w in watches.values():
            self.addCleanup(w.cancel)

        # Twilio's callbacks reach the re-adopted calls: the outbound one by
        # the session in its URL, the inbound one by its CallSid.
        self.assertEqual(self.twilio.status_callback(out_sid, "completed", 3)[0], 204)
        self.assertEqual(number_status(self.twilio, in_sid, "completed", 2)[0], 204)
        for i in (out_id, in_id):
            end = watches[i].wait_terminal()
            self.assertEqual(end.session.status, cpb.CALL_STATUS_DISCONNECTED)
            self.assertEqual(end.session.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
            self.assertNotEqual(end.session.end_reason.error_code, epb.DAEMON_RESTART)
        # EndCall works on a re-adopted call: the REST hang-up.
        ended = stub2.EndCall(pb.EndCallRequest(session_id=late_id), timeout=RPC_TIMEOUT)
        self.assertEqual(ended.status, cpb.CALL_STATUS_DISCONNECTED)
        hangup = self.twilio.wait_request("POST", r"/Calls/%s\.json$" % late_sid)
        self.assertEqual(hangup.value("Status"), "completed")
        # A duplicate completed ends nothing twice.
        self.assertEqual(self.twilio.status_callback(out_sid, "completed", 4)[0], 204)
        for w in watches.values():
            statuses = w.settle()
            self.assertEqual(sum(s in {status_name(t) for t in TERMINAL} for s in statuses), 1,
                             statuses)
        self.assertEqual(v2.stop(), 0)

    def test_calls_twilio_finished_end_with_daemon_restart(self):
        v, stub = self.daemon()
        out_id, out_sid = self.outbound(stub, answered=True)
        in_id, in_sid = self.inbound(stub)
        self.kill9(v)
        self.twilio.set_status(out_sid, "completed")
        self.twilio.set_status(in_sid, "busy")
        v2, stub2 = self.daemon()
        for session_id in (out_id, in_id):
            s = self.wait_status(stub2, session_id, cpb.CALL_STATUS_DISCONNECTED)
            self.assertEqual(s.end_reason.error_code, epb.DAEMON_RESTART)
        for sid in (out_sid, in_sid):
            self.twilio.wait_request("GET", r"/Calls/%s\.json$" % sid)
        # A late callback for a call the core ended changes nothing.
        self.assertEqual(self.twilio.status_callback(out_sid, "completed", 3)[0], 204)
        self.assertEqual(self.status(stub2, out_id).end_reason.error_code, epb.DAEMON_RESTART)
        self.assertEqual(v2.stop(), 0)


if __name__ == "__main__":
    unittest.main()
