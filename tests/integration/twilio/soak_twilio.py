"""A randomized soak of the twilio adapter (tests/integration/harness/soak.py)
against the scripted Twilio, with a far end that plays Twilio's side of every
call: signed status callbacks (initiated, ringing, then answered and the
conference join, or busy / no-answer / failed, or a remote hang-up later),
sometimes sent twice as Twilio's retries are, and the final `completed` or
`canceled` callback after voipd hangs a call up over REST. Callbacks race
voipd's own REST requests and the clients' Hold, Mute and EndCall.

The soak's invariants must hold, and afterwards voipd must have hung up at
Twilio every call Twilio still had up.

Run (the env is set by ctest):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest discover -s tests/integration/twilio -p soak_twilio.py -v
"""
import random
import re
import sys
import threading
import time
import unittest

from scripted_twilio import UP
from twilio_support import TO, P, TwilioDaemonTestCase  # puts the harness on sys.path
from soak import Soak  # noqa: E402
from call_stream import poll  # noqa: E402

CALL_UPDATE = re.compile(r"/Calls/(CA[0-9a-f]{32})\.json$")


class FarEnd:
    """Twilio's side of every call the scripted server created."""

    def __init__(self, twilio, seed):
        self.twilio = twilio
        self.seed = seed
        self.random = random.Random(seed)
        self.calls = {}   # CallSid -> {"seq": next SequenceNumber, "steps": [(due, status)]}
        self.seen = 0     # requests already looked at
        self.problems = []
        self.answers = {}  # webhook status code -> count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)

    def _plan(self, sid):
        """The callbacks Twilio will send for a new call, with due times."""
        r, now = self.random, time.monotonic()
        steps = [(now + r.uniform(0, 0.01), "initiated"), (now + r.uniform(0.01, 0.03), "ringing")]
        outcome = r.random()
        later = now + r.uniform(0.03, 0.08)
        if outcome < 0.7:
            steps.append((later, "in-progress"))
            steps.append((later + 0.005, "join"))
            if r.random() < 0.2:
                steps.append((later + r.uniform(0.05, 0.5), "completed"))  # the contact hangs up
        else:
            steps.append((later, r.choice(["busy", "no-answer", "failed"])))
        self.calls[sid] = {"seq": 0, "steps": steps}

    def _run(self):
        while not self._stop.is_set():
            for sid in self.twilio.calls_up():
                if sid not in self.calls:
                    self._plan(sid)  # a call voipd just created
            new, self.seen = self.twilio.requests_since(self.seen)
            for req in new:
                match = CALL_UPDATE.search(req.path)
                sid = match.group(1) if match else None
                if req.method != "POST" or sid not in self.calls:
                    continue
                now_status = self.twilio.status_of(sid)
                if now_status == req.value("Status"):
                    # voipd hung up over REST and the fake applied it (a
                    # cancel of an answered call it ignores, as Twilio does):
                    # nothing else happens to the call but the final callback.
                    self.calls[sid]["steps"] = [
                        (time.monotonic() + self.random.uniform(0, 0.02), now_status)]
            now = time.monotonic()
            for sid, call in self.calls.items():
                due = sorted(s for s in call["steps"] if s[0] <= now)
                call["steps"] = [s for s in call["steps"] if s[0] > now]
                for _, status in due:
                    self._send(sid, call, status)
            time.sleep(0.002)

    def _send(self, sid, call, step):
        callback = step.startswith("callback:")
        status = step[len("callback:"):] if callback else step
        # A call voipd hung up (or that ended) makes no more progress: its
        # planned steps lapse. One that ends meanwhile is kept ended by the
        # fake itself (advance never revives an ended call).
        current = self.twilio.status_of(sid)
        if current not in UP and current != status:
            return
        if status != "join" and not callback:
            # The call changes at Twilio now; its callback reaches voipd up
            # to 30 ms later, as real ones do. voipd's requests meanwhile see
            # the new status (a cancel meeting an answer, say).
            self.twilio.advance(sid, status)
            call["steps"].append((time.monotonic() + self.random.uniform(0, 0.03),
                                  "callback:" + status))
            return
        if status == "join":
            code, _ = self.twilio.conference_join(sid)
        else:
            code, _ = self.twilio.status_callback(sid, status, call["seq"])
            call["seq"] += 1
            if self.random.random() < 0.1:  # Twilio retried: the same callback again
                code, _ = self.twilio.status_callback(sid, status, call["seq"] - 1)
        self.answers[code] = self.answers.get(code, 0) + 1
        if code != 204:
            self.problems.append("the %s callback of %s answered %s" % (status, sid, code))


class TwilioSoakTest(TwilioDaemonTestCase):

    def test_soak_with_racing_callbacks(self):
        soak = Soak(P, self.stub, [TO] * 3 + ["+12015550199", "12345"], workers=3,
                    live_per_worker=8, start_errors={"INVALID_ARGUMENT/INVALID_NUMBER"})
        # Derived from the soak's seed, so that VOIPD_SOAK_SEED replays both.
        far_end = FarEnd(self.twilio, seed=soak.seed + 1).start()
        self.addCleanup(far_end.stop)
        soak.run(8)
        problems = soak.check()
        summary = ("seed %d (far end: seed + 1), %d calls, %d events; answers: %s; "
                   "callbacks: %s" % (soak.seed, len(soak.sessions), len(soak.full_events),
                                      dict(soak.answers), far_end.answers))
        print(summary, file=sys.stderr)
        self.assertEqual([], problems[:20], summary)
        self.assertEqual([], far_end.problems[:20], summary)
        self.assertGreater(len(soak.sessions), 50, summary)
        for answer in ("Hold OK", "Mute OK", "EndCall OK"):
            self.assertGreater(soak.answers[answer], 0, "no %r in %s" % (answer, summary))
        # Every call voipd knows as ended, Twilio must not still have up:
        # voipd hung up (REST) whatever was answered or ringing when it ended it.
        up = self.twilio.calls_up
        try:
            poll(lambda: not up(), "Twilio to have no call up", timeout=10)
        except AssertionError:
            lines = []
            for sid in up()[:3]:
                lines.append("%s is %s at Twilio; voipd asked:" % (sid, self.twilio.status_of(sid)))
                lines += ["  %s %s %s" % (r.method, r.path, r.form)
                          for r in self.twilio.matching("POST", sid)]
            self.fail("calls still up at Twilio (%d):\n%s\n%s"
                      % (len(up()), "\n".join(lines), summary))
        far_end.stop()


if __name__ == "__main__":
    unittest.main()
