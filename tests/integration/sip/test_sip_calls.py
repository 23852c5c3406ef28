"""Outbound call flows of the sip adapter against SIPp UAS scenarios.

Run (ctest sets the env):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest discover -s tests/integration/sip -p "test_*.py" -v
"""
import re
import time
import unittest

import grpc

from sip_testlib import P, S, SipTestCase, code_name, cpb, epb, sip_message, sip_system


class CallFlowTest(SipTestCase):

    def test_answer_then_hang_up_with_rtp_both_ways(self):
        sipp = self.sipp("answer.xml", rtp_echo=True)
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        self.assertTrue(call.provider_call_id, "the SIP Call-ID is the provider call id")
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        time.sleep(0.6)  # ~30 frames each way through SIPp's RTP echo
        self.end_call(call.session_id)
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_DISCONNECTED])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        self.assertEqual(final.end_reason.error_code, epb.ERROR_CODE_UNSPECIFIED)
        self.assertSippPassed(sipp)  # it saw the ACK and our BYE
        offer = sipp.messages()
        self.assertIn("m=audio ", offer)
        self.assertRegex(offer, r"m=audio \d+ RTP/AVP 0 8 101\r\n")
        self.assertIn("a=rtpmap:101 telephone-event/8000", offer)
        self.assertIn("a=sendrecv", offer)
        rx, tx, codec = self.media_stats(call.provider_call_id)
        self.assertEqual(codec, "PCMU")
        self.assertGreater(tx, 10, "voipd sent RTP")
        self.assertGreater(rx, 10, "SIPp echoed it back and voipd counted it")

    def test_ringing_then_answer_after_a_delay(self):
        sipp = self.sipp("ring_then_answer.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        watch = self.watch(call.session_id)
        ringing = self.wait_status(watch, S.CALL_STATUS_RINGING)
        connected = self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        rang_for = (connected.time.ToNanoseconds() - ringing.time.ToNanoseconds()) / 1e9
        self.assertGreater(rang_for, 1.0, "the far end rang for 1.5 s before answering")
        self.end_call(call.session_id)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_DISCONNECTED])
        self.assertSippPassed(sipp)

    def test_early_media_then_answer(self):
        sipp = self.sipp("early_media.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_RINGING)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.end_call(call.session_id)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_DISCONNECTED])
        self.assertSippPassed(sipp)
        rx, tx, codec = self.media_stats(call.provider_call_id)
        # SIPp does not echo here: what arrived is its early media recording.
        self.assertGreater(rx, 10, "early media reached voipd's RTP endpoint")
        self.assertEqual(codec, "PCMA", "the answer put PCMA first")

    def test_final_responses_map_to_busy_unavailable_and_failed(self):
        scenarios = {"busy": "busy_486.xml", "notfound": "not_found_404.xml",
                     "away": "unavailable_480.xml", "broken": "failure_503.xml"}
        cases = {
            "busy": (486, "Busy Here", 17, S.CALL_STATUS_BUSY, epb.ERROR_CODE_UNSPECIFIED),
            "notfound": (404, "Not Found", 1, S.CALL_STATUS_UNAVAILABLE,
                         epb.ERROR_CODE_UNSPECIFIED),
            "away": (480, "Temporarily Unavailable", 18, S.CALL_STATUS_UNAVAILABLE,
                     epb.ERROR_CODE_UNSPECIFIED),
            "broken": (503, "Service Unavailable", 41, S.CALL_STATUS_FAILED,
                       epb.PROVIDER_ERROR),
        }
        sipps = {name: self.sipp(scenarios[name]) for name in cases}
        # Four systems side by side, one per far end, sharing one libre loop.
        self.start_voipd({name: sip_system(s.addr) for name, s in sipps.items()})
        calls = {name: self.start_call(system=name) for name in cases}
        for name, (code, reason, q850, status, error) in cases.items():
            with self.subTest(name=name, code=code):
                final = self.assertHistory(calls[name].session_id, [
                    S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, status])
                cause = final.end_reason.provider_cause
                self.assertEqual(cause.sip_code, code)
                self.assertEqual(cause.sip_reason, reason)
                self.assertEqual(cause.q850_cause, q850)
                self.assertEqual(final.end_reason.error_code, error)
                self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
                self.assertSippPassed(sipps[name])  # it got the ACK

    def test_no_answer_is_cancelled_at_the_ring_timeout(self):
        sipp = self.sipp("no_answer.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        started = time.monotonic()
        call = self.start_call(ring_timeout=1.0)
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_RINGING)
        ended = self.wait_terminal(watch, timeout=5)
        elapsed = time.monotonic() - started
        self.assertEqual(ended.session.status, S.CALL_STATUS_UNAVAILABLE)
        self.assertEqual(ended.session.end_reason.source, cpb.HANGUP_SOURCE_SYSTEM)
        self.assertIn("ring timeout", ended.session.end_reason.message)
        self.assertGreater(elapsed, 0.9)
        self.assertLess(elapsed, 3.0)
        self.assertSippPassed(sipp)  # CANCEL arrived; 487 was ACKed

    def test_system_ring_timeout_applies_when_start_call_sets_none(self):
        sipp = self.sipp("no_answer.xml")
        # The system's ring_timeout, far below the 20 s sip_system() default
        # and the 30 s built-in one; StartCall carries no ring_timeout.
        self.start_voipd({"pbx": sip_system(sipp.addr, ring_timeout="1500ms")})
        started = time.monotonic()
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_RINGING)
        ended = self.wait_terminal(watch, timeout=8)
        elapsed = time.monotonic() - started
        self.assertEqual(ended.session.status, S.CALL_STATUS_UNAVAILABLE,
                         ended.session.end_reason)
        self.assertEqual(ended.session.end_reason.source, cpb.HANGUP_SOURCE_SYSTEM)
        self.assertEqual(ended.session.end_reason.error_code, epb.ERROR_CODE_UNSPECIFIED)
        self.assertIn("ring timeout", ended.session.end_reason.message)
        self.assertIn("CANCEL", ended.session.end_reason.message)
        self.assertGreater(elapsed, 1.4)
        self.assertLess(elapsed, 3.0)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_UNAVAILABLE])
        self.assertSippPassed(sipp)  # CANCEL arrived; 487 was ACKed
        self.assertRegex(sipp.messages(), r"CANCEL sip:[^\r\n]* SIP/2\.0")

    def test_max_calls_refuses_one_call_over_the_limit(self):
        sipp = self.sipp("no_answer.xml", calls=3)
        self.start_voipd({"pbx": sip_system(sipp.addr, max_calls=2)})
        first, second = self.start_call(), self.start_call(number="+12015550101")
        watches = [self.watch(c.session_id) for c in (first, second)]
        for watch in watches:
            self.wait_status(watch, S.CALL_STATUS_RINGING)
        with self.assertRaises(grpc.RpcError) as ctx:
            self.start_call(number="+12015550102")
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                         ctx.exception.details())
        err = P.voip_error(ctx.exception)
        self.assertIsNotNone(err, "no VoipError in %s" % ctx.exception)
        self.assertEqual(code_name(err.error_code), code_name(epb.RATE_LIMITED), err)
        self.assertIn("max_calls", err.message)
        # The refused call never reached the far end.
        self.assertEqual(len(re.findall(r"^INVITE sip:", sipp.messages(), re.M)), 2)
        # The limit counts running calls: once one ends, a new one is taken.
        self.end_call(first.session_id)
        self.wait_terminal(watches[0])
        third = self.start_call(number="+12015550103")
        watches.append(self.watch(third.session_id))
        self.wait_status(watches[-1], S.CALL_STATUS_RINGING)
        for call, watch in ((second, watches[1]), (third, watches[2])):
            self.end_call(call.session_id)
            self.wait_terminal(watch)
        self.assertSippPassed(sipp)  # each of the three got its CANCEL

    def test_telephone_event_false_leaves_it_out_of_the_offer(self):
        sipp = self.sipp("answer.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr, telephone_event=False)})
        self.call_connect_and_end()
        self.assertSippPassed(sipp)
        # Only voipd's INVITE: SIPp's own 200 OK offers telephone-event.
        invite = sip_message(sipp.messages(), "INVITE")
        self.assertRegex(invite, r"m=audio \d+ RTP/AVP 0 8\r\n")
        self.assertIn("a=rtpmap:0 PCMU/8000", invite)
        self.assertNotIn("telephone-event", invite)
        self.assertNotIn(" 101", invite.split("m=audio", 1)[1])

    def test_end_call_before_answer_sends_cancel(self):
        sipp = self.sipp("no_answer.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_RINGING)
        self.end_call(call.session_id)
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_DISCONNECTED])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        self.assertIn("CANCEL", final.end_reason.message)
        self.assertSippPassed(sipp)

    def test_remote_bye_disconnects_with_its_reason(self):
        sipp = self.sipp("remote_bye.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        watch = self.watch(call.session_id)
        ended = self.wait_terminal(watch, timeout=8)
        self.assertEqual(ended.session.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.session.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
        self.assertEqual(ended.session.end_reason.provider_cause.q850_cause, 16)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_CONNECTED, S.CALL_STATUS_DISCONNECTED])
        self.assertSippPassed(sipp)  # it got our 200 to its BYE

    def test_tcp_transport(self):
        sipp = self.sipp("answer.xml", transport="t1")
        self.start_voipd({"pbx": sip_system(sipp.addr, transport="tcp")})
        self.call_connect_and_end()
        self.assertSippPassed(sipp)
        self.assertIn("Via: SIP/2.0/TCP", sipp.messages())

    def test_ipv6_loopback(self):
        sipp = self.sipp("answer.xml", host="::1", rtp_echo=True)
        self.start_voipd({"pbx": sip_system(sipp.addr, local_address="::1")})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        time.sleep(0.4)
        self.end_call(call.session_id)
        self.wait_terminal(watch)
        self.assertSippPassed(sipp)
        self.assertIn("c=IN IP6 ::1", sipp.messages())
        rx, tx, _ = self.media_stats(call.provider_call_id)
        self.assertGreater(rx, 5)
        self.assertGreater(tx, 5)

    def test_outbound_proxy_gets_every_request(self):
        proxy = self.sipp("answer.xml")
        # The server's name is only used in URIs: everything goes to the proxy.
        self.start_voipd({"pbx": sip_system("pbx.invalid:5080", proxy=proxy.addr)})
        self.call_connect_and_end()
        self.assertSippPassed(proxy)
        trace = proxy.messages()
        self.assertIn("INVITE sip:+12015550100@pbx.invalid:5080 SIP/2.0", trace)
        self.assertIn("Route: <sip:%s;transport=udp;lr>" % proxy.addr, trace)

    def test_request_uri_from_the_template_for_numbers_extensions_and_uris(self):
        sipp = self.sipp("answer.xml", calls=3)
        self.start_voipd({"pbx": sip_system(
            sipp.addr, uri_template="sip:{e164}@pbx.example.com;user=phone",
            **{"from": {"display_name": "Support", "uri": "sip:support@example.com"}})})
        for number in ("+12015550100", "1001", "sip:alice@example.org"):
            call = self.start_call(number=number)
            watch = self.watch(call.session_id)
            self.wait_status(watch, S.CALL_STATUS_CONNECTED)
            self.assertEqual(getattr(self.get(call.session_id), "from"),
                             "sip:support@example.com")
            self.end_call(call.session_id)
            self.wait_terminal(watch)
        self.assertSippPassed(sipp)
        trace = sipp.messages()
        self.assertIn("INVITE sip:12015550100@pbx.example.com;user=phone SIP/2.0", trace)
        self.assertIn("INVITE sip:1001@pbx.example.com;user=phone SIP/2.0", trace)
        self.assertIn("INVITE sip:alice@example.org SIP/2.0", trace)
        self.assertIn('From: "Support" <sip:support@example.com>', trace)


if __name__ == "__main__":
    unittest.main()
