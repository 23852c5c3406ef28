"""A throwaway PKI made with the openssl CLI at test time (never committed):
a CA, server and client certificates for voipd's TLS and mTLS tests."""
import os
import subprocess
import tempfile


class Pki:
    """A throwaway CA, server and client certificates in a temp dir."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="voipd-pki-")
        self.dir = self.tmp.name
        self.ca = self._ca("ca")
        self.other_ca = self._ca("other-ca")
        self.server = self._leaf("server", "ca", san="IP:127.0.0.1,DNS:localhost")
        self.client = self._leaf("client", "ca")
        self.untrusted_client = self._leaf("untrusted-client", "other-ca")
        self.expired_client = self._leaf("expired-client", "ca", days=-1)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def _run(self, *args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _ca(self, name):
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
                  "-subj", "/CN=" + name)
        return name

    def _leaf(self, name, ca, san=None, days=2):
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".crt", "-days", str(days)]
        if san:
            ext = self.path(name + ".ext")
            with open(ext, "w") as f:
                f.write("subjectAltName=%s\n" % san)
            args += ["-extfile", ext]
        self._run(*args)
        return name

    def cleanup(self):
        self.tmp.cleanup()
