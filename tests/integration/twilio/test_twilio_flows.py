"""The twilio adapter against a scripted Twilio (scripted_twilio.py): the
call lifecycle, webhooks, hold and mute, and every fault Prism cannot model.

Run (the env is set by ctest):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest discover -s tests/integration/twilio -v
"""
import base64
import re
import socket
import time
import unittest

import grpc

import scripted_twilio
from scripted_twilio import ACCOUNT_SID, Response, twilio_error
from twilio_support import (FROM, PUBLIC_URL, RPC_TIMEOUT, TO, TwilioDaemonTestCase, cpb, epb,
                            pb, P)

S = cpb
CALLS = r"/Accounts/AC[0-9a-f]{32}/Calls\.json$"
CALL = r"/Accounts/AC[0-9a-f]{32}/Calls/CA[0-9a-f]{32}\.json$"


class LifecycleTest(TwilioDaemonTestCase):
    """Webhook mode: callbacks drive the call; polling only after silence."""

    extra = {"callback_timeout": "30s", "request_timeout": "1s", "connect_timeout": "1s",
             "max_attempts": 3, "retry_initial_backoff": "50ms", "retry_budget": "5s",
             "hold_url": "\"https://music.example.test/hold.xml\""}

    def test_create_request_is_what_twilio_expects(self):
        session, watch, sid = self.start_call(ring_timeout={"seconds": 25})
        create = self.twilio.call_requests[sid]
        self.assertEqual(create.value("To"), TO)
        self.assertEqual(create.value("From"), FROM)
        self.assertEqual(create.value("Timeout"), "25")
        self.assertEqual(create.value("StatusCallback"),
                         "%s/status?session=%s" % (PUBLIC_URL, session.session_id))
        self.assertEqual(create.value("StatusCallbackMethod"), "POST")
        # A list goes as repeated keys, the way Twilio's own libraries send it.
        self.assertEqual(create.values("StatusCallbackEvent"),
                         ["initiated", "ringing", "answered", "completed"])
        self.assertIn("StatusCallbackEvent=initiated&StatusCallbackEvent=ringing", create.body)
        twiml = create.value("Twiml")
        self.assertIn(">voipd-%s</Conference>" % session.session_id, twiml)
        self.assertIn('endConferenceOnExit="true"', twiml)
        self.assertEqual(create.headers.get("Content-Type"), "application/x-www-form-urlencoded")
        # HTTP Basic with the Account SID and Auth Token read from the files.
        user, password = base64.b64decode(
            create.headers["Authorization"].split()[1]).decode().split(":", 1)
        self.assertEqual(user, ACCOUNT_SID)
        self.assertEqual(password, self.creds_token())
        self.assertEqual(session.provider_call_id, sid)
        self.assertEqual(session.status, S.CALL_STATUS_INITIATING)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)

    def creds_token(self):
        with open(self.creds.auth_token_file) as f:
            return f.read().strip()

    def test_full_lifecycle_with_hold_and_mute(self):
        session, watch, sid = self.start_call()
        self.answer(sid, watch)
        self.assertEqual(self.twilio.conference_join(sid)[0], 204)
        conf = self.twilio.conference_sid
        participant = r"/Conferences/%s/Participants/%s\.json$" % (conf, sid)

        held = self.stub.Hold(pb.HoldRequest(session_id=session.session_id, hold=True),
                              timeout=RPC_TIMEOUT)
        self.assertEqual(held.status, S.CALL_STATUS_ON_HOLD)
        req = self.twilio.wait_request("POST", participant, lambda r: r.value("Hold") == "true")
        self.assertEqual(req.value("HoldUrl"), "https://music.example.test/hold.xml")
        resumed = self.stub.Hold(pb.HoldRequest(session_id=session.session_id, hold=False),
                                 timeout=RPC_TIMEOUT)
        self.assertEqual(resumed.status, S.CALL_STATUS_CONNECTED)
        self.twilio.wait_request("POST", participant, lambda r: r.value("Hold") == "false")

        muted = self.stub.Mute(pb.MuteRequest(session_id=session.session_id, mute=True),
                               timeout=RPC_TIMEOUT)
        self.assertTrue(muted.muted)
        self.twilio.wait_request("POST", participant, lambda r: r.value("Muted") == "true")
        unmuted = self.stub.Mute(pb.MuteRequest(session_id=session.session_id, mute=False),
                                 timeout=RPC_TIMEOUT)
        self.assertFalse(unmuted.muted)

        ended = self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id),
                                  timeout=RPC_TIMEOUT)
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        hangup = self.twilio.wait_request("POST", CALL, lambda r: r.path.endswith(sid + ".json"))
        self.assertEqual(hangup.value("Status"), "completed")  # answered: completed
        # Twilio's own completed callback arrives later: no second end.
        self.assertEqual(self.twilio.status_callback(sid, "completed", 3)[0], 204)
        self.assertEqual(self.assert_one_terminal(watch),
                         ["INITIATING", "RINGING", "CONNECTED", "ON_HOLD", "CONNECTED",
                          "mute=True", "mute=False", "DISCONNECTED"])
        # The conference SID came from the join callback: no lookup needed.
        self.assertEqual(self.twilio.matching("GET", r"/Conferences\.json$"), [])

    def test_remote_hangup(self):
        session, watch, sid = self.start_call()
        self.answer(sid, watch)
        self.twilio.status_callback(sid, "completed", 3, extra={"CallDuration": "42"})
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(end.session.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
        self.assertEqual(end.session.end_reason.provider_cause.provider_status, "completed")
        self.assertTrue(end.session.HasField("answered_at"))

    def test_busy(self):
        session, watch, sid = self.start_call()
        self.twilio.status_callback(sid, "ringing", 1)
        self.twilio.status_callback(sid, "busy", 2, extra={"SipResponseCode": "486"})
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_BUSY)
        self.assertEqual(end.session.end_reason.provider_cause.provider_status, "busy")
        self.assertEqual(end.session.end_reason.provider_cause.sip_code, 486)
        self.assert_one_terminal(watch)

    def test_no_answer(self):
        session, watch, sid = self.start_call()
        self.twilio.status_callback(sid, "ringing", 1)
        self.twilio.status_callback(sid, "no-answer", 2)
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_UNAVAILABLE)
        self.assertEqual(end.session.end_reason.provider_cause.provider_status, "no-answer")

    def test_failed(self):
        session, watch, sid = self.start_call()
        self.twilio.status_callback(sid, "failed", 1, extra={
            "ErrorCode": "32009", "ErrorMessage": "SIP endpoint not registered"})
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_FAILED)
        reason = end.session.end_reason
        self.assertEqual(reason.error_code, epb.PROVIDER_ERROR)
        self.assertEqual(reason.provider_cause.provider_code, "32009")
        self.assertEqual(reason.provider_cause.provider_status, "failed")

    def test_duplicates_and_out_of_order(self):
        session, watch, sid = self.start_call()
        # in-progress overtakes ringing; everything arrives twice; a stale
        # "ringing" and a contradicting terminal come after the end.
        for status, seq in [("in-progress", 2), ("in-progress", 2), ("ringing", 1),
                            ("initiated", 0), ("completed", 3), ("completed", 3),
                            ("ringing", 1), ("busy", 4)]:
            code, _ = self.twilio.status_callback(sid, status, seq)
            self.assertEqual(code, 204)
        watch.wait_terminal()
        self.assertEqual(self.assert_one_terminal(watch),
                         ["INITIATING", "CONNECTED", "DISCONNECTED"])

    def test_callbacks_overtaking_the_201(self):
        # Twilio's "ringing" reaches voipd before the create's response does:
        # the scripted create sends callbacks, then answers.
        sid = scripted_twilio.new_sid("CA")
        self.twilio.set_status(sid, "queued")

        def early(req):
            self.twilio.call_requests[sid] = req
            self.assertEqual(self.twilio.status_callback(sid, "ringing", 1)[0], 204)
            self.assertEqual(self.twilio.status_callback(sid, "initiated", 0)[0], 204)

        self.twilio.script("POST", CALLS, Response(201, self.twilio.call_json(sid), before=early))
        session, watch, got_sid = self.start_call()
        self.assertEqual(got_sid, sid)
        watch.wait_status(S.CALL_STATUS_RINGING)
        self.twilio.status_callback(sid, "completed", 2)
        watch.wait_terminal()
        self.assertEqual(self.assert_one_terminal(watch), ["RINGING", "DISCONNECTED"]
                         if watch.statuses()[0] == "RINGING"
                         else ["INITIATING", "RINGING", "DISCONNECTED"])

    def test_end_before_answer_cancels(self):
        session, watch, sid = self.start_call()
        self.twilio.status_callback(sid, "ringing", 1)
        self.twilio.set_status(sid, "ringing")
        watch.wait_status(S.CALL_STATUS_RINGING)
        ended = self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id),
                                  timeout=RPC_TIMEOUT)
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        update = self.twilio.wait_request("POST", CALL, lambda r: sid in r.path)
        self.assertEqual(update.value("Status"), "canceled")
        self.assertEqual(self.twilio.status_callback(sid, "canceled", 2)[0], 204)
        self.assert_one_terminal(watch)

    def test_cancel_racing_answer_hangs_up(self):
        session, watch, sid = self.start_call()
        self.twilio.status_callback(sid, "ringing", 1)
        watch.wait_status(S.CALL_STATUS_RINGING)
        # Twilio answered before our cancel arrived: the cancel does nothing
        # and the response says in-progress, so voipd must hang up instead.
        self.twilio.set_status(sid, "in-progress")
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)
        updates = [r.value("Status") for r in self.twilio.matching("POST", CALL,
                                                                 lambda r: sid in r.path)]
        self.assertEqual(updates, ["canceled", "completed"])
        self.assertEqual(watch.wait_terminal().session.status, S.CALL_STATUS_DISCONNECTED)

    def test_invalid_to_is_provider_error_with_twilio_code(self):
        self.twilio.script("POST", CALLS, twilio_error(
            400, 21211, "The 'To' number +12015550100 is not a valid phone number."))
        err, voip = self.start_call_error()
        self.assertEqual(err.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(voip.error_code, epb.PROVIDER_ERROR)
        self.assertEqual(voip.provider_cause.provider_code, "21211")
        self.assertEqual(voip.details["twilio_code"], "21211")
        self.assertIn("21211", voip.message)
        # The session exists, ended failed, exactly once.
        failed = self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=voip.session_id),
                                         timeout=RPC_TIMEOUT)
        self.assertEqual(failed.status, S.CALL_STATUS_FAILED)
        self.assertEqual(failed.end_reason.provider_cause.provider_code, "21211")

    def test_429_is_retried_honouring_retry_after(self):
        before = len(self.twilio.matching("POST", CALLS))
        self.twilio.script("POST", CALLS,
                           Response(429, {"code": 20429, "message": "Too Many Requests"},
                                    headers={"Retry-After": "1"}))
        session, watch, sid = self.start_call()
        creates = self.twilio.matching("POST", CALLS)[before:]
        self.assertEqual(len(creates), 2)
        self.assertGreaterEqual(creates[1].time - creates[0].time, 0.95)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)

    def test_500_is_retried(self):
        before = len(self.twilio.matching("POST", CALLS))
        self.twilio.script("POST", CALLS, Response(500, "oops"), Response(503, ""))
        session, watch, sid = self.start_call()
        self.assertEqual(len(self.twilio.matching("POST", CALLS)[before:]), 3)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)
        self.assertEqual(self.system_health().state, pb.HEALTH_STATE_HEALTHY)

    def test_5xx_until_the_attempts_run_out(self):
        before = len(self.twilio.matching("POST", CALLS))
        self.twilio.script("POST", CALLS, *[twilio_error(503, 20503, "Service Unavailable")] * 3)
        err, voip = self.start_call_error()
        self.assertEqual(voip.error_code, epb.PROVIDER_ERROR)
        self.assertEqual(voip.provider_cause.provider_code, "20503")
        self.assertIn("3 attempts", voip.message)
        self.assertEqual(len(self.twilio.matching("POST", CALLS)[before:]), 3)
        self.assertEqual(self.system_health().state, pb.HEALTH_STATE_DEGRADED)
        # The next success makes it healthy again.
        session, watch, sid = self.start_call()
        self.assertEqual(self.system_health().state, pb.HEALTH_STATE_HEALTHY)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)

    def test_create_timeout_is_network_error_and_not_repeated(self):
        before = len(self.twilio.matching("POST", CALLS))
        captured = {}

        def remember(req):
            captured["req"] = req

        # Twilio got the request but its answer never arrives in time.
        sid = scripted_twilio.new_sid("CA")
        self.twilio.script("POST", CALLS, Response(201, {"sid": sid, "status": "queued"},
                                                   delay=1.5, before=remember))
        err, voip = self.start_call_error()
        self.assertEqual(voip.error_code, epb.NETWORK_ERROR)
        time.sleep(0.6)  # any (wrong) retry would have been sent by now
        self.assertEqual(len(self.twilio.matching("POST", CALLS)[before:]), 1)
        # The call exists at Twilio after all: its first callback makes voipd
        # hang it up (the orphan guard).
        self.twilio.calls[sid] = "ringing"
        self.twilio.call_requests[sid] = captured["req"]
        self.assertEqual(self.twilio.status_callback(sid, "ringing", 1)[0], 204)
        cancel = self.twilio.wait_request("POST", CALL, lambda r: sid in r.path)
        self.assertEqual(cancel.value("Status"), "canceled")

    def test_create_timeout_after_a_callback_hangs_up_at_once(self):
        sid = scripted_twilio.new_sid("CA")

        def ring_first(req):
            # Twilio made the call and reports it before voipd gives up.
            self.twilio.calls[sid] = "ringing"
            self.twilio.call_requests[sid] = req
            self.assertEqual(self.twilio.status_callback(sid, "ringing", 1)[0], 204)

        self.twilio.script("POST", CALLS, Response(201, {"sid": sid, "status": "queued"},
                                                   delay=1.5, before=ring_first))
        err, voip = self.start_call_error()
        self.assertEqual(voip.error_code, epb.NETWORK_ERROR)
        cancel = self.twilio.wait_request("POST", CALL, lambda r: sid in r.path)
        self.assertEqual(cancel.value("Status"), "canceled")

    def test_connection_dropped_on_create_is_network_error(self):
        before = len(self.twilio.matching("POST", CALLS))
        self.twilio.script("POST", CALLS, Response(action="close"))
        err, voip = self.start_call_error()
        self.assertEqual(voip.error_code, epb.NETWORK_ERROR)
        self.assertEqual(len(self.twilio.matching("POST", CALLS)[before:]), 1)

    def test_malformed_json_is_provider_error(self):
        self.twilio.script("POST", CALLS, Response(201, "{\"sid\": \"CA"))
        err, voip = self.start_call_error()
        self.assertEqual(voip.error_code, epb.PROVIDER_ERROR)
        self.assertIn("unexpected answer", voip.message)

    def test_401_is_configuration_error(self):
        self.twilio.script("POST", CALLS, twilio_error(401, 20003, "Authenticate"))
        err, voip = self.start_call_error()
        self.assertEqual(err.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(voip.error_code, epb.CONFIGURATION_ERROR)
        self.assertEqual(self.system_health().state, pb.HEALTH_STATE_UNHEALTHY)
        session, watch, sid = self.start_call()  # recovers with the next success
        self.assertEqual(self.system_health().state, pb.HEALTH_STATE_HEALTHY)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)

    def test_hold_refused_changes_nothing(self):
        session, watch, sid = self.start_call()
        self.answer(sid, watch)
        self.twilio.conference_join(sid)
        self.twilio.script("POST", r"/Participants/CA[0-9a-f]{32}\.json$",
                           twilio_error(404, 20404, "The requested resource was not found"))
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.Hold(pb.HoldRequest(session_id=session.session_id, hold=True),
                           timeout=RPC_TIMEOUT)
        self.assertEqual(P.voip_error(ctx.exception).error_code, epb.PROVIDER_ERROR)
        status = self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session.session_id),
                                         timeout=RPC_TIMEOUT)
        self.assertEqual(status.status, S.CALL_STATUS_CONNECTED)
        self.assertFalse(status.on_hold)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)


