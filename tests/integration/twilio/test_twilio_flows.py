"""The twilio adapter against a scripted Twilio (scripted_twilio.py): the
call lifecycle, webhooks, hold and mute, and every fault Prism cannot model.

Run (the env is set by ctest):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest discover -s tests/integration/twilio -v
"""
import base64
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

    def test_fetch_errors_are_retried_and_polling_goes_on(self):
        session, watch, sid = self.start_call()
        path = r"/Calls/%s\.json$" % sid
        self.twilio.script("GET", path, Response(500, ""), Response(200, "not json"),
                           Response(action="close"))
        self.twilio.set_status(sid, "in-progress")
        watch.wait_status(S.CALL_STATUS_CONNECTED)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)

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
