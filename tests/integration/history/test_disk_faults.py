"""The history disk fails while voipd runs: calls keep working, the
"voipd.history" health turns NOT_SERVING, one error is logged, the metrics
say so; once the disk is writable again history recovers (issue 8).

voipd runs in its own mount namespace (`unshare -m`) with the state
directory on a file system of its own, so the fault touches nothing else:
  * disk full: a 1 MiB tmpfs filled with a filler file (`dd` until ENOSPC);
    deleting the filler ends the fault;
  * read-only: an ext4 image on a loop device mounted errors=remount-ro, then
    an error is injected through /sys/fs/ext4/<dev>/trigger_fs_error, which
    makes the kernel switch the file system to read-only under voipd's open
    files. (`mount -o remount,ro` cannot do that: the kernel refuses with
    EBUSY while files are open for writing, and voipd keeps voipd.db and its
    WAL open.) An emergency read-only ext4 cannot be remounted read-write, so
    the recovery half is covered by the disk-full test.
Needs root (CI runs as root); without it the tests fail, they do not skip.
"""
import os
import re
import shutil
import subprocess

import grpc

from history_common import (ANSWERS, BUSY, NO_ANSWER, TERMINAL, HistoryTestCase, cpb, config, poll,
                            status_name)

CONFIG = config('metrics: { listen: "127.0.0.1:0" }\n')
FAULT_WAIT = 30


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60, **kw)


