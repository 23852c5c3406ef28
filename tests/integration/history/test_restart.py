"""Restart recovery: kill -9 with 200 active calls, graceful restart, and
"an acknowledged terminal event is durable" (issue 8)."""
import os
import signal
import subprocess
import uuid
from unittest import mock

import grpc

from history_common import (ANSWERS, BUSY, NETWORK_FAILURE, NO_ANSWER, PROVIDER_FAILURE,
                            REMOTE_HANGUP, TERMINAL, Daemon, HistoryTestCase, cpb, code_name,
                            config, describe, pb, poll, source_name, status_name)

ACTIVE_CALLS = 200


class KillDuringActiveCallsTest(HistoryTestCase):

    def test_kill9_with_200_active_calls_then_restart(self):
        # The ring timeout must not end the calls before the kill.
        cfg = config(sandbox_extra=", default_ring_timeout_seconds: 900")
        d1 = self.daemon(cfg)
        all_events = d1.subscribe(after_sequence=0)
        labels = {"t": self.tag}
        request_id = "idem-" + uuid.uuid4().hex
        answered_req = d1.start_request(ANSWERS, labels, request_id)
        answered = d1.stub.StartCall(answered_req, timeout=30)
        all_events.wait_status(answered.session_id, cpb.CALL_STATUS_CONNECTED)
        ringing_ids = []
        for _ in range(ACTIVE_CALLS):
            ringing_ids.append(d1.start_call(NO_ANSWER, labels=labels).session_id)
        self.assertEqual(len(set(ringing_ids)), ACTIVE_CALLS)
        wanted = set(ringing_ids)

        def all_ringing(evs):
            seen = {e.session.session_id for e in evs if e.session.status == cpb.CALL_STATUS_RINGING}
            return wanted <= seen
        all_events.wait_for(all_ringing, "RINGING of all %d calls" % ACTIVE_CALLS, timeout=60)
        before = all_events.snapshot()
        last_seen = before[-1].sequence
        seqs = [e.sequence for e in before]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "first run:\n" + describe(before))
        self.assertFalse([e for e in before if e.session.status in TERMINAL],
                         "no call may have ended before the kill:\n" + describe(before))
        d1.kill9()

        d2 = self.daemon(cfg)
        active = set(ringing_ids) | {answered.session_id}
        resumed = d2.subscribe(after_sequence=last_seen)
        resumed.wait_for(lambda evs: len(evs) >= len(active),
                         "%d terminal events after the restart" % len(active), timeout=60)
        # Idempotency survived: the retried StartCall answers the old call.
        again = d2.stub.StartCall(answered_req, timeout=30)
        self.assertEqual(again.session_id, answered.session_id,
                         "StartCall retried with request_id %s after restart" % request_id)
        # A new call after the restart: newer sequences than everything before.
        fresh = d2.start_call(BUSY, labels={"t": self.tag + "-new"})
        resumed.wait_terminal(fresh.session_id)
        events = resumed.snapshot()
        seqs = [e.sequence for e in events]
        self.assertEqual(seqs, list(range(last_seen + 1, last_seen + 1 + len(seqs))),
                         "resume after the restart has gaps or duplicates:\n" + describe(events))
        old = [e for e in events if e.session.session_id in active]
        self.assertEqual(len(old), len(active),
                         "exactly one event per call active at the kill:\n" + describe(events))
        self.assertEqual({e.session.session_id for e in old}, active)
        self.assertEqual([e.sequence for e in old],
                         list(range(last_seen + 1, last_seen + 1 + len(active))),
                         "the recovery events come first")
        for e in old:
            s = e.session
            self.assertEqual(status_name(s.status), "CALL_STATUS_DISCONNECTED", str(e))
            self.assertEqual(code_name(s.end_reason.error_code), "DAEMON_RESTART", str(e))
            self.assertEqual(source_name(s.end_reason.source), "HANGUP_SOURCE_SYSTEM", str(e))
            self.assertEqual(s.last_sequence, e.sequence)
        new_events = [e for e in events if e.session.session_id == fresh.session_id]
        self.assertTrue(new_events)
        self.assertGreater(min(e.sequence for e in new_events), last_seen + len(active))
        self.assertEqual(set(e.session.session_id for e in events), active | {fresh.session_id},
                         "no other call may appear")
        terminal_by_id = {e.session.session_id: e for e in old}
        for sid in active:
            got = d2.get(sid)
            self.assertEqual(got, terminal_by_id[sid].session,
                             "GetCallStatus(%s) disagrees with its terminal event" % sid)
        # ListCalls: every call exactly once, across pages.
        listed, pages = d2.list_all(page_size=37, labels={"t": self.tag})
        ids = [c.session_id for c in listed]
        self.assertGreater(pages, 1)
        self.assertEqual(len(ids), len(set(ids)), "duplicates in ListCalls")
        self.assertEqual(set(ids), active, "ListCalls after the restart")
        for c in listed:
            self.assertEqual(c, terminal_by_id[c.session_id].session)
        self.assertEqual(d2.stop(), 0, d2.log()[-3000:])


