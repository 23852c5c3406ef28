"""kill -9 in the middle of a randomized soak (tests/integration/harness/soak.py),
then a restart on the same state directory.

Six clients start, end, hold, mute and query calls on the sandbox while a
subscriber reads every event; voipd is killed at a random moment. After the
restart the subscriber resumes with after_sequence = the last event it saw,
and the soak's invariants must hold across both runs: no gap and no
duplicate in the stream, exactly one terminal event per call (the calls that
were active get DISCONNECTED with DAEMON_RESTART), GetCallStatus agreeing
with the stream. A call some stream showed before the crash must still
exist; only one whose StartCall was answered but whose first event never
reached a stream may be gone (docs/history.md, "What durable means here").
"""
import random
import signal
import sys
import time
import unittest

from history_common import HistoryTestCase, P, config, epb, poll
from soak import Soak

NUMBERS = ["+12015550100"] * 5 + ["+12015550101", "+12015550102", "+12015550104"]


class CrashSoakTest(HistoryTestCase):

    def test_kill9_mid_soak_then_restart(self):
        cfg = config(sandbox_extra=", default_ring_timeout_seconds: 900") + \
            "calls: { end_call_timeout: 2s }\n"
        d1 = self.daemon(cfg)
        soak = Soak(P, d1.stub, NUMBERS, workers=6)
        soak.start(resuming=0, watchers=0)
        # At a random moment once calls are in every state (the full
        # subscriber has seen a few hundred events).
        poll(lambda: len(soak.full_events) >= 300, "300 events before the kill", timeout=60)
        time.sleep(random.uniform(0, 1.5))
        soak.crashed()
        d1.v.proc.send_signal(signal.SIGKILL)
        d1.v.proc.wait(10)
        soak.stop_clients()
        d1.channel.close()
        seen_before = len(soak.full_events)

        d2 = self.daemon(cfg)
        soak.restarted(d2.stub)
        soak.finish()
        problems = soak.check()
        after = soak.full_events[seen_before:]
        restarted = [e for e in after if e.session.end_reason.error_code == epb.DAEMON_RESTART]
        summary = ("seed %d, %d calls (%d gone in the crash window), %d events before the kill, "
                   "%d after (%d DAEMON_RESTART); answers: %s"
                   % (soak.seed, len(soak.sessions), len(soak.lost_in_crash), seen_before,
                      len(after), len(restarted), dict(soak.answers)))
        print(summary, file=sys.stderr)
        self.assertEqual([], problems[:20], summary)
        # The kill hit live calls, and each got its one DAEMON_RESTART end.
        self.assertGreater(len(restarted), 0, summary)


if __name__ == "__main__":
    unittest.main()
