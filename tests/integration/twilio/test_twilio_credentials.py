"""Starting conditions: unreadable credential files make the system
unhealthy (voipd still starts) and StartCall a CONFIGURATION_ERROR; once
readable, it recovers without a restart. Secrets never appear in the log.
An unreachable Twilio is a NETWORK_ERROR after the retries, and DEGRADED.
With an API key configured, REST requests authenticate with it."""
import base64
import os
import re
import socket
import tempfile
import time
import unittest

import grpc

from twilio_support import (P, RPC_TIMEOUT, TO, Credentials, TwilioDaemonTestCase, check_binary,
                            cpb, daemon_config, epb, free_port, pb, voipd_harness)
import scripted_twilio  # noqa: E402 (after twilio_support set sys.path)
from scripted_twilio import ACCOUNT_SID, AUTH_TOKEN, Response  # noqa: E402

API_KEY_SID = "SK" + "fedcba9876543210" * 2
API_KEY_SECRET = "ApiKeySecret" + "5a" * 10  # not the Auth Token


def basic_auth(request):
    """(user, password) of a recorded request's HTTP Basic Authorization."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        raise AssertionError("no HTTP Basic auth on %r: %r" % (request, request.headers))
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


class ApiKeyDaemonTestCase(TwilioDaemonTestCase):
    """A twilio system with api_key_sid_file + api_key_secret_file next to
    the Account SID and Auth Token files."""

    @classmethod
    def setUpClass(cls):
        cls.key_dir = tempfile.TemporaryDirectory(prefix="voipd-twilio-apikey-")
        sid_file = os.path.join(cls.key_dir.name, "api_key_sid")
        secret_file = os.path.join(cls.key_dir.name, "api_key_secret")
        with open(sid_file, "w") as f:
            f.write(API_KEY_SID + "\n")
        with open(secret_file, "w") as f:
            f.write(API_KEY_SECRET + "\n")
        cls.extra = dict(cls.extra, api_key_sid_file=sid_file, api_key_secret_file=secret_file)
        try:
            super().setUpClass()
        except BaseException:
            cls.key_dir.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            log = cls.voipd.log()
            super().tearDownClass()
            if API_KEY_SECRET in log:
                raise AssertionError("the API key secret appears in voipd's log")
        finally:
            cls.key_dir.cleanup()

    def assert_api_key_auth(self, requests):
        """Every request: the Account SID in the URL, the API key in the auth."""
        self.assertTrue(requests)
        for r in requests:
            self.assertTrue(r.path.startswith("/2010-04-01/Accounts/%s/" % ACCOUNT_SID), r)
            user, password = basic_auth(r)
            self.assertEqual(user, API_KEY_SID, r)
            self.assertEqual(password, API_KEY_SECRET, r)
            self.assertNotEqual(user, ACCOUNT_SID, r)
            self.assertNotIn(AUTH_TOKEN, password, r)


class ApiKeyPollingTest(ApiKeyDaemonTestCase):
    """Polling mode with an agent leg, so that one call makes every kind of
    REST request the adapter has."""

    webhooks = False
    extra = {"poll_interval": "100ms", "agent_endpoint": "\"client:agent42\""}

    def test_every_rest_request_uses_the_api_key(self):
        _, start = self.twilio.requests_since(0)
        # The agent's 201 without a conference_sid: Hold must look it up.
        self.twilio.script("POST", r"/Conferences/[^/]+/Participants\.json$",
                           Response(201, {"call_sid": scripted_twilio.new_sid("CA")}))
        session, watch, sid = self.start_call()
        self.twilio.set_status(sid, "in-progress")
        watch.wait_status(cpb.CALL_STATUS_CONNECTED)
        self.twilio.wait_request("POST", r"/Conferences/[^/]+/Participants\.json$")
        held = self.stub.Hold(pb.HoldRequest(session_id=session.session_id, hold=True),
                              timeout=RPC_TIMEOUT)
        self.assertEqual(held.status, cpb.CALL_STATUS_ON_HOLD)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)
        watch.wait_terminal()
        requests, _ = self.twilio.requests_since(start)
        calls = "/2010-04-01/Accounts/%s/" % ACCOUNT_SID
        kinds = {(r.method, re.sub(r"C[AF][0-9a-f]{32}|voipd-[^/]+", "X", r.path[len(calls):]))
                 for r in requests}
        self.assertLessEqual({("POST", "Calls.json"),                      # create
                              ("GET", "Calls/X.json"),                     # poll
                              ("POST", "Conferences/X/Participants.json"),  # agent leg
                              ("GET", "Conferences.json"),                 # lookup
                              ("POST", "Conferences/X/Participants/X.json"),  # hold
                              ("POST", "Calls/X.json")},                   # hang up
                             kinds, requests)
        self.assert_api_key_auth(requests)
        self.assertNotIn(API_KEY_SECRET, self.voipd.log())


class ApiKeyWebhookTest(ApiKeyDaemonTestCase):
    """With webhooks: REST with the API key, callbacks still verified with
    the Auth Token (Twilio signs with the account's Auth Token)."""

    extra = {"callback_timeout": "30s"}

    def test_rest_uses_the_api_key_and_callbacks_the_auth_token(self):
        _, start = self.twilio.requests_since(0)
        session, watch, sid = self.start_call()
        self.answer(sid, watch)  # callbacks signed with the Auth Token: 204
        url = self.twilio.call_requests[sid].value("StatusCallback")
        forged = scripted_twilio.signature(API_KEY_SECRET, url, [("CallSid", sid)])
        self.assertEqual(self.twilio.post_webhook(url, [("CallSid", sid)],
                                                  signature_value=forged)[0], 403)
        self.stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)
        requests, _ = self.twilio.requests_since(start)
        self.assertEqual([(r.method, r.path.endswith("/Calls.json")) for r in requests][:1],
                         [("POST", True)])
        self.assert_api_key_auth(requests)


