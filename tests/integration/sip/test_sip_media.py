"""Hold, resume and mute, and the media voipd sends: re-INVITEs against a
SIPp UAS, RTP checked on a socket of the test's own."""
import os
import re
import tempfile
import time
import unittest

from sip_testlib import (S, RtpPeer, SipTestCase, cpb, epb, free_port_range, sip_messages,
                         sip_system, udp_ports_of, wait_until, write_tone_wav)

ULAW_SILENCE = 0xFF


def is_silence(payload):
    return all(b == ULAW_SILENCE for b in payload)


class HoldTest(SipTestCase):

    def test_hold_resume_and_a_rejected_hold(self):
        sipp = self.sipp("hold.xml", rtp_echo=True)
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)

        held = self.hold(call.session_id, True)
        # Returned only after the far end's 200: the state is confirmed.
        self.assertEqual(held.status, S.CALL_STATUS_ON_HOLD)
        self.assertTrue(held.on_hold)
        resumed = self.hold(call.session_id, False)
        self.assertEqual(resumed.status, S.CALL_STATUS_CONNECTED)
        self.assertFalse(resumed.on_hold)

        err = self.assertRpcError(lambda: self.hold(call.session_id, True), epb.PROVIDER_ERROR)
        self.assertEqual(err.provider_cause.sip_code, 488)
        self.assertEqual(err.provider_cause.sip_reason, "Not Acceptable Here")
        after = self.get(call.session_id)
        self.assertEqual(after.status, S.CALL_STATUS_CONNECTED, "a rejected hold changes nothing")
        self.assertFalse(after.on_hold)

        self.end_call(call.session_id)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_CONNECTED, S.CALL_STATUS_ON_HOLD,
            S.CALL_STATUS_CONNECTED, S.CALL_STATUS_DISCONNECTED])
        # The scenario checked a=sendonly, then a=sendrecv, and got its ACKs.
        self.assertSippPassed(sipp)

    def connected_call(self, sipp, **settings):
        self.start_voipd({"pbx": sip_system(sipp.addr, **settings)})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        return call, watch

    def check_dialog_gone_ends_the_call(self, code, reason):
        # RFC 3261 14.1: a 408 or 481 to a re-INVITE means the dialog is gone.
        sipp = self.sipp("hold_rejected_%d.xml" % code)
        call, watch = self.connected_call(sipp)
        err = self.assertRpcError(lambda: self.hold(call.session_id, True), epb.PROVIDER_ERROR)
        self.assertEqual(err.provider_cause.sip_code, code)
        ended = self.wait_terminal(watch)
        self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED,
                         "a %d to the re-INVITE ends the call" % code)
        self.assertEqual(ended.session.end_reason.provider_cause.sip_code, code)
        self.assertEqual(ended.session.end_reason.provider_cause.sip_reason, reason)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_CONNECTED, S.CALL_STATUS_FAILED])
        self.assertSippPassed(sipp)  # a=sendonly offered, the final response ACKed

    def test_hold_answered_408_ends_the_call(self):
        self.check_dialog_gone_ends_the_call(408, "Request Timeout")

    def test_hold_answered_481_ends_the_call(self):
        self.check_dialog_gone_ends_the_call(481, "Call/Transaction Does Not Exist")

    def test_hold_without_a_final_answer_fails_and_hangs_up(self):
        # SIPp sends only 100 Trying: a 1xx does not stop response_timeout
        # for a re-INVITE.
        sipp = self.sipp("hold_no_final_answer.xml")
        call, watch = self.connected_call(sipp, response_timeout="2s")
        started = time.monotonic()
        err = self.assertRpcError(lambda: self.hold(call.session_id, True), epb.NETWORK_ERROR)
        elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 1.8, "the RPC waited for response_timeout")
        self.assertLess(elapsed, 4.0)
        self.assertIn("re-INVITE", err.message)
        ended = self.wait_terminal(watch)
        self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED)
        self.assertEqual(ended.session.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertEqual(ended.session.end_reason.source, cpb.HANGUP_SOURCE_SYSTEM)
        self.assertIn("BYE", ended.session.end_reason.message)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_CONNECTED, S.CALL_STATUS_FAILED])
        self.assertSippPassed(sipp)  # it got the BYE
        self.assertRegex(sipp.messages(), r"BYE sip:[^\r\n]* SIP/2\.0")

    def test_hold_challenged_with_401_is_answered_with_credentials(self):
        tmp = tempfile.TemporaryDirectory(prefix="voipd-sip-hold-auth-")
        self.addCleanup(tmp.cleanup)
        password = os.path.join(tmp.name, "password")
        with open(password, "w") as f:
            f.write("s3cret\n")
        sipp = self.sipp("hold_auth.xml")
        call, watch = self.connected_call(sipp, username="alice", password_file=password)
        held = self.hold(call.session_id, True)
        self.assertEqual(held.status, S.CALL_STATUS_ON_HOLD)
        self.assertTrue(held.on_hold)
        self.end_call(call.session_id)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_CONNECTED, S.CALL_STATUS_ON_HOLD,
            S.CALL_STATUS_DISCONNECTED])
        # The scenario verified the digest of the retried re-INVITE (alice /
        # s3cret) before it accepted the hold.
        self.assertSippPassed(sipp)
        self.assertIn('Authorization: Digest username="alice"', sipp.messages())


