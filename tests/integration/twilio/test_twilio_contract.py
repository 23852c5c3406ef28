"""Contract test: every REST request the twilio adapter makes is validated by
Stoplight Prism serving Twilio's own OpenAPI description of API v2010.

Prism (pinned in package.json, installed by `scripts/setup.sh --test`, i.e.
`npm ci` here) answers an invalid request with 422 and logs the violation;
the adapter turns a 422 into PROVIDER_ERROR, so the RPC that caused it
fails, and tearDown also fails the test on any request violation in
Prism's log.

The spec is served from a temporary copy with two changes, both on the
response/encoding side, never relaxing a request rule:
  1. form-array fields (StatusCallbackEvent, ...) get
     `encoding: {style: form, explode: true}`, so that Prism accepts the
     repeated keys Twilio itself expects (stoplightio/prism#2473);
  2. ListConference's first example is one with conferences (the static
     default, `readEmpty`, would model "no conference yet").
"""
import gzip
import hashlib
import http.client
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

import grpc

import scripted_twilio
from twilio_support import (HERE, P, PUBLIC_URL, REPO, RPC_TIMEOUT, TO, Credentials, Watch,
                            check_binary, cpb, free_port, pb, voipd_harness)

S = cpb
SPEC_SHA256 = "99cae87a6bb1725f71363364cbd30282a13140374b2d5f9bdd5bdfa5d4c8a6d7"
SPEC_GZ = os.path.join(REPO, "tests", "fixtures", "twilio", "twilio_api_v2010.json.gz")
PRISM = os.path.join(HERE, "node_modules", ".bin", "prism")
PRISM_SID = "CA" + "a" * 32  # every Call example in the spec has this sid
ACCOUNT_PATH = "/2010-04-01/Accounts/" + scripted_twilio.ACCOUNT_SID
# Request kinds, as Prism.received() names them.
CALLS = "Calls.json"
CALL = "Calls/{Sid}.json"
CONFERENCES = "Conferences.json"
PARTICIPANT = "Conferences/{ConferenceSid}/Participants/{CallSid}.json"
NEW_PARTICIPANT = "Conferences/{ConferenceSid}/Participants.json"


def load_spec():
    override = os.environ.get("VOIPD_TWILIO_SPEC")
    if override:
        with open(override, "rb") as f:
            raw = f.read()
    else:
        with gzip.open(SPEC_GZ, "rb") as f:
            raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SPEC_SHA256:
        raise RuntimeError("twilio spec sha256 %s, expected %s" % (digest, SPEC_SHA256))
    return json.loads(raw)


def patched_spec(spec):
    """The two changes described in the module docstring."""
    for path in spec["paths"].values():
        for op in path.values():
            if not isinstance(op, dict):
                continue
            form = op.get("requestBody", {}).get("content", {}).get(
                "application/x-www-form-urlencoded")
            if not form:
                continue
            arrays = [name for name, prop in form["schema"].get("properties", {}).items()
                      if prop.get("type") == "array"]
            if arrays:
                form["encoding"] = {name: {"style": "form", "explode": True} for name in arrays}
    conferences = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Conferences.json"]["get"]
    examples = conferences["responses"]["200"]["content"]["application/json"]["examples"]
    examples["readEmpty"] = examples.pop("readEmpty")  # moves it last
    return spec


