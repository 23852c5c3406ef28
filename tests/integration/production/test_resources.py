"""Nothing is left behind: after rounds of calls of every outcome, refused
requests, event streams the clients cancel, and clients that drop their
connection mid-stream, the daemon holds no more file descriptors or threads
than after the first round, no call or subscriber is still counted, and ended
calls are pruned to the configured bound.

A leak per call, per stream or per connection would show as hundreds of
extra descriptors or threads after the 1,000 calls and 125 streams here; the
small allowances below only cover gRPC's own pools, which grow and shrink with
load. Memory leaks are LeakSanitizer's job (scripts/sanitize.sh runs this
suite under it)."""
import concurrent.futures
import os
import time
import unittest
import uuid

import grpc
from google.protobuf.duration_pb2 import Duration

from prod_common import (ANSWERS, BUSY, NETWORK_ERROR, NO_ANSWER, PROVIDER_FAILURE, RPC_TIMEOUT,
                         call_once_served, cpb, cpu_seconds, own_connections, pb, start_call,
                         stub, voipd_harness, wait_for, wait_terminal)
from test_observability import METRICS, sample, scrape

MAX_ENDED = 50
CONFIG = """\
listen: ["127.0.0.1:0"]
default_region: US
default_system: sandbox
systems:
  sandbox: { type: sandbox, time_scale: 1000 }
calls: { max_ended_calls: %d }
""" % MAX_ENDED + METRICS


def count(path):
    return len(os.listdir(path))