class GracefulRestartTest(HistoryTestCase):

    def _make_calls(self, d):
        """One call per outcome; returns {name: session_id}."""
        tag = {"t": self.tag}
        w = d.subscribe()
        ids = {}
        a = d.start_call(ANSWERS, labels=dict(tag, kind="answered", team="blue"))
        d.wait_call_status(a.session_id, {cpb.CALL_STATUS_CONNECTED})
        d.end(a.session_id)
        ids["answered"] = a.session_id
        ids["busy"] = d.start_call(BUSY, labels=dict(tag, kind="busy")).session_id
        ids["remote"] = d.start_call(REMOTE_HANGUP, labels=dict(tag, kind="remote")).session_id
        ids["failure"] = d.start_call(PROVIDER_FAILURE, labels=dict(tag, kind="failure")).session_id
        with self.assertRaises(grpc.RpcError) as cm:
            d.start_call(NETWORK_FAILURE, labels=dict(tag, kind="network"))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        net = d.list_page(labels={"kind": "network", "t": self.tag}).calls
        self.assertEqual(len(net), 1, "the call that failed to start is in history")
        ids["network"] = net[0].session_id
        ids["inbound"] = d.inbound(**{"from": "+12025550199", "to": "+12015550000",
                                      "labels": dict(tag, kind="inbound")}).session_id
        ids["other"] = d.start_call(BUSY, labels=dict(tag, kind="other"),
                                    preferred_system="other").session_id
        for sid in ids.values():
            d.wait_call_status(sid, TERMINAL)
        del w
        return ids

    def test_sigterm_restart_keeps_history_and_filters(self):
        d1 = self.daemon()
        ids = self._make_calls(d1)
        before = {k: d1.get(v) for k, v in ids.items()}
        expect = {
            "answered": ("CALL_STATUS_DISCONNECTED", "HANGUP_SOURCE_LOCAL"),
            "busy": ("CALL_STATUS_BUSY", "HANGUP_SOURCE_REMOTE"),
            "remote": ("CALL_STATUS_DISCONNECTED", "HANGUP_SOURCE_REMOTE"),
            "failure": ("CALL_STATUS_FAILED", None),
            "network": ("CALL_STATUS_FAILED", None),
            "inbound": ("CALL_STATUS_DISCONNECTED", None),
            "other": ("CALL_STATUS_BUSY", "HANGUP_SOURCE_REMOTE"),
        }
        for k, (status, source) in expect.items():
            self.assertEqual(status_name(before[k].status), status, "%s: %s" % (k, before[k]))
            if source:
                self.assertEqual(source_name(before[k].end_reason.source), source, k)
        self.assertEqual(d1.stop(), 0, d1.log()[-3000:])

        d2 = self.daemon()
        for k, sid in ids.items():
            self.assertTerminalSame(before[k], d2.get(sid))
        # Ending a call that ended before the restart changes nothing and
        # answers at once (nothing new has to become durable), even when no
        # event was published since the restart.
        for k in ("answered", "busy"):
            self.assertTerminalSame(before[k], d2.end(ids[k]))

        tag = {"t": self.tag}

        def listed(**f):
            labels = dict(tag, **f.pop("labels", {}))
            calls, _ = d2.list_all(labels=labels, **f)
            return [c.session_id for c in calls]

        order = [ids[k] for k in ("answered", "busy", "remote", "failure", "network", "inbound",
                                  "other")]
        self.assertEqual(listed(), order, "all calls, oldest first")
        self.assertEqual(listed(status=cpb.CALL_STATUS_BUSY), [ids["busy"], ids["other"]])
        self.assertEqual(listed(status=cpb.CALL_STATUS_FAILED), [ids["failure"], ids["network"]])
        self.assertEqual(listed(system_name="other"), [ids["other"]])
        self.assertEqual(listed(system_name="sandbox"), [i for i in order if i != ids["other"]])
        self.assertEqual(listed(number="(201) 555-0101"), [ids["busy"], ids["other"]],
                         "national format must match the E.164 number")
        self.assertEqual(listed(number=BUSY), [ids["busy"], ids["other"]])
        self.assertEqual(listed(number="+12025550199"), [ids["inbound"]], "caller number")
        self.assertEqual(listed(direction=cpb.CALL_DIRECTION_INBOUND), [ids["inbound"]])
        self.assertEqual(listed(direction=cpb.CALL_DIRECTION_OUTBOUND),
                         [i for i in order if i != ids["inbound"]])
        self.assertEqual(listed(labels={"kind": "remote"}), [ids["remote"]])
        self.assertEqual(listed(labels={"kind": "answered", "team": "blue"}), [ids["answered"]])
        self.assertEqual(listed(labels={"kind": "answered", "team": "red"}), [])
        # Time range: created_after inclusive, created_before exclusive.
        busy_at = before["busy"].created_at
        failure_at = before["failure"].created_at
        self.assertEqual(listed(created_after=busy_at, created_before=failure_at),
                         [ids["busy"], ids["remote"]])
        self.assertEqual(listed(created_after=before["other"].created_at), [ids["other"]])
        self.assertEqual(listed(created_before=busy_at), [ids["answered"]])

        # Stable pagination: page_size=2 equals one big page, also with a
        # call created between pages.
        big = listed()
        self.assertEqual(listed(page_size=2), big)
        created = []

        def new_call(page):
            created.append(d2.start_call(BUSY, labels=dict(tag, kind="late%d" % page)).session_id)
        walk, pages = d2.list_all(page_size=2, labels=tag, between_pages=new_call)
        walk = [c.session_id for c in walk]
        self.assertGreaterEqual(pages, 4)
        self.assertEqual(len(walk), len(set(walk)), "duplicates across pages")
        self.assertEqual(walk[:len(big)], big, "gaps or reordering across pages")
        self.assertTrue(set(walk[len(big):]) <= set(created), walk)
        self.assertEqual(listed(), big + created)
        self.assertEqual(d2.stop(), 0, d2.log()[-3000:])


