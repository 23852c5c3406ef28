"""A randomized soak against baresip (tests/integration/harness/soak.py), with
leak checks on both sides afterwards. Runs alone (ctest integration_sip_soak,
RUN_SERIAL): see tests/CMakeLists.txt."""
import os
import sys
import unittest

from sip_testlib import P, SipTestCase, sip_system, wait_until
from soak import Soak
from test_sip_baresip import Baresip


class BaresipSoakTest(SipTestCase):

    def test_soak_leaves_nothing_behind_on_either_side(self):
        """Concurrent clients start, end, hold, mute and query calls to baresip
        (harness/soak.py checks the API's invariants on what they saw). Then
        nothing may be left: no call in voipd, none in baresip, and voipd
        holds exactly the sockets it held before the first call (every RTP
        port was released)."""
        phone = Baresip(ctrl=True)
        self.addCleanup(phone.stop)
        phone.start()
        daemon = self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % phone.port)})
        sockets_before = self.udp_sockets(daemon.proc.pid)
        bob = "sip:bob@127.0.0.1:%d" % phone.port
        # Mostly bob, who answers; sometimes a user baresip does not have (404).
        soak = Soak(P, self.stub, [bob] * 4 + ["sip:nobody@127.0.0.1:%d" % phone.port],
                    workers=3, live_per_worker=6)
        peak = [0, 0]  # voipd's UDP sockets, baresip's calls

        def sample():
            peak[0] = max(peak[0], self.udp_sockets(daemon.proc.pid))
            peak[1] = max(peak[1], phone.active_calls())
        soak.run(8, tick=sample)
        problems = soak.check()
        summary = "seed %d, %d calls, %d events; answers: %s" % (
            soak.seed, len(soak.sessions), len(soak.full_events), dict(soak.answers))
        self.assertEqual([], problems[:20], summary + "\n" + daemon.log()[-3000:])
        print("%s; UDP sockets: %d before, up to %d during; baresip's calls: up to %d"
              % (summary, sockets_before, peak[0], peak[1]), file=sys.stderr)
        self.assertGreater(len(soak.sessions), 50, summary)
        # The leak checks below mean something only if the calls took sockets
        # and reached baresip.
        self.assertGreater(peak[0], sockets_before, "no RTP socket was ever open")
        self.assertGreater(peak[1], 0, "baresip never had a call")
        for answer in ("Hold OK", "Mute OK", "EndCall OK"):
            self.assertGreater(soak.answers[answer], 0, "no %r in %s" % (answer, summary))
        wait_until(lambda: phone.active_calls() == 0, "baresip to have no call left",
                   timeout=15)
        wait_until(lambda: self.udp_sockets(daemon.proc.pid) == sockets_before,
                   "voipd to hold only its %d start-up UDP sockets" % sockets_before,
                   timeout=15)

    @staticmethod
    def udp_sockets(pid):
        """voipd's UDP sockets (SIP and RTP), from /proc/net/udp by inode."""
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
        count = 0
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            with open(table) as f:
                next(f)
                count += sum(1 for line in f if line.split()[9] in inodes)
        return count



if __name__ == "__main__":
    unittest.main()
