"""Starting conditions: unreadable credential files make the system
unhealthy (voipd still starts) and StartCall a CONFIGURATION_ERROR; once
readable, it recovers without a restart. Secrets never appear in the log.
An unreachable Twilio is a NETWORK_ERROR after the retries, and DEGRADED."""
import os
import time
import unittest

import grpc

from twilio_support import (P, RPC_TIMEOUT, TO, Credentials, check_binary, cpb, daemon_config,
                            epb, free_port, pb, voipd_harness)
import scripted_twilio  # noqa: E402 (after twilio_support set sys.path)


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
    def test_connection_refused_is_retried_then_network_error(self):
        check_binary()
        creds = Credentials()
        voipd = voipd_harness.Voipd(config_text=daemon_config(
            creds, "http://127.0.0.1:%d" % free_port(), max_attempts=3,
            retry_initial_backoff="100ms"))
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
        err = P.voip_error(ctx.exception)
        self.assertEqual(err.error_code, epb.NETWORK_ERROR)
        self.assertIn("3 attempts", err.message)
        self.assertGreater(time.monotonic() - t0, 0.1)  # two backoffs: 50-100 ms, 100-200 ms
        caps = stub.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
        health = next(s.health for s in caps.systems if s.name == "twilio")
        self.assertEqual(health.state, pb.HEALTH_STATE_DEGRADED)


if __name__ == "__main__":
    unittest.main()
