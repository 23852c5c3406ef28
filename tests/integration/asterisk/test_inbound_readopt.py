"""Inbound calls (a Newchannel in a configured context becomes an INBOUND
session) and re-adoption after kill -9 (Adapter::Readopt through
CoreShowChannels), through the gRPC API against the scripted AMI server.

The inbound sessions are SYNTHETIC (synthetic/s23, s24: no recording has a
trunk call); the re-adoption tests replay the recorded files 03 and 10 with an
outage during which voipd is killed and restarted on the same state directory.
"""
import os
import signal
import time

from ami_test_support import DIRECT, AmiTestCase, S, TERMINAL, cpb_health, epb, pb
import call_stream  # noqa: E402  (on the path once ami_test_support is imported)

INBOUND = "inbound: { contexts: [from-pstn, from-sip] }"
HOLD = 'hold: { context: test, exten: "600", agent_context: agent, agent_exten: wait }'


class EventStream:
    """SubscribeCallEvents read on a thread by the shared harness Stream."""

    def __init__(self, stub, after_sequence=None, **filter_fields):
        req = pb.SubscribeCallEventsRequest(filter=pb.CallEventFilter(**filter_fields))
        if after_sequence is not None:
            req.after_sequence = after_sequence
        self._stream = call_stream.Stream(stub.SubscribeCallEvents(req, timeout=120))

    @property
    def events(self):
        return self._stream.snapshot()

    def wait_for(self, pred, what, timeout=20):
        """The first session (in an event) for which pred holds."""
        return self._stream.wait_for(
            lambda evs: next((e.session for e in evs if pred(e.session)), None), what, timeout)

    def statuses(self, session_id):
        out = []
        for e in self.events:
            if e.session.session_id == session_id and (not out or out[-1] != e.session.status):
                out.append(e.session.status)
        return [S.CallStatus.Name(s) for s in out]

    def terminal_events(self, session_id):
        return [e for e in self.events if e.session.session_id == session_id
                and e.type == S.CALL_EVENT_TYPE_STATUS_CHANGED
                and e.session.status in TERMINAL]

    def session_ids(self):
        return {e.session.session_id for e in self.events}

    def close(self):
        self._stream.cancel()


class InboundTest(AmiTestCase):

    def subscribe(self, **kwargs):
        s = EventStream(self.stub, **kwargs)
        self.addCleanup(s.close)
        return s

    def test_answered_and_hung_up_by_the_caller_other_contexts_ignored(self):
        # A phone-to-phone call in from-internal comes first: not listed, so
        # no session (its events precede the trunk call's on the one AMI
        # stream). Then the trunk call in from-pstn.
        self.serve("../synthetic/s23-inbound-caller-hangup.txt")
        self.start_voipd(extra=INBOUND)
        events = self.subscribe(after_sequence=0)  # every event since start
        ended = events.wait_for(lambda s: s.status in TERMINAL, "the inbound call's end")
        self.assertEqual(events.session_ids(), {ended.session_id},
                         "only the from-pstn channel is a call")
        self.assertEqual(events.statuses(ended.session_id),
                         ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                          "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        self.assertEqual(ended.direction, S.CALL_DIRECTION_INBOUND)
        self.assertEqual(ended.provider_call_id, "1795465500.70")
        self.assertEqual(getattr(ended, "from"), "+12025550199")
        self.assertEqual(ended.to.number, "+12015550000")
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_REMOTE)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        self.assertEqual(len(events.terminal_events(ended.session_id)), 1)
        self.assertEqual(self.sent("Hangup"), [], "the caller hung up; voipd sent nothing")
        self.assert_server_clean()

    def test_end_call_hangs_up_the_channel_mute_works_hold_is_unsupported(self):
        self.serve("../synthetic/s24-inbound-ended-by-endcall.txt")
        self.start_voipd(extra="\n".join([INBOUND, HOLD, "mute_direction: in"]))
        events = self.subscribe(after_sequence=0)
        up = events.wait_for(lambda s: s.status == S.CALL_STATUS_CONNECTED, "CONNECTED")
        self.assertEqual(up.direction, S.CALL_DIRECTION_INBOUND)
        err = self.assert_error(lambda: self.hold(up.session_id, True),
                                epb.UNSUPPORTED_OPERATION)
        self.assertIn("inbound", err.message)
        self.mute(up.session_id, True)
        mute = self.sent("MuteAudio")[0]
        self.assertEqual(mute.get("Channel"), "PJSIP/trunk-00000003")
        self.end_call(up.session_id)
        ended = events.wait_for(lambda s: s.status in TERMINAL, "the end")
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        hangups = self.sent("Hangup")
        self.assertEqual([h.get("Channel") for h in hangups], ["PJSIP/trunk-00000003"])
        self.assertEqual(hangups[0].get("Cause"), "16")
        self.assertEqual(len(events.terminal_events(up.session_id)), 1)
        self.assert_server_clean()


