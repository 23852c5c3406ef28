"""Through Kamailio (Debian kamailio) as proxy and registrar: it challenges
both REGISTER (401) and INVITE (407), record-routes the call and relays it
to a SIPp UAS. Runs on loopback with an in-memory location table, so it
needs no database or root."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from sip_testlib import (HERE, S, SipTestCase, epb, free_port, pb, port_in_use, sip_system,
                         wait_until)

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
PASSWORD = "s3cret"


class Kamailio:
    def __init__(self, uas_port):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="voipd-kamailio-")
        with open(os.path.join(HERE, "kamailio.cfg.in")) as f:
            cfg = (f.read().replace("@PORT@", str(self.port))
                   .replace("@UAS_PORT@", str(uas_port)).replace("@PASSWORD@", PASSWORD))
        self.cfg = os.path.join(self.dir, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        self.proc = None

    def start(self):
        if not os.access(KAMAILIO, os.X_OK):
            raise RuntimeError("kamailio not found (install Debian kamailio)")
        self._out = open(os.path.join(self.dir, "kamailio.log"), "wb")
        # -DD: stay in the foreground (the test owns the process), -E: log to
        # stderr, -Y/-P: runtime files in our temp dir, small memory pools.
        self.proc = subprocess.Popen(
            [KAMAILIO, "-f", self.cfg, "-DD", "-E", "-Y", self.dir,
             "-P", os.path.join(self.dir, "kamailio.pid"), "-m", "32", "-M", "4"],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self.proc.poll() is not None or port_in_use(self.port, tcp=False),
                   "kamailio to listen", timeout=10)
        if self.proc.poll() is not None:
            raise RuntimeError("kamailio exited (%s):\n%s" % (self.proc.returncode, self.log()))
        return self

    def log(self):
        with open(os.path.join(self.dir, "kamailio.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class KamailioTest(SipTestCase):

    def password_file(self, secret):
        tmp = tempfile.TemporaryDirectory(prefix="voipd-sip-kam-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "password")
        with open(path, "w") as f:
            f.write(secret)
        return path

    def test_register_and_call_through_a_challenging_proxy(self):
        sipp = self.sipp("answer.xml", rtp_echo=True)
        kamailio = Kamailio(sipp.port)
        self.addCleanup(kamailio.stop)
        kamailio.start()
        server = "127.0.0.1:%d" % kamailio.port
        self.start_voipd({
            "pbx": sip_system(server, username="alice", register=True,
                              password_file=self.password_file(PASSWORD)),
            "wrong": sip_system(server, username="alice", register=True,
                                password_file=self.password_file("not-the-password")),
        })
        wait_until(lambda: self.capabilities("pbx").health.state == pb.HEALTH_STATE_HEALTHY,
                   "pbx to register", 10)
        wrong = wait_until(
            lambda: (self.capabilities("wrong").health.state == pb.HEALTH_STATE_UNHEALTHY
                     and self.capabilities("wrong").health), "wrong to be refused", 10)
        self.assertIn("CONFIGURATION_ERROR", wrong.message)

        call = self.start_call(system="pbx")
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        time.sleep(0.5)  # media flows end to end (RTP does not cross Kamailio)
        self.end_call(call.session_id)
        self.assertHistory(call.session_id, [
            S.CALL_STATUS_INITIATING, S.CALL_STATUS_RINGING, S.CALL_STATUS_CONNECTED,
            S.CALL_STATUS_DISCONNECTED])
        self.assertSippPassed(sipp, timeout=10)
        trace = sipp.messages()
        self.assertIn("Record-Route: <sip:127.0.0.1:%d;lr" % kamailio.port, trace,
                      "the call went through Kamailio")
        self.assertIn('Proxy-Authorization: Digest username="alice"', trace,
                      "the INVITE was authenticated (Kamailio relays the credentials)")
        rx, tx, _ = self.media_stats(call.provider_call_id)
        self.assertGreater(rx, 0)
        self.assertGreater(tx, 0)

        refused = self.start_call(system="wrong")
        final = self.assertHistory(refused.session_id,
                                   [S.CALL_STATUS_INITIATING, S.CALL_STATUS_FAILED])
        self.assertEqual(final.end_reason.error_code, epb.CONFIGURATION_ERROR)
        self.assertEqual(final.end_reason.provider_cause.sip_code, 407)


if __name__ == "__main__":
    unittest.main()