class IdempotentStartCallTest(TwilioDaemonTestCase):
    """StartCall with a request_id: a client's retry, after the answer or
    while the first request still waits for Twilio, never creates a second
    Twilio call (the core's idempotency cache answers it)."""

    extra = {"callback_timeout": "30s"}

    def creates_to(self, to):
        return self.twilio.matching("POST", CALLS, lambda r: r.value("To") == to)

    def request(self, to, request_id):
        return pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=to), request_id=request_id)

    def test_retry_after_the_answer_replays_the_call(self):
        to, rid = "+12015550171", "retry-after-answer-1"
        first = self.stub.StartCall(self.request(to, rid), timeout=RPC_TIMEOUT)
        again = self.stub.StartCall(self.request(to, rid), timeout=RPC_TIMEOUT)
        self.assertEqual(again.session_id, first.session_id)
        self.assertEqual(again.provider_call_id, first.provider_call_id)
        # The same key with other parameters is refused, and dials nobody.
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.StartCall(self.request("+12015550172", rid), timeout=RPC_TIMEOUT)
        self.assertEqual(P.voip_error(ctx.exception).error_code, epb.IDEMPOTENCY_MISMATCH)
        time.sleep(0.3)  # a (wrong) second create would have reached the fake by now
        self.assertEqual(len(self.creates_to(to)), 1, self.creates_to(to))
        self.assertEqual(self.creates_to("+12015550172"), [])
        self.stub.EndCall(pb.EndCallRequest(session_id=first.session_id), timeout=RPC_TIMEOUT)

    def test_retry_while_the_create_is_in_flight(self):
        to, rid = "+12015550173", "retry-in-flight-1"
        sid = scripted_twilio.new_sid("CA")
        self.twilio.set_status(sid, "queued")

        def register(req):
            self.twilio.call_requests[sid] = req

        # Twilio takes 1.5 s to answer the create: the client gives up
        # waiting (or its connection broke) and retries, twice.
        self.twilio.script("POST", CALLS, Response(201, self.twilio.call_json(sid), delay=1.5,
                                                   before=register))
        first = self.stub.StartCall.future(self.request(to, rid), timeout=RPC_TIMEOUT)
        self.twilio.wait_request("POST", CALLS, lambda r: r.value("To") == to)
        retries = [self.stub.StartCall.future(self.request(to, rid), timeout=RPC_TIMEOUT)
                   for _ in range(2)]
        self.assertFalse(first.done())  # the retries really overlap the first
        sessions = [f.result() for f in [first] + retries]
        self.assertEqual({s.session_id for s in sessions}, {sessions[0].session_id})
        self.assertEqual({s.provider_call_id for s in sessions}, {sid})
        time.sleep(0.3)
        self.assertEqual(len(self.creates_to(to)), 1, self.creates_to(to))
        self.stub.EndCall(pb.EndCallRequest(session_id=sessions[0].session_id),
                          timeout=RPC_TIMEOUT)

    def test_retry_after_a_failed_create_is_not_sent_again(self):
        to, rid = "+12015550174", "retry-after-failure-1"
        self.twilio.script("POST", CALLS, twilio_error(
            400, 21211, "The 'To' number %s is not a valid phone number." % to))
        errors = []
        for _ in range(2):
            with self.assertRaises(grpc.RpcError) as ctx:
                self.stub.StartCall(self.request(to, rid), timeout=RPC_TIMEOUT)
            errors.append(P.voip_error(ctx.exception))
        self.assertEqual([e.error_code for e in errors], [epb.PROVIDER_ERROR] * 2)
        self.assertEqual(errors[1].provider_cause.provider_code, "21211")
        self.assertEqual(errors[1].session_id, errors[0].session_id)
        time.sleep(0.3)
        self.assertEqual(len(self.creates_to(to)), 1, self.creates_to(to))