class ShutdownLeavesCallsTest(HistoryTestCase):
    """shutdown.end_active_calls: false (README, Configuration and Signals):
    SIGTERM leaves the live calls alone; the next start ends each of them
    exactly once with DAEMON_RESTART, since the sandbox cannot re-adopt a
    call (docs/history.md, Restart recovery)."""

    def test_sigterm_leaves_calls_and_the_restart_ends_each_once(self):
        # The ring timeout must not end the ringing call before the restart.
        cfg = config("shutdown: { end_active_calls: false }\n",
                     sandbox_extra=", default_ring_timeout_seconds: 900")
        d1 = self.daemon(cfg)
        sub = d1.subscribe(after_sequence=0)
        labels = {"t": self.tag}
        talking = d1.start_call(ANSWERS, labels=labels).session_id
        ringing = d1.start_call(NO_ANSWER, labels=labels).session_id
        sub.wait_status(talking, cpb.CALL_STATUS_CONNECTED)
        sub.wait_status(ringing, cpb.CALL_STATUS_RINGING)
        d1.v.signal(signal.SIGTERM)
        self.assertEqual(d1.v.wait(timeout=30), 0, d1.log()[-3000:])
        # The stream ends as on every stop, without a terminal event.
        self.assertEqual(sub.wait_done(), grpc.StatusCode.UNAVAILABLE, sub.details)
        before = sub.snapshot()
        self.assertFalse([e for e in before if e.session.status in TERMINAL],
                         "SIGTERM ended calls despite end_active_calls: false:\n"
                         + describe(before))
        last_seen = before[-1].sequence
        d1.channel.close()

        left = {talking, ringing}
        d2 = self.daemon(cfg)
        resumed = d2.subscribe(after_sequence=last_seen)
        for sid in left:
            resumed.wait_terminal(sid)
        fresh = d2.start_call(BUSY, labels=labels).session_id
        resumed.wait_terminal(fresh)
        events = resumed.snapshot()
        old = [e for e in events if e.session.session_id in left]
        self.assertEqual(sorted(e.session.session_id for e in old), sorted(left),
                         "exactly one event per call left by SIGTERM:\n" + describe(events))
        self.assertEqual(sorted(e.sequence for e in old), [last_seen + 1, last_seen + 2],
                         "the recovery events come first:\n" + describe(events))
        for e in old:
            s = e.session
            self.assertEqual(status_name(s.status), "CALL_STATUS_DISCONNECTED", str(e))
            self.assertEqual(code_name(s.end_reason.error_code), "DAEMON_RESTART", str(e))
            self.assertEqual(source_name(s.end_reason.source), "HANGUP_SOURCE_SYSTEM", str(e))
            self.assertEqual(d2.get(s.session_id), s, "GetCallStatus disagrees with the event")
        self.assertEqual(d2.stop(), 0, d2.log()[-3000:])

        # Ended for good: a further restart has nothing to recover.
        d3 = self.daemon(cfg)
        replay = d3.subscribe(after_sequence=last_seen)
        probe = d3.start_call(BUSY, labels=labels).session_id
        replay.wait_terminal(probe)
        again = [e for e in replay.snapshot() if e.session.session_id in left]
        self.assertEqual(sorted(e.sequence for e in again), [last_seen + 1, last_seen + 2],
                         "a call left by SIGTERM ended more than once:\n"
                         + describe(replay.snapshot()))
        for sid in left:
            self.assertEqual(code_name(d3.get(sid).end_reason.error_code), "DAEMON_RESTART")
        self.assertEqual(d3.stop(), 0, d3.log()[-3000:])


