"""Far ends that misbehave or are missing: voipd keeps running and each
call fails cleanly, within the configured bound."""
import os
import socket
import tempfile
import time
import unittest

from sip_testlib import (S, SipTestCase, cpb, daemon_config, epb, free_port, sip_system,
                         voipd_harness)


class FailureTest(SipTestCase):

    def test_garbage_answers_fail_cleanly_and_voipd_keeps_working(self):
        bad = self.sipp("garbage.xml")
        good = self.sipp("answer.xml")
        self.start_voipd({"bad": sip_system(bad.addr, response_timeout="2s"),
                          "good": sip_system(good.addr)})
        started = time.monotonic()
        call = self.start_call(system="bad")
        final = self.assertHistory(call.session_id,
                                   [S.CALL_STATUS_INITIATING, S.CALL_STATUS_FAILED])
        self.assertEqual(final.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertLess(time.monotonic() - started, 4.0)
        self.assertSippPassed(bad)
        # Same daemon, another system: still places calls.
        call = self.start_call(system="good")
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        self.end_call(call.session_id)
        self.wait_terminal(watch)
        self.assertSippPassed(good)
        self.assertIsNone(self.voipd.proc.poll(), "voipd is still running")

    def test_unusable_sdp_answer_is_hung_up(self):
        sipp = self.sipp("bad_sdp.xml")
        self.start_voipd({"pbx": sip_system(sipp.addr)})
        call = self.start_call()
        final = self.assertHistory(call.session_id,
                                   [S.CALL_STATUS_INITIATING, S.CALL_STATUS_FAILED])
        self.assertEqual(final.end_reason.error_code, epb.PROVIDER_ERROR)
        self.assertIn("SDP", final.end_reason.message)
        self.assertSippPassed(sipp)  # it got the ACK, then our BYE

    def test_unreachable_server_is_a_network_error_within_the_bound(self):
        port = free_port()  # nothing listens there
        self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % port, response_timeout="2s")})
        started = time.monotonic()
        call = self.start_call()
        watch = self.watch(call.session_id)
        ended = self.wait_terminal(watch, timeout=6)
        elapsed = time.monotonic() - started
        self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED)
        self.assertEqual(ended.session.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertEqual(ended.session.end_reason.source, cpb.HANGUP_SOURCE_SYSTEM)
        self.assertGreater(elapsed, 1.9)
        self.assertLess(elapsed, 3.5)

    def test_tcp_connection_refused_is_a_network_error(self):
        port = free_port()
        self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % port, transport="tcp")})
        started = time.monotonic()
        call = self.start_call()
        watch = self.watch(call.session_id)
        ended = self.wait_terminal(watch, timeout=6)
        self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED)
        self.assertEqual(ended.session.end_reason.error_code, epb.NETWORK_ERROR)
        self.assertLess(time.monotonic() - started, 2.0, "a refused connection fails at once")



class StartupFailureTest(SipTestCase):
    """Settings that cannot work stop voipd at start-up: it exits by itself
    (non-zero, no ready file) with one line naming the system and why."""

    def start_voipd_expecting_exit(self, systems):
        """voipd's exit code and output; fails if it starts serving."""
        voipd = voipd_harness.Voipd(config_text=daemon_config(systems))
        try:
            with self.assertRaises(RuntimeError, msg="voipd started with %s" % systems) as ctx:
                voipd.start(timeout=15)
            self.assertIsNotNone(voipd.proc.poll(), "voipd did not stop by itself: %s"
                                 % ctx.exception)
            return voipd.proc.returncode, voipd.log()
        finally:
            if voipd.proc is not None and voipd.proc.poll() is None:
                voipd.proc.kill()
                voipd.proc.wait()
            if voipd.proc is not None:
                voipd._log.close()
            voipd.tmp.cleanup()

    def assertStoppedAtStart(self, systems, *expected):
        rc, log = self.start_voipd_expecting_exit(systems)
        self.assertGreater(rc, 0, "exit code %s:\n%s" % (rc, log))
        line = next((l for l in log.splitlines() if l.startswith("voipd: cannot start: ")), None)
        self.assertIsNotNone(line, log)
        for text in expected:
            self.assertIn(text, line)
        return line

    def test_local_port_already_bound_stops_voipd(self):
        for transport, kind in (("udp", socket.SOCK_DGRAM), ("tcp", socket.SOCK_STREAM)):
            with self.subTest(transport=transport):
                port = free_port()
                taken = socket.socket(socket.AF_INET, kind)
                self.addCleanup(taken.close)
                taken.bind(("127.0.0.1", port))
                if kind == socket.SOCK_STREAM:
                    taken.listen()
                self.assertStoppedAtStart(
                    {"pbx": sip_system("127.0.0.1:9", local_port=port, transport=transport)},
                    "systems.pbx", "local_port", "127.0.0.1:%d/%s" % (port, transport),
                    "Address already in use")

    def unreadable_password_files(self):
        """A path that does not exist, and one that cannot be read as a
        file (a directory: voipd runs as root here, for which mode 000 does
        not stop reading)."""
        tmp = tempfile.TemporaryDirectory(prefix="voipd-sip-secret-")
        self.addCleanup(tmp.cleanup)
        directory = os.path.join(tmp.name, "a-directory")
        os.mkdir(directory)
        return {"missing": os.path.join(tmp.name, "no-such-file"), "directory": directory}

    def test_unreadable_password_file_stops_voipd(self):
        for case, path in self.unreadable_password_files().items():
            with self.subTest(password_file=case):
                self.assertStoppedAtStart(
                    {"pbx": sip_system("127.0.0.1:9", username="alice", password_file=path)},
                    "systems.pbx", "'%s'" % path)

    def test_unreadable_password_file_error_names_the_setting(self):
        # Like the local_port error above (and `voipd --check-config`, which
        # reads the same file): the start-up error says which setting.
        for case, path in self.unreadable_password_files().items():
            with self.subTest(password_file=case):
                self.assertStoppedAtStart(
                    {"pbx": sip_system("127.0.0.1:9", username="alice", password_file=path)},
                    "systems.pbx", "password_file")


if __name__ == "__main__":
    unittest.main()