class Prism:
    def __init__(self):
        if not os.access(PRISM, os.X_OK):
            raise RuntimeError("Prism is not installed: run `scripts/setup.sh --test` (or `npm ci` "
                               "in tests/integration/twilio)")
        self.tmp = tempfile.TemporaryDirectory(prefix="voipd-prism-")
        self.spec_path = os.path.join(self.tmp.name, "twilio_api_v2010.json")
        with open(self.spec_path, "w") as f:
            json.dump(patched_spec(load_spec()), f)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.tmp.name, "prism.log")
        self._log = open(self.log_path, "wb")
        # The prism binary itself, never npx: killing npx leaves the server.
        self.proc = subprocess.Popen(
            [PRISM, "mock", "-h", "127.0.0.1", "-p", str(self.port), "-v", "info",
             self.spec_path], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prism exited:\n" + self.log())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("prism not ready:\n" + self.log())
                time.sleep(0.2)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def received(self, start=0):
        """["post Calls.json", "get Calls/{Sid}.json", ...]: the requests
        logged after offset `start`, paths reduced to their template."""
        out = []
        for line in self.log()[start:].splitlines():
            m = re.search(r"\[HTTP SERVER\] (\w+) (\S+) .*Request received", line)
            if not m or not m.group(2).startswith(ACCOUNT_PATH + "/"):
                continue
            path = m.group(2)[len(ACCOUNT_PATH) + 1:].split("?")[0]
            path = re.sub(r"^Calls/CA[0-9a-fA-F]{32}\.json$", CALL, path)
            path = re.sub(r"^Conferences/[^/]+/Participants/[^/]+\.json$", PARTICIPANT, path)
            path = re.sub(r"^Conferences/[^/]+/Participants\.json$", NEW_PARTICIPANT, path)
            out.append("%s %s" % (m.group(1), path))
        return out

    def violations(self, start=0):
        """Lines of request violations logged after offset `start`."""
        text = self.log()[start:]
        lines = text.splitlines()
        bad = []
        for i, line in enumerate(lines):
            if "Request did not pass the validation rules" in line or "UNPROCESSABLE" in line:
                bad.append("\n".join(lines[max(0, i - 1):i + 3]))
        return bad

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self.tmp.cleanup()


def config(creds, prism_url, plain_port, agent_port):
    system = ("    type: twilio\n"
              "    account_sid_file: %s\n"
              "    auth_token_file: %s\n"
              "    base_url: %s\n"
              "    default_from: \"+15005550006\"\n"
              "    hold_url: \"https://music.example.test/hold.xml\"\n"
              % (creds.account_sid_file, creds.auth_token_file, prism_url))
    return ("listen: [\"127.0.0.1:0\"]\n"
            "default_region: US\n"
            "default_system: tw_plain\n"
            "shutdown: { grace: \"1s\" }\n"
            "systems:\n"
            "  tw_plain:\n" + system +
            "    webhook: { listen: \"127.0.0.1:%d\", public_url: \"%s\" }\n"
            "    callback_timeout: 1h\n" % (plain_port, PUBLIC_URL) +
            "  tw_agent:\n" + system +
            "    webhook: { listen: \"127.0.0.1:%d\", public_url: \"%s\" }\n"
            "    callback_timeout: 1h\n"
            "    agent_endpoint: \"client:agent42\"\n" % (agent_port, PUBLIC_URL) +
            "  tw_poll:\n" + system +
            "    poll_interval: 200ms\n")


class PrismContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        check_binary()
        cls.prism = Prism()
        cls.creds = Credentials()
        cls.ports = {"tw_plain": free_port(), "tw_agent": free_port()}
        cls.voipd = voipd_harness.Voipd(config_text=config(
            cls.creds, cls.prism.url, cls.ports["tw_plain"], cls.ports["tw_agent"]))
        try:
            cls.voipd.start()
        except Exception:
            cls.prism.stop()
            cls.creds.dir.cleanup()
            raise
        cls.channel = grpc.insecure_channel(cls.voipd.addr)
        cls.stub = P.voip_service_pb2_grpc.VoipServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.voipd.__exit__(None, None, None)
        cls.prism.stop()
        cls.creds.dir.cleanup()

    def setUp(self):
        self.log_start = len(self.prism.log())

    def tearDown(self):
        bad = self.prism.violations(self.log_start)
        self.assertEqual(bad, [], "Prism saw invalid requests:\n" + "\n---\n".join(bad))

    def assert_received(self, expected):
        """Every expected "method path-kind" reached Prism, in this order
        (others may be interleaved); returns what was received."""
        received = self.prism.received(self.log_start)
        it = iter(received)
        for want in expected:
            self.assertTrue(any(got == want for got in it),
                            "Prism did not receive %s in order; it got %s" % (want, received))
        return received

    def rpc(self, method, request):
        try:
            return getattr(self.stub, method)(request, timeout=RPC_TIMEOUT)
        except grpc.RpcError as e:
            err = P.voip_error(e)
            self.fail("%s failed: %s %s\n(provider said: %s)\nvoipd log:\n%s" % (
                method, e.code(), e.details(), err.provider_cause.text if err else "",
                self.voipd.log()[-3000:]))

    def start(self, system):
        session = self.rpc("StartCall", pb.StartCallRequest(
            to=cpb.ContactPhoneNumber(number=TO), preferred_system=system))
        self.assertEqual(session.provider_call_id, PRISM_SID)
        watch = Watch(self.stub, session.session_id)
        self.addCleanup(watch.cancel)
        return session, watch

    def callback(self, system, session, status, seq):
        """What Twilio would post (Prism sends no callbacks itself)."""
        fake = scripted_twilio.ScriptedTwilio(public_url=PUBLIC_URL,
                                              webhook_addr="127.0.0.1:%d" % self.ports[system])
        url = "%s/status?session=%s" % (PUBLIC_URL, session.session_id)
        code, body = fake.post_webhook(url, [("AccountSid", "AC" + "0123456789abcdef" * 2),
                                             ("CallSid", PRISM_SID), ("CallStatus", status),
                                             ("SequenceNumber", str(seq))])
        fake.server.server_close()
        self.assertEqual(code, 204, body)

    def test_create_hold_mute_hangup(self):
        """CreateCall, ListConference, UpdateParticipant (Hold, Muted), UpdateCall."""
        session, watch = self.start("tw_plain")
        self.callback("tw_plain", session, "ringing", 1)
        self.callback("tw_plain", session, "in-progress", 2)
        watch.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertEqual(self.rpc("Hold", pb.HoldRequest(session_id=session.session_id,
                                                         hold=True)).status,
                         S.CALL_STATUS_ON_HOLD)
        self.assertEqual(self.rpc("Hold", pb.HoldRequest(session_id=session.session_id,
                                                         hold=False)).status,
                         S.CALL_STATUS_CONNECTED)
        self.assertTrue(self.rpc("Mute", pb.MuteRequest(session_id=session.session_id,
                                                        mute=True)).muted)
        self.assertFalse(self.rpc("Mute", pb.MuteRequest(session_id=session.session_id,
                                                         mute=False)).muted)
        ended = self.rpc("EndCall", pb.EndCallRequest(session_id=session.session_id))
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assert_received(["post " + CALLS, "get " + CONFERENCES, "post " + PARTICIPANT,
                              "post " + PARTICIPANT, "post " + PARTICIPANT, "post " + PARTICIPANT,
                              "post " + CALL])

    def test_cancel_before_answer(self):
        """UpdateCall with Status=canceled."""
        session, watch = self.start("tw_plain")
        self.callback("tw_plain", session, "ringing", 1)
        watch.wait_status(S.CALL_STATUS_RINGING)
        ended = self.rpc("EndCall", pb.EndCallRequest(session_id=session.session_id))
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assert_received(["post " + CALLS, "post " + CALL])

    def test_agent_participant(self):
        """CreateParticipant (repeated StatusCallbackEvent keys), then hold
        through the conference SID Twilio returned."""
        session, watch = self.start("tw_agent")
        self.callback("tw_agent", session, "in-progress", 2)
        watch.wait_status(S.CALL_STATUS_CONNECTED)
        time.sleep(0.5)  # the participant create runs after the answer
        self.assertEqual(self.rpc("Hold", pb.HoldRequest(session_id=session.session_id,
                                                         hold=True)).status,
                         S.CALL_STATUS_ON_HOLD)
        self.rpc("EndCall", pb.EndCallRequest(session_id=session.session_id))
        received = self.assert_received(["post " + CALLS, "post " + NEW_PARTICIPANT,
                                         "post " + PARTICIPANT, "post " + CALL])
        self.assertNotIn("get " + CONFERENCES, received)

    def test_polling_fetch(self):
        """FetchCall: Prism's example call is `completed`, so the first poll ends it."""
        session, watch = self.start("tw_poll")
        end = watch.wait_terminal()
        self.assertEqual(end.session.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(end.session.end_reason.provider_cause.provider_status, "completed")
        self.assert_received(["post " + CALLS, "get " + CALL])


if __name__ == "__main__":
    unittest.main()
