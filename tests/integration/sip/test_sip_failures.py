"""Far ends that misbehave or are missing: voipd keeps running and each
call fails cleanly, within the configured bound."""
import time
import unittest

from sip_testlib import S, SipTestCase, cpb, epb, free_port, sip_system


class FailureTest(SipTestCase):

    def test_garbage_answers_fail_cleanly_and_voipd_keeps_working(self):
        bad = self.sipp("garbage.xml")
        good = self.sipp("answer.xml")
        self.start_voipd({"bad": sip_system(bad.addr, response_timeout="2s"),
                          "good": sip_system(good.addr)})
        started = time.monotonic()
        call = self.start_call(system="bad")
        final = self.assertHistory(call.session_id,
                                   [S.CALL_STATUS_INITIATING, S.CALL_STATUS_FAILED])
        self.assertEqual(final.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertLess(time.monotonic() - started, 4.0)
        self.assertSippPassed(bad)
        # Same daemon, another system: still places calls.
        call = self.start_call(system="good")
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.end_call(call.session_id)
        self.wait_terminal(watch)
        self.assertSippPassed(good)
        self.assertIsNone(self.voipd.proc.poll(), "voipd is still running")

    def test_unusable_sdp_answer_is_hung_up(self):
        sipp = self.sipp("bad_sdp.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        final = self.assertHistory(call.session_id,
                                   [S.CALL_STATUS_INITIATING, S.CALL_STATUS_FAILED])
        self.assertEqual(final.end_reason.error_code, epb.PROVIDER_ERROR)
        self.assertIn("SDP", final.end_reason.message)
        self.assertSippPassed(sipp)  # it got the ACK, then our BYE

    def test_unreachable_server_is_a_network_error_within_the_bound(self):
        port = free_port()  # nothing listens there
        self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % port, response_timeout="2s")})
        started = time.monotonic()
        call = self.start_call()
        watch = self.watch(call.session_id)
        ended = self.wait_terminal(watch, timeout=6)
        elapsed = time.monotonic() - started
        self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED)
        self.assertEqual(ended.session.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertEqual(ended.session.end_reason.source, cpb.HANGUP_SOURCE_SYSTEM)
        self.assertGreater(elapsed, 1.9)
        self.assertLess(elapsed, 3.5)

    def test_tcp_connection_refused_is_a_network_error(self):
        port = free_port()
        self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % port, transport="tcp")})
        started = time.monotonic()
        call = self.start_call()
        watch = self.watch(call.session_id)
        ended = self.wait_terminal(watch, timeout=6)
        self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED)
        self.assertEqual(ended.session.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertLess(time.monotonic() - started, 2.0, "a refused connection fails at once")


if __name__ == "__main__":
    unittest.main()
