"""A randomized soak on the sandbox (tests/integration/harness/soak.py): eight
clients start (and ring in) calls, end, hold, mute and query them while subscribers drop and
resume the event stream and WatchCall streams come and go, with a SIGHUP
reload every second and the history in SQLite. Then every documented
invariant is checked on what the clients saw. It asserts no timing.

Run (the env is set by ctest):
  VOIPD_BIN=build/daemon/voipd VOIPD_PROTO_DIR=proto \
    /usr/bin/python3 -m unittest discover -s tests/integration/python -p soak_sandbox.py -v
"""
import hashlib
import os
import secrets
import signal
import sys
import threading
import unittest

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))

import voipd_harness  # noqa: E402
import voipd_protos  # noqa: E402
from soak import Soak  # noqa: E402

P = voipd_protos.load()

# The sandbox's far end 200x faster than life: a call rings after 1.5 ms and
# answers 5 ms later, so every state is reached often while the clients act.
CONFIG = """\
listen: ["127.0.0.1:0"]
default_region: US
default_system: sandbox
state_dir: {state_dir}
log_level: {log_level}
systems:
  sandbox: {{ type: sandbox, time_scale: 200 }}
events: {{ window: 200000, subscriber_max_lag: 200000 }}
"""

# Mostly calls that answer; then each of the sandbox's outcomes, an extension
# the sandbox refuses, and a number that does not parse.
NUMBERS = ["+12015550100"] * 5 + ["+12015550101", "+12015550102", "+12015550103",
                                  "+12015550104", "+12015550105", "12345", "not a number"]

# Callers the sandbox rings in from (SimulateInboundCall): answered then hung
# up by the caller, never answered, and the caller giving up while ringing.
INBOUND_FROM = ["+12015550111", "+12015550102", "+12015550104"]


class SoakTest(unittest.TestCase):

    def test_invariants_hold_under_concurrent_clients_and_reloads(self):
        daemon = voipd_harness.Voipd(config_text="")
        state_dir = os.path.join(daemon.tmp.name, "state")
        levels = ["info", "debug"]
        daemon.rewrite_config(CONFIG.format(state_dir=state_dir, log_level=levels[0]))
        with daemon:
            channel = grpc.insecure_channel(daemon.addr)
            self.addCleanup(channel.close)
            stub = P.voip_service_pb2_grpc.VoipServiceStub(channel)
            soak = Soak(P, stub, NUMBERS, workers=8,
                        start_errors={"INVALID_ARGUMENT/INVALID_NUMBER",
                                      "UNAVAILABLE/NETWORK_ERROR"},
                        inbound_from=INBOUND_FROM)

            def reload():
                levels.reverse()
                daemon.rewrite_config(CONFIG.format(state_dir=state_dir, log_level=levels[0]))
                daemon.signal(signal.SIGHUP)

            soak.run(10, tick=reload)
            problems = soak.check()
            summary = "seed %d, %d calls, %d events; answers: %s" % (
                soak.seed, len(soak.sessions), len(soak.full_events), dict(soak.answers))
            print(summary, file=sys.stderr)
            self.assertEqual([], problems[:20], summary)
            # The run did what it is for: calls in every state, every kind of answer.
            self.assertGreater(len(soak.sessions), 200, summary)
            for answer in ("Hold OK", "Mute OK", "EndCall OK", "SimulateInboundCall OK",
                           "StartCall INVALID_ARGUMENT/INVALID_NUMBER",
                           "StartCall UNAVAILABLE/NETWORK_ERROR",
                           "Hold FAILED_PRECONDITION/INVALID_STATE"):
                self.assertGreater(soak.answers[answer], 0, "no %r in %s" % (answer, summary))
            self.assertGreater(sum(len(s) for s in soak.resumed), 100, summary)
            self.assertNotIn("reload rejected", daemon.log())
            self.assertIn("reloaded", daemon.log())

    def test_tenants_stay_apart_under_concurrent_clients(self):
        """Two tenants' tokens soak the same daemon at once. Besides the
        invariants, each must see only its own calls in every stream and
        list, and the other's calls must be NOT_FOUND to it."""
        tokens = {name: secrets.token_hex(16) for name in ("acme", "globex")}
        config = CONFIG.format(state_dir="", log_level="info").replace("state_dir: \n", "")
        config += "auth:\n  tokens:\n" + "".join(
            "    - { name: %s, sha256: %s, scopes: [calls:read, calls:write],"
            " labels: { tenant: %s } }\n" % (name, hashlib.sha256(token.encode()).hexdigest(), name)
            for name, token in tokens.items())
        with voipd_harness.Voipd(config_text=config) as daemon:
            channel = grpc.insecure_channel(daemon.addr)
            self.addCleanup(channel.close)
            stub = P.voip_service_pb2_grpc.VoipServiceStub(channel)
            soaks = {name: Soak(P, stub, NUMBERS, workers=4,
                                start_errors={"INVALID_ARGUMENT/INVALID_NUMBER",
                                              "UNAVAILABLE/NETWORK_ERROR"},
                                metadata=[("authorization", "Bearer " + token)],
                                labels={"tenant": name})
                     for name, token in tokens.items()}
            soaks["acme"].foreign, soaks["globex"].foreign = soaks["globex"], soaks["acme"]
            failures = []

            def run(soak):
                try:
                    soak.run(8)
                except Exception as e:  # reported below, on the test's thread
                    failures.append(repr(e))
            threads = [threading.Thread(target=run, args=(soak,)) for soak in soaks.values()]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            self.assertEqual([], failures)
            for name, soak in soaks.items():
                problems = soak.check()
                summary = "%s: seed %d, %d calls, %d events; answers: %s" % (
                    name, soak.seed, len(soak.sessions), len(soak.full_events),
                    dict(soak.answers))
                print(summary, file=sys.stderr)
                self.assertEqual([], problems[:20], summary)
                self.assertGreater(len(soak.sessions), 100, summary)
                for probe in ("foreign GetCallStatus NOT_FOUND", "foreign EndCall NOT_FOUND"):
                    self.assertGreater(soak.answers[probe], 0, "no %r in %s" % (probe, summary))
            self.assertNotIn(tokens["acme"], daemon.log())
            self.assertNotIn(tokens["globex"], daemon.log())


if __name__ == "__main__":
    unittest.main()
