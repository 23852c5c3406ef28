"""Bearer tokens and scopes, tenant isolation, per-token limits, the
refusal of unauthenticated public listeners, TLS/mTLS and unix-socket
permissions, against the real voipd binary.

Tokens are generated per run and only their SHA-256 goes into the config;
certificates come from a throwaway CA made with the openssl CLI."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import unittest
import urllib.request

import grpc

from prod_common import (RPC_TIMEOUT, TERMINAL, WAIT, Pki, auth, base_config, cpb, epb, new_token,
                         pb, start_call, stub, token_yaml, voip_error, voipd_harness, wait_for,
                         wait_terminal)


def scrape(daemon):
    """The daemon's Prometheus text (metrics.listen; its address is in the ready file)."""
    with urllib.request.urlopen("http://%s/metrics" % daemon.ready["metrics"], timeout=10) as r:
        return r.read().decode()


def counter(text, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`; 0 when
    there is none yet (a counter that never counted)."""
    want = {'%s="%s"' % kv for kv in labels.items()}
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and want <= set((m.group(2) or "").split(",")):
            total += float(m.group(3))
    return total


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reader, cls.writer, cls.admin = new_token(), new_token(), new_token()
        cls.acme, cls.globex = new_token(), new_token()
        config = base_config() + "auth:\n  tokens:\n" + "".join([
            token_yaml("reader", cls.reader, ["calls:read"]),
            token_yaml("writer", cls.writer, ["calls:write"]),
            token_yaml("ops", cls.admin, ["admin"]),
            token_yaml("acme", cls.acme, ["calls:read", "calls:write"], {"tenant": "acme"}),
            token_yaml("globex", cls.globex, ["calls:read", "calls:write"], {"tenant": "globex"}),
        ])
        cls.daemon = voipd_harness.Voipd(config_text=config).start()
        cls.channel, cls.stub = stub(cls.daemon.addr)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.daemon.__exit__(None, None, None)

    def assertCode(self, fn, code):
        with self.assertRaises(grpc.RpcError) as ctx:
            fn()
        self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
        return ctx.exception

    def test_audit_lines_name_the_clients_address(self):
        # voipd accepts plaintext connections itself and hands gRPC the
        # descriptor, which gRPC calls "fd:N": the audit line must still say
        # who connected.
        self.assertCode(lambda: self.stub.ListCalls(pb.ListCallsRequest(), timeout=RPC_TIMEOUT),
                        grpc.StatusCode.UNAUTHENTICATED)
        denied = wait_for(lambda: [l for l in self.daemon.log().splitlines()
                                   if "audit: denied" in l and "rpc=ListCalls" in l], "the audit line")
        self.assertRegex(denied[-1], r"peer=ipv4:127\.0\.0\.1:\d+")
        self.assertNotIn("peer=fd:", self.daemon.log())

    def test_a_denied_request_about_a_call_names_its_session_and_system(self):
        call = start_call(self.stub, self.writer)
        self.assertCode(lambda: self.stub.EndCall(pb.EndCallRequest(session_id=call.session_id),
                                                  metadata=auth(self.reader), timeout=RPC_TIMEOUT),
                        grpc.StatusCode.PERMISSION_DENIED)
        denied = wait_for(lambda: [l for l in self.daemon.log().splitlines()
                                   if "audit: denied" in l and call.session_id in l],
                          "the audit line")
        self.assertIn("system=sandbox", denied[-1])
        self.stub.EndCall(pb.EndCallRequest(session_id=call.session_id),
                          metadata=auth(self.writer), timeout=RPC_TIMEOUT)

    def test_missing_and_wrong_tokens_are_unauthenticated(self):
        list_calls = lambda md: self.stub.ListCalls(pb.ListCallsRequest(), metadata=md,
                                                    timeout=RPC_TIMEOUT)
        e = self.assertCode(lambda: list_calls(None), grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(voip_error(e).error_code, epb.AUTHENTICATION_FAILED)
        self.assertIsNotNone(voip_error(e))
        self.assertCode(lambda: list_calls(auth("not-a-token")), grpc.StatusCode.UNAUTHENTICATED)
        self.assertCode(lambda: list_calls((("authorization", "Basic " + self.admin),)),
                        grpc.StatusCode.UNAUTHENTICATED)
        self.assertCode(lambda: self.stub.GetCapabilities(pb.GetCapabilitiesRequest(),
                                                          timeout=RPC_TIMEOUT),
                        grpc.StatusCode.UNAUTHENTICATED)
        stream = self.stub.SubscribeCallEvents(pb.SubscribeCallEventsRequest(), timeout=RPC_TIMEOUT)
        self.assertCode(lambda: next(stream), grpc.StatusCode.UNAUTHENTICATED)
        log = self.daemon.log()
        self.assertIn("denied", log)
        self.assertIn("rpc=ListCalls", log)

    def test_scopes(self):
        e = self.assertCode(lambda: start_call(self.stub, self.reader),
                            grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(voip_error(e).details["required_scope"], "calls:write")
        self.assertEqual(voip_error(e).error_code, epb.PERMISSION_DENIED_SCOPE)
        call = start_call(self.stub, self.writer)
        self.assertCode(lambda: self.stub.GetCallStatus(
            pb.GetCallStatusRequest(session_id=call.session_id), metadata=auth(self.writer),
            timeout=RPC_TIMEOUT), grpc.StatusCode.PERMISSION_DENIED)
        got = self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=call.session_id),
                                      metadata=auth(self.reader), timeout=RPC_TIMEOUT)
        self.assertEqual(got.session_id, call.session_id)
        self.assertCode(lambda: self.stub.EndCall(pb.EndCallRequest(session_id=call.session_id),
                                                  metadata=auth(self.reader), timeout=RPC_TIMEOUT),
                        grpc.StatusCode.PERMISSION_DENIED)
        self.stub.EndCall(pb.EndCallRequest(session_id=call.session_id), metadata=auth(self.admin),
                          timeout=RPC_TIMEOUT)
        self.stub.GetCapabilities(pb.GetCapabilitiesRequest(), metadata=auth(self.admin),
                                  timeout=RPC_TIMEOUT)
        # The audit line names the token and the session, never the token itself.
        log = self.daemon.log()
        self.assertRegex(log, r"audit: allowed token=ops .*rpc=EndCall session_id=%s" %
                         call.session_id)
        self.assertIn("lacks scope calls:write", log)
        for secret in (self.reader, self.writer, self.admin):
            self.assertNotIn(secret, log)

    def test_hold_and_mute_need_calls_write_and_simulate_inbound_needs_admin(self):
        # README, Tokens: Hold and Mute are calls:write; SimulateInboundCall
        # is admin only (no other scope lists it).
        call = start_call(self.stub, self.writer)
        sid = call.session_id
        wait_for(lambda: self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=sid),
                                                 metadata=auth(self.reader), timeout=RPC_TIMEOUT)
                 .status == cpb.CALL_STATUS_CONNECTED, "the call to connect")
        hold = lambda token: self.stub.Hold(pb.HoldRequest(session_id=sid, hold=True),  # noqa: E731
                                            metadata=auth(token), timeout=RPC_TIMEOUT)
        mute = lambda token: self.stub.Mute(pb.MuteRequest(session_id=sid, mute=True),  # noqa: E731
                                            metadata=auth(token), timeout=RPC_TIMEOUT)
        for name, rpc in (("Hold", hold), ("Mute", mute)):
            with self.subTest(rpc=name):
                e = self.assertCode(lambda: rpc(self.reader), grpc.StatusCode.PERMISSION_DENIED)
                self.assertEqual(voip_error(e).error_code, epb.PERMISSION_DENIED_SCOPE)
                self.assertEqual(voip_error(e).details["required_scope"], "calls:write")
        got = self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=sid),
                                      metadata=auth(self.reader), timeout=RPC_TIMEOUT)
        self.assertEqual((got.status, got.on_hold, got.muted),
                         (cpb.CALL_STATUS_CONNECTED, False, False), "a refused RPC changed the call")
        # calls:write may.
        self.assertTrue(hold(self.writer).on_hold)
        self.assertTrue(mute(self.writer).muted)
        self.stub.EndCall(pb.EndCallRequest(session_id=sid), metadata=auth(self.writer),
                          timeout=RPC_TIMEOUT)

        simulate = lambda token: self.stub.SimulateInboundCall(  # noqa: E731
            pb.SimulateInboundCallRequest(**{"from": "+12015550111", "to": "1001"}),
            metadata=auth(token), timeout=RPC_TIMEOUT)
        for name, token in (("writer", self.writer), ("reader", self.reader),
                            ("tenant", self.acme)):
            with self.subTest(token=name):
                e = self.assertCode(lambda: simulate(token), grpc.StatusCode.PERMISSION_DENIED)
                self.assertEqual(voip_error(e).error_code, epb.PERMISSION_DENIED_SCOPE)
                self.assertEqual(voip_error(e).details["required_scope"], "admin")
        inbound = simulate(self.admin)
        self.assertEqual(inbound.direction, cpb.CALL_DIRECTION_INBOUND)
        self.assertEqual(getattr(inbound, "from"), "+12015550111")
        self.assertEqual(wait_terminal(self.stub, self.admin, inbound.session_id).status,
                         cpb.CALL_STATUS_DISCONNECTED)
        self.assertRegex(self.daemon.log(),
                         r"audit: denied .*rpc=SimulateInboundCall")

    def test_tenant_isolation(self):
        # acme asks for another tenant's label: the token's label wins.
        mine = start_call(self.stub, self.acme, labels={"tenant": "globex", "crm": "42"})
        self.assertEqual(mine.labels["tenant"], "acme")
        self.assertEqual(mine.labels["crm"], "42")
        theirs = start_call(self.stub, self.globex)
        self.assertEqual(theirs.labels["tenant"], "globex")

        for rpc in (lambda: self.stub.GetCallStatus(pb.GetCallStatusRequest(
                        session_id=theirs.session_id), metadata=auth(self.acme),
                        timeout=RPC_TIMEOUT),
                    lambda: self.stub.EndCall(pb.EndCallRequest(session_id=theirs.session_id),
                                              metadata=auth(self.acme), timeout=RPC_TIMEOUT),
                    lambda: self.stub.Hold(pb.HoldRequest(session_id=theirs.session_id, hold=True),
                                           metadata=auth(self.acme), timeout=RPC_TIMEOUT),
                    lambda: next(self.stub.WatchCall(pb.WatchCallRequest(
                        session_id=theirs.session_id), metadata=auth(self.acme),
                        timeout=RPC_TIMEOUT))):
            e = self.assertCode(rpc, grpc.StatusCode.NOT_FOUND)
            self.assertEqual(voip_error(e).error_code, epb.SESSION_NOT_FOUND)
        # globex's call is untouched by acme's attempt to end it.
        still = self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=theirs.session_id),
                                        metadata=auth(self.globex), timeout=RPC_TIMEOUT)
        self.assertNotIn(still.status, (cpb.CALL_STATUS_DISCONNECTED,))

        ids = lambda token, **f: {c.session_id for c in self.stub.ListCalls(
            pb.ListCallsRequest(**f), metadata=auth(token), timeout=RPC_TIMEOUT).calls}
        self.assertIn(mine.session_id, ids(self.acme))
        self.assertNotIn(theirs.session_id, ids(self.acme))
        self.assertNotIn(theirs.session_id, ids(self.acme, labels={"tenant": "globex"}))
        self.assertTrue({mine.session_id, theirs.session_id} <= ids(self.admin))

        # The event stream replays everything since sequence 0 but only acme's.
        events = self.stub.SubscribeCallEvents(pb.SubscribeCallEventsRequest(after_sequence=0),
                                               metadata=auth(self.acme), timeout=3)
        seen = set()
        try:
            for ev in events:
                seen.add(ev.session.session_id)
                self.assertEqual(ev.session.labels["tenant"], "acme")
                if mine.session_id in seen:
                    break
        finally:
            events.cancel()
        self.assertIn(mine.session_id, seen)
        self.assertNotIn(theirs.session_id, seen)
        for token, call in ((self.acme, mine), (self.globex, theirs)):
            self.stub.EndCall(pb.EndCallRequest(session_id=call.session_id),
                              metadata=auth(token), timeout=RPC_TIMEOUT)

    def test_request_ids_are_per_token(self):
        a = start_call(self.stub, self.acme, request_id="order-1")
        b = start_call(self.stub, self.globex, request_id="order-1")
        self.assertNotEqual(a.session_id, b.session_id)
        self.assertEqual(start_call(self.stub, self.acme, request_id="order-1").session_id,
                         a.session_id)
        for token, call in ((self.acme, a), (self.globex, b)):
            self.stub.EndCall(pb.EndCallRequest(session_id=call.session_id),
                              metadata=auth(token), timeout=RPC_TIMEOUT)

    def test_oversized_request_is_refused(self):
        e = self.assertCode(lambda: start_call(self.stub, self.admin,
                                               **{"from": "x" * (70 * 1024)}),
                            grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("larger than max", e.details())


class LimitTest(unittest.TestCase):
    def test_rate_limit_and_concurrency_cap(self):
        burst, capped = new_token(), new_token()
        config = base_config() + "auth:\n  tokens:\n" + "".join([
            token_yaml("burst", burst, ["calls:write", "calls:read"],
                       extra="start_calls_per_minute: 1, start_call_burst: 2"),
            token_yaml("capped", capped, ["calls:write", "calls:read"],
                       extra="max_concurrent_calls: 1"),
        ]) + "metrics: { listen: \"127.0.0.1:0\" }\n"
        with voipd_harness.Voipd(config_text=config) as d:
            channel, s = stub(d.addr)
            with channel:
                calls = [start_call(s, burst), start_call(s, burst)]
                with self.assertRaises(grpc.RpcError) as ctx:
                    start_call(s, burst)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                err = voip_error(ctx.exception)
                self.assertEqual(err.error_code, epb.RATE_LIMITED)
                self.assertEqual(err.details["limit"], "start_calls_per_minute")

                first = start_call(s, capped)
                with self.assertRaises(grpc.RpcError) as ctx:
                    start_call(s, capped)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertEqual(voip_error(ctx.exception).details["limit"],
                                 "max_concurrent_calls")
                s.EndCall(pb.EndCallRequest(session_id=first.session_id), metadata=auth(capped),
                          timeout=RPC_TIMEOUT)
                wait_terminal(s, capped, first.session_id)
                second = start_call(s, capped)  # the slot is free again
                for token, call in [(burst, c) for c in calls] + [(capped, second)]:
                    s.EndCall(pb.EndCallRequest(session_id=call.session_id),
                              metadata=auth(token), timeout=RPC_TIMEOUT)

    def test_refusals_are_counted_in_metrics(self):
        # docs/operations.md, Observability: voipd_rate_limited_total{token,
        # limit} and voipd_auth_failures_total{rpc, reason}.
        limited, reader = new_token(), new_token()
        config = base_config() + "auth:\n  tokens:\n" + "".join([
            token_yaml("limited", limited, ["calls:write", "calls:read"],
                       extra="start_calls_per_minute: 1, start_call_burst: 1"),
            token_yaml("reader", reader, ["calls:read"]),
        ]) + "metrics: { listen: \"127.0.0.1:0\" }\n"
        rate_limited = lambda text: counter(  # noqa: E731
            text, "voipd_rate_limited_total", token="limited", limit="start_calls_per_minute")
        with voipd_harness.Voipd(config_text=config) as d:
            channel, s = stub(d.addr)
            with channel:
                call = start_call(s, limited)
                before = scrape(d)
                with self.assertRaises(grpc.RpcError) as ctx:
                    start_call(s, limited)
                self.assertEqual(voip_error(ctx.exception).error_code, epb.RATE_LIMITED)
                after = scrape(d)
                self.assertEqual(rate_limited(after), rate_limited(before) + 1, after)
                self.assertEqual(counter(after, "voipd_rate_limited_total"),
                                 counter(before, "voipd_rate_limited_total") + 1, after)

                refusals = {
                    "a wrong token": (lambda: s.ListCalls(
                        pb.ListCallsRequest(), metadata=auth("not-a-token"), timeout=RPC_TIMEOUT),
                        grpc.StatusCode.UNAUTHENTICATED, "ListCalls"),
                    "no token": (lambda: s.GetCapabilities(
                        pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT),
                        grpc.StatusCode.UNAUTHENTICATED, "GetCapabilities"),
                    "a token without the scope": (lambda: start_call(s, reader),
                                                  grpc.StatusCode.PERMISSION_DENIED, "StartCall"),
                }
                for what, (rpc, code, method) in refusals.items():
                    with self.subTest(refusal=what):
                        before = scrape(d)
                        with self.assertRaises(grpc.RpcError) as ctx:
                            rpc()
                        self.assertEqual(ctx.exception.code(), code)
                        after = scrape(d)
                        self.assertEqual(
                            counter(after, "voipd_auth_failures_total", rpc=method),
                            counter(before, "voipd_auth_failures_total", rpc=method) + 1, after)
                        self.assertEqual(
                            counter(after, "voipd_auth_failures_total", rpc=method,
                                    reason=code.name),
                            counter(before, "voipd_auth_failures_total", rpc=method,
                                    reason=code.name) + 1, after)
                        self.assertEqual(rate_limited(after), 1, "not a rate limit")
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), metadata=auth(limited),
                          timeout=RPC_TIMEOUT)


class ExposureTest(unittest.TestCase):
    def run_daemon(self, config):
        d = voipd_harness.Voipd(config_text=config)
        res = subprocess.run([os.environ["VOIPD_BIN"], "--config", d.config_path,
                              "--check-config"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=20)
        d.tmp.cleanup()
        return res

    def test_public_listener_without_auth_is_refused(self):
        res = self.run_daemon(base_config('"0.0.0.0:0"'))
        self.assertEqual(res.returncode, 1, res.stdout)
        self.assertIn(b"allow_insecure", res.stdout)
        self.assertIn(b"toll fraud", res.stdout)
        self.assertEqual(self.run_daemon(base_config('"0.0.0.0:0"') + "allow_insecure: true\n")
                         .returncode, 0)
        token = new_token()
        self.assertEqual(self.run_daemon(base_config('"0.0.0.0:0"') + "auth:\n  tokens:\n" +
                                         token_yaml("a", token, ["admin"])).returncode, 0)

    def test_public_listener_is_refused_at_start_too(self):
        d = voipd_harness.Voipd(config_text=base_config('"0.0.0.0:0"'))
        with self.assertRaises(RuntimeError) as ctx:
            d.start()
        self.assertIn("allow_insecure", str(ctx.exception))
        d._log.close()
        d.tmp.cleanup()


class UnixSocketTest(unittest.TestCase):
    def test_mode_is_applied(self):
        import tempfile
        with tempfile.TemporaryDirectory(prefix="voipd-sock-") as tmp:
            path = os.path.join(tmp, "voipd.sock")
            import grp
            group = grp.getgrgid(os.getgid()).gr_name
            config = base_config('"unix:%s"' % path) + \
                'unix_socket: { mode: "0600", group: "%s" }\n' % group
            with voipd_harness.Voipd(config_text=config):
                st = os.stat(path)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
                channel, s = stub("unix:" + path)
                with channel:
                    s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)

    TEST_GROUP = "voipd-test-grp"

    def test_group_is_applied(self):
        # docs/operations.md, Unix sockets: `group` is applied with chown
        # right after bind. A group other than ours, so that the socket's
        # gid cannot be right by accident.
        import grp
        import tempfile
        if os.geteuid() != 0:
            raise AssertionError("needs root (groupadd, chown to another group)")
        try:
            grp.getgrnam(self.TEST_GROUP)
        except KeyError:
            subprocess.run(["groupadd", "--system", self.TEST_GROUP], check=True, timeout=60)
            self.addCleanup(subprocess.run, ["groupdel", self.TEST_GROUP], check=True, timeout=60)
        gid = grp.getgrnam(self.TEST_GROUP).gr_gid
        self.assertNotEqual(gid, os.getgid())
        with tempfile.TemporaryDirectory(prefix="voipd-sock-") as tmp:
            path = os.path.join(tmp, "voipd.sock")
            config = base_config('"unix:%s"' % path) + \
                'unix_socket: { mode: "0660", group: "%s" }\n' % self.TEST_GROUP
            with voipd_harness.Voipd(config_text=config):
                st = os.stat(path)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(st.st_gid, gid, "the socket's group")
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
                channel, s = stub("unix:" + path)
                with channel:
                    s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()

    def tls_config(self, mtls):
        p = self.pki.path
        cfg = base_config() + "tls:\n  cert_file: %s\n  key_file: %s\n" % (
            p("server.crt"), p("server.key"))
        if mtls:
            cfg += "  client_ca_file: %s\n" % p("ca.crt")
        return cfg

    def creds(self, client=None, root="ca"):
        kwargs = {"root_certificates": self.pki.read(root + ".crt")}
        if client:
            kwargs["private_key"] = self.pki.read(client + ".key")
            kwargs["certificate_chain"] = self.pki.read(client + ".crt")
        return grpc.ssl_channel_credentials(**kwargs)

    def ok(self, addr, creds):
        channel, s = stub(addr, creds)
        with channel:
            s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=RPC_TIMEOUT)

    def refused(self, addr, creds):
        channel, s = stub(addr, creds) if creds else stub(addr)
        with channel:
            with self.assertRaises(grpc.RpcError) as ctx:
                s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=5)
            self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_tls_without_client_certificate(self):
        with voipd_harness.Voipd(config_text=self.tls_config(mtls=False)) as d:
            self.ok(d.addr, self.creds())
            self.refused(d.addr, None)  # plaintext client
            self.refused(d.addr, self.creds(root="other-ca"))  # server not trusted by client

    def test_grpc_own_log_lines_are_voipd_records(self):
        """gRPC logs the failed handshake itself; with log_format: json that
        must be a JSON record like voipd's, not gRPC's "E1124 ..." line."""
        cfg = self.tls_config(mtls=False) + "log_format: json\n"
        with voipd_harness.Voipd(config_text=cfg) as d:
            self.refused(d.addr, None)  # plaintext client: gRPC logs the failure

            def grpc_records():
                records = []
                for line in d.log().split("\n")[:-1]:  # complete lines
                    record = json.loads(line)  # every line, gRPC's included
                    if record["component"] == "grpc":
                        records.append(record)
                return records
            wait_for(lambda: grpc_records(), "gRPC's handshake record")
            record = grpc_records()[0]
            self.assertEqual(record["level"], "error")
            self.assertIn("Handshake failed", record["msg"])
            self.assertRegex(record["source"], r"^[a-z_]+\.cc:\d+$")

    def test_mtls(self):
        with voipd_harness.Voipd(config_text=self.tls_config(mtls=True)) as d:
            self.ok(d.addr, self.creds(client="client"))
            self.refused(d.addr, self.creds())  # no client certificate
            self.refused(d.addr, self.creds(client="untrusted-client"))
            self.refused(d.addr, self.creds(client="expired-client"))

    def test_mtls_alone_satisfies_the_public_listener_check(self):
        cfg = self.tls_config(mtls=True).replace('"127.0.0.1:0"', '"0.0.0.0:0"')
        with voipd_harness.Voipd(config_text=cfg) as d:
            port = d.addr.rsplit(":", 1)[1]
            self.ok("localhost:" + port, self.creds(client="client"))


class TlsReloadTest(unittest.TestCase):
    """SIGHUP re-reads the certificate files at once: a new connection sees a
    certificate from another CA; a broken file is refused and logged."""

    def setUp(self):
        self.pki = Pki()
        # A server certificate from the other CA, as a renewal might bring.
        self.pki._leaf("server-other", "other-ca", san="IP:127.0.0.1,DNS:localhost")
        self.cert, self.key = self.pki.path("serving.crt"), self.pki.path("serving.key")
        self.install("server")

    def tearDown(self):
        self.pki.cleanup()

    def install(self, name):
        shutil.copyfile(self.pki.path(name + ".crt"), self.cert)
        shutil.copyfile(self.pki.path(name + ".key"), self.key)

    def works_with(self, addr, root):
        # A fresh connection each time (its own subchannel pool), so that an
        # open connection's old handshake cannot answer for the new one.
        creds = grpc.ssl_channel_credentials(root_certificates=self.pki.read(root + ".crt"))
        channel, s = stub(addr, creds, options=[("grpc.use_local_subchannel_pool", 1)])
        with channel:
            try:
                s.GetCapabilities(pb.GetCapabilitiesRequest(), timeout=5)
                return True
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                return False

    def test_sighup_serves_renewed_certificate_and_refuses_a_broken_one(self):
        cfg = base_config() + "tls:\n  cert_file: %s\n  key_file: %s\n" % (self.cert, self.key)
        with voipd_harness.Voipd(config_text=cfg) as d:
            self.assertTrue(self.works_with(d.addr, "ca"))
            self.assertFalse(self.works_with(d.addr, "other-ca"))

            self.install("server-other")
            # Nothing changes before the signal (refresh_interval is 60s).
            self.assertTrue(self.works_with(d.addr, "ca"))
            d.signal(signal.SIGHUP)
            wait_for(lambda: self.works_with(d.addr, "other-ca"),
                     "new connections to get the renewed certificate")
            self.assertFalse(self.works_with(d.addr, "ca"))

            # A key that does not match, then a file that is no certificate:
            # both refused with a log line, the renewed certificate stays.
            shutil.copyfile(self.pki.path("server.key"), self.key)
            d.signal(signal.SIGHUP)
            wait_for(lambda: "does not match the certificate" in d.log(), "the refusal")
            with open(self.cert, "w") as f:
                f.write("not a certificate\n")
            d.signal(signal.SIGHUP)
            wait_for(lambda: "holds no PEM certificate" in d.log(), "the refusal")
            self.assertTrue(self.works_with(d.addr, "other-ca"))
            self.assertIn("keeping the served certificate", d.log())
            key_body = [l for l in self.pki.read("server.key").decode().splitlines()
                        if l and not l.startswith("-----")]
            for line in key_body:
                self.assertNotIn(line, d.log())

    def test_broken_tls_files_stop_start_up(self):
        with open(self.cert, "w") as f:
            f.write("garbage\n")
        cfg = base_config() + "tls:\n  cert_file: %s\n  key_file: %s\n" % (self.cert, self.key)
        d = voipd_harness.Voipd(config_text=cfg)
        with self.assertRaises(RuntimeError):
            d.start()
        try:
            self.assertIn("holds no PEM certificate", d.log())
        finally:
            d.__exit__(None, None, None)


class RestartOnlyReloadTest(unittest.TestCase):
    def test_reload_names_the_settings_that_need_a_restart_and_keeps_them(self):
        # The server was built with them: a reload that changes one must say
        # so by name, and the running value must go on applying.
        cfg = lambda size: base_config() + "max_request_bytes: %d\n" % size
        with voipd_harness.Voipd(config_text=cfg(4096)) as d:
            channel, s = stub(d.addr)
            with channel:
                big = pb.StartCallRequest()
                big.to.number = "+12015550100"
                big.labels["pad"] = "x" * 8000

                def refused():
                    with self.assertRaises(grpc.RpcError) as ctx:
                        s.StartCall(big, timeout=RPC_TIMEOUT)
                    self.assertEqual(ctx.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                refused()
                d.rewrite_config(cfg(1024 * 1024))
                d.signal(signal.SIGHUP)
                wait_for(lambda: "daemon: reloaded" in d.log(), "the reload")
                self.assertRegex(d.log(), r"reload: max_request_bytes take effect only after a "
                                          r"restart")
                refused()


class TokenReloadTest(unittest.TestCase):
    def test_sighup_rotates_tokens(self):
        old, new = new_token(), new_token()
        cfg = lambda t: base_config() + "auth:\n  tokens:\n" + token_yaml("ops", t, ["admin"])
        with voipd_harness.Voipd(config_text=cfg(old)) as d:
            channel, s = stub(d.addr)
            with channel:
                caps = lambda t: s.GetCapabilities(pb.GetCapabilitiesRequest(),
                                                   metadata=auth(t), timeout=RPC_TIMEOUT)
                caps(old)
                d.rewrite_config(cfg(new))
                d.signal(signal.SIGHUP)

                def rotated():
                    try:
                        caps(old)
                        return False
                    except grpc.RpcError as e:
                        return e.code() == grpc.StatusCode.UNAUTHENTICATED
                wait_for(rotated, "the old token to stop working")
                caps(new)


    def test_sighup_ends_the_streams_a_reload_takes_rights_from(self):
        # A stream is authorized when it opens. Revoking a leaked token must
        # also cut its open streams, at once, even when no event is coming;
        # a tenant whose labels change must open its stream again to get the
        # new filter; a token the reload keeps as it was goes on streaming.
        keep, gone, acme = new_token(), new_token(), new_token()
        cfg = lambda acme_tenant, with_gone: base_config() + "auth:\n  tokens:\n" + "".join([
            token_yaml("keep", keep, ["admin"]),
            token_yaml("gone", gone, ["calls:read"]) if with_gone else "",
            token_yaml("acme", acme, ["calls:read", "calls:write"], {"tenant": acme_tenant}),
        ])
        with voipd_harness.Voipd(config_text=cfg("acme", True)) as d:
            channel, s = stub(d.addr)
            with channel:
                subscribe = lambda t: s.SubscribeCallEvents(pb.SubscribeCallEventsRequest(),
                                                            metadata=auth(t), timeout=WAIT)
                gone_events, acme_events, keep_events = subscribe(gone), subscribe(acme), subscribe(keep)
                # gone watches a call of keep's that stays connected.
                watched = start_call(s, keep).session_id
                wait_for(lambda: s.GetCallStatus(pb.GetCallStatusRequest(session_id=watched),
                                                 metadata=auth(keep), timeout=RPC_TIMEOUT)
                         .status == cpb.CALL_STATUS_CONNECTED, "the watched call to connect")
                watch = s.WatchCall(pb.WatchCallRequest(session_id=watched), metadata=auth(gone),
                                    timeout=WAIT)
                self.assertEqual(next(watch).type, cpb.CALL_EVENT_TYPE_SNAPSHOT)
                # Every stream has caught up with a whole later call, so none
                # has anything left to deliver when the reload comes.
                call = start_call(s, acme)
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), metadata=auth(acme),
                          timeout=RPC_TIMEOUT)
                for events in (gone_events, acme_events, keep_events):
                    for ev in events:
                        if ev.session.session_id == call.session_id and \
                                ev.session.status in TERMINAL:
                            break

                d.rewrite_config(cfg("acme-eu", False))
                d.signal(signal.SIGHUP)
                for stream in (gone_events, watch):
                    with self.assertRaises(grpc.RpcError) as ended:
                        for ev in stream:
                            self.fail("gone's stream got an event after the reload: %s" % ev)
                    self.assertEqual(ended.exception.code(), grpc.StatusCode.UNAUTHENTICATED,
                                     ended.exception.details())
                    self.assertIn("token 'gone' is no longer accepted", ended.exception.details())
                    self.assertEqual(voip_error(ended.exception).error_code,
                                     epb.AUTHENTICATION_FAILED)
                with self.assertRaises(grpc.RpcError) as changed:
                    for ev in acme_events:
                        self.fail("acme's stream got an event after the reload: %s" % ev)
                self.assertEqual(changed.exception.code(), grpc.StatusCode.UNAVAILABLE)
                self.assertIn("other tenant labels", changed.exception.details())
                self.assertRegex(changed.exception.details(), r"after_sequence=\d+")

                # keep's stream is still open and sees the next call.
                after = start_call(s, keep)
                for ev in keep_events:
                    if ev.session.session_id == after.session_id:
                        break
                keep_events.cancel()
                denied = [l for l in d.log().splitlines() if "audit: denied" in l
                          and "token=gone" in l]
                for rpc in ("rpc=SubscribeCallEvents", "rpc=WatchCall"):
                    self.assertTrue([l for l in denied if rpc in l], denied)
                for secret in (keep, gone, acme):
                    self.assertNotIn(secret, d.log())


if __name__ == "__main__":
    unittest.main()
