"""Faults between voipd and the PBX, each through the gRPC API: the AMI
connection dropped mid-call and restored (the call recovered with the right
final state), a call that ended during the outage, an Originate whose reply
was lost, partial writes, a slow and a hung server, a bad secret (recorded and
corrected), nothing listening, MD5 Challenge login and TLS."""
import hashlib
import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from ami_test_support import (DIRECT, SECRET, AmiReplayServer, AmiTestCase, S, cpb_health, epb,
                              pb, transcript)

HEALTHY = cpb_health("HEALTHY")
UNHEALTHY = cpb_health("UNHEALTHY")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class OutageTest(AmiTestCase):

    def assert_outage_refuses_new_calls(self):
        self.assertTrue(self.server.dropped.wait(10), "the replay never dropped")
        # Unhealthy from the drop itself (no call can be placed: the router
        # skips it, grpc.health says NOT_SERVING), never "degraded" first;
        # each failed reconnect then names the address.
        deadline = time.monotonic() + 10
        while True:
            h = self.health().health
            if h.state != HEALTHY or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.assertEqual(pb.HealthState.Name(h.state), "HEALTH_STATE_UNHEALTHY", h.message)
        self.wait_health(UNHEALTHY, contains="127.0.0.1")
        err = self.assert_error(lambda: self.start_call("100"), epb.NETWORK_ERROR)
        self.assertIn("not connected", err.message)

    def test_dropped_mid_call_then_restored_call_continues(self):
        self.serve("12-click-to-call-remote-hangup.txt",
                   drop={"after": ("Event: BridgeEnter", 2)})
        self.start_voipd()
        session, w = self.call_and_watch("500")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assert_outage_refuses_new_calls()
        # Tracked calls stay as they were while we cannot see them.
        status = self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session.session_id))
        self.assertEqual(status.status, S.CALL_STATUS_CONNECTED)
        self.server.restore.set()
        self.wait_health(HEALTHY)
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_REMOTE)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        self.assertEqual(self.server.connections, 2)
        self.assertEqual(len(self.sent("CoreShowChannels")), 2, "resync after the reconnect")
        self.assert_server_clean()

    def test_call_answered_during_the_outage_is_caught_up(self):
        # Dropped while the target rings; answer and bridge happen unseen.
        self.serve("12-click-to-call-remote-hangup.txt",
                   drop={"after": ("Event: DialBegin\r\nPrivilege: call,all\r\nChannel:", 1),
                         "lose": "Event: Hangup"})
        self.start_voipd()
        session, w = self.call_and_watch("500")
        w.wait_status(S.CALL_STATUS_RINGING)
        self.assertTrue(self.server.dropped.wait(10))
        self.server.restore.set()
        w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    def test_call_ended_during_the_outage_gets_its_terminal_event(self):
        self.serve("12-click-to-call-remote-hangup.txt",
                   drop={"after": ("Event: BridgeEnter", 2), "lose": "rest"})
        self.start_voipd()
        session, w = self.call_and_watch("500")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assert_outage_refuses_new_calls()
        self.server.restore.set()
        ended = w.wait_terminal()
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertIn("while the AMI connection was down", ended.end_reason.message)
        self.assert_server_clean()

    def test_originate_reply_lost_fails_and_the_call_is_hung_up_later(self):
        # The connection drops right after the Originate: StartCall fails
        # with NETWORK_ERROR, but Asterisk had queued the call, so voipd hangs
        # it up once it is back (nothing may dangle).
        self.serve("10-originate-remote-hangup.txt",
                   drop={"on_action": "originate", "lose": "Event: Hangup"})
        self.start_voipd(mode="direct", mode_value=DIRECT)
        err = self.assert_error(lambda: self.start_call("500"), epb.NETWORK_ERROR)
        self.assertTrue(self.server.dropped.wait(5))
        self.server.restore.set()
        self.wait_health(HEALTHY)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "Local/500@test-00000007;1" not in self.hangups():
            time.sleep(0.05)
        self.assertIn("Local/500@test-00000007;1", self.hangups())
        self.assertEqual(self.server.errors, [])
        self.assertNotEqual(err.session_id, "")


    def hangups(self):
        return [h.get("Channel") for h in self.sent("Hangup")]