class ResourcesTest(unittest.TestCase):
    def one_round(self, d):
        """200 calls and 25 streams, over connections opened and closed here."""
        channel, s = stub(d.addr)
        with channel, concurrent.futures.ThreadPoolExecutor(8) as pool:
            def answered_then_ended(i):
                call = start_call(s, None, ANSWERS,
                                  request_id=uuid.uuid4().hex if i % 2 else "")
                wait_for(lambda: s.GetCallStatus(pb.GetCallStatusRequest(
                    session_id=call.session_id), timeout=RPC_TIMEOUT).status ==
                    cpb.CALL_STATUS_CONNECTED, "the call to connect")
                ended = s.EndCall(pb.EndCallRequest(session_id=call.session_id),
                                  timeout=RPC_TIMEOUT)
                self.assertEqual(ended.status, cpb.CALL_STATUS_DISCONNECTED)

            def ends_by_itself(number, status):
                # The ring timeout is voipd's own, not scaled by time_scale.
                call = start_call(s, None, number, ring_timeout=Duration(nanos=200_000_000))
                self.assertEqual(wait_terminal(s, None, call.session_id).status, status)

            def refused(code, rpc):
                with self.assertRaises(grpc.RpcError) as e:
                    rpc()
                self.assertEqual(e.exception.code(), code)

            work = [pool.submit(answered_then_ended, i) for i in range(100)]
            work += [pool.submit(ends_by_itself, BUSY, cpb.CALL_STATUS_BUSY) for _ in range(20)]
            work += [pool.submit(ends_by_itself, NO_ANSWER, cpb.CALL_STATUS_UNAVAILABLE)
                     for _ in range(20)]
            work += [pool.submit(ends_by_itself, PROVIDER_FAILURE, cpb.CALL_STATUS_FAILED)
                     for _ in range(20)]
            work += [pool.submit(refused, grpc.StatusCode.UNAVAILABLE,
                                 lambda: start_call(s, None, NETWORK_ERROR)) for _ in range(20)]
            work += [pool.submit(refused, grpc.StatusCode.INVALID_ARGUMENT,
                                 lambda: start_call(s, None, "not a number")) for _ in range(20)]
            work += [pool.submit(refused, grpc.StatusCode.NOT_FOUND, lambda: s.EndCall(
                pb.EndCallRequest(session_id="no-such-call"), timeout=RPC_TIMEOUT))
                for _ in range(10)]
            for w in work:
                w.result()

            # Streams the client cancels after their first event.
            for _ in range(10):
                call = start_call(s, None, ANSWERS)
                watch = s.WatchCall(pb.WatchCallRequest(session_id=call.session_id),
                                    timeout=RPC_TIMEOUT)
                next(watch)
                watch.cancel()
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), timeout=RPC_TIMEOUT)
            for _ in range(10):
                events = s.SubscribeCallEvents(pb.SubscribeCallEventsRequest(after_sequence=0),
                                               timeout=RPC_TIMEOUT)
                next(events)
                events.cancel()
        # Clients that go away with a stream open: the connection closes under it.
        for _ in range(5):
            channel, s = stub(d.addr)
            events = s.SubscribeCallEvents(pb.SubscribeCallEventsRequest(after_sequence=0),
                                           timeout=RPC_TIMEOUT)
            next(events)
            channel.close()

    def settled(self, d):
        """Waits until no call or subscriber is counted; returns (fds, threads)."""
        wait_for(lambda: (lambda t: sample(t, "voipd_active_calls", system="sandbox") == 0 and
                          sample(t, "voipd_active_subscribers") == 0)(scrape(d)),
                 "no active call or subscriber")
        pid = d.proc.pid
        return count("/proc/%d/fd" % pid), count("/proc/%d/task" % pid)

    def test_rounds_of_calls_and_streams_leave_nothing_behind(self):
        with voipd_harness.Voipd(config_text=CONFIG) as d:
            self.one_round(d)
            fds, threads = self.settled(d)
            for _ in range(4):
                self.one_round(d)
            self.settled(d)
            pid = d.proc.pid
            # Server-side sockets close once the daemon has read each client's EOF.
            wait_for(lambda: count("/proc/%d/fd" % pid) <= fds + 2,
                     "descriptors back to %d (now %d)" % (fds, count("/proc/%d/fd" % pid)))
            self.assertLessEqual(count("/proc/%d/task" % pid), threads + 4)

            channel, s = stub(d.addr)
            with channel:
                listed = s.ListCalls(pb.ListCallsRequest(page_size=1000), timeout=RPC_TIMEOUT)
                self.assertLessEqual(len(listed.calls), MAX_ENDED)
                self.assertFalse(s.ListCalls(pb.ListCallsRequest(active_only=True),
                                             timeout=RPC_TIMEOUT).calls)
            # Every call started ended, once: the NETWORK_ERROR ones too (a
            # session is made, then fails), but not the refused numbers.
            text = scrape(d)
            started = 5 * (100 + 20 + 20 + 20 + 20 + 10)
            self.assertEqual(sample(text, "voipd_calls_started_total", system="sandbox"),
                             started, text)
            ended = sum(sample(text, "voipd_calls_ended_total", system="sandbox", status=st) or 0
                        for st in ("disconnected", "busy", "unavailable", "failed"))
            self.assertEqual(ended, started, text)

    def test_out_of_descriptors_the_listener_refuses_then_serves_again(self):
        """gRPC 1.51's own listener stops accepting for good after one EMFILE;
        voipd's (plaintext `listen` addresses) closes each connection it has
        no descriptor for, without spinning, and serves again once clients
        let go."""
        with voipd_harness.Voipd(cmd_prefix=["prlimit", "--nofile=40:40", "--"]) as d:
            channels, refused = own_connections(d.addr, 60)
            try:
                self.assertGreater(refused, 0, "the limit of 40 descriptors was never reached")
                busy = cpu_seconds(d.proc.pid)
                time.sleep(1)
                # A spin on the readable listener would burn ~1 s of CPU here.
                self.assertLess(cpu_seconds(d.proc.pid) - busy, 0.5)
            finally:
                for c in channels:
                    c.close()
            call_once_served(d.addr)
            self.assertIn("out of file descriptors (limit 40)", d.log())

    def test_open_file_limit_is_raised_to_the_hard_limit(self):
        # systemd's default is soft 1024 (hard 524288); voipd raises the soft
        # limit itself (capped at 65536) before it opens anything.
        with voipd_harness.Voipd(cmd_prefix=["prlimit", "--nofile=256:4096", "--"]) as d:
            with open("/proc/%d/limits" % d.proc.pid) as f:
                line = next(l for l in f if l.startswith("Max open files"))
        self.assertEqual(line.split()[3:5], ["4096", "4096"], line)


