"""`voipd --check-config` reads what each adapter will read (secret files,
the WebRTC certificate and key; the SIP prompt is read by the config loader
itself), as a start would, and
creates nothing: a missing file shows before a start or a reload, named by
system and field, and a secret's content never appears in the output.
"""
import os
import socket
import subprocess
import tempfile
import unittest

from prod_common import TWILIO_SID

BIN = os.environ["VOIPD_BIN"]
CLICK = '{ agent_channel: "Local/{from}@test", context: agent }'


class CheckConfigFilesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def check(self, system_yaml, env=None):
        config = self.write("voipd.yaml", 'listen: ["127.0.0.1:0"]\ndefault_system: s1\n'
                            "systems:\n  s1:\n" + system_yaml)
        full_env = dict(os.environ)
        full_env.pop("CREDENTIALS_DIRECTORY", None)
        full_env.update(env or {})
        res = subprocess.run([BIN, "--check-config", "--config", config], cwd=self.dir,
                             env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=30)
        return res.returncode, res.stdout

    def assert_refused(self, system_yaml, *expected, env=None):
        rc, out = self.check(system_yaml, env)
        self.assertEqual(rc, 1, out)
        self.assertIn("invalid configuration: ", out)
        self.assertIn("systems.s1", out)
        for text in expected:
            self.assertIn(text, out)
        return out

    def assert_ok(self, system_yaml, env=None):
        rc, out = self.check(system_yaml, env)
        self.assertEqual(rc, 0, out)
        self.assertIn("voipd.yaml: OK", out)

    def sip(self, extra):
        return ("    type: sip\n    server: 127.0.0.1\n    username: voipd\n" + extra)

    def test_sip_password_file(self):
        missing = self.path("sip-password")
        self.assert_refused(self.sip("    password_file: %s\n" % missing),
                            "password_file: ", missing, "No such file or directory")
        self.write("sip-password", "s3cret-sip-value\n")
        self.assert_ok(self.sip("    password_file: %s\n" % missing))

    def test_a_relative_name_is_a_systemd_credential(self):
        creds = os.path.join(self.dir, "creds")
        os.mkdir(creds)
        with open(os.path.join(creds, "sip-password"), "w") as f:
            f.write("s3cret-sip-value\n")
        system = self.sip("    password_file: sip-password\n")
        self.assert_ok(system, env={"CREDENTIALS_DIRECTORY": creds})
        # Outside the unit the name resolves against the working directory,
        # exactly as a start would: not there, so refused.
        self.assert_refused(system, "password_file: ", "sip-password")

    def test_sip_prompt_wav(self):
        # Read (and parsed) when the config loads, before CheckFiles runs.
        system = self.sip("    prompt_wav: %s\n" % self.path("prompt.wav"))
        self.assert_refused(system, "prompt_wav: ", "prompt.wav")
        self.write("prompt.wav", "not a wave file")
        self.assert_refused(system, "prompt_wav: ")

    def test_webrtc_certificate_and_key(self):
        os.mkdir(self.path("web"))
        system = ("    type: webrtc\n    listen: \"127.0.0.1:%d\"\n    web_root: " +
                  self.path("web") + "\n    tls_cert_file: %s\n    tls_key_file: %s\n")
        port = self.busy_port()
        cert, key = self.path("web.crt"), self.path("web.key")
        self.assert_refused(system % (port, cert, key), "tls_cert_file: ", cert)
        self.write("web.crt", "certificate")
        self.assert_refused(system % (port, cert, key), "tls_key_file: ", key)
        self.write("web.key", "key")
        # The listen port is taken by this test: --check-config binds nothing.
        self.assert_ok(system % (port, cert, key))

    def test_asterisk_ami_secret_file(self):
        secret = self.path("ami-secret")
        system = ("    type: asterisk-ami\n    host: 127.0.0.1\n    port: 5038\n"
                  "    username: voipd\n    secret_file: %s\n    click_to_call: %s\n"
                  % (secret, CLICK))
        self.assert_refused(system, "secret_file: ", secret)
        self.write("ami-secret", "")
        self.assert_refused(system, "secret_file: ", "is empty")
        self.write("ami-secret", "s3cret-ami-value\n")
        self.assert_ok(system)

    def test_twilio_credentials(self):
        sid, token = self.path("twilio-sid"), self.path("twilio-token")
        system = ("    type: twilio\n    account_sid_file: %s\n    auth_token_file: %s\n"
                  "    base_url: http://127.0.0.1:9\n    default_from: \"+15005550006\"\n"
                  % (sid, token))
        self.assert_refused(system, "account_sid_file: ", sid)
        # The file's content is checked for the SID's shape, never shown.
        self.write("twilio-sid", "s3cret-not-a-sid\n")
        self.write("twilio-token", "s3cret-token-value\n")
        out = self.assert_refused(system, "account_sid_file: ", "Account SID")
        self.assertNotIn("s3cret", out)
        self.write("twilio-sid", TWILIO_SID + "\n")
        os.remove(token)
        self.assert_refused(system, "auth_token_file: ", token)
        self.write("twilio-token", "s3cret-token-value\n")
        self.assert_ok(system)

    def test_sandbox_reads_no_file(self):
        self.assert_ok("    type: sandbox\n")

    def busy_port(self):
        self.sock = socket.socket()
        self.addCleanup(self.sock.close)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        return self.sock.getsockname()[1]


if __name__ == "__main__":
    unittest.main()
