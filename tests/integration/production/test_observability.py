"""Prometheus metrics after real calls, grpc.health.v1 flipping during
shutdown, JSON logs, and a grep of every log line and metrics scrape of a
run for the configured secrets."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.request

import grpc

from prod_common import (ANSWERS, BUSY, NETWORK_ERROR, RPC_TIMEOUT, TWILIO_SID, Pki, auth,
                         base_config, cpb, health_pb2, health_pb2_grpc, new_token, pb, sha256_hex,
                         start_call, stub, token_yaml, voipd_harness, wait_for, wait_terminal)

METRICS = 'metrics: { listen: "127.0.0.1:0" }\n'


def scrape(daemon):
    with urllib.request.urlopen("http://%s/metrics" % daemon.ready["metrics"], timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def sample(text, name, **labels):
    """The value of one sample, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return None


class MetricsTest(unittest.TestCase):
    def test_counters_after_calls(self):
        with voipd_harness.Voipd(config_text=base_config() + METRICS) as d:
            channel, s = stub(d.addr)
            with channel:
                answered = start_call(s, None, ANSWERS)
                busy = start_call(s, None, BUSY)
                wait_terminal(s, None, busy.session_id)
                text = wait_for(lambda: (lambda t: t if sample(
                    t, "voipd_active_calls", system="sandbox") == 1 else None)(scrape(d)),
                    "one active call")
                s.EndCall(pb.EndCallRequest(session_id=answered.session_id), timeout=RPC_TIMEOUT)
                wait_terminal(s, None, answered.session_id)
                events = s.SubscribeCallEvents(pb.SubscribeCallEventsRequest(), timeout=30)
                wait_for(lambda: sample(scrape(d), "voipd_active_subscribers") == 1,
                         "the subscriber to show")
                events.cancel()
            text = scrape(d)
            self.assertEqual(sample(text, "voipd_calls_started_total", system="sandbox"), 2, text)
            self.assertEqual(sample(text, "voipd_calls_ended_total", system="sandbox",
                                    status="busy"), 1, text)
            self.assertEqual(sample(text, "voipd_calls_ended_total", system="sandbox",
                                    status="disconnected"), 1, text)
            self.assertEqual(sample(text, "voipd_active_calls", system="sandbox"), 0, text)
            self.assertEqual(sample(text, "voipd_rpc_duration_seconds_count",
                                    method="StartCall"), 2, text)
            self.assertEqual(sample(text, "voipd_rpcs_total", method="EndCall", code="OK"), 1, text)
            self.assertEqual(sample(text, "voipd_system_up", system="sandbox", type="sandbox"), 1)
            self.assertEqual(sample(text, "voipd_ready"), 1, text)
            self.assertIn("# TYPE voipd_rpc_duration_seconds histogram", text)

    def test_provider_request_latency_histogram(self):
        with voipd_harness.Voipd(config_text=base_config() + METRICS) as d:
            channel, s = stub(d.addr)
            with channel:
                call = start_call(s, None, ANSWERS)
                wait_for(lambda: s.GetCallStatus(pb.GetCallStatusRequest(
                    session_id=call.session_id), timeout=RPC_TIMEOUT).status ==
                    cpb.CALL_STATUS_CONNECTED, "the call to connect")
                s.Hold(pb.HoldRequest(session_id=call.session_id, hold=True), timeout=RPC_TIMEOUT)
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), timeout=RPC_TIMEOUT)
                with self.assertRaises(grpc.RpcError):
                    start_call(s, None, NETWORK_ERROR)
            text = scrape(d)
            self.assertIn("# TYPE voipd_provider_request_seconds histogram", text)
            count = lambda op, outcome: sample(text, "voipd_provider_request_seconds_count",
                                               system="sandbox", operation=op, outcome=outcome)
            self.assertEqual(count("StartCall", "ok"), 1, text)
            self.assertEqual(count("Hold", "ok"), 1, text)
            self.assertEqual(count("EndCall", "ok"), 1, text)
            self.assertEqual(count("StartCall", "error"), 1, text)
            self.assertIsNone(count("Mute", "ok"), text)
            self.assertEqual(sample(text, "voipd_provider_request_seconds_bucket", system="sandbox",
                                    operation="StartCall", outcome="ok", le="+Inf"), 1, text)
            self.assertGreaterEqual(sample(text, "voipd_provider_request_seconds_sum",
                                           system="sandbox", operation="StartCall",
                                           outcome="ok"), 0, text)


