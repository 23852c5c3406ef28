"""systemd integration: the notify protocol (READY, WATCHDOG from the event
loop, RELOADING/READY on SIGHUP, STOPPING on SIGTERM) against a test-owned
NOTIFY_SOCKET, socket activation through systemd-socket-activate, and the
unit files checked by systemd-analyze."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from prod_common import (REPO, RPC_TIMEOUT, Pki, base_config, call_once_served, cpu_seconds,
                         own_connections, pb, start_call, stub, voipd_harness, wait_for)

UNIT_DIR = os.path.join(REPO, "systemd")


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="voipd-notify-")
        self.path = os.path.join(self.tmp.name, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(10)
        self.seen = []

    def next_matching(self, prefix):
        """Receives messages until one starts with `prefix`; returns it."""
        while True:
            msg = self.sock.recv(4096).decode()
            self.seen.append(msg)
            if msg.startswith(prefix):
                return msg

    def close(self):
        self.sock.close()
        self.tmp.cleanup()


class NotifyTest(unittest.TestCase):
    def test_notify_and_watchdog_protocol(self):
        notify = NotifySocket()
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="300000")
        old = os.environ.copy()
        os.environ.update(env)  # the harness starts voipd with os.environ
        try:
            d = voipd_harness.Voipd(config_text=base_config())
            d.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
        try:
            ready = notify.next_matching("READY=1")
            self.assertIn("STATUS=0 active calls", ready)
            # Keepalives keep coming from the event loop.
            for _ in range(3):
                notify.next_matching("WATCHDOG=1")
            # STATUS= follows the active calls.
            channel, s = stub(d.addr)
            with channel:
                call = start_call(s, None)
                notify.next_matching("STATUS=1 active calls")
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), timeout=RPC_TIMEOUT)
            d.signal(signal.SIGHUP)
            reloading = notify.next_matching("RELOADING=1")
            self.assertRegex(reloading, r"MONOTONIC_USEC=\d+")
            notify.next_matching("READY=1")
            notify.next_matching("WATCHDOG=1")  # still alive after the reload
            d.signal(signal.SIGTERM)
            notify.next_matching("STOPPING=1")
            self.assertEqual(d.wait(), 0)
        finally:
            d.__exit__(None, None, None)
            notify.close()


class LogLevelReloadTest(unittest.TestCase):
    """`log_level` changes on reload (README, Configuration). The notify
    socket's READY=1 after RELOADING=1 says the reload is done, as it tells
    `systemctl reload`."""

    def test_sighup_changes_the_log_level(self):
        notify = NotifySocket()
        old = os.environ.copy()
        os.environ["NOTIFY_SOCKET"] = notify.path  # the harness starts voipd with os.environ
        try:
            d = voipd_harness.Voipd(config_text=base_config() + "log_level: info\n")
            d.start()
        finally:
            os.environ.clear()
            os.environ.update(old)
        try:
            notify.next_matching("READY=1")
            channel, s = stub(d.addr)

            def call():
                """A call placed and ended; its info lines name its session_id."""
                c = start_call(s, None)
                s.EndCall(pb.EndCallRequest(session_id=c.session_id), timeout=RPC_TIMEOUT)
                return c.session_id

            def reload(level):
                """Rewrites log_level, SIGHUP; returns the log offset before it."""
                size = len(d.log())
                d.rewrite_config(base_config() + "log_level: %s\n" % level)
                d.signal(signal.SIGHUP)
                notify.next_matching("RELOADING=1")
                notify.next_matching("READY=1")
                return size

            with channel:
                at_info = call()
                wait_for(lambda: re.search(r" info calls: call to \S+ .*session_id=%s" % at_info,
                                           d.log()), "the call's info line at log_level info")

                since = reload("warn")
                reload_lines = d.log()[since:]
                # Logged before the reload took effect, and after it:
                self.assertIn("SIGHUP: reloading configuration", reload_lines)
                self.assertNotIn("daemon: reloaded", reload_lines,
                                 "an info line was logged after the reload to warn")
                at_warn = call()

                since = reload("info")
                reload_lines = d.log()[since:]
                self.assertNotIn("SIGHUP: reloading configuration", reload_lines,
                                 "an info line was logged while log_level was warn")
                self.assertIn("daemon: reloaded", reload_lines)
                at_info_again = call()
                wait_for(lambda: re.search(r" info calls: call to \S+ .*session_id=%s"
                                           % at_info_again, d.log()),
                         "the call's info line after the reload back to info")
            # Whatever voipd logged about the call at warn was written before
            # the "reloaded" line above.
            self.assertNotIn(at_warn, d.log(), "info lines of a call placed at log_level warn")
        finally:
            d.__exit__(None, None, None)
            notify.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SocketActivationTest(unittest.TestCase):
    def activate(self, listen, config, prefix=()):
        tmp = tempfile.TemporaryDirectory(prefix="voipd-sa-")
        cfg = os.path.join(tmp.name, "voipd.yaml")
        ready = os.path.join(tmp.name, "ready.json")
        log = open(os.path.join(tmp.name, "voipd.log"), "wb")
        with open(cfg, "w") as f:
            f.write(config)
        proc = subprocess.Popen(list(prefix) + [
            "systemd-socket-activate", "-l", listen, os.environ["VOIPD_BIN"], "--config", cfg,
            "--ready-file", ready], stdout=log, stderr=subprocess.STDOUT)
        # systemd-socket-activate starts the program at the first connection.
        host, port = listen.rsplit(":", 1)
        wait_for(lambda: _connect("127.0.0.1", int(port)), "systemd-socket-activate to listen")
        return tmp, proc, ready, log

    def test_serves_on_the_inherited_socket(self):
        port = free_port()
        # `listen` names a port nobody uses: the activated socket must win.
        tmp, proc, ready, log = self.activate("127.0.0.1:%d" % port,
                                              base_config('"127.0.0.1:1"'))
        try:
            wait_for(lambda: os.path.exists(ready) or proc.poll() is not None, "ready file")
            self.assertIsNone(proc.poll(), _read_text(os.path.join(tmp.name, "voipd.log")))
            info = wait_for(lambda: _read_json(ready), "ready json")
            self.assertEqual(info["listen"], ["127.0.0.1:%d" % port])
            channel, s = stub("127.0.0.1:%d" % port)
            with channel:
                s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
                call = start_call(s, None)
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), timeout=RPC_TIMEOUT)
            # A second connection works too (each is accepted and handed over).
            channel, s = stub("localhost:%d" % port)
            with channel:
                s.ListCalls(pb.ListCallsRequest(), timeout=RPC_TIMEOUT)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            tmp.cleanup()

    def test_out_of_descriptors_refuses_connections_then_recovers(self):
        """At the fd limit each new connection is accepted and closed at once
        (one error line says so) instead of spinning on the readable
        listener; once clients let go, new connections are served again."""
        port = free_port()
        addr = "127.0.0.1:%d" % port
        # prlimit execs systemd-socket-activate, which execs voipd: same pid.
        tmp, proc, ready, log = self.activate(addr, base_config('"127.0.0.1:1"'),
                                              prefix=("prlimit", "--nofile=40:40", "--"))
        channels = []
        try:
            channel, s = stub(addr)
            with channel:
                s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
            channels, refused = own_connections(addr, 60)
            self.assertGreater(refused, 0, "the limit of 40 descriptors was never reached")
            busy = cpu_seconds(proc.pid)
            time.sleep(1)
            # A spin on the readable listener would burn ~1 s of CPU here.
            self.assertLess(cpu_seconds(proc.pid) - busy, 0.5)
            for c in channels:
                c.close()
            channels = []
            call_once_served(addr)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
            text = _read_text(os.path.join(tmp.name, "voipd.log"))
            self.assertIn("out of file descriptors (limit 40)", text)
        finally:
            for c in channels:
                c.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            tmp.cleanup()

    def test_public_activated_socket_without_auth_is_refused(self):
        tmp, proc, ready, log = self.activate("0.0.0.0:%d" % free_port(), base_config())
        try:
            self.assertEqual(proc.wait(20), 1)
            with open(os.path.join(tmp.name, "voipd.log")) as f:
                self.assertIn("allow_insecure", f.read())
        finally:
            log.close()
            tmp.cleanup()

    def test_tls_with_an_activated_tcp_socket_is_refused(self):
        # gRPC 1.51 can only serve accepted fds in plaintext: with TLS
        # configured voipd must refuse instead of silently serving plaintext.
        pki = Pki()
        cfg = base_config() + "tls:\n  cert_file: %s\n  key_file: %s\n" % (
            pki.path("server.crt"), pki.path("server.key"))
        tmp, proc, ready, log = self.activate("127.0.0.1:%d" % free_port(), cfg)
        try:
            self.assertEqual(proc.wait(20), 1)
            self.assertFalse(os.path.exists(ready))
            with open(os.path.join(tmp.name, "voipd.log")) as f:
                text = f.read()
            self.assertIn("would serve plaintext", text)
            self.assertIn("unix socket", text)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            tmp.cleanup()
            pki.cleanup()

    def test_tls_with_an_activated_unix_socket_starts(self):
        # TLS never applies to unix sockets (file mode and group guard them),
        # so this combination is fine and serves.
        pki = Pki()
        tmp = tempfile.TemporaryDirectory(prefix="voipd-sa-")
        path = os.path.join(tmp.name, "voipd.sock")
        cfg_path = os.path.join(tmp.name, "voipd.yaml")
        ready = os.path.join(tmp.name, "ready.json")
        log = open(os.path.join(tmp.name, "voipd.log"), "wb")
        with open(cfg_path, "w") as f:
            f.write(base_config() + "tls:\n  cert_file: %s\n  key_file: %s\n" % (
                pki.path("server.crt"), pki.path("server.key")))
        proc = subprocess.Popen(["systemd-socket-activate", "-l", path, os.environ["VOIPD_BIN"],
                                 "--config", cfg_path, "--ready-file", ready],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: os.path.exists(path), "systemd-socket-activate to listen")
            channel, s = stub("unix:" + path)
            with channel:
                s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
            self.assertIsNone(proc.poll())
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
            tmp.cleanup()
            pki.cleanup()


def _connect(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def _read_text(path):
    with open(path) as f:
        return f.read()


def _read_json(path):
    import json
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class UnitFileTest(unittest.TestCase):
    """systemd-analyze runs offline in this container (no running systemd
    needed); ExecStart is pointed at the built binary so `verify` can check it."""

    def units(self):
        tmp = tempfile.TemporaryDirectory(prefix="voipd-units-")
        for name in ("voipd.service", "voipd.socket"):
            with open(os.path.join(UNIT_DIR, name)) as f:
                text = f.read().replace("/usr/sbin/voipd", os.environ["VOIPD_BIN"])
            with open(os.path.join(tmp.name, name), "w") as f:
                f.write(text)
        return tmp

    def test_verify_is_clean(self):
        with self.units() as d:
            for name in ("voipd.service", "voipd.socket"):
                res = subprocess.run(["systemd-analyze", "verify", os.path.join(d, name)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                self.assertEqual(res.returncode, 0, res.stdout.decode())
                self.assertEqual(res.stdout.decode().strip(), "", res.stdout.decode())

    def test_security_exposure_is_at_most_2(self):
        with self.units() as d:
            res = subprocess.run(["systemd-analyze", "security", "--offline=true",
                                  os.path.join(d, "voipd.service")],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = res.stdout.decode()
            m = re.search(r"Overall exposure level for voipd.service: ([0-9.]+)", out)
            self.assertIsNotNone(m, out)
            self.assertLessEqual(float(m.group(1)), 2.0, out)

    def test_service_has_the_required_settings(self):
        with open(os.path.join(UNIT_DIR, "voipd.service")) as f:
            unit = f.read()
        for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
                     "Restart=on-failure", "ProtectSystem=strict", "ProtectHome=yes",
                     "PrivateTmp=yes", "PrivateDevices=yes", "NoNewPrivileges=yes",
                     "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                     "SystemCallFilter=@system-service", "StateDirectory=voipd",
                     "RuntimeDirectory=voipd"):
            self.assertIn(line, unit)

    # Each *_file setting of the config schemas that holds a secret or a key,
    # and the credential ID its LoadCredential= line in the unit gives it.
    CREDENTIALS = {
        "token_file": "tokens.yaml", "cert_file": "server.crt", "key_file": "server.key",
        "client_ca_file": "client-ca.crt", "password_file": "sip-password",
        "secret_file": "ami.secret", "account_sid_file": "twilio-account-sid",
        "auth_token_file": "twilio-auth-token", "api_key_sid_file": "twilio-api-key-sid",
        "api_key_secret_file": "twilio-api-key-secret", "tls_cert_file": "webrtc.crt",
        "tls_key_file": "webrtc.key",
    }
    # CA bundles to verify a peer with: public, read from their own path.
    NOT_SECRET = {"ca_file", "tls_ca_file"}

    def test_every_secret_setting_has_a_load_credential_line(self):
        """The lines are templates (systemd fails a unit whose credential
        file is missing), one per secret; a new *_file setting fails this
        test until it is classified here and has its line."""
        with open(os.path.join(UNIT_DIR, "voipd.service")) as f:
            unit = f.read()
        proto_dir = os.environ.get("VOIPD_PROTO_DIR") or os.path.join(
            os.path.dirname(UNIT_DIR), "proto")
        settings = set()
        for root, _, files in os.walk(os.path.join(proto_dir, "voip", "config")):
            for name in files:
                with open(os.path.join(root, name)) as f:
                    settings |= set(re.findall(r"string (\w+_file) = \d+;", f.read()))
        self.assertEqual(settings, set(self.CREDENTIALS) | self.NOT_SECRET)
        for setting, cred in sorted(self.CREDENTIALS.items()):
            self.assertIn("\n#LoadCredential=%s:/etc/voipd/credentials/%s\n" % (cred, cred), unit,
                          setting)


if __name__ == "__main__":
    unittest.main()
