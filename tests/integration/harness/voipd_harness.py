"""Starts the real voipd binary on a free loopback port for integration tests.

Used by every Python-driven integration test (Python grpcio client, voipctl).
The daemon is given a temporary config and `--ready-file`; it writes that file
(JSON: {"listen": ["127.0.0.1:PORT", ...], "pid": N}) once its listeners and
adapters are up, so tests never sleep-and-hope.

Environment (set by ctest, see tests/CMakeLists.txt):
  VOIPD_BIN        path to the voipd binary
  VOIPCTL_BIN      path to the voipctl binary
  VOIPD_PROTO_DIR  the repository's proto/ directory
"""
import json
import os
import signal
import subprocess
import tempfile
import time

DEFAULT_CONFIG = """\
listen: ["127.0.0.1:0"]
default_region: US
default_system: sandbox
systems:
  sandbox: {{ type: sandbox, time_scale: {time_scale} }}
events: {{ window: {window} }}
"""


class Voipd:
    """A running voipd. Use as a context manager; `addr` is HOST:PORT."""

    def __init__(self, config_text=None, time_scale=20, window=10000, extra_args=(),
                 cmd_prefix=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="voipd-test-")
        self.config_path = os.path.join(self.tmp.name, "voipd.yaml")
        self.ready_path = os.path.join(self.tmp.name, "ready.json")
        self.log_path = os.path.join(self.tmp.name, "voipd.log")
        with open(self.config_path, "w") as f:
            f.write(config_text if config_text is not None
                    else DEFAULT_CONFIG.format(time_scale=time_scale, window=window))
        self.extra_args = list(extra_args)
        # Runs voipd under a wrapper that execs it (e.g. `unshare -m sh -c
        # '... && exec "$@"'`), so that `proc.pid` is still voipd's pid.
        self.cmd_prefix = list(cmd_prefix)
        self.proc = None
        self.addr = None
        self.ready = None

    def start(self, timeout=20.0):
        binary = os.environ["VOIPD_BIN"]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd_prefix
            + [binary, "--config", self.config_path, "--ready-file", self.ready_path]
            + self.extra_args,
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("voipd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.ready_path):
                try:
                    with open(self.ready_path) as f:
                        ready = json.load(f)
                    self.ready = ready
                    self.addr = ready["listen"][0]
                    return self
                except (ValueError, KeyError, IndexError):
                    pass  # the daemon is still writing the file: read it again
            time.sleep(0.02)
        # Do not leave a daemon behind when start() fails inside `with`
        # (__exit__ does not run then).
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("voipd not ready after %ss:\n%s" % (timeout, self.log()))

    def rewrite_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM, wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def wait(self, timeout=10.0):
        """Waits for the daemon to exit by itself (e.g. after signal(SIGTERM));
        returns the exit code. Kills it and raises TimeoutExpired on timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            # A daemon still running here is stopped the way systemd stops it,
            # and must exit 0: a crash or sanitizer report at shutdown (e.g.
            # LeakSanitizer's exit code 23 in scripts/sanitize.sh) fails the
            # test. One the test already stopped or killed is its business.
            running = self.proc is not None and self.proc.poll() is None
            code = self.stop()
            if running and code != 0 and exc_type is None:
                raise AssertionError("voipd exited with %s on SIGTERM:\n%s"
                                     % (code, self.log()[-4000:]))
        finally:
            self._log.close()
            self.tmp.cleanup()
