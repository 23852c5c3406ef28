"""Direct mode (the originated channel is the target) against the recorded
Asterisk sessions: Originate Local/<N>@test into agent,wait (peer README,
"Simple originate"). Outcomes, causes, EndCall, Mute, Hold, keepalive."""
import unittest

from ami_test_support import DIRECT, AmiTestCase, S, cpb_health, epb

HOLD = ('hold: { context: test, exten: "600", resume_context: agent, resume_exten: wait }')
TERMINAL_AFTER_RING = ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING"]


class DirectReplayTest(AmiTestCase):

    def start_direct(self, extra="", mode_value=DIRECT):
        return self.start_voipd(mode="direct", mode_value=mode_value, extra=extra)

    def test_03_answered_then_ended_by_channel_name(self):
        self.serve("03-originate-answered-hangup-action.txt")
        self.start_direct()
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.end_call(session.session_id)
        ended = w.wait_terminal()
        # OriginateResponse (Reason 4) came before DialBegin here: no ringing.
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_CONNECTED",
                                        "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        hangup = self.sent("Hangup")[0]
        self.assertEqual(hangup.get("Channel"), "Local/100@test-00000000;1")
        self.assertEqual(hangup.get("Cause"), "16")
        self.assert_server_clean()

    def test_05_no_answer_uses_the_ring_timeout(self):
        self.serve("05-originate-no-answer-timeout.txt")
        self.start_direct()
        session, w = self.call_and_watch("200", ring_timeout=5)  # Originate Timeout: 5000
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_UNAVAILABLE"])
        cause = ended.end_reason.provider_cause
        self.assertEqual(cause.provider_status, "Reason 3")
        self.assertEqual(cause.q850_cause, 19)
        self.assertEqual(cause.text, "User alerting, no answer")
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_SYSTEM)
        self.assert_server_clean()

    def test_06_busy(self):
        self.serve("06-originate-busy.txt")
        self.start_direct()
        session, w = self.call_and_watch("300")
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_BUSY"])
        self.assertEqual(ended.end_reason.provider_cause.provider_status, "BUSY")
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 17)
        self.assert_server_clean()

    def test_07_congestion_fails_with_provider_error(self):
        self.serve("07-originate-congestion.txt")
        self.start_direct()
        session, w = self.call_and_watch("400")
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_FAILED"])
        self.assertEqual(ended.end_reason.error_code, epb.PROVIDER_ERROR)
        self.assertEqual(ended.end_reason.provider_cause.provider_status, "CONGESTION")
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 34)
        self.assert_server_clean()

    def test_08_nonexistent_extension_fails(self):
        # OriginateResponse arrives before any Newchannel.
        self.serve("08-originate-nonexistent-extension.txt")
        self.start_direct()
        session, w = self.call_and_watch("999")
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_FAILED"])
        self.assertEqual(ended.end_reason.provider_cause.provider_status, "Reason 0")
        self.assert_server_clean()

    def test_09_refused_originate_is_a_provider_error(self):
        # 09a is accepted then fails; 09b (`Channel: nobody`) is refused at
        # once: StartCall returns PROVIDER_ERROR with Asterisk's message.
        self.serve("09-originate-invalid-channel.txt", relaxed=["Channel"])
        self.start_direct(mode_value='{ channel: "PJSIP/nobody", context: agent, exten: wait }')
        session, w = self.call_and_watch("100")
        self.assertEqual(w.wait_terminal().status, S.CALL_STATUS_FAILED)
        err = self.assert_error(lambda: self.start_call("100"), epb.PROVIDER_ERROR)
        self.assertIn("Invalid channel", err.message)
        self.assertEqual(err.provider_cause.text, "Invalid channel")
        self.assertEqual(err.system_name, "pbx")
        self.assertNotEqual(err.session_id, "", "the failed call is still reported")
        self.assert_server_clean()

    def test_10_remote_hangup(self):
        self.serve("10-originate-remote-hangup.txt")
        self.start_direct()
        session, w = self.call_and_watch("500")
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_CONNECTED",
                                                              "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_REMOTE)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        self.assert_server_clean()

    def test_14_mute_and_its_errors(self):
        # The two failing MuteAudio of the recording answer voipd's third and
        # fourth Mute (their Channel/Direction are not compared).
        relax = {"mute-nochan-0014": ["Channel", "State"],
                 "mute-baddir-0014": ["Direction", "State"]}
        self.serve("14-muteaudio.txt", relax=lambda a: relax.get(a.get("ActionID"), []))
        self.start_direct(extra="mute_direction: all")
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertTrue(self.mute(session.session_id, True).muted)
        self.assertFalse(self.mute(session.session_id, False).muted)
        err = self.assert_error(lambda: self.mute(session.session_id, True),
                                epb.PROVIDER_ERROR)
        self.assertIn("No such channel", err.message)
        err = self.assert_error(lambda: self.mute(session.session_id, True),
                                epb.PROVIDER_ERROR)
        self.assertIn("Failed to mute/unmute stream", err.message)
        self.end_call(session.session_id)
        ended = w.wait_terminal()
        self.assertFalse(ended.muted)
        mutes = self.sent("MuteAudio")
        self.assertEqual([(m.get("Direction"), m.get("State")) for m in mutes[:2]],
                         [("all", "on"), ("all", "off")])
        self.assert_server_clean()

    def test_15_hold_and_resume_with_redirect(self):
        self.serve("15-redirect-to-music-on-hold.txt")
        self.start_direct(extra=HOLD)
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertEqual(self.hold(session.session_id, True).status, S.CALL_STATUS_ON_HOLD)
        self.assertEqual(self.hold(session.session_id, False).status, S.CALL_STATUS_CONNECTED)
        self.end_call(session.session_id)
        w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + [
            "CALL_STATUS_CONNECTED", "CALL_STATUS_ON_HOLD", "CALL_STATUS_CONNECTED",
            "CALL_STATUS_DISCONNECTED"])
        redirects = self.sent("Redirect")
        self.assertEqual([(r.get("Context"), r.get("Exten")) for r in redirects],
                         [("test", "600"), ("agent", "wait")])
        self.assert_server_clean()

    def test_18_keepalive_pings(self):
        # The recording's two Pings are answered to voipd's keepalive; the
        # unknown action and the failing Hangup came from another client.
        self.serve("18-ping-errors-logoff.txt", auto=lambda a: a.name() != "ping")
        self.start_direct(extra="keepalive_interval_seconds: 0.3")
        self.assert_server_clean()
        self.assertGreaterEqual(len(self.sent("Ping")), 2)
        self.assertEqual(self.health().health.state, cpb_health("HEALTHY"))

    def test_19_events_call_mask(self):
        # With `Events: call` Asterisk sends no VarSet/Newexten/FullyBooted;
        # the replay drops them as the PBX did.
        self.serve("19-login-events-call.txt",
                   auto=lambda a: a.name() in ("events", "ping"))
        self.start_direct()
        session, w = self.call_and_watch("500")
        w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_CONNECTED",
                                                              "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(self.server.logins[0].get("Events"), "call")
        self.assert_server_clean()

    def test_20_filtered_session(self):
        self.serve("20-filter-action.txt", auto=lambda a: a.name() == "filter")
        self.start_direct()
        session, w = self.call_and_watch("500")
        w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_CONNECTED",
                                                              "CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    def test_21_status_queries_by_others_change_nothing(self):
        self.serve("21-status-coreshowchannels.txt",
                   auto=lambda a: a.name() in ("coreshowchannels", "status", "getvar"))
        self.start_direct()
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertTrue(self.server_waits_for("hangup"))
        self.end_call(session.session_id)
        w.wait_terminal()
        self.assertEqual(w.statuses(), TERMINAL_AFTER_RING + ["CALL_STATUS_CONNECTED",
                                                              "CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    def test_22_failures_with_channel_ids(self):
        self.serve("22-originate-failure-with-channelid.txt")
        self.start_direct()
        busy, w1 = self.call_and_watch("300")
        self.assertEqual(w1.wait_terminal().status, S.CALL_STATUS_BUSY)
        no_answer, w2 = self.call_and_watch("200", ring_timeout=3)
        ended = w2.wait_terminal()
        self.assertEqual(ended.status, S.CALL_STATUS_UNAVAILABLE)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 19)
        self.assert_server_clean()


if __name__ == "__main__":
    unittest.main()
