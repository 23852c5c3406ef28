"""Many simultaneous dialogs on the one libre loop: no thread per call.

Counts come from one SubscribeCallEvents stream for the system, so the test
sees every state change without polling per call."""
import concurrent.futures
import os
import time
import unittest

from sip_testlib import S, TERMINAL, SipTestCase, Stream, pb, sip_system, wait_until

SIGNALLING_CALLS = 1000
RTP_CALLS = 200


def fds_of(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads: line")


class LoadTest(SipTestCase):

    def run_calls(self, media, count, hold_for=0.0):
        """Starts `count` calls at once, waits until all are connected, holds
        them for `hold_for` seconds, ends them all. Returns (session list,
        set-up seconds, threads before, threads during)."""
        sipp = self.sipp("answer.xml", calls=count, timeout=90, trace=False)
        self.start_voipd({"trunk": sip_system(sipp.addr, media=media, max_calls=count,
                                              response_timeout="10s")})
        # after_sequence=0 (this daemon is fresh): no event is missed while the
        # subscription is still on its way to the server.
        events = Stream(self.stub.SubscribeCallEvents(
            pb.SubscribeCallEventsRequest(filter=pb.CallEventFilter(system_name="trunk"),
                                          after_sequence=0),
            timeout=120))
        self.addCleanup(events.cancel)

        def sessions_in(statuses):
            return lambda evs: len({e.session.session_id for e in evs
                                    if e.session.status in statuses})

        pid = self.voipd.proc.pid
        threads_before = threads_of(pid)
        fds_before = fds_of(pid)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            calls = list(pool.map(lambda _: self.start_call(), range(count)))
            connected = sessions_in({S.CALL_STATUS_CONNECTED})
            events.wait_for(lambda evs: connected(evs) == count or sessions_in(TERMINAL)(evs),
                            "%d connected calls" % count, timeout=60)
            setup = time.monotonic() - started
            self.assertEqual(connected(events.events), count, "a call ended before the others "
                             "connected:\n%s" % self.voipd.log()[-2000:])
            time.sleep(hold_for)
            threads_during = threads_of(pid)
            list(pool.map(lambda c: self.end_call(c.session_id), calls))
        events.wait_for(lambda evs: sessions_in({S.CALL_STATUS_DISCONNECTED})(evs) == count,
                        "%d disconnected calls" % count, timeout=60)
        self.assertSippPassed(sipp, timeout=30)
        # Every call's sockets (RTP and RTCP with media) are closed once it
        # ended: one leaked per call would be hundreds here.
        wait_until(lambda: fds_of(pid) <= fds_before + 2,
                   "voipd's descriptors back to %d" % fds_before)
        self.assertLess(threads_during - threads_before, 8,
                        "threads grew from %d to %d" % (threads_before, threads_during))
        return calls, setup, threads_before, threads_during

    def test_a_thousand_simultaneous_dialogs(self):
        _, setup, before, during = self.run_calls("none", SIGNALLING_CALLS)
        print("\n%d signalling-only calls connected in %.1f s; voipd threads %d -> %d"
              % (SIGNALLING_CALLS, setup, before, during))

    def test_simultaneous_calls_each_with_its_rtp_stream(self):
        calls, setup, before, during = self.run_calls("rtp", RTP_CALLS, hold_for=1.0)
        # One shared 20 ms tick drives every endpoint: each call sent ~50
        # frames while all were up.
        for call in calls:
            rx, tx, _ = self.media_stats(call.provider_call_id)
            self.assertGreater(tx, 30, "call %s sent too little" % call.provider_call_id)
        print("\n%d calls with RTP connected in %.1f s; voipd threads %d -> %d"
              % (RTP_CALLS, setup, before, during))


if __name__ == "__main__":
    unittest.main()