class DiskFaultTestCase(HistoryTestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            raise AssertionError("the disk fault tests need root (unshare -m, mount, nsenter)")
        for tool in ("unshare", "nsenter", "mount", "dd"):
            if shutil.which(tool) is None:
                raise AssertionError("%s not found" % tool)

    def ns(self, d, *argv):
        """Runs argv in voipd's mount namespace."""
        return run(["nsenter", "-t", str(d.pid), "-m", "--"] + list(argv))

    def history_health(self, d):
        try:
            return d.health_status("voipd.history")
        except grpc.RpcError as e:
            return "error %s" % e.code()

    def one_call(self, d, stream, labels):
        """A call that is answered and ended; events must flow."""
        s = d.start_call(ANSWERS, labels=labels)
        stream.wait_status(s.session_id, cpb.CALL_STATUS_CONNECTED)
        ended = d.end(s.session_id)
        self.assertEqual(status_name(ended.status), "CALL_STATUS_DISCONNECTED")
        stream.wait_terminal(s.session_id)
        return s.session_id

    def history_errors(self, d):
        return [line for line in d.log().splitlines()
                if "cannot write call history" in line]

    def check_degraded(self, d, stream, why_words):
        """Calls keep working while history writes fail; returns the ids made."""
        made = []

        def unhealthy():
            made.append(self.one_call(d, stream, {"t": self.tag, "phase": "fault"}))
            return self.history_health(d) == "NOT_SERVING"
        poll(unhealthy, "voipd.history NOT_SERVING", timeout=FAULT_WAIT, interval=0.2)
        # More failing batches: still working, still one log line.
        for _ in range(3):
            made.append(self.one_call(d, stream, {"t": self.tag, "phase": "fault"}))
        busy = d.start_call(BUSY, labels={"t": self.tag, "phase": "fault"})
        stream.wait_terminal(busy.session_id)
        made.append(busy.session_id)
        self.assertEqual(self.history_health(d), "NOT_SERVING")
        self.assertEqual(d.health_status(""), "SERVING", "calls still work: overall SERVING")
        self.assertEqual(d.metric("voipd_history_healthy"), 0.0)
        self.assertGreaterEqual(d.metric("voipd_history_write_errors"), 2.0)
        errors = self.history_errors(d)
        self.assertEqual(len(errors), 1, "exactly one error line:\n" + d.log()[-4000:])
        line = errors[0]
        self.assertIn("history", line)
        self.assertRegex(line.lower(), r"\berror\b|\berr\b|level=error|\"error\"",
                         "logged as an error: " + line)
        self.assertTrue(any(w in line.lower() for w in why_words),
                        "the line must name the failure (%s): %s" % (why_words, line))
        # The live calls are still answered from memory.
        for sid in made:
            self.assertIn(d.get(sid).status, TERMINAL)
        # A call that is active now is listed as active although its events
        # could not be stored.
        ringing = d.start_call(NO_ANSWER, labels={"t": self.tag, "phase": "ringing"})
        stream.wait_status(ringing.session_id, cpb.CALL_STATUS_RINGING)
        active = d.list_page(active_only=True, labels={"t": self.tag}).calls
        self.assertEqual([c.session_id for c in active], [ringing.session_id],
                         "ListCalls(active_only) while history writes fail")
        return made, ringing.session_id

    def check_healthy_start(self, d, stream):
        before = self.one_call(d, stream, {"t": self.tag, "phase": "before"})
        poll(lambda: self.history_health(d) == "SERVING", "voipd.history SERVING")
        self.assertEqual(d.metric("voipd_history_healthy"), 1.0)
        self.assertEqual(d.metric("voipd_history_write_errors"), 0.0)
        return before


class DiskFullTest(DiskFaultTestCase):

    def test_disk_full_then_space_again(self):
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', self.state_dir]
        d = self.daemon(CONFIG, cmd_prefix=prefix)
        stream = d.subscribe()
        # The state dir is voipd's private tmpfs, invisible from here.
        self.assertEqual(self.ns(d, "findmnt", "-n", "-o", "FSTYPE", self.state_dir).stdout.strip(),
                         "tmpfs")
        self.assertFalse(os.path.exists(self.db_path), "the tmpfs must be private to voipd")
        before = self.check_healthy_start(d, stream)
        filler = os.path.join(self.state_dir, "filler")
        fill = self.ns(d, "dd", "if=/dev/zero", "of=" + filler, "bs=4k")
        self.assertIn("No space left", fill.stdout, fill.stdout)
        made, ringing = self.check_degraded(d, stream, ["full", "space"])

        rm = self.ns(d, "rm", "-f", filler)
        self.assertEqual(rm.returncode, 0, rm.stdout)
        after = []

        def healthy():
            after.append(self.one_call(d, stream, {"t": self.tag, "phase": "after"}))
            return self.history_health(d) == "SERVING"
        poll(healthy, "voipd.history SERVING again", timeout=FAULT_WAIT, interval=0.2)
        self.assertEqual(d.metric("voipd_history_healthy"), 1.0)
        self.assertIn("call history is written again", d.log())
        last = self.one_call(d, stream, {"t": self.tag, "phase": "after"})
        listed = {c.session_id for c in d.list_all(labels={"t": self.tag})[0]}
        self.assertIn(before, listed)
        self.assertIn(last, listed, "history is written again")
        # A call that started while the disk was full and ends now: its first
        # events were dropped, but it is in history with its labels.
        ended = d.end(ringing)
        stream.wait_terminal(ringing)
        self.assertEqual(d.get(ringing), ended)
        by_label = d.list_page(labels={"t": self.tag, "phase": "ringing"}).calls
        self.assertEqual([c.session_id for c in by_label], [ringing],
                         "the call is listed by its labels")
        self.assertEqual(by_label[0], ended)
        self.assertEqual(d.stop(), 0, d.log()[-4000:])
        del made


class BrokenDiskAtStartTest(DiskFaultTestCase):
    """voipd is restarted while the disk under its history is full or
    read-only: it starts anyway, degraded, and calls work (a restart by
    systemd during a disk incident must not take click-to-call down)."""

    def prepare_history(self):
        """A database with one ended call, written by a normal run."""
        d = self.daemon(CONFIG)
        stream = d.subscribe()
        self.one_call(d, stream, {"t": self.tag, "phase": "before"})
        self.assertEqual(d.stop(), 0, d.log()[-4000:])

    def check_started_degraded(self, d, why_words):
        self.assertEqual(d.health_status(""), "SERVING")
        self.assertEqual(self.history_health(d), "NOT_SERVING")
        self.assertEqual(d.metric("voipd_history_healthy"), 0.0)
        stream = d.subscribe()
        self.one_call(d, stream, {"t": self.tag, "phase": "degraded"})
        errors = [line for line in d.log().splitlines()
                  if "cannot open the call history" in line]
        self.assertEqual(len(errors), 1, d.log()[-4000:])
        self.assertTrue(any(w in errors[0].lower() for w in why_words),
                        "the line must name the failure (%s): %s" % (why_words, errors[0]))
        self.assertEqual(d.stop(), 0, d.log()[-4000:])

    def test_start_on_a_full_disk(self):
        self.prepare_history()
        # voipd's own mount namespace: the database copied onto a full 1 MiB
        # tmpfs, which is then mounted over the state dir.
        full = os.path.join(self.tmp, "full")
        os.mkdir(full)
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount -t tmpfs -o size=1m tmpfs "$1" && cp "$0"/voipd.db "$1"/ && '
                  '{ dd if=/dev/zero of="$1"/filler bs=4k 2>/dev/null; true; } && '
                  'mount --bind "$1" "$0" && shift && exec "$@"', self.state_dir, full]
        d = self.daemon(CONFIG, cmd_prefix=prefix)
        self.check_started_degraded(d, ["i/o", "full", "space", "disk", "open"])

    def test_start_on_a_read_only_file_system(self):
        self.prepare_history()
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"',
                  self.state_dir]
        d = self.daemon(CONFIG, cmd_prefix=prefix)
        self.check_started_degraded(d, ["read-only", "readonly", "open", "i/o"])

    def test_a_damaged_database_still_stops_the_start(self):
        """Only disk faults degrade: a file that is not voipd's database
        stops the start, as before (never overwritten)."""
        with open(self.db_path, "wb") as f:
            f.write(b"not a database" * 100)
        rc, out, ready = self.run_voipd(CONFIG)
        self.assertNotEqual(rc, 0, out)
        self.assertFalse(ready, out)
        self.assertNotIn("running without it", out)