class ReadoptTest(AmiTestCase):
    """voipd is killed (SIGKILL) while the AMI connection is down, restarted
    on the same state directory, and the PBX comes back: the restarted voipd
    asks CoreShowChannels and keeps the calls the PBX still has."""

    def setUp(self):
        super().setUp()
        self.state_dir = os.path.join(self._tmp.name, "state")
        os.mkdir(self.state_dir)
        self.streams = []

    def tearDown(self):
        for s in self.streams:
            s.close()
        super().tearDown()

    def run_until_kill(self, transcript_name, drop, number, answered=True, restore=True):
        self.serve(transcript_name, drop=drop, sync_after_reconnect=True)
        self.start_voipd(mode="direct", mode_value=DIRECT,
                         extra_args=["--state-dir", self.state_dir])
        session, w = self.call_and_watch(number)
        if answered:
            w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertTrue(self.server.dropped.wait(10), "the replay never dropped")
        last_sequence = max(ev.sequence for ev in w.events)
        # kill -9: no goodbye to anyone.
        for watcher in self.watchers:
            watcher.close()
        self.watchers = []
        self.channel.close()
        self.voipd.proc.send_signal(signal.SIGKILL)
        self.voipd.proc.wait(10)
        self.voipd.__exit__(None, None, None)
        self.voipd = None
        # Same state directory, same PBX address; the PBX is still away.
        self.start_voipd(mode="direct", mode_value=DIRECT, wait_ready=False,
                         extra_args=["--state-dir", self.state_dir])
        stream = EventStream(self.stub, after_sequence=last_sequence,
                             session_id=session.session_id)
        self.streams.append(stream)
        restored = self.stub.GetCallStatus(pb.GetCallStatusRequest(
            session_id=session.session_id), timeout=15)
        self.assertEqual(restored.status, S.CALL_STATUS_CONNECTED, "restored from the state dir")
        if restore:
            self.server.restore.set()
        return session, stream

    def wait_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while text not in self.voipd.log():
            if time.monotonic() > deadline:
                raise AssertionError("no %r in the log:\n%s" % (text, self.voipd.log()))
            time.sleep(0.05)

    def test_call_still_at_the_pbx_is_readopted_and_ends_once(self):
        # File 10: answered, then the far end hangs up 2 s later. The outage
        # comes right after the answer; the PBX keeps the call meanwhile.
        session, stream = self.run_until_kill(
            "10-originate-remote-hangup.txt", {"after": ("Event: OriginateResponse", 1)}, "500")
        ended = stream.wait_for(lambda s: s.status in TERMINAL, "the end")
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertNotEqual(ended.end_reason.error_code, epb.DAEMON_RESTART,
                            ended.end_reason.message)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_REMOTE)
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        self.assertEqual(stream.statuses(session.session_id), ["CALL_STATUS_DISCONNECTED"],
                         "nothing between the restart and the Hangup: it stayed CONNECTED")
        self.assertEqual(len(stream.terminal_events(session.session_id)), 1)
        self.assertIn("re-adopted", self.voipd.log())
        self.assertEqual(self.server.connections, 2)
        self.assert_server_clean()

    def test_readopted_call_can_be_ended(self):
        # File 03: answered; the next recorded step is voipd's Hangup.
        session, stream = self.run_until_kill(
            "03-originate-answered-hangup-action.txt", {"after": ("Event: DialEnd", 1)}, "100")
        self.wait_log("call re-adopted after the restart")
        self.end_call(session.session_id)
        ended = stream.wait_for(lambda s: s.status in TERMINAL, "the end")
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        hangup = self.sent("Hangup")[0]
        self.assertEqual(hangup.get("Channel"), "Local/100@test-00000000;1",
                         "addressed by the channel name CoreShowChannels reported")
        self.assertEqual(len(stream.terminal_events(session.session_id)), 1)
        self.assert_server_clean()

    def test_call_the_pbx_reports_after_the_deadline_is_hung_up(self):
        # The PBX comes back only after the core's 15 s re-adoption deadline
        # (daemon/daemon.cc, kReadoptTimeout): the call has ended with
        # DAEMON_RESTART, so when CoreShowChannels still lists it voipd hangs
        # it up instead of leaving it up at the PBX with nobody to end it.
        session, stream = self.run_until_kill(
            "03-originate-answered-hangup-action.txt", {"after": ("Event: DialEnd", 1)}, "100",
            restore=False)
        ended = stream.wait_for(lambda s: s.status in TERMINAL, "the deadline's end", timeout=40)
        self.assertEqual(ended.end_reason.error_code, epb.DAEMON_RESTART,
                         ended.end_reason.message)
        self.assertIn("did not report it within", ended.end_reason.message)
        self.assertEqual(self.sent("Hangup"), [])
        self.server.restore.set()
        self.wait_log("answered after the recovery deadline: hanging it up", timeout=30)
        self.assert_server_clean(timeout=20)  # the replay's next step is voipd's Hangup
        hangup = self.sent("Hangup")[0]
        self.assertEqual(hangup.get("Channel"), "Local/100@test-00000000;1")
        # The Hangup's events reach the adapter and change nothing: one end.
        self.assertEqual(len(stream.terminal_events(session.session_id)), 1)
        self.assertEqual(self.stub.GetCallStatus(pb.GetCallStatusRequest(
            session_id=session.session_id), timeout=15).end_reason.error_code,
            epb.DAEMON_RESTART)

    def test_call_gone_from_the_pbx_ends_with_daemon_restart(self):
        # The far end hangs up during the outage ("lose": it happens at the
        # PBX, unseen): CoreShowChannels no longer lists the call.
        session, stream = self.run_until_kill(
            "10-originate-remote-hangup.txt",
            {"after": ("Event: OriginateResponse", 1), "lose": "rest"}, "500")
        ended = stream.wait_for(lambda s: s.status in TERMINAL, "the end")
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.error_code, epb.DAEMON_RESTART,
                         ended.end_reason.message)
        self.wait_health(cpb_health("HEALTHY"))
        self.assertEqual(len(stream.terminal_events(session.session_id)), 1)
        self.assertEqual(self.sent("Hangup"), [], "nothing to hang up")
        self.assertIn("is gone", self.voipd.log())