class WebhookSecurityTest(TwilioDaemonTestCase):
    """Bad, missing or tampered signatures and malformed requests are
    refused and change nothing."""

    extra = {"callback_timeout": "30s"}

    def setUp(self):
        self.session, self.watch, self.sid = self.start_call()
        self.url = self.twilio.call_requests[self.sid].value("StatusCallback")
        self.params = [("CallSid", self.sid), ("CallStatus", "in-progress"),
                       ("SequenceNumber", "2"), ("AccountSid", ACCOUNT_SID)]

    def tearDown(self):
        # A valid callback still works afterwards.
        self.assertEqual(self.twilio.post_webhook(self.url, self.params)[0], 204)
        self.watch.wait_status(S.CALL_STATUS_CONNECTED)
        self.stub.EndCall(pb.EndCallRequest(session_id=self.session.session_id),
                          timeout=RPC_TIMEOUT)

    def assert_unchanged(self):
        statuses = self.watch.settle(0.2)
        self.assertEqual(statuses, ["INITIATING"])

    def test_missing_signature(self):
        self.assertEqual(self.twilio.post_webhook(self.url, self.params, sign=False)[0], 403)
        self.assert_unchanged()

    def test_wrong_signature(self):
        code, _ = self.twilio.post_webhook(self.url, self.params,
                                           signature_value="0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        self.assertEqual(code, 403)
        self.assert_unchanged()

    def test_tampered_params(self):
        good = scripted_twilio.signature(scripted_twilio.AUTH_TOKEN, self.url, self.params)
        tampered = [(k, "completed" if k == "CallStatus" else v) for k, v in self.params]
        self.assertEqual(self.twilio.post_webhook(self.url, tampered, signature_value=good)[0], 403)
        self.assert_unchanged()

    def test_signed_for_another_url(self):
        # Signed for the Host voipd sees, not the configured public URL.
        host_url = "http://%s/status?session=%s" % (self.twilio.webhook_addr,
                                                    self.session.session_id)
        self.assertEqual(self.twilio.post_webhook(self.url, self.params, sign_url=host_url)[0], 403)
        other_session = self.url.replace(self.session.session_id, "x" * 36)
        self.assertEqual(self.twilio.post_webhook(self.url, self.params, sign_url=other_session)[0],
                         403)
        self.assert_unchanged()

    def test_malformed_requests(self):
        t = self.twilio
        self.assertEqual(t.post_webhook(self.url, self.params, body="CallSid=%zz")[0], 400)
        self.assertEqual(t.post_webhook(self.url, self.params, method="GET", body="")[0], 405)
        self.assertEqual(t.post_webhook(self.url, self.params, content_type="application/json",
                                        body="{}")[0], 415)
        self.assertEqual(t.post_webhook(PUBLIC_URL + "/nope", self.params)[0], 404)
        self.assert_unchanged()

    def test_body_too_large(self):
        big = self.params + [("Padding", "x" * 70000)]
        code, _ = self.twilio.post_webhook(self.url, big)
        self.assertEqual(code, 413)
        self.assert_unchanged()

    def test_port_form_of_public_url(self):
        # Twilio may sign https://host:443/... for https://host/...
        port_url = self.url.replace("voipd.example.test/", "voipd.example.test:443/")
        self.assertEqual(self.twilio.post_webhook(self.url, self.params, sign_url=port_url)[0], 204)
        self.watch.wait_status(S.CALL_STATUS_CONNECTED)


# ------------------------------------------------ raw HTTP to the webhook server
def raw_connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_response(sock, timeout=5):
    """One HTTP response: (status, head, body); None if the server closed
    the connection without answering."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            if buf:
                raise AssertionError("connection closed inside a response: %r" % buf)
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ", 2)[1]), head.decode("latin-1"), body


def closed_within(sock, timeout):
    """Seconds until the server closed `sock` (EOF or reset), or None if it
    is still open after `timeout`. Unexpected data fails."""
    t0 = time.monotonic()
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return None
    except ConnectionResetError:
        data = b""
    if data:
        raise AssertionError("expected no data, got %r" % data)
    return time.monotonic() - t0


# A complete, keep-alive request the server answers without a call: 405.
KEEP_ALIVE_GET = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class WebhookServerLimitsTest(TwilioDaemonTestCase):
    """The webhook server refuses malformed HTTP (400), oversized headers
    (431), and connections beyond webhook.max_connections, before any
    handler runs (webhook_server.cc OnRead, Accept)."""

    extra = {"callback_timeout": "30s"}
    webhook_extra = {"max_connections": 2}

    def connect(self):
        sock = raw_connect(self.webhook_port)
        self.addCleanup(sock.close)
        return sock

    def assert_served(self, sock):
        sock.sendall(KEEP_ALIVE_GET)
        answer = read_response(sock)
        self.assertIsNotNone(answer, "closed instead of answering")
        self.assertEqual(answer[0], 405, answer)

    def test_malformed_http_is_400(self):
        cases = [
            b"THIS IS NOT HTTP\r\n\r\n",
            b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
            b"POST /status HTTP/1.1\r\nHost x\r\n\r\n",  # header without a colon
            b"POST /status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ]
        for data in cases:
            with self.subTest(data=data):
                sock = self.connect()
                sock.sendall(data)
                answer = read_response(sock)
                self.assertIsNotNone(answer, "closed without an answer")
                self.assertEqual(answer[0], 400, answer)
                self.assertEqual(answer[2], b"malformed request\n")
                self.assertIsNotNone(closed_within(sock, 3), "still open after the 400")
        self.assert_served(self.connect())  # the server is fine afterwards

    def test_headers_over_8_kib_are_431(self):
        def request(pad):
            return (b"POST /status?session=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"X-Pad: " + b"a" * pad + b"\r\nContent-Length: 0\r\n\r\n")

        small = request(7000)  # ~7.1 KiB of header: under the limit, reaches the handler
        sock = self.connect()
        sock.sendall(small)
        answer = read_response(sock)
        self.assertIsNotNone(answer)
        self.assertNotEqual(answer[0], 431, answer)
        big = request(9000)    # ~9.1 KiB
        self.assertGreater(len(big), 8192)
        sock = self.connect()
        sock.sendall(big)
        answer = read_response(sock)
        self.assertIsNotNone(answer, "closed without an answer")
        self.assertEqual(answer[0], 431, answer)
        self.assertEqual(answer[2], b"request header fields too large\n")
        self.assertIsNotNone(closed_within(sock, 3), "still open after the 431")

    def test_connections_beyond_max_connections_are_closed(self):
        time.sleep(0.3)  # earlier tests' connections are gone
        held = [self.connect() for _ in range(2)]
        for sock in held:  # both accepted and kept alive
            self.assert_served(sock)
        extra = self.connect()  # the kernel completes it; voipd closes it
        elapsed = closed_within(extra, 3)
        self.assertIsNotNone(elapsed, "a connection over max_connections stayed open")
        self.assertLess(elapsed, 1.0)
        for sock in held:  # the two within the limit are still served
            self.assert_served(sock)
        held[0].close()
        # A freed slot serves a new connection again (once voipd saw the close).
        deadline = time.monotonic() + 3
        while True:
            sock = self.connect()
            if closed_within(sock, 0.2) is None:
                break
            self.assertLess(time.monotonic(), deadline, "no slot freed by closing a connection")
        self.assert_served(sock)


class WebhookReadTimeoutTest(TwilioDaemonTestCase):
    """webhook.read_timeout: idle or slow connections are closed."""

    extra = {"callback_timeout": "30s"}
    webhook_extra = {"read_timeout": "\"500ms\""}

    def connect(self):
        sock = raw_connect(self.webhook_port)
        self.addCleanup(sock.close)
        return sock

    def assert_closed_after_timeout(self, sock, t0):
        self.assertIsNone(closed_within(sock, 0.25), "closed long before read_timeout")
        self.assertIsNotNone(closed_within(sock, 3), "still open 3 s after read_timeout")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 2.5)

    def test_idle_connection_is_closed(self):
        sock = self.connect()
        self.assert_closed_after_timeout(sock, time.monotonic())

    def test_idle_keep_alive_connection_is_closed(self):
        sock = self.connect()
        sock.sendall(KEEP_ALIVE_GET)
        self.assertEqual(read_response(sock)[0], 405)
        time.sleep(0.2)  # idle, but less than read_timeout: still served
        sock.sendall(KEEP_ALIVE_GET)
        self.assertEqual(read_response(sock)[0], 405)
        self.assert_closed_after_timeout(sock, time.monotonic())

    def test_slow_request_is_closed(self):
        # A byte every 100 ms: never idle for 500 ms, but the request as a
        # whole takes longer than read_timeout.
        sock = self.connect()
        t0 = time.monotonic()
        sock.sendall(b"POST /status HTTP/1.1\r\nX-Slow: ")
        elapsed = None
        while elapsed is None and time.monotonic() - t0 < 3:
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                elapsed = time.monotonic() - t0
                break
            if closed_within(sock, 0.1) is not None:
                elapsed = time.monotonic() - t0
        self.assertIsNotNone(elapsed, "a trickling request kept the connection open for 3 s")
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 2.5)


class PollingTest(TwilioDaemonTestCase):
    """No public URL: the adapter fetches each call every poll_interval."""

    webhooks = False
    extra = {"poll_interval": "100ms"}

    def test_create_has_no_callbacks(self):
        session, watch, sid = self.start_call()
        create = self.twilio.call_requests[sid]
        self.assertIsNone(create.value("StatusCallback"))
        self.assertEqual(create.values("StatusCallbackEvent"), [])
        self.assertNotIn("statusCallback", create.value("Twiml"))
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)

    def test_polled_lifecycle_with_hold(self):
        session, watch, sid = self.start_call()
        self.twilio.set_status(sid, "ringing")
        watch.wait_status(S.CALL_STATUS_RINGING)
        self.twilio.set_status(sid, "in-progress")
        watch.wait_status(S.CALL_STATUS_CONNECTED)
        # No conference callback in this mode: the SID is looked up by name.
        held = self.stub.Hold(pb.HoldRequest(session_id=session.session_id, hold=True),
                              timeout=RPC_TIMEOUT)
        self.assertEqual(held.status, S.CALL_STATUS_ON_HOLD)
        lookup = self.twilio.wait_request("GET", r"/Conferences\.json$")
        self.assertEqual(dict(lookup.query), {"FriendlyName": "voipd-" + session.session_id,
                                              "Status": "in-progress"})
        self.twilio.set_status(sid, "completed")
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(end.session.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
        fetches = self.twilio.matching("GET", CALL, lambda r: sid in r.path)
        self.assertGreaterEqual(len(fetches), 3)
        # Persistent connections: the polls share (at most a couple of) them.
        self.assertLessEqual(len({r.client_port for r in fetches}), 2, fetches)
        self.assert_one_terminal(watch)
        # Polling stops with the call.
        n = len(self.twilio.matching("GET", CALL, lambda r: sid in r.path))
        time.sleep(0.4)
        self.assertEqual(len(self.twilio.matching("GET", CALL, lambda r: sid in r.path)), n)

    def test_polled_busy_and_no_answer(self):
        for final, status in [("busy", S.CALL_STATUS_BUSY),
                              ("no-answer", S.CALL_STATUS_UNAVAILABLE)]:
            session, watch, sid = self.start_call()
            self.twilio.set_status(sid, final)
            self.assertEqual(watch.wait_terminal().session.status, status)

    def test_end_call_failure_resyncs(self):
        session, watch, sid = self.start_call()
        self.twilio.set_status(sid, "in-progress")
        watch.wait_status(S.CALL_STATUS_CONNECTED)
        # The call ended at Twilio a moment ago; the update is refused.
        self.twilio.set_status(sid, "completed")
        self.twilio.script("POST", r"/Calls/%s\.json$" % sid,
                           twilio_error(400, 21220, "Call is not in-progress. Cannot redirect."))
        ended = self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id),
                                  timeout=RPC_TIMEOUT)
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assert_one_terminal(watch)


class PollingFetchRetryTest(TwilioDaemonTestCase):
    """A failed poll is retried by the REST client (retry_policy: a 5xx and,
    fetches being safe to repeat, a dropped connection) after a backoff of
    tens of ms, long before the next poll_interval: so the retry, not the
    next poll, brings the new status. A 200 whose body is not JSON is a
    PROVIDER_ERROR that is not retried: the next poll, poll_interval later,
    goes on."""

    webhooks = False
    POLL = 1.5
    extra = {"poll_interval": "1500ms", "retry_initial_backoff": "50ms", "max_attempts": 4,
             "retry_budget": "5s", "request_timeout": "2s"}

    def phase(self, sid, responses, status, wait_for):
        """Scripts `responses` for the next poll, lets Twilio report
        `status`, waits for `wait_for`; returns that poll's GETs (all those
        recorded meanwhile) and the index after them."""
        path = r"/Calls/%s\.json$" % sid
        _, index = self.twilio.requests_since(0)
        self.twilio.script("GET", path, *responses)
        self.twilio.set_status(sid, status)
        wait_for()
        recorded, index = self.twilio.requests_since(index)
        return [r for r in recorded if r.method == "GET" and sid in r.path], index

    def assert_one_poll(self, gets, n):
        """`n` GETs, all within a fraction of poll_interval: one poll and its
        retries. Without retries the last one would be a later poll."""
        self.assertEqual(len(gets), n, gets)
        span = gets[-1].time - gets[0].time
        self.assertLess(span, self.POLL / 2, "the GETs came %.2f s apart" % span)

    def test_fetch_errors_are_retried_and_polling_goes_on(self):
        session, watch, sid = self.start_call()
        timeout = 3 * self.POLL
        # 1. A 500 (libcurl never repeats an HTTP answer): retried once.
        gets, _ = self.phase(sid, [Response(500, "")], "ringing",
                             lambda: watch.wait_status(S.CALL_STATUS_RINGING, timeout))
        self.assert_one_poll(gets, 2)
        self.assertGreaterEqual(gets[1].time - gets[0].time, 0.02)  # backoff >= 25 ms
        # 2. Dropped connections. libcurl itself re-sends a request once when
        # a *reused* connection closes without an answer, on a fresh one; a
        # second drop reaches the adapter, whose retry must find the answer.
        gets, _ = self.phase(sid, [Response(action="close")] * 2, "in-progress",
                             lambda: watch.wait_status(S.CALL_STATUS_CONNECTED, timeout))
        self.assert_one_poll(gets, 3)
        # 3. A 2xx that is not JSON fails that poll without a retry; the next
        # poll comes poll_interval later and sees the end.
        gets, _ = self.phase(sid, [Response(200, "not json")], "completed",
                             lambda: watch.wait_terminal(timeout))
        self.assertEqual(len(gets), 2, gets)
        gap = gets[1].time - gets[0].time
        self.assertGreater(gap, self.POLL * 0.9, "the bad answer was retried at once")
        self.assertLess(gap, self.POLL * 2)
        self.assertEqual(watch.wait_terminal().session.status, S.CALL_STATUS_DISCONNECTED)
        self.assert_one_terminal(watch)


class CallbackSilenceTest(TwilioDaemonTestCase):
    """Webhooks configured, but the callbacks never come (lost, or the
    public URL is wrong): voipd fetches after callback_timeout."""

    extra = {"callback_timeout": "300ms"}

    def test_fetch_after_silence(self):
        session, watch, sid = self.start_call()
        self.twilio.set_status(sid, "in-progress")
        watch.wait_status(S.CALL_STATUS_CONNECTED, timeout=5)
        self.twilio.set_status(sid, "completed")
        self.assertEqual(watch.wait_terminal(timeout=5).session.status,
                         S.CALL_STATUS_DISCONNECTED)

    def test_callbacks_postpone_fetching(self):
        session, watch, sid = self.start_call()
        deadline = time.monotonic() + 1.0
        seq = 0
        while time.monotonic() < deadline:
            self.twilio.status_callback(sid, "ringing", seq)
            seq += 1
            time.sleep(0.1)
        self.assertEqual(self.twilio.matching("GET", CALL, lambda r: sid in r.path), [])
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)


class RequestTimeoutTest(TwilioDaemonTestCase):
    """Fetches are safe to repeat: a timed-out one is retried."""

    webhooks = False
    extra = {"poll_interval": "5s", "request_timeout": "300ms", "retry_initial_backoff": "20ms",
             "max_attempts": 2}

    def test_timeouts(self):
        # A slow create: NETWORK_ERROR after request_timeout, not repeated.
        before = len(self.twilio.matching("POST", CALLS))
        self.twilio.script("POST", CALLS, Response(201, {"sid": "CA" + "f" * 32, "status": "queued"},
                                                   delay=1.0))
        t0 = time.monotonic()
        err, voip = self.start_call_error()
        self.assertEqual(voip.error_code, epb.NETWORK_ERROR)
        self.assertLess(time.monotonic() - t0, 0.9)
        self.assertEqual(len(self.twilio.matching("POST", CALLS)[before:]), 1)

        # A slow hangup is retried (updates are idempotent) and then works.
        session, watch, sid = self.start_call()
        self.twilio.script("POST", r"/Calls/%s\.json$" % sid,
                           Response(200, self.twilio.call_json(sid), delay=1.0))
        self.twilio.set_status(sid, "ringing")
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)
        self.assertEqual(len(self.twilio.matching("POST", CALL, lambda r: sid in r.path)), 2)
        self.assertEqual(watch.wait_terminal().session.status, S.CALL_STATUS_DISCONNECTED)


class AgentLegTest(TwilioDaemonTestCase):
    """agent_endpoint: voipd dials the agent into the conference on answer."""

    extra = {"agent_endpoint": "\"client:agent42\"", "callback_timeout": "30s"}

    def test_agent_dialled_on_answer(self):
        session, watch, sid = self.start_call()
        self.answer(sid, watch)
        req = self.twilio.wait_request(
            "POST", r"/Conferences/voipd-%s/Participants\.json$" % session.session_id)
        self.assertEqual(req.value("To"), "client:agent42")
        self.assertEqual(req.value("From"), FROM)
        self.assertEqual(req.value("EndConferenceOnExit"), "true")
        self.assertEqual(req.values("StatusCallbackEvent"),
                         ["initiated", "ringing", "answered", "completed"])
        # The participant's conference_sid spares the lookup (once its 201
        # has been processed: give it a moment).
        time.sleep(0.3)
        self.stub.Hold(pb.HoldRequest(session_id=session.session_id, hold=True),
                       timeout=RPC_TIMEOUT)
        self.assertEqual(self.twilio.matching("GET", r"/Conferences\.json$"), [])
        agent_sid = next(s for s, r in self.twilio.call_requests.items() if r is req)
        self.twilio.status_callback(agent_sid, "in-progress", 2)
        self.twilio.status_callback(agent_sid, "completed", 3)
        # The agent hung up; the conference ends the contact leg.
        self.twilio.status_callback(sid, "completed", 3)
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(end.session.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)

    def test_agent_busy_ends_the_call(self):
        session, watch, sid = self.start_call()
        self.answer(sid, watch)
        req = self.twilio.wait_request(
            "POST", r"/Conferences/voipd-%s/Participants\.json$" % session.session_id)
        agent_sid = next(s for s, r in self.twilio.call_requests.items() if r is req)
        self.twilio.set_status(sid, "in-progress")
        self.twilio.status_callback(agent_sid, "busy", 2)
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_FAILED)
        self.assertIn("agent leg", end.session.end_reason.message)
        hangup = self.twilio.wait_request("POST", CALL, lambda r: sid in r.path)
        self.assertEqual(hangup.value("Status"), "completed")
        self.assert_one_terminal(watch)


if __name__ == "__main__":
    unittest.main()
