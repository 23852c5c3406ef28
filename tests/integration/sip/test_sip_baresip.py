"""Against baresip (Debian baresip) as a real, auto-answering phone: media
must flow both ways. baresip plays a 440 Hz tone (ausine) and counts what it
receives; voipd sends silence and counts what it receives."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from sip_testlib import S, SipTestCase, free_port, sip_system, wait_until

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"

CONFIG = """\
poll_method		epoll
sip_listen		127.0.0.1:{port}
audio_player		aubridge,nowhere
audio_source		ausine,440
audio_alert		aubridge,nowhere
ausrc_srate		48000
ausrc_channels		2
rtp_stats		yes
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
"""

# baresip's TCP control interface (ctrl_tcp: netstring-framed JSON commands),
# to ask it which calls it still has.
CTRL = """\
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:{port}
call_max_calls		64
"""

ACCOUNT = "<sip:bob@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA\n"


class Baresip:
    def __init__(self, ctrl=False):
        self.port = free_port()
        self.ctrl_port = free_port() if ctrl else None
        self.dir = tempfile.mkdtemp(prefix="voipd-baresip-")
        config = CONFIG.format(port=self.port)
        if ctrl:
            config += CTRL.format(port=self.ctrl_port)
        for name, text in (("config", config), ("accounts", ACCOUNT),
                           ("contacts", "")):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        self.proc = None

    def start(self):
        if not os.access(BARESIP, os.X_OK):
            raise RuntimeError("baresip not found (install Debian baresip)")
        self._out = open(os.path.join(self.dir, "baresip.log"), "wb")
        self.proc = subprocess.Popen([BARESIP, "-f", self.dir], stdout=self._out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self.proc.poll() is not None or "baresip is ready" in self.log(),
                   "baresip to start", timeout=10)
        if self.proc.poll() is not None:
            raise RuntimeError("baresip exited (%s):\n%s" % (self.proc.returncode, self.log()))
        return self

    def log(self):
        with open(os.path.join(self.dir, "baresip.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def active_calls(self):
        """How many calls baresip has, from its `listcalls` command."""
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5) as conn:
            body = json.dumps({"command": "listcalls", "token": "soak"}).encode()
            conn.sendall(b"%d:%s," % (len(body), body))
            data = b""
            while True:
                # Netstrings: "LEN:JSON,". Events may come before the answer.
                length, colon, rest = data.partition(b":")
                if colon and len(rest) > int(length):
                    message = json.loads(rest[:int(length)])
                    data = rest[int(length) + 1:]
                    if message.get("token") == "soak":
                        count = re.search(r"Active calls \((\d+)\)", message["data"])
                        return int(count.group(1))
                    continue
                chunk = conn.recv(65536)
                if not chunk:
                    raise RuntimeError("baresip closed its control connection")
                data += chunk

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class BaresipTest(SipTestCase):

    def test_auto_answering_phone_with_media_both_ways(self):
        phone = Baresip()
        self.addCleanup(phone.stop)
        phone.start()
        self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % phone.port)})
        call = self.start_call(number="sip:bob@127.0.0.1:%d" % phone.port)
        watch = self.watch(call.session_id)
        self.wait_status(watch, S.CALL_STATUS_CONNECTED)
        time.sleep(1.0)
        self.end_call(call.session_id)
        self.wait_terminal(watch)

        rx, tx, codec = self.media_stats(call.provider_call_id)
        self.assertGreater(tx, 30, "voipd sent a second of RTP")
        self.assertGreater(rx, 30, "baresip's tone reached voipd")
        # baresip's own RTP statistics, printed when the call ends:
        #   packets:   <transmitted>   <received>
        stats = wait_until(lambda: re.search(r"packets:\s+(\d+)\s+(\d+)", phone.log()),
                           "baresip's RTP statistics", timeout=5)
        self.assertGreater(int(stats.group(2)), 30,
                           "baresip received voipd's RTP:\n" + phone.log()[-2000:])
        self.assertIn("Call established", phone.log())


if __name__ == "__main__":
    unittest.main()