class UnreadableCredentialsTest(unittest.TestCase):
    def test_unhealthy_until_readable(self):
        check_binary()
        creds = Credentials()
        os.rename(creds.auth_token_file, creds.auth_token_file + ".later")
        twilio = scripted_twilio.ScriptedTwilio().start()
        self.addCleanup(twilio.stop)
        voipd = voipd_harness.Voipd(config_text=daemon_config(creds, twilio.url))
        voipd.start()
        self.addCleanup(voipd.__exit__, None, None, None)
        self.addCleanup(creds.dir.cleanup)
        channel = grpc.insecure_channel(voipd.addr)
        self.addCleanup(channel.close)
        stub = P.voip_service_pb2_grpc.VoipServiceStub(channel)

        def health():
            caps = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
            return next(s.health for s in caps.systems if s.name == "twilio")

        h = health()
        self.assertEqual(h.state, pb.HEALTH_STATE_UNHEALTHY)
        self.assertIn("auth_token_file", h.message)
        with self.assertRaises(grpc.RpcError) as ctx:
            stub.StartCall(pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=TO)),
                           timeout=RPC_TIMEOUT)
        self.assertEqual(P.voip_error(ctx.exception).error_code, epb.CONFIGURATION_ERROR)
        self.assertEqual(twilio.requests, [])  # nothing reached Twilio

        os.rename(creds.auth_token_file + ".later", creds.auth_token_file)
        time.sleep(1.1)  # unreadable files are retried at most once a second
        session = stub.StartCall(pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=TO)),
                                 timeout=RPC_TIMEOUT)
        self.assertTrue(session.provider_call_id.startswith("CA"))
        self.assertEqual(health().state, pb.HEALTH_STATE_HEALTHY)
        stub.EndCall(pb.EndCallRequest(session_id=session.session_id), timeout=RPC_TIMEOUT)
        self.assertEqual(voipd.stop(), 0)
        self.assertNotIn(scripted_twilio.AUTH_TOKEN, voipd.log())


class UnreachableTwilioTest(unittest.TestCase):
    def failing_start_call(self, port, **settings):
        """A voipd whose Twilio is 127.0.0.1:port; returns its stub, the
        StartCall's VoipError and how long the StartCall took."""
        check_binary()
        creds = Credentials()
        voipd = voipd_harness.Voipd(config_text=daemon_config(
            creds, "http://127.0.0.1:%d" % port, max_attempts=3, **settings))
        voipd.start()
        self.addCleanup(voipd.__exit__, None, None, None)
        self.addCleanup(creds.dir.cleanup)
        channel = grpc.insecure_channel(voipd.addr)
        self.addCleanup(channel.close)
        stub = P.voip_service_pb2_grpc.VoipServiceStub(channel)
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as ctx:
            stub.StartCall(pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=TO)),
                           timeout=RPC_TIMEOUT)
        return stub, P.voip_error(ctx.exception), time.monotonic() - t0

    def assertDegraded(self, stub):
        caps = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        health = next(s.health for s in caps.systems if s.name == "twilio")
        self.assertEqual(health.state, pb.HEALTH_STATE_DEGRADED)

    def test_connection_refused_is_retried_then_network_error(self):
        stub, err, elapsed = self.failing_start_call(free_port(), retry_initial_backoff="100ms")
        self.assertEqual(err.error_code, epb.NETWORK_ERROR)
        self.assertIn("3 attempts", err.message)
        self.assertGreater(elapsed, 0.1)  # two backoffs: 50-100 ms, 100-200 ms
        self.assertDegraded(stub)

    def jammed_port(self):
        """A loopback port where connect() hangs: a listening socket with
        backlog 0 whose accept queue is full (a connection nobody accepts).
        Linux then drops further SYNs (accept queue overflow; SYN cookies
        only help when the SYN queue is full), so the client's SYN goes
        unanswered, as with a firewalled Twilio."""
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):
            sock = socket.socket()
            self.addCleanup(sock.close)
            sock.settimeout(0.3)
            try:
                sock.connect(("127.0.0.1", port))  # fills the queue
            except socket.timeout:
                return port                        # the queue is full: connect hangs
        raise AssertionError("connect() to a full backlog-0 listener never hung")

    def test_connect_timeout_is_retried_then_network_error(self):
        stub, err, elapsed = self.failing_start_call(
            self.jammed_port(), connect_timeout="300ms", request_timeout="5s",
            retry_initial_backoff="50ms")
        self.assertEqual(err.error_code, epb.NETWORK_ERROR, err)
        # A create whose connection could not be made is retried (nothing
        # was sent): three attempts, each ending at connect_timeout.
        self.assertIn("3 attempts", err.message)
        self.assertIn("cannot connect", err.message)
        self.assertGreaterEqual(elapsed, 3 * 0.3, err.message)
        self.assertLess(elapsed, 5.0, err.message)  # never request_timeout
        self.assertDegraded(stub)


if __name__ == "__main__":
    unittest.main()
