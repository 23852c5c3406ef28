"""Click-to-call against the recorded Asterisk sessions (transcripts 01, 04,
11, 12, 16, 17), driven through voipd's gRPC API.

Run: VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \\
       /usr/bin/python3 -m unittest discover -s tests/integration/asterisk -p "test_*.py"
"""
import signal
import unittest

from ami_test_support import AmiTestCase, S, epb

# Music on hold in test,600 (peer extensions.conf); the agent waits in
# agent,wait meanwhile.
HOLD = "hold: { context: test, exten: \"600\", agent_context: agent, agent_exten: wait }"


class ClickToCallReplayTest(AmiTestCase):

    def test_01_login_gives_a_healthy_system(self):
        self.serve("01-login-success.txt")
        self.start_voipd()
        login = self.server.logins[0]
        self.assertEqual(login.get("Username"), "voipd")
        self.assertEqual(login.get("Secret"), "voipd-secret")
        # Only the event class the adapter follows.
        self.assertEqual(login.get("Events"), "call")
        caps = self.health()
        self.assertTrue(caps.can_end)
        self.assertFalse(caps.can_hold, "no hold: section in the config")
        self.assertTrue(caps.accepts_extension)
        self.assert_server_clean()

    def test_04_answered_then_ended(self):
        self.serve("04-click-to-call-answered-hangup-action.txt")
        self.start_voipd()
        session, w = self.call_and_watch("100", from_="100")
        self.assertEqual(session.provider_call_id, "voipd-" + session.session_id)
        self.assertEqual(getattr(session, "from"), "100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.end_call(session.session_id)
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        originate = self.sent("Originate")[0]
        self.assertEqual(originate.get("ChannelId"), "voipd-" + session.session_id)
        self.assertEqual(originate.get("OtherChannelId"), "voipd-%s-peer" % session.session_id)
        self.assertIn("VOIPD_SESSION_ID=" + session.session_id, originate.get_all("Variable"))
        self.assertEqual(originate.get("Async"), "true")
        self.assertEqual(originate.get("CallerID"), '"voipd" <1000>')
        self.assertNotEqual(originate.get("ActionID"), "")
        hangups = self.sent("Hangup")
        self.assertEqual(hangups[0].get("Channel"), "Local/100@test-00000001;1")
        self.assertTrue(all(h.get("Cause") == "16" for h in hangups))
        # Every leg of the session: the agent's and the customer's.
        self.assertIn("Local/100@test-00000002;1", [h.get("Channel") for h in hangups])
        self.assert_server_clean()

    def test_11_destination_busy(self):
        self.serve("11-click-to-call-destination-busy.txt")
        self.start_voipd()
        session, w = self.call_and_watch("300")  # the agent is default_from "100"
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_BUSY"])
        cause = ended.end_reason.provider_cause
        self.assertEqual(cause.provider_status, "BUSY")
        # 17 is only on the busy Local ;2 (its ;1 says 0): it must be kept.
        self.assertEqual(cause.q850_cause, 17)
        self.assertEqual(cause.text, "User busy")
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_REMOTE)
        self.assert_server_clean()

    def test_12_remote_hangup_after_answer(self):
        self.serve("12-click-to-call-remote-hangup.txt")
        self.start_voipd()
        session, w = self.call_and_watch("500")
        ended = w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_REMOTE)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        self.assertEqual(ended.end_reason.provider_cause.text, "Normal Clearing")
        self.assertEqual(self.sent("Hangup"), [], "nothing left to hang up")
        self.assert_server_clean()

    def test_16_hold_redirects_both_legs(self):
        self.serve("16-redirect-bridged-dual.txt")
        self.start_voipd(extra=HOLD)
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        held = self.hold(session.session_id, True)  # returns once MusicOnHoldStart came
        self.assertEqual(held.status, S.CALL_STATUS_ON_HOLD)
        self.assertTrue(held.on_hold)
        redirect = self.sent("Redirect")[0]
        self.assertEqual(redirect.get("Channel"), "Local/100@test-00000011;1")  # the customer
        self.assertEqual(redirect.get("ExtraChannel"), "Local/100@test-00000010;1")  # the agent
        self.end_call(session.session_id)
        ended = w.wait_terminal()
        # MusicOnHoldStop at the hangup is no resume.
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_ON_HOLD",
                                        "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        self.assert_server_clean()

    def test_16s_hold_then_resume_with_bridge(self):
        # Synthetic: transcript 16 with a resume (Bridge, then
        # MusicOnHoldStop) inserted; the real peer recording has none.
        self.serve("../synthetic/s16-hold-resume-bridge.txt")
        self.start_voipd(extra=HOLD)
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertEqual(self.hold(session.session_id, True).status, S.CALL_STATUS_ON_HOLD)
        resumed = self.hold(session.session_id, False)
        self.assertEqual(resumed.status, S.CALL_STATUS_CONNECTED)
        bridge = self.sent("Bridge")[0]
        self.assertEqual(bridge.get("Channel1"), "Local/100@test-00000010;1")
        self.assertEqual(bridge.get("Channel2"), "Local/100@test-00000011;1")
        self.end_call(session.session_id)
        w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_ON_HOLD",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    def test_17_attended_transfer_elsewhere_changes_nothing(self):
        # Atxfer/CancelAtxfer come from another AMI client: their Hold,
        # Unhold, MusicOnHold and third-leg events must not move the call.
        self.serve("17-atxfer-hold-unhold.txt",
                   auto=lambda a: a.name() in ("atxfer", "cancelatxfer"))
        self.start_voipd()
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        # The last recorded event before our hangup: the transfer leg is gone.
        self.assertTrue(self.server_waits_for("hangup"))
        self.end_call(session.session_id)
        w.wait_terminal()
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    def test_hold_and_mute_are_unsupported_when_not_configured(self):
        self.serve("04-click-to-call-answered-hangup-action.txt")
        self.start_voipd()
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assert_error(lambda: self.hold(session.session_id, True),
                          epb.UNSUPPORTED_OPERATION)
        self.assert_error(lambda: self.mute(session.session_id, True),
                          epb.UNSUPPORTED_OPERATION)
        self.end_call(session.session_id)
        w.wait_terminal()
        self.assert_server_clean()

    def test_sigterm_hangs_up_the_active_call(self):
        self.serve("04-click-to-call-answered-hangup-action.txt")
        self.start_voipd()
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.voipd.signal(signal.SIGTERM)
        self.assertEqual(self.voipd.wait(15), 0)
        self.assertEqual(self.sent("Hangup")[0].get("Channel"), "Local/100@test-00000001;1")
        self.assertEqual(w.last().status, S.CALL_STATUS_DISCONNECTED)
        self.assert_server_clean()


if __name__ == "__main__":
    unittest.main()