class StateDirectoryEnvTest(HistoryTestCase):
    """Without --state-dir and without state_dir in the config, history goes
    to $STATE_DIRECTORY/voipd.db, as systemd's StateDirectory= sets it: the
    first of its colon-separated paths (daemon/main.cc; README, `state_dir`;
    docs/history.md, Where it lives)."""

    def test_history_goes_to_state_directory_and_survives_a_restart(self):
        first = os.path.join(self.tmp, "first")
        second = os.path.join(self.tmp, "second")
        os.mkdir(first)
        os.mkdir(second)
        env = {"STATE_DIRECTORY": first + ":" + second}

        def start():
            d = Daemon(None, config())  # no --state-dir flag
            self.addCleanup(d.cleanup)
            with mock.patch.dict(os.environ, env):  # the harness starts voipd with os.environ
                d.start()
            return d

        d1 = start()
        self.assertTrue(os.path.exists(os.path.join(first, "voipd.db")),
                        "no voipd.db in $STATE_DIRECTORY's first path: %s\n%s"
                        % (os.listdir(first), d1.log()[-3000:]))
        self.assertEqual(os.listdir(second), [])
        self.assertNotIn("kept in memory only", d1.log())
        labels = {"t": self.tag}
        busy = d1.start_call(BUSY, labels=labels).session_id
        answered = d1.start_call(ANSWERS, labels=labels).session_id
        d1.wait_call_status(answered, {cpb.CALL_STATUS_CONNECTED})
        d1.end(answered)
        before = {sid: d1.wait_call_status(sid, TERMINAL) for sid in (busy, answered)}
        self.assertEqual(d1.stop(), 0, d1.log()[-3000:])

        d2 = start()
        for sid, call in before.items():
            self.assertTerminalSame(call, d2.get(sid))
        listed, _ = d2.list_all(labels=labels)
        self.assertEqual([c.session_id for c in listed], [busy, answered])
        self.assertEqual(d2.stop(), 0, d2.log()[-3000:])


