"""Inbound calls of the sip adapter: SIPp plays the caller (UAC scenarios
scenarios/uac_inbound_*.xml) and sends its INVITE to voipd's SIP port; the
tests check what voipd reports over gRPC (direction INBOUND, from/to, the
states and end reasons, ListCalls(direction=INBOUND)) and what SIPp saw.

Run (ctest sets the env):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \\
    /usr/bin/python3 -m unittest tests/integration/sip/test_sip_inbound.py -v
"""
import re
import unittest

from sip_testlib import (RPC_TIMEOUT, S, SipTestCase, cpb, epb, free_port, pb,
                         sip_system, wait_until)

CALLER = "+12015550111"
DIALLED = "1001"


def inbound_system(port, inbound=None, **settings):
    """A sip system listening on 127.0.0.1:`port`. Its server is never used
    here (no outbound call is placed)."""
    system = sip_system("127.0.0.1:9", local_port=port, **settings)
    if inbound is not None:
        system["inbound"] = inbound
    return system


class InboundTest(SipTestCase):

    def start_inbound(self, inbound=None, **settings):
        self.sip_port = free_port()
        self.start_voipd({"pbx": inbound_system(self.sip_port, inbound, **settings)})

    def caller(self, scenario, from_user=CALLER, from_name="Alice Caller", **kw):
        keys = {"to_user": DIALLED, "from_user": from_user, "from_name": from_name}
        return self.sipp(scenario, remote="127.0.0.1:%d" % self.sip_port, keys=keys, **kw)

    def list_calls(self, **fields):
        return list(self.stub.ListCalls(pb.ListCallsRequest(**fields), timeout=RPC_TIMEOUT).calls)

    def inbound_calls(self, **fields):
        return self.list_calls(direction=cpb.CALL_DIRECTION_INBOUND, **fields)

    def the_inbound_call(self, active=False):
        """The one inbound call, once voipd has it (active: once it rings;
        the core publishes INITIATING just before RINGING)."""
        calls = wait_until(
            lambda: [c for c in self.inbound_calls(active_only=active)
                     if not active or c.status != S.CALL_STATUS_INITIATING],
            "an inbound call in ListCalls")
        self.assertEqual(len(calls), 1, calls)
        return calls[0]

    def assertNoSession(self):
        self.assertEqual(self.list_calls(), [], "no session may exist")

    def assertRejectedWith(self, sipp, status_line):
        self.assertSippPassed(sipp)
        self.assertRegex(sipp.messages(), r"SIP/2\.0 %s\r?\n" % re.escape(status_line))

    # --- answered ---------------------------------------------------------

    def test_auto_answer_then_the_caller_hangs_up(self):
        self.start_inbound({"enabled": True, "answer_after": "0s"})
        sipp = self.caller("uac_inbound_answered.xml", rtp_echo=True)
        self.assertSippPassed(sipp)  # 180, 200 with SDP, ACK, BYE answered 200
        call = self.the_inbound_call()
        self.assertEqual(call.direction, cpb.CALL_DIRECTION_INBOUND)
        self.assertEqual(call.system_name, "pbx")
        self.assertEqual(getattr(call, "from"), "sip:%s@example.com" % CALLER)
        self.assertEqual(call.to_normalized, DIALLED)
        self.assertEqual(call.labels["sip_display_name"], "Alice Caller")
        self.assertTrue(call.provider_call_id, "the SIP Call-ID")
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_DISCONNECTED])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
        self.assertEqual(final.end_reason.provider_cause.q850_cause, 16)
        trace = sipp.messages()
        self.assertIn("SIP/2.0 180 Ringing", trace)
        self.assertRegex(trace, r"m=audio \d+ RTP/AVP 0")
        rx, tx, codec = self.media_stats(call.provider_call_id)
        self.assertEqual(codec, "PCMU", "the caller's first codec")
        self.assertGreater(tx, 5, "voipd sent RTP to the caller")
        self.assertGreater(rx, 5, "SIPp echoed it back")
        # Inbound only: the outbound filter does not list it.
        self.assertEqual(self.list_calls(direction=cpb.CALL_DIRECTION_OUTBOUND), [])

    def test_end_call_after_the_answer_sends_bye(self):
        self.start_inbound({"enabled": True, "answer_after": "0s"})
        sipp = self.caller("uac_inbound_wait_bye.xml")
        call = self.the_inbound_call(active=True)
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.end_call(call.session_id)
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_DISCONNECTED])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        self.assertIn("BYE", final.end_reason.message)
        self.assertSippPassed(sipp)  # it got our BYE

    def test_hold_and_mute_on_a_connected_inbound_call(self):
        self.start_inbound({"enabled": True, "answer_after": "0s"})
        sipp = self.caller("uac_inbound_hold.xml")
        call = self.the_inbound_call(active=True)
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.hold(call.session_id, True)  # returns once SIPp answered the re-INVITE
        self.assertEqual(self.get(call.session_id).status, S.CALL_STATUS_ON_HOLD)
        self.mute(call.session_id, True)
        self.assertTrue(self.get(call.session_id).muted)
        self.end_call(call.session_id)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_ON_HOLD, S.CALL_STATUS_DISCONNECTED])
        self.assertSippPassed(sipp)  # re-INVITE with a=sendonly, ACK, BYE

    def test_hold_and_mute_need_a_connected_call(self):
        # Ringing: neither is possible yet (the INVITE is not answered).
        self.start_inbound({"enabled": True})
        sipp = self.caller("uac_inbound_rejected.xml")
        call = self.the_inbound_call(active=True)
        self.assertRpcError(lambda: self.hold(call.session_id, True), epb.INVALID_STATE)
        self.assertRpcError(lambda: self.mute(call.session_id, True), epb.INVALID_STATE)
        self.end_call(call.session_id)
        self.assertRejectedWith(sipp, "486 Busy Here")

    # --- not answered -----------------------------------------------------

    def test_caller_cancel_while_ringing_is_a_missed_call(self):
        self.start_inbound({"enabled": True})  # never answers by itself
        sipp = self.caller("uac_inbound_cancel.xml")
        self.assertSippPassed(sipp)  # 180, CANCEL 200, 487 ACKed
        call = self.the_inbound_call()
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_DISCONNECTED])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_REMOTE)
        self.assertEqual(final.end_reason.provider_cause.sip_code, 487)
        self.assertIn("CANCEL", final.end_reason.message)

    def test_end_call_while_ringing_rejects_with_486(self):
        self.start_inbound({"enabled": True})
        sipp = self.caller("uac_inbound_rejected.xml")
        call = self.the_inbound_call(active=True)
        self.assertEqual(call.status, S.CALL_STATUS_RINGING)
        self.end_call(call.session_id)
        self.assertRejectedWith(sipp, "486 Busy Here")
        self.assertIn("SIP/2.0 180 Ringing", sipp.messages())
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_DISCONNECTED])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_LOCAL)
        self.assertEqual(final.end_reason.provider_cause.sip_code, 486)

    def test_ring_timeout_rejects_with_480(self):
        self.start_inbound({"enabled": True}, ring_timeout="1s")
        sipp = self.caller("uac_inbound_rejected.xml")
        self.assertRejectedWith(sipp, "480 Temporarily Unavailable")
        call = self.the_inbound_call()
        final = self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_UNAVAILABLE])
        self.assertEqual(final.end_reason.source, cpb.HANGUP_SOURCE_SYSTEM)
        self.assertIn("ring timeout", final.end_reason.message)

    # --- refused before any session ------------------------------------------

    def test_disabled_rejects_without_a_session(self):
        self.start_inbound()  # no inbound block: disabled
        sipp = self.caller("uac_inbound_rejected.xml")
        self.assertRejectedWith(sipp, "480 Temporarily Unavailable")
        self.assertNotIn("180 Ringing", sipp.messages())
        self.assertNoSession()

    def test_disabled_with_a_configured_reject_code(self):
        self.start_inbound({"enabled": False, "reject_code": 603})
        sipp = self.caller("uac_inbound_rejected.xml")
        self.assertRejectedWith(sipp, "603 Decline")
        self.assertNoSession()

    def test_the_core_refusing_the_caller_rejects_the_invite(self):
        # A From user of 300 bytes: libre parses it, the core refuses a from
        # longer than 256 bytes (INVALID_ARGUMENT) -> 400, no session.
        self.start_inbound({"enabled": True, "answer_after": "0s"})
        sipp = self.caller("uac_inbound_rejected.xml", from_user="9" * 300)
        self.assertRejectedWith(sipp, "400 Bad Request")
        self.assertNotIn("180 Ringing", sipp.messages())
        self.assertNoSession()
        self.assertRegex(self.voipd.log(), r"rejected with 400 Bad Request: voipd refused the call")

    def test_max_concurrent_inbound_gives_busy(self):
        self.start_inbound({"enabled": True, "max_concurrent": 1})
        first = self.caller("uac_inbound_rejected.xml")
        call = self.the_inbound_call(active=True)
        second = self.caller("uac_inbound_rejected.xml", from_user="+12015550122")
        self.assertRejectedWith(second, "486 Busy Here")
        self.assertNotIn("180 Ringing", second.messages())
        self.assertEqual(len(self.inbound_calls()), 1, "the second call got no session")
        self.end_call(call.session_id)
        self.assertRejectedWith(first, "486 Busy Here")


if __name__ == "__main__":
    unittest.main()