class ThreadNamesTest(unittest.TestCase):
    """Each of voipd's own threads carries its job in its name, so that
    `top -H`, `ps -L`, perf and gdb show which one is busy or stuck
    (gRPC's threads keep the names gRPC gives them)."""

    def test_threads_are_named_after_their_job(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (("sid", TWILIO_SID), ("token", "t0ken")):
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text + "\n")
            state = os.path.join(tmp, "state")
            os.mkdir(state)
            config = METRICS + base_config().replace("systems:\n", (
                "systems:\n"
                "  pbx: { type: sip, server: \"127.0.0.1:9\", local_address: 127.0.0.1,"
                " local_port: 0, media: none }\n"
                "  cloud: { type: twilio, account_sid_file: %s, auth_token_file: %s,"
                " base_url: \"http://127.0.0.1:9\", default_from: \"+15005550006\" }\n"
                % (os.path.join(tmp, "sid"), os.path.join(tmp, "token"))), 1)
            with voipd_harness.Voipd(config_text=config, extra_args=["--state-dir", state]) as d:
                task = "/proc/%d/task" % d.proc.pid
                names = set()
                for tid in os.listdir(task):
                    with open(os.path.join(task, tid, "comm")) as f:
                        names.add(f.read().strip())
        for job in ("voipd-io", "voipd-fanout", "voipd-log", "voipd-metrics", "voipd-history",
                    "sip-re", "twilio-http"):
            self.assertIn(job, names)