class TransportFaultTest(AmiTestCase):

    def test_partial_writes_one_to_three_bytes(self):
        self.serve("10-originate-remote-hangup.txt", chunk=(1, 3), pause=0.00005)
        self.start_voipd(mode="direct", mode_value=DIRECT)
        session, w = self.call_and_watch("500")
        self.assertEqual(w.wait_terminal(timeout=30).status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    def test_slow_server(self):
        # Every reply 1 s late and the recorded pacing kept: still correct,
        # nothing times out.
        self.serve("06-originate-busy.txt", reply_delay=1.0, time_scale=1.0, max_gap=1.0)
        self.start_voipd(mode="direct", mode_value=DIRECT)
        session, w = self.call_and_watch("300")
        ended = w.wait_terminal()
        self.assertEqual(ended.status, S.CALL_STATUS_BUSY)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 17)
        self.assertEqual(self.server.connections, 1)
        self.assert_server_clean()

    def test_hung_server_is_dropped_and_reconnected(self):
        # Logged in, then no reply to anything: the action timeout and the
        # keepalive find it, and voipd reconnects.
        self.serve("01-login-success.txt", answer=False)
        self.start_voipd(extra="action_timeout_seconds: 0.5\nkeepalive_interval_seconds: 0.3\n"
                               "keepalive_timeout_seconds: 0.3", wait_ready=False)
        # It logs in each time, then goes silent: unhealthy while reconnecting.
        h = self.wait_health(UNHEALTHY, contains="no reply")
        self.wait_for(lambda: self.server.connections >= 2)
        self.assertIn("retrying", h.message)


    def wait_for(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while not predicate():
            self.assertLess(time.monotonic(), deadline, "timed out")
            time.sleep(0.05)


class LoginFaultTest(AmiTestCase):

    def test_02_recorded_bad_secret(self):
        self.serve("02-login-bad-secret.txt")
        self.start_voipd(wait_ready=False)
        h = self.wait_health(UNHEALTHY, contains="Authentication failed")
        self.assertNotIn(SECRET, h.message)
        err = self.assert_error(lambda: self.start_call("100"), epb.CONFIGURATION_ERROR)
        self.assertIn("refused the AMI login", err.message)
        self.assertNotIn(SECRET, err.message)
        self.assertNotIn(SECRET, self.voipd.log())

    def test_corrected_secret_file_is_used_at_the_next_attempt(self):
        with open(self.secret_file, "w") as f:
            f.write("wrong-secret\n")
        self.serve("01-login-success.txt")
        self.start_voipd(wait_ready=False)
        self.wait_health(UNHEALTHY, contains="Authentication failed")
        with open(self.secret_file, "w") as f:
            f.write(SECRET + "\n")
        self.wait_health(HEALTHY, timeout=10)
        self.assertEqual(self.server.logins[-1].get("Secret"), SECRET)
        self.assert_server_clean()

    def test_nothing_listening_then_the_pbx_comes_up(self):
        port = free_port()
        self.start_voipd(port=port, wait_ready=False)
        h = self.wait_health(UNHEALTHY, contains="cannot connect")
        self.assertIn("127.0.0.1:%d" % port, h.message)
        self.assert_error(lambda: self.start_call("100"), epb.NETWORK_ERROR)
        self.server = AmiReplayServer(transcript("01-login-success.txt"), port=port)
        self.server.__enter__()
        self.wait_health(HEALTHY, timeout=10)
        self.assert_server_clean()

    def test_md5_challenge_login(self):
        self.serve("04-click-to-call-answered-hangup-action.txt", md5=True)
        self.start_voipd(extra="auth: md5")
        login = self.server.logins[0]
        self.assertEqual(login.get("AuthType"), "MD5")
        self.assertEqual(login.get("Key"), hashlib.md5(b"840415273" + SECRET.encode()).hexdigest())
        self.assertEqual(login.get("Secret"), "", "the secret never crosses the wire")
        self.assertEqual(self.sent("Challenge")[0].get("AuthType"), "MD5")
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.end_call(session.session_id)
        self.assertEqual(w.wait_terminal().status, S.CALL_STATUS_DISCONNECTED)
        self.assert_server_clean()


def make_cert(directory, name):
    """A self-signed certificate for 127.0.0.1 (openssl CLI, test only)."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=voipd-test-pbx", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


class TlsTest(AmiTestCase):  # needs the openssl command (scripts/setup.sh --test installs it)

    def setUp(self):
        super().setUp()
        self.certs = tempfile.TemporaryDirectory(prefix="voipd-ami-tls-")
        self.cert, key = make_cert(self.certs.name, "pbx")
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(self.cert, key)

    def tearDown(self):
        super().tearDown()
        self.certs.cleanup()

    def test_tls_with_a_verified_certificate(self):
        self.serve("10-originate-remote-hangup.txt", tls_context=self.tls)
        self.start_voipd(mode="direct", mode_value=DIRECT,
                         extra="tls: { enabled: true, ca_file: %s }" % self.cert)
        session, w = self.call_and_watch("500")
        self.assertEqual(w.wait_terminal().status, S.CALL_STATUS_DISCONNECTED)
        self.assert_server_clean()

    def test_tls_with_an_untrusted_certificate_is_refused(self):
        other, _ = make_cert(self.certs.name, "other-ca")
        self.serve("01-login-success.txt", tls_context=self.tls)
        self.start_voipd(extra="tls: { enabled: true, ca_file: %s }" % other, wait_ready=False)
        h = self.wait_health(UNHEALTHY, contains="TLS handshake")
        self.assertIn("certificate", h.message)
        self.assert_error(lambda: self.start_call("100"), epb.NETWORK_ERROR)
        self.assertEqual(self.server.logins, [], "no secret sent to an unverified peer")


if __name__ == "__main__":
    unittest.main()
