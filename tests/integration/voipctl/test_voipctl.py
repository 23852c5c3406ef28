"""voipctl against the real voipd: output formats, streams and exit codes.

Run by ctest (tests/CMakeLists.txt sets VOIPD_BIN and VOIPCTL_BIN), or by hand:

  VOIPD_BIN=build/daemon/voipd VOIPCTL_BIN=build/clients/voipctl/voipctl \\
    /usr/bin/python3 -m unittest discover -v -s tests/integration/voipctl

One daemon serves the whole class; every test places its own calls and only
looks at those, so the tests do not depend on each other or on their order.
Nothing sleeps and hopes: waits poll or read with deadlines.
"""
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from pki import Pki  # noqa: E402
from voipd_harness import Voipd  # noqa: E402

# Sandbox numbers (adapters/sandbox): what the simulated far end does.
ANSWERS = "+12015550100"
BUSY = "+12015550101"
NEVER_ANSWERS = "+12015550102"
PROVIDER_FAILS = "+12015550103"
NETWORK_FAILS = "+12015550105"

ACTIVE = {"CALL_STATUS_INITIATING", "CALL_STATUS_RINGING", "CALL_STATUS_CONNECTED",
          "CALL_STATUS_ON_HOLD"}
# Lifecycle order of the statuses `watch` may show on the way to connected.
ORDER = ["initiating", "ringing", "connected"]

# Generous: a loaded 2-core CI machine, yet far below ctest's 300 s.
DEADLINE = 15.0


def voipctl_bin():
    path = os.environ.get("VOIPCTL_BIN")
    if not path:
        raise RuntimeError("VOIPCTL_BIN is not set (ctest sets it; see the module docstring)")
    return path