class HealthTest(unittest.TestCase):
    def test_health_flips_to_not_serving_on_shutdown(self):
        with voipd_harness.Voipd(config_text=base_config()) as d:
            channel = grpc.insecure_channel(d.addr)
            health = health_pb2_grpc.HealthStub(channel)
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT)
                             .status, health_pb2.HealthCheckResponse.SERVING)
            watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=30)
            self.assertEqual(next(watch).status, health_pb2.HealthCheckResponse.SERVING)
            d.signal(signal.SIGTERM)
            statuses = []
            try:
                for update in watch:
                    statuses.append(update.status)
                    if update.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                        break
            except grpc.RpcError:
                pass  # the server went away after reporting
            self.assertIn(health_pb2.HealthCheckResponse.NOT_SERVING, statuses)
            self.assertEqual(d.wait(), 0)
            channel.close()

    def test_watchers_hear_only_changes(self):
        """The daemon and voipd.history are separate entries: with the default
        system down and history healthy, a Watch of either sees its one status
        and nothing more while the daemon re-checks health every second."""
        cfg = ("listen: [\"127.0.0.1:0\"]\ndefault_region: US\ndefault_system: sandbox\n"
               "systems:\n  sandbox: { type: sandbox, simulate_unhealthy: true }\n")
        with tempfile.TemporaryDirectory() as state:
            with voipd_harness.Voipd(config_text=cfg, extra_args=["--state-dir", state]) as d:
                channel = grpc.insecure_channel(d.addr)
                health = health_pb2_grpc.HealthStub(channel)
                heard = {}
                for service in ("", "voipd.history"):
                    watch = health.Watch(health_pb2.HealthCheckRequest(service=service),
                                         timeout=3.5)
                    heard[service] = []
                    try:
                        for update in watch:
                            heard[service].append(update.status)
                    except grpc.RpcError as e:
                        self.assertEqual(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
                channel.close()
        self.assertEqual(heard[""], [health_pb2.HealthCheckResponse.NOT_SERVING])
        self.assertEqual(heard["voipd.history"], [health_pb2.HealthCheckResponse.SERVING])

    def health(self, d):
        channel = grpc.insecure_channel(d.addr)
        with channel:
            return health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT).status

    def test_health_follows_the_default_system(self):
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        cfg = lambda unhealthy: (
            "listen: [\"127.0.0.1:0\"]\ndefault_region: US\ndefault_system: sandbox\n"
            "systems:\n  sandbox: { type: sandbox, time_scale: 20, simulate_unhealthy: %s }\n"
            "  spare: { type: sandbox, simulate_unhealthy: %s }\n" %
            ("true" if unhealthy else "false", "false" if unhealthy else "true") + METRICS)
        with voipd_harness.Voipd(config_text=cfg(True)) as d:
            # Unhealthy default system (a healthy other one does not count).
            self.assertEqual(self.health(d), not_serving)
            self.assertEqual(sample(scrape(d), "voipd_ready"), 0)
            # It recovers (a reload stands in for the provider coming back);
            # now only a non-default system is down.
            d.rewrite_config(cfg(False))
            d.signal(signal.SIGHUP)
            wait_for(lambda: self.health(d) == serving, "SERVING once the default system is up")
            self.assertEqual(sample(scrape(d), "voipd_ready"), 1)
            # And back down.
            d.rewrite_config(cfg(True))
            d.signal(signal.SIGHUP)
            wait_for(lambda: self.health(d) == not_serving, "NOT_SERVING again")

    def test_health_is_not_serving_while_the_pbx_is_unreachable(self):
        # An asterisk-ami default system pointing at a closed loopback port.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again when the block ends
        pki = Pki()  # only for a throwaway directory for the secret file
        try:
            secret = pki.path("ami.secret")
            with open(secret, "w") as f:
                f.write("not-used")
            cfg = ("listen: [\"127.0.0.1:0\"]\ndefault_region: US\ndefault_system: pbx\n"
                   "systems:\n  pbx:\n    type: asterisk-ami\n    host: 127.0.0.1\n"
                   "    port: %d\n    username: voipd\n    secret_file: %s\n"
                   "    click_to_call: { agent_channel: \"Local/{from}@test\", context: agent }\n"
                   "    reconnect_min_seconds: 0.2\n    reconnect_max_seconds: 0.5\n"
                   "    connect_timeout_seconds: 1\n" % (port, secret))
            with voipd_harness.Voipd(config_text=cfg) as d:
                wait_for(lambda: self.health(d) == health_pb2.HealthCheckResponse.NOT_SERVING,
                         "NOT_SERVING with the PBX down")
                channel, s = stub(d.addr)
                with channel:
                    caps = s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)
                self.assertNotEqual(caps.systems[0].health.state, pb.HEALTH_STATE_HEALTHY)
        finally:
            pki.cleanup()


