"""Prometheus metrics after real calls, grpc.health.v1 flipping during
shutdown, JSON logs, and a grep of every log line and metrics scrape of a
run for the configured secrets."""
import json
import os
import re
import signal
import threading
import unittest
import urllib.request

import grpc

from prod_common import (ANSWERS, BUSY, RPC_TIMEOUT, Pki, auth, base_config, health_pb2,
                         health_pb2_grpc, new_token, pb, sha256_hex, start_call, stub,
                         token_yaml, voipd_harness, wait_for, wait_terminal)

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
                                and a.get("token") == "ops" for a in audit), audit)
        finally:
            pki.cleanup()


if __name__ == "__main__":
    unittest.main()