class DurabilityGatingTest(HistoryTestCase):
    """EndCall answers only once the terminal event is on disk.

    The journal writes within microseconds, far sooner than a kill -9 sent
    after EndCall returns could land, so a plain "EndCall, kill -9" cannot
    tell gated from ungated. Here the state directory is an ext4 image of
    voipd's own (private mount namespace) and it is frozen (fsfreeze) before
    EndCall: writes block, so the terminal event cannot become durable until
    the thaw. EndCall is sent; if it answers while the disk is frozen (or
    after a grace period without an answer) the disk is thawed -- but when
    EndCall did answer, voipd is first killed with SIGKILL, so an ungated
    answer loses the event and the restarted voipd reports DAEMON_RESTART
    instead of the acknowledged local hangup. The grace period only decides
    how long a correct voipd is given; no duration is asserted.
    """

    GRACE = 2.0  # seconds a gated EndCall may stay unanswered before the thaw

    def _start(self, image, cfg):
        pidfile = os.path.join(self.tmp, "helper-%s.pid" % uuid.uuid4().hex[:6])
        # A helper process keeps a handle on the namespace so that the disk can
        # be thawed while voipd itself is dying.
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount -o loop "$1" "$0" && { sleep 100000 </dev/null >/dev/null 2>&1 & '
                  'echo $! > "$2"; } && shift 2 && exec "$@"', self.state_dir, image, pidfile]
        d = self.daemon(cfg, cmd_prefix=prefix)
        with open(pidfile) as f:
            helper = int(f.read().strip())
        self.addCleanup(self._kill_helper, helper)
        return d, helper

    def _kill_helper(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _fsfreeze(self, helper, flag):
        r = subprocess.run(["nsenter", "-t", str(helper), "-m", "--", "fsfreeze", flag,
                            self.state_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "fsfreeze %s: %s" % (flag, r.stdout))

    def _wait_loop_detached(self, image):
        poll(lambda: not subprocess.run(["losetup", "-j", image], stdout=subprocess.PIPE,
                                        text=True).stdout.strip(),
             "the loop device of the previous run to be released")

    def test_acknowledged_end_survives_kill9(self):
        if os.geteuid() != 0:
            raise AssertionError("needs root (unshare -m, mount, fsfreeze)")
        image = os.path.join(self.tmp, "state.img")
        with open(image, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        mk = subprocess.run(["mkfs.ext4", "-q", "-F", image], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
        self.assertEqual(mk.returncode, 0, mk.stdout)
        cfg = config("history: { synchronous: full }\n")
        d, helper = self._start(image, cfg)
        a = d.start_call(ANSWERS, labels={"t": self.tag})
        d.wait_call_status(a.session_id, {cpb.CALL_STATUS_CONNECTED})
        self._fsfreeze(helper, "-f")
        future = d.stub.EndCall.future(pb.EndCallRequest(session_id=a.session_id), timeout=60)
        try:
            ended = future.result(timeout=self.GRACE)
        except grpc.FutureTimeoutError:
            ended = None
        if ended is None:  # gated (correct): thaw, then the answer comes
            self._fsfreeze(helper, "-u")
            ended = future.result(timeout=60)
            d.v.proc.send_signal(signal.SIGKILL)
        else:  # answered while nothing could be on disk
            d.v.proc.send_signal(signal.SIGKILL)
            self._fsfreeze(helper, "-u")
        d.v.proc.wait(30)
        d.close_streams()
        d.channel.close()
        self._kill_helper(helper)
        self.assertEqual(status_name(ended.status), "CALL_STATUS_DISCONNECTED")
        self._wait_loop_detached(image)

        d2, _ = self._start(image, cfg)
        got = d2.get(a.session_id)
        self.assertEqual(code_name(got.end_reason.error_code), "ERROR_CODE_UNSPECIFIED",
                         "EndCall was acknowledged before its event was durable: after kill -9 "
                         "the call was ended again by recovery: %s" % got)
        self.assertEqual(source_name(got.end_reason.source), "HANGUP_SOURCE_LOCAL", str(got))
        self.assertEqual(status_name(got.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(got, ended, "the stored snapshot is the acknowledged one")
        self.assertEqual(d2.stop(), 0, d2.log()[-3000:])