class Stream:
    """A long-running voipctl (watch, events, call --watch) whose stdout is
    read line by line with deadlines, from a thread so that reads never block
    the test past its deadline."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self._lines = queue.Queue()
        self._eof = False
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next_line(self, timeout=DEADLINE):
        """The next stdout line, or None at end of output."""
        if self._eof:
            return None
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no output from %s within %ss" % (self.proc.args, timeout))
        if line is None:
            self._eof = True
        return line

    def read_until(self, predicate, timeout=DEADLINE):
        """Lines up to and including the first for which predicate is true."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self.next_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError("output ended before the expected line; got %r, stderr %r"
                                     % (lines, self.stderr()))
            lines.append(line)
            if predicate(line):
                return lines

    def rest(self, timeout=DEADLINE):
        """Every remaining line until end of output."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self.next_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                return lines
            lines.append(line)

    def wait(self, timeout=DEADLINE):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %ss" % (self.proc.args, timeout))

    def stderr(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def parse_event_line(line):
    """'#42 TIME ID STATUS ...' -> (42, ID, STATUS)."""
    fields = line.split()
    if len(fields) < 4 or not fields[0].startswith("#"):
        raise AssertionError("not an event line: %r" % line)
    return int(fields[0][1:]), fields[2], fields[3]


class VoipctlTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = cls.enterClassContext(Voipd(time_scale=20))

    # -- helpers -------------------------------------------------------------

    def voipctl(self, *args, addr=None, timeout=DEADLINE):
        """Runs voipctl to completion; returns the CompletedProcess."""
        argv = [voipctl_bin(), "--addr", addr or self.daemon.addr] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def stream(self, *args):
        s = Stream([voipctl_bin(), "--addr", self.daemon.addr] + list(args))
        self.addCleanup(s.close)
        return s

    def assertExit(self, result, code):
        self.assertEqual(result.returncode, code,
                         "voipctl %s exited %s, expected %s\nstdout: %s\nstderr: %s"
                         % (result.args[3:], result.returncode, code, result.stdout,
                            result.stderr))

    def json_lines(self, text):
        """Every stdout line must be exactly one JSON object."""
        objects = []
        for line in text.splitlines():
            obj = json.loads(line)
            self.assertIsInstance(obj, dict, line)
            objects.append(obj)
        return objects

    def json_one(self, result):
        objects = self.json_lines(result.stdout)
        self.assertEqual(len(objects), 1, result.stdout)
        return objects[0]

    def start_call(self, number, *extra):
        result = self.voipctl("call", number, "--json", *extra)
        self.assertExit(result, 0)
        session = self.json_one(result)
        # Ends the call even when the test fails half-way, so no call leaks
        # into another test's `list --active`.
        self.addCleanup(self.voipctl, "end", session["session_id"])
        return session

    def status(self, session_id):
        result = self.voipctl("status", session_id, "--json")
        self.assertExit(result, 0)
        return self.json_one(result)

    def wait_for_status(self, session_id, wanted, timeout=DEADLINE):
        deadline = time.monotonic() + timeout
        while True:
            session = self.status(session_id)
            if session["status"] == wanted:
                return session
            if time.monotonic() > deadline:
                self.fail("%s still %s after %ss, wanted %s"
                          % (session_id, session["status"], timeout, wanted))
            time.sleep(0.02)

    # -- call ------------------------------------------------------------------

    def test_call_json_prints_the_new_session(self):
        session = self.start_call(ANSWERS, "--label", "crm=42", "--type", "mobile")
        self.assertTrue(session["session_id"])
        self.assertIn(session["status"], {"CALL_STATUS_INITIATING", "CALL_STATUS_RINGING"})
        self.assertEqual(session["to"]["number"], ANSWERS)
        self.assertEqual(session["to"]["type"], "mobile")
        self.assertEqual(session["system_name"], "sandbox")
        self.assertEqual(session["labels"], {"crm": "42"})
        # Every scalar is printed, so scripts can read on_hold without a default.
        self.assertIs(session["on_hold"], False)
        self.assertIs(session["muted"], False)

    def test_call_human_output_is_one_session_line(self):
        result = self.voipctl("call", ANSWERS, "--system", "sandbox")
        self.assertExit(result, 0)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 1, result.stdout)
        fields = lines[0].split()
        self.addCleanup(self.voipctl, "end", fields[0])
        self.assertIn(fields[1], {"initiating", "ringing"})
        self.assertEqual(fields[2], "sandbox")
        self.assertEqual(fields[3], ANSWERS)
        self.assertIn("on_hold=no muted=no", lines[0])

    def test_call_from_is_the_sessions_caller(self):
        caller = "+12015550199"
        session = self.start_call(ANSWERS, "--from", caller)
        self.assertEqual(session["from"], caller)
        self.assertEqual(session["direction"], "CALL_DIRECTION_OUTBOUND")
        # The daemon kept it, not only voipctl's echo of the request.
        self.assertEqual(self.status(session["session_id"])["from"], caller)

    def test_inbound_rings_a_sandbox_inbound_call(self):
        # README: `voipctl inbound --from N --to N` makes the sandbox ring in;
        # by default its agent answers after ~1 s and the caller hangs up
        # ~3 s later (divided by time_scale).
        tag = str(uuid.uuid4())
        caller, dialled = "+12015550111", "1001"
        result = self.voipctl("inbound", "--from", caller, "--to", dialled, "--json",
                              "--label", "inbound=" + tag)
        self.assertExit(result, 0)
        session = self.json_one(result)
        session_id = session["session_id"]
        self.addCleanup(self.voipctl, "end", session_id)
        self.assertEqual(session["direction"], "CALL_DIRECTION_INBOUND")
        self.assertEqual(session["from"], caller)
        self.assertEqual(session["to"]["number"], dialled)
        self.assertEqual(session["system_name"], "sandbox")
        self.assertEqual(session["labels"], {"inbound": tag})
        self.assertIn(session["status"], {"CALL_STATUS_INITIATING", "CALL_STATUS_RINGING"})

        # Its whole life, replayed from the window: it rang, was answered
        # and ended, inbound throughout.
        events = self.stream("events", "--after", "0", "--json", "--label", "inbound=" + tag)
        seen = [json.loads(l) for l in events.read_until(
            lambda l: json.loads(l)["session"]["status"] == "CALL_STATUS_DISCONNECTED")]
        events.proc.send_signal(signal.SIGINT)
        self.assertEqual(events.wait(), 0, events.stderr())
        self.assertEqual([e["session"]["status"] for e in seen],
                         ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                          "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"], seen)
        for event in seen:
            self.assertEqual(event["session"]["session_id"], session_id)
            self.assertEqual(event["session"]["direction"], "CALL_DIRECTION_INBOUND")
            self.assertEqual(event["session"]["from"], caller)
        listed = self.voipctl("list", "--json", "--label", "inbound=" + tag)
        self.assertExit(listed, 0)
        self.assertEqual([(c["session_id"], c["direction"]) for c in self.json_lines(listed.stdout)],
                         [(session_id, "CALL_DIRECTION_INBOUND")])

    # -- watch -----------------------------------------------------------------

    def test_watch_follows_the_call_until_end(self):
        session = self.start_call(ANSWERS)
        session_id = session["session_id"]
        watch = self.stream("watch", session_id)
        first = watch.next_line()
        self.assertIn("(snapshot)", first)
        lines = [first]
        # On a busy machine the call (answered ~65 ms after StartCall) may be
        # connected before voipctl's WatchCall arrives: then the snapshot says
        # so and no change precedes the end.
        if parse_event_line(first)[2] != "connected":
            lines += watch.read_until(lambda l: parse_event_line(l)[2] == "connected")
        statuses = [parse_event_line(l)[2] for l in lines]
        # Whatever the snapshot caught, the changes follow the lifecycle.
        self.assertEqual(statuses, sorted(statuses, key=ORDER.index), lines)
        self.assertEqual(statuses[-1], "connected")

        end = self.voipctl("end", session_id)
        self.assertExit(end, 0)
        self.assertEqual(end.stdout.split()[:2], [session_id, "disconnected"])

        rest = watch.rest()
        self.assertEqual(watch.wait(), 0, watch.stderr())
        self.assertTrue(rest, "no event after end")
        self.assertEqual(parse_event_line(rest[-1])[2], "disconnected")
        self.assertIn("(was connected)", rest[-1])
        self.assertIn("ended_by=local", rest[-1])
        events = [parse_event_line(l) for l in lines + rest]
        self.assertEqual({e[1] for e in events}, {session_id})
        sequences = [e[0] for e in events]
        self.assertEqual(sequences, sorted(set(sequences)), "sequences not strictly increasing")

    def test_call_watch_ends_busy(self):
        watch = self.stream("call", BUSY, "--watch", "--json")
        objects = [json.loads(l) for l in watch.rest()]
        self.assertEqual(watch.wait(), 0, watch.stderr())
        self.assertGreaterEqual(len(objects), 3, objects)  # session, snapshot, busy
        session = objects[0]
        self.assertEqual(session["to"]["number"], BUSY)
        events = objects[1:]
        self.assertEqual(events[0]["type"], "CALL_EVENT_TYPE_SNAPSHOT")
        for event in events:
            self.assertEqual(event["session"]["session_id"], session["session_id"])
        self.assertEqual(events[-1]["session"]["status"], "CALL_STATUS_BUSY")
        self.assertEqual(events[-1]["session"]["end_reason"]["source"], "HANGUP_SOURCE_REMOTE")

    def test_call_watch_ring_timeout_ends_unavailable(self):
        started = time.monotonic()
        watch = self.stream("call", NEVER_ANSWERS, "--ring-timeout", "1", "--watch")
        lines = watch.rest()
        self.assertEqual(watch.wait(), 0, watch.stderr())
        self.assertEqual(parse_event_line(lines[-1])[2], "unavailable", lines)
        # The ring timeout reached the daemon (it is not scaled by time_scale;
        # the system's default would be far longer than the deadline).
        self.assertLess(time.monotonic() - started, DEADLINE)

    def test_call_watch_provider_failure_shows_the_error(self):
        watch = self.stream("call", PROVIDER_FAILS, "--watch")
        lines = watch.rest()
        self.assertEqual(watch.wait(), 0, watch.stderr())
        self.assertEqual(parse_event_line(lines[-1])[2], "failed", lines)
        self.assertIn("error=PROVIDER_ERROR", lines[-1])

    def test_watch_interrupted_exits_130(self):
        session = self.start_call(NEVER_ANSWERS, "--ring-timeout", "60")
        watch = self.stream("watch", session["session_id"])
        self.assertIn("(snapshot)", watch.next_line())
        watch.proc.send_signal(signal.SIGINT)
        self.assertEqual(watch.wait(), 130, watch.stderr())
        # Only voipctl stopped: the call goes on.
        self.assertIn(self.status(session["session_id"])["status"], ACTIVE)

    def test_watch_unknown_session_exits_3(self):
        result = self.voipctl("watch", "no-such-session")
        self.assertExit(result, 3)
        self.assertIn("SESSION_NOT_FOUND", result.stderr)

    # -- hold / mute -------------------------------------------------------------

    def test_hold_resume_mute_unmute_change_the_session(self):
        session_id = self.start_call(ANSWERS)["session_id"]
        self.wait_for_status(session_id, "CALL_STATUS_CONNECTED")

        def step(command, status, on_hold, muted):
            result = self.voipctl(command, session_id, "--json",
                                  "--request-id", "%s-%s" % (command, uuid.uuid4()))
            self.assertExit(result, 0)
            for session in (self.json_one(result), self.status(session_id)):
                self.assertEqual(
                    (session["status"], session["on_hold"], session["muted"]),
                    (status, on_hold, muted), "after %s" % command)

        step("hold", "CALL_STATUS_ON_HOLD", True, False)
        step("mute", "CALL_STATUS_ON_HOLD", True, True)
        step("resume", "CALL_STATUS_CONNECTED", False, True)
        step("unmute", "CALL_STATUS_CONNECTED", False, False)

    def test_hold_before_answer_is_rejected(self):
        session_id = self.start_call(NEVER_ANSWERS, "--ring-timeout", "60")["session_id"]
        result = self.voipctl("hold", session_id)
        self.assertExit(result, 5)
        self.assertIn("INVALID_STATE", result.stderr)
        self.assertEqual(result.stdout, "")

    # -- errors and exit codes ---------------------------------------------------

    def test_unknown_session_exits_3(self):
        result = self.voipctl("status", "nope")
        self.assertExit(result, 3)
        self.assertRegex(result.stderr, r"^error: SESSION_NOT_FOUND: ")
        self.assertEqual(result.stdout, "")

    def test_unknown_session_json_error_object(self):
        result = self.voipctl("status", "nope", "--json")
        self.assertExit(result, 3)
        error = self.json_one(result)["error"]
        self.assertEqual(error["error_code"], "SESSION_NOT_FOUND")
        self.assertEqual(error["grpc_code"], "NOT_FOUND")
        self.assertEqual(error["session_id"], "nope")

    def test_unknown_system_exits_3(self):
        result = self.voipctl("call", ANSWERS, "--system", "no-such-system")
        self.assertExit(result, 3)
        self.assertIn("UNKNOWN_SYSTEM", result.stderr)

    def test_invalid_number_exits_5(self):
        result = self.voipctl("call", "not-a-number")
        self.assertExit(result, 5)
        self.assertIn("INVALID_NUMBER", result.stderr)
        self.assertIn("field=to.number", result.stderr)

    def test_network_error_exits_4(self):
        result = self.voipctl("call", NETWORK_FAILS)
        self.assertExit(result, 4)
        self.assertIn("NETWORK_ERROR", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_unreachable_daemon_exits_4(self):
        result = self.voipctl("status", "x", addr="127.0.0.1:1")
        self.assertExit(result, 4)
        self.assertIn("UNAVAILABLE", result.stderr)

    def test_unreachable_daemon_via_env(self):
        # --addr defaults to $VOIPD_ADDR: a dead address there must be used.
        argv = [voipctl_bin(), "status", "x"]
        env = dict(os.environ, VOIPD_ADDR="127.0.0.1:1")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE, env=env)
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertIn("127.0.0.1:1", result.stderr)
        env["VOIPD_ADDR"] = self.daemon.addr
        result = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE, env=env)
        self.assertEqual(result.returncode, 3, result.stderr)

    def test_usage_errors_exit_2(self):
        cases = [
            [],                                       # no command
            ["frobnicate"],                           # unknown command
            ["call"],                                 # missing NUMBER
            ["status", "a", "b"],                     # extra argument
            ["call", ANSWERS, "--label", "novalue"],  # bad k=v
            ["call", ANSWERS, "--label", "=v"],       # empty key
            ["list", "--status", "bogus"],
            ["list", "--page-size", "0"],
            ["--timeout", "0", "systems"],
            ["call", ANSWERS, "--ring-timeout", "soon"],
            ["events", "--after", "-1"],
            ["events", "--after", "99999999999999999999999"],  # overflows uint64
        ]
        for args in cases:
            with self.subTest(args=args):
                result = self.voipctl(*args)
                self.assertExit(result, 2)
                self.assertEqual(result.stdout, "")
                self.assertTrue(result.stderr)

    def test_help_documents_exit_codes(self):
        result = self.voipctl("--help")
        self.assertExit(result, 0)
        for code in ("0", "1", "2", "3", "4", "5"):
            self.assertRegex(result.stdout, r"(?m)^\s+%s\s+\S" % code)
        self.assertIn("Exit codes", result.stdout)

    # -- list / systems ------------------------------------------------------------

    def test_list_active_json_lists_the_live_call(self):
        tag = str(uuid.uuid4())
        session_id = self.start_call(ANSWERS, "--label", "test=" + tag)["session_id"]
        self.wait_for_status(session_id, "CALL_STATUS_CONNECTED")

        result = self.voipctl("list", "--active", "--json")
        self.assertExit(result, 0)
        calls = self.json_lines(result.stdout)
        self.assertIn(session_id, [c["session_id"] for c in calls])
        for call in calls:
            self.assertIn(call["status"], ACTIVE)

        # Filters and paging: one call per page, all pages followed.
        result = self.voipctl("list", "--json", "--label", "test=" + tag, "--page-size", "1",
                              "--status", "connected", "--system", "sandbox")
        self.assertExit(result, 0)
        self.assertEqual([c["session_id"] for c in self.json_lines(result.stdout)], [session_id])

        self.assertExit(self.voipctl("end", session_id), 0)
        result = self.voipctl("list", "--active", "--json", "--label", "test=" + tag)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, "")
        result = self.voipctl("list", "--json", "--label", "test=" + tag)
        self.assertEqual([c["status"] for c in self.json_lines(result.stdout)],
                         ["CALL_STATUS_DISCONNECTED"])

    def test_list_follows_pages(self):
        tag = str(uuid.uuid4())
        ids = [self.start_call(ANSWERS, "--label", "page=" + tag)["session_id"]
               for _ in range(3)]
        result = self.voipctl("list", "--label", "page=" + tag, "--page-size", "2")
        self.assertExit(result, 0)
        # Human output, oldest first: the session id leads each line.
        self.assertEqual([l.split()[0] for l in result.stdout.splitlines()], ids)

    def test_systems_shows_sandbox(self):
        result = self.voipctl("systems")
        self.assertExit(result, 0)
        lines = [l for l in result.stdout.splitlines() if l.split()[0] == "sandbox"]
        self.assertEqual(len(lines), 1, result.stdout)
        self.assertIn("type=sandbox", lines[0])
        self.assertIn(" default ", lines[0])
        self.assertIn("healthy", lines[0])
        self.assertIn("ops=end,hold,mute", lines[0])

        result = self.voipctl("systems", "--json")
        self.assertExit(result, 0)
        systems = {s["name"]: s for s in self.json_lines(result.stdout)}
        self.assertEqual(systems["sandbox"]["type"], "sandbox")
        self.assertIs(systems["sandbox"]["is_default"], True)
        self.assertEqual(systems["sandbox"]["health"]["state"], "HEALTH_STATE_HEALTHY")

    # -- events ----------------------------------------------------------------------

    def test_events_after_zero_replays_then_follows(self):
        # At least one finished call, so there is history to replay.
        busy = self.stream("call", BUSY, "--watch")
        busy.rest()
        self.assertEqual(busy.wait(), 0, busy.stderr())

        events = self.stream("events", "--after", "0", "--json")
        replayed = [json.loads(events.next_line()) for _ in range(3)]
        self.assertEqual(replayed[0]["sequence"], "1")  # the window holds everything

        # Live part: a call placed now shows up on the same stream.
        tag = str(uuid.uuid4())
        session_id = self.start_call(BUSY, "--label", "events=" + tag)["session_id"]
        more = events.read_until(
            lambda l: json.loads(l)["session"]["session_id"] == session_id
            and json.loads(l)["session"]["status"] == "CALL_STATUS_BUSY")
        seen = replayed + [json.loads(l) for l in more]
        sequences = [int(e["sequence"]) for e in seen]
        for earlier, later in zip(sequences, sequences[1:]):
            self.assertLess(earlier, later, "sequence numbers not strictly increasing")
        for event in seen:
            self.assertNotEqual(event["type"], "CALL_EVENT_TYPE_SNAPSHOT")

        events.proc.send_signal(signal.SIGINT)
        self.assertEqual(events.wait(), 0, events.stderr())

    def test_events_without_after_only_new_and_filtered(self):
        tag = str(uuid.uuid4())
        events = self.stream("events", "--json", "--label", "events=" + tag)
        # Placed before the subscription is surely up, so this call's events
        # may or may not show; the second call's must, and no other call's.
        first = self.start_call(BUSY, "--label", "events=" + tag)["session_id"]
        self.wait_for_status(first, "CALL_STATUS_BUSY")
        other = self.stream("call", BUSY, "--watch")  # unlabelled: filtered out
        other.rest()
        second = self.start_call(BUSY, "--label", "events=" + tag)["session_id"]
        seen = [json.loads(l) for l in events.read_until(
            lambda l: json.loads(l)["session"]["session_id"] == second
            and json.loads(l)["session"]["status"] == "CALL_STATUS_BUSY")]
        self.assertLessEqual({e["session"]["session_id"] for e in seen}, {first, second})
        self.assertEqual(seen[-1]["session"]["labels"], {"events": tag})
        events.proc.send_signal(signal.SIGINT)
        self.assertEqual(events.wait(), 0, events.stderr())


class VoipctlUnixSocketTest(unittest.TestCase):
    """--addr unix:PATH reaches a daemon that listens on a unix socket."""

    def test_unix_socket_address(self):
        tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="voipctl-test-"))
        socket_path = os.path.join(tmp, "voipd.sock")
        config = ('listen: ["unix:%s"]\n'
                  "default_region: US\n"
                  "default_system: sandbox\n"
                  "systems:\n"
                  "  sandbox: { type: sandbox, time_scale: 20 }\n" % socket_path)
        self.enterContext(Voipd(config_text=config))
        result = subprocess.run([voipctl_bin(), "--addr", "unix:" + socket_path, "systems"],
                                capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split()[0], "sandbox")



SANDBOX = ("default_region: US\n"
           "default_system: sandbox\n"
           "systems:\n"
           "  sandbox: { type: sandbox, time_scale: 20 }\n")


def token_entry(name, token, scopes):
    return "    - { name: %s, sha256: %s, scopes: [%s] }\n" % (
        name, hashlib.sha256(token.encode()).hexdigest(), ", ".join(scopes))


class VoipctlCredentialsTest(unittest.TestCase):
    """A daemon with auth.tokens and mTLS, as operators run it off loopback:
    voipctl authenticates with --token-file (or VOIPD_TOKEN_FILE) and
    connects with --tls-ca-file and a client certificate."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="voipctl-cred-"))
        cls.pki = Pki()
        cls.addClassCleanup(cls.pki.cleanup)
        cls.admin = "vt_" + uuid.uuid4().hex
        cls.reader = "vt_" + uuid.uuid4().hex
        cls.admin_file = cls.write("admin.token", cls.admin + "\n")
        cls.reader_file = cls.write("reader.token", cls.reader)
        p = cls.pki.path
        config = ('listen: ["127.0.0.1:0"]\n' + SANDBOX
                  + "tls:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\n"
                  % (p("server.crt"), p("server.key"), p("ca.crt"))
                  + "auth:\n  tokens:\n"
                  + token_entry("ops", cls.admin, ["admin"])
                  + token_entry("dashboard", cls.reader, ["calls:read"]))
        cls.daemon = cls.enterClassContext(Voipd(config_text=config))

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def argv(self, args, tls=True):
        p = self.pki.path
        argv = [voipctl_bin(), "--addr", self.daemon.addr]
        if tls:
            argv += ["--tls-ca-file", p("ca.crt"), "--tls-cert-file", p("client.crt"),
                     "--tls-key-file", p("client.key")]
        return argv + list(args)

    def voipctl(self, *args, env=None, tls=True):
        result = subprocess.run(self.argv(args, tls), capture_output=True, text=True,
                                timeout=DEADLINE, env=dict(os.environ, **(env or {})))
        for secret in (self.admin, self.reader):
            self.assertNotIn(secret, result.stdout + result.stderr)
        return result

    def test_a_token_file_authenticates_every_command(self):
        call = self.voipctl("--token-file", self.admin_file, "--json", "call", ANSWERS)
        self.assertEqual(call.returncode, 0, call.stderr)
        session_id = json.loads(call.stdout)["session_id"]
        # The environment variable does the same; streams carry the token too.
        env = {"VOIPD_TOKEN_FILE": self.admin_file}
        status = self.voipctl("--json", "status", session_id, env=env)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertEqual(json.loads(status.stdout)["session_id"], session_id)
        events = Stream(self.argv(["--token-file", self.reader_file, "--json", "events",
                                   "--after", "0"]))
        self.addCleanup(events.close)
        events.read_until(lambda l: json.loads(l)["session"]["session_id"] == session_id)
        events.proc.send_signal(signal.SIGINT)
        self.assertEqual(events.wait(), 0, events.stderr())
        end = self.voipctl("end", session_id, env=env)
        self.assertEqual(end.returncode, 0, end.stderr)

    def test_without_the_right_token_the_daemon_says_why(self):
        missing = self.voipctl("list")
        self.assertEqual(missing.returncode, 1, missing.stderr)
        self.assertIn("AUTHENTICATION_FAILED", missing.stderr)
        self.assertIn("authorization", missing.stderr)
        self.assertIn("hint: this voipd requires an API token: --token-file", missing.stderr)
        denied = self.voipctl("--token-file", self.reader_file, "call", ANSWERS)
        self.assertEqual(denied.returncode, 1, denied.stderr)
        self.assertIn("lacks scope calls:write", denied.stderr)
        self.assertNotIn("hint:", denied.stderr)  # a token was given: not the problem

    def test_bad_credential_files_are_usage_errors(self):
        for args, expected in (
                (["--token-file", "/nonexistent/token"], "--token-file: cannot read"),
                (["--token-file", self.write("empty.token", "\n")], "is empty"),
                (["--token-file", self.write("two.token", "a\nb\n")], "must hold one token"),
                (["--tls-cert-file", self.pki.path("client.crt")], "give both")):
            result = self.voipctl(*args, "list", tls=False)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(expected, result.stderr)

    def test_tls_is_checked_both_ways(self):
        plaintext = self.voipctl("--token-file", self.admin_file, "list", tls=False)
        self.assertEqual(plaintext.returncode, 4, plaintext.stderr)  # unreachable: UNAVAILABLE
        wrong_ca = self.voipctl("--tls-ca-file", self.pki.path("other-ca.crt"), "--token-file",
                                self.admin_file, "list", tls=False)
        self.assertEqual(wrong_ca.returncode, 4, wrong_ca.stderr)
        no_client_cert = self.voipctl("--tls-ca-file", self.pki.path("ca.crt"), "--token-file",
                                      self.admin_file, "list", tls=False)
        self.assertEqual(no_client_cert.returncode, 4, no_client_cert.stderr)
        ok = self.voipctl("--token-file", self.admin_file, "list")
        self.assertEqual(ok.returncode, 0, ok.stderr)


if __name__ == "__main__":
    unittest.main()