class MediaTest(SipTestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="voipd-sip-media-")
        self.addCleanup(self.tmp.cleanup)

    def peer(self):
        rtp = RtpPeer()
        self.addCleanup(rtp.close)
        return rtp

    def test_prompt_is_sent_and_mute_sends_silence_without_renegotiation(self):
        rtp = self.peer()
        # answer.xml fails on any re-INVITE: mute must not renegotiate.
        sipp = self.sipp("answer.xml", rtp_port=rtp.port)
        prompt = write_tone_wav(os.path.join(self.tmp.name, "tone.wav"))
        self.start_voipd({"pbx": sip_system(sipp.addr, prompt_wav=prompt, prompt_loop=True,
                                            codecs=["PCMU"])})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)

        talking = rtp.collect(0.4)
        self.assertGreater(len(talking), 10)
        self.assertTrue(all(pt == 0 for _, pt, _ in talking), "PCMU, payload type 0")
        self.assertTrue(all(len(p) == 160 for _, _, p in talking), "20 ms frames")
        self.assertFalse(any(is_silence(p) for _, _, p in talking), "the prompt is playing")

        muted = self.mute(call.session_id, True)
        self.assertTrue(muted.muted)
        time.sleep(0.1)  # frames already in flight
        silent = rtp.collect(0.4)
        self.assertGreater(len(silent), 10, "muting keeps the RTP stream going")
        self.assertTrue(all(is_silence(p) for _, _, p in silent), "muted frames carry silence")

        unmuted = self.mute(call.session_id, False)
        self.assertFalse(unmuted.muted)
        time.sleep(0.1)
        again = rtp.collect(0.4)
        self.assertFalse(any(is_silence(p) for _, _, p in again), "the prompt is back")

        mute_events = [e for e in watch.events if e.type == cpb.CALL_EVENT_TYPE_MUTE_CHANGED]
        self.assertEqual([e.session.muted for e in mute_events], [True, False])
        self.end_call(call.session_id)
        self.wait_terminal(watch)
        self.assertSippPassed(sipp)
        rx, tx, _ = self.media_stats(call.provider_call_id)
        self.assertGreater(rx, 30, "the peer's echo was counted")
        self.assertGreater(tx, 30)

    def test_offered_and_bound_rtp_ports_are_within_rtp_ports(self):
        # A 10-port range of the test's own: 5 even RTP ports (RTCP above
        # each). libre picks one at random per call, so 3 calls leave room.
        low = free_port_range(10)
        high = low + 9
        sipp = self.sipp("answer.xml", calls=3)
        self.start_voipd({"pbx": sip_system(sipp.addr, rtp_ports="%d-%d" % (low, high))})
        calls = [self.start_call(number="+1201555010%d" % i) for i in range(3)]
        watches = [self.watch(c.session_id) for c in calls]
        for watch in watches:
            self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        invites = sip_messages(sipp.messages(), "INVITE")
        offered = [int(re.search(r"^m=audio (\d+) ", i, re.M).group(1)) for i in invites]
        self.assertEqual(len(offered), 3, invites)
        self.assertEqual(len(set(offered)), 3, "one port per call: %s" % offered)
        for port in offered:
            self.assertTrue(low <= port < high, "offered %d, rtp_ports %d-%d"
                            % (port, low, high))
            self.assertEqual(port % 2, 0, "RTP takes the even port: %d" % port)
        # voipd itself holds those sockets (RTP and the RTCP one above),
        # and nothing else in the range.
        bound = udp_ports_of(self.voipd.proc.pid)
        self.assertEqual({p for p in bound if low <= p <= high},
                         {p + d for p in offered for d in (0, 1)}, sorted(bound))
        for call, watch in zip(calls, watches):
            self.end_call(call.session_id)
            self.wait_terminal(watch)
        self.assertSippPassed(sipp)
        wait_until(lambda: not any(low <= p <= high for p in udp_ports_of(self.voipd.proc.pid)),
                   "voipd to release the RTP ports of the ended calls")

    def test_prompt_played_once_then_silence_in_pcma(self):
        rtp = self.peer()
        sipp = self.sipp("answer.xml", rtp_port=rtp.port)
        prompt = write_tone_wav(os.path.join(self.tmp.name, "short.wav"), seconds=0.2)
        self.start_voipd({"pbx": sip_system(sipp.addr, prompt_wav=prompt, codecs=["PCMA"])})
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        time.sleep(0.6)
        self.end_call(call.session_id)
        self.wait_terminal(watch)
        self.assertSippPassed(sipp)
        packets = rtp.since(0)
        self.assertTrue(all(pt == 8 for _, pt, _ in packets), "PCMA, payload type 8")
        sounding = [p for _, _, p in packets if any(b != 0xD5 for b in p)]
        # 0.2 s of tone = 10 frames; everything after is A-law silence.
        self.assertEqual(len(sounding), 10, [len(p) for p in sounding])
        self.assertGreater(len(packets), 20)

    def test_media_none_is_signalling_only(self):
        sipp = self.sipp("answer.xml")
        self.start_voipd({"trunk": sip_system(sipp.addr, media="none")})
        caps = self.capabilities("trunk")
        self.assertFalse(caps.can_hold)
        self.assertFalse(caps.can_mute)
        call = self.start_call()
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.assertRpcError(lambda: self.hold(call.session_id, True), epb.UNSUPPORTED_OPERATION)
        self.end_call(call.session_id)
        self.wait_terminal(watch)
        self.assertSippPassed(sipp)
        messages = sipp.messages()
        invite = messages[messages.index("INVITE sip:"):]
        invite = invite[:invite.index("\r\n\r\n")]
        self.assertIn("Content-Length: 0", invite, "no SDP offer")
        # SIPp offered in its 200; the ACK answers, declining the audio.
        self.assertRegex(messages, r"ACK sip:[^\n]*\n(?:[^\n]*\n)*?m=audio 0 RTP/AVP")


if __name__ == "__main__":
    unittest.main()