if __name__ == "__main__":
    unittest.main()


class StalledSubscriberTest(unittest.TestCase):
    """A client that stops reading a SubscribeCallEvents stream (its process
    hangs, but its connection stays up) holds the server's write in HTTP/2
    flow control forever; nothing ever asks that stream for its next event.
    Once it is further behind than events.subscriber_max_lag, voipd must cut
    it (counted in voipd_subscribers_dropped_total) while a reading
    subscriber goes on."""

    def test_a_subscriber_that_stops_reading_is_cut(self):
        config = CONFIG + "events: { window: 200, subscriber_max_lag: 50 }\n"
        with voipd_harness.Voipd(config_text=config) as d:
            # Small receive windows, so a few hundred events fill them.
            stuck_channel, stuck_stub = stub(d.addr, options=[("grpc.http2.bdp_probe", 0),
                                                              ("grpc.http2.lookahead_bytes", 1024)])
            channel, s = stub(d.addr)
            with stuck_channel, channel:
                stuck = stuck_stub.SubscribeCallEvents(pb.SubscribeCallEventsRequest(), timeout=60)
                wait_for(lambda: sample(scrape(d), "voipd_active_subscribers") == 1,
                         "the stuck stream to open")
                reader = s.SubscribeCallEvents(pb.SubscribeCallEventsRequest(), timeout=60)
                wait_for(lambda: sample(scrape(d), "voipd_active_subscribers") == 2,
                         "the reading stream to open")
                # The reader reads on its own thread while the calls start, and
                # the calls start in batches it is given time to catch up with:
                # the lag limit counts events not yet handed to the connection,
                # so on a slow machine (the sanitizer build) a reader that keeps
                # reading can still fall 50 behind a loop that never waits.
                busy = set()  # session ids the reader saw reach BUSY
                seen = [0]

                def read_all():
                    try:
                        for event in reader:
                            seen[0] += 1
                            if event.session.status == cpb.CALL_STATUS_BUSY:
                                busy.add(event.session.session_id)
                    except grpc.RpcError as e:
                        return e.code()
                    return None

                with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                    reading = pool.submit(read_all)
                    # ~1,200 events (~400 KB), far past the stuck stream's windows.
                    last = None
                    for i in range(400):
                        last = start_call(s, None, BUSY)
                        if i % 8 == 7:  # ~24 events a batch, under the limit of 50
                            wait_for(lambda: last.session_id in busy or reading.done(),
                                     "the reader to see call %d end" % i)
                    self.assertFalse(reading.done(), "the reader's stream ended: %s"
                                     % (reading.result() if reading.done() else ""))
                    self.assertGreater(seen[0], 1000)
                    wait_for(lambda: (sample(scrape(d), "voipd_subscribers_dropped_total")
                                      or 0) >= 1, "the stuck stream to be cut")
                    # The gauge drops once the cancelled RPC is done, a moment
                    # after the cut is counted.
                    wait_for(lambda: sample(scrape(d), "voipd_active_subscribers") == 1,
                             "only the reader to be left")
                    self.assertEqual(sample(scrape(d), "voipd_subscribers_dropped_total"), 1,
                                     "only the stuck stream was cut")
                    reader.cancel()
                    self.assertEqual(reading.result(timeout=30), grpc.StatusCode.CANCELLED)
                # Reading now: what was buffered, then the end, not a hang.
                with self.assertRaises(grpc.RpcError) as ctx:
                    for _ in stuck:
                        pass
                self.assertIn(ctx.exception.code(),
                              (grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED))
