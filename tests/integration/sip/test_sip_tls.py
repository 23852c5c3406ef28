"""SIP over TLS with certificate verification. SIPp (Debian's build has no
TLS) listens on TCP behind a small TLS-terminating relay that presents a
certificate made for this test; voipd must verify it against tls_ca_file and
tls_server_name, and refuse a name the certificate does not carry."""
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

from sip_testlib import S, SipTestCase, epb, free_port, sip_system, wait_until


def make_certificate(directory, name):
    """A self-signed certificate for DNS:<name> and IP:127.0.0.1."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", key, "-out", cert, "-subj", "/CN=" + name,
         "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % name],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class TlsRelay:
    """Accepts TLS on a loopback port and pipes each connection, decrypted, to
    a TCP backend (one thread pair per connection; tests open few)."""

    def __init__(self, cert, key, backend_port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.backend_port = backend_port
        self.port = free_port()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(8)
        self.handshakes_failed = 0
        self._socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            try:
                tls = self.ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError):
                self.handshakes_failed += 1
                raw.close()
                continue
            backend = socket.create_connection(("127.0.0.1", self.backend_port))
            self._socks += [tls, backend]
            threading.Thread(target=self._pipe, args=(tls, backend), daemon=True).start()
            threading.Thread(target=self._pipe, args=(backend, tls), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()
        for s in self._socks:
            s.close()


class TlsTest(SipTestCase):

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="voipd-sip-tls-")
        self.addCleanup(tmp.cleanup)
        self.cert, self.key = make_certificate(tmp.name, "sip.voipd.test")

    def relay_and_sipp(self):
        """SIPp on TCP behind a TLS relay; SIPp's Contact names the relay."""
        port = free_port()
        relay = TlsRelay(self.cert, self.key, port)
        self.addCleanup(relay.close)
        sipp = self.sipp("answer.xml", transport="t1", port=port,
                         contact="127.0.0.1:%d;transport=tls" % relay.port)
        return relay, sipp

    def test_call_over_verified_tls(self):
        relay, sipp = self.relay_and_sipp()
        self.start_voipd({"pbx": sip_system("127.0.0.1:%d" % relay.port, transport="tls",
                                            tls_ca_file=self.cert,
                                            tls_server_name="sip.voipd.test")})
        self.call_connect_and_end()
        self.assertSippPassed(sipp)
        self.assertIn("Via: SIP/2.0/TLS", sipp.messages())

    def test_wrong_name_or_untrusted_certificate_is_refused(self):
        relay, sipp = self.relay_and_sipp()
        other_ca, _ = make_certificate(os.path.dirname(self.cert), "other.voipd.test")
        server = "127.0.0.1:%d" % relay.port
        self.start_voipd({
            "wrongname": sip_system(server, transport="tls", tls_ca_file=self.cert,
                                    tls_server_name="pbx.example.com"),
            "untrusted": sip_system(server, transport="tls", tls_ca_file=other_ca,
                                    tls_server_name="sip.voipd.test"),
        })
        for system in ("wrongname", "untrusted"):
            with self.subTest(system=system):
                call = self.start_call(system=system)
                watch = self.watch(call.session_id)
                ended = self.wait_terminal(watch, timeout=6)
                self.assertEqual(ended.session.status, S.CALL_STATUS_FAILED)
                self.assertEqual(ended.session.end_reason.error_code, epb.NETWORK_ERROR)
        wait_until(lambda: relay.handshakes_failed == 2, "voipd to abort both handshakes", 3)
        self.assertNotIn("INVITE", sipp.messages(), "nothing crossed a refused connection")


if __name__ == "__main__":
    unittest.main()