class JournalTest(unittest.TestCase):
    def test_journal_entries_carry_session_id_system_and_priority(self):
        # The real sd_journal_send path, against a stand-in journald socket
        # in a private mount namespace (needs root for unshare -m).
        # Never skipped: a machine that cannot run it fails it (CI runs as root).
        self.assertEqual(os.geteuid(), 0, "needs root for unshare -m (a private /run/systemd/journal)")
        self.assertTrue(shutil.which("unshare"), "needs unshare(1) (util-linux)")
        with tempfile.TemporaryDirectory(prefix="voipd-journal-") as tmp:
            cfg = os.path.join(tmp, "voipd.yaml")
            with open(cfg, "w") as f:
                f.write(base_config() + "log_format: journal\n")
            here = os.path.dirname(os.path.abspath(__file__))
            out = subprocess.run(
                ["unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                 os.path.join(here, "journal_capture.py"), cfg],
                cwd=here, capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            result = json.loads(out.stdout.strip().splitlines()[-1])
        entries, session = result["entries"], result["session_id"]
        self.assertEqual(result["stderr"], "", "records went to stderr, not the journal")
        self.assertTrue(any(e.get("MESSAGE", "").startswith("daemon: listening on")
                            for e in entries), entries)
        calls = [e for e in entries if e.get("VOIPD_COMPONENT") == "calls"]
        self.assertTrue(calls, entries)
        for e in calls:
            self.assertEqual(e.get("SESSION_ID"), session, e)
            self.assertEqual(e.get("SYSTEM"), "sandbox", e)
            self.assertEqual(e.get("PRIORITY"), "6", e)
            self.assertEqual(e.get("SYSLOG_IDENTIFIER"), "voipd", e)
            self.assertNotIn("CODE_FILE", e)


class SecretsTest(unittest.TestCase):
    def test_no_secret_in_any_log_line_or_metric(self):
        pki = Pki()
        try:
            tokens = {"ops": new_token(), "acme": new_token(), "reader": new_token()}
            token_file = os.path.join(pki.dir, "tokens.yaml")
            with open(token_file, "w") as f:
                f.write("tokens:\n" + token_yaml("reader", tokens["reader"], ["calls:read"])
                        .replace("    - ", "  - "))
            config = (base_config() + METRICS + "log_level: debug\nlog_format: json\n" +
                      "auth:\n  token_file: %s\n  tokens:\n" % token_file +
                      token_yaml("ops", tokens["ops"], ["admin"]) +
                      token_yaml("acme", tokens["acme"], ["calls:write"], {"tenant": "acme"},
                                 "start_calls_per_minute: 60, start_call_burst: 1") +
                      "tls:\n  cert_file: %s\n  key_file: %s\n" % (pki.path("server.crt"),
                                                                  pki.path("server.key")))
            d = voipd_harness.Voipd(config_text=config).start()
            creds = grpc.ssl_channel_credentials(root_certificates=pki.read("ca.crt"))
            channel, s = stub(d.addr, creds)
            with channel:
                call = start_call(s, tokens["acme"])
                for bad in (tokens["ops"] + "x", tokens["reader"], "", tokens["acme"]):
                    try:
                        start_call(s, bad)
                    except grpc.RpcError:
                        pass
                s.EndCall(pb.EndCallRequest(session_id=call.session_id),
                          metadata=auth(tokens["ops"]), timeout=RPC_TIMEOUT)
                wait_terminal(s, tokens["ops"], call.session_id)
                d.signal(signal.SIGHUP)  # reload re-reads the token file
                s.ListCalls(pb.ListCallsRequest(), metadata=auth(tokens["reader"]),
                            timeout=RPC_TIMEOUT)
            metrics = scrape(d)
            self.assertEqual(d.stop(), 0)
            log = d.log()
            d.__exit__(None, None, None)

            self.assertIn("denied", log)  # the run did produce audit lines
            key_body = [l for l in pki.read("server.key").decode().splitlines()
                        if l and not l.startswith("-----")]
            secrets = list(tokens.values()) + [sha256_hex(t) for t in tokens.values()] + key_body
            for text, what in ((log, "log"), (metrics, "metrics")):
                for secret in secrets:
                    self.assertNotIn(secret, text, "a secret leaked into the %s" % what)
            # Every line is one JSON object with the basic fields.
            for line in log.splitlines():
                if not line.startswith("{"):
                    continue  # gRPC's own stderr lines (e.g. handshake errors)
                record = json.loads(line)
                self.assertTrue({"time", "level", "component", "msg"} <= record.keys(), line)
            audit = [json.loads(l) for l in log.splitlines()
                     if l.startswith("{") and '"component":"audit"' in l]
            self.assertTrue(any(a.get("session_id") == call.session_id and a.get("rpc") == "EndCall"
                                and a.get("token") == "ops" and a.get("system") == "sandbox"
                                for a in audit), audit)
            # Every line about a call names its session and system as keys.
            calls = [json.loads(l) for l in log.splitlines()
                     if l.startswith("{") and '"component":"calls"' in l]
            self.assertTrue(any(c.get("session_id") == call.session_id for c in calls), calls)
            for record in calls:
                self.assertTrue(record.get("session_id"), record)
                self.assertEqual(record.get("system"), "sandbox", record)
        finally:
            pki.cleanup()


if __name__ == "__main__":
    unittest.main()