class ReadOnlyTest(DiskFaultTestCase):

    def test_filesystem_turns_read_only(self):
        image = os.path.join(self.tmp, "state.img")
        with open(image, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        mk = run(["mkfs.ext4", "-q", "-F", image])
        self.assertEqual(mk.returncode, 0, mk.stdout)
        prefix = ["unshare", "-m", "sh", "-c",
                  'mount -o loop,errors=remount-ro "$1" "$0" && shift && exec "$@"',
                  self.state_dir, image]
        self.addCleanup(self._detach_loops, image)
        d = self.daemon(CONFIG, cmd_prefix=prefix)
        stream = d.subscribe()
        dev = self.ns(d, "findmnt", "-n", "-o", "SOURCE", self.state_dir).stdout.strip()
        self.assertTrue(dev.startswith("/dev/loop"), "state dir mounted from %r" % dev)
        self.assertFalse(os.path.exists(self.db_path), "the mount must be private to voipd")
        self.check_healthy_start(d, stream)
        trigger = "/sys/fs/ext4/%s/trigger_fs_error" % os.path.basename(dev)
        with open(trigger, "w") as f:
            f.write("voipd history test: switch to read-only\n")
        probe = self.ns(d, "touch", os.path.join(self.state_dir, "probe"))
        self.assertIn("Read-only", probe.stdout, "the file system must be read-only now")
        _, ringing = self.check_degraded(d, stream, ["read-only", "readonly", "i/o", "disk"])
        self.assertEqual(status_name(d.end(ringing).status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(d.stop(), 0, d.log()[-4000:])

    def _detach_loops(self, image):
        out = run(["losetup", "-j", image]).stdout
        for dev in re.findall(r"^(/dev/loop\d+):", out, re.M):
            run(["losetup", "-d", dev])
