"""Shared helpers of the production-readiness suite (security, systemd,
observability): config snippets with freshly generated tokens, a throwaway
PKI made with the openssl CLI at test time (never committed), gRPC stubs."""
import hashlib
import os
import secrets
import sys
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "harness"))

import voipd_harness  # noqa: E402
import voipd_protos  # noqa: E402
from pki import Pki  # noqa: E402,F401  (re-exported to the suites)

P = voipd_protos.load([os.path.join(HERE, "protos")], ["health_watch.proto"])
pb = P.voip_service_pb2
cpb = P.call_pb2
epb = P.errors_pb2
health_pb2 = P.modules["health_watch_pb2"]
health_pb2_grpc = P.modules["health_watch_pb2_grpc"]

RPC_TIMEOUT = 10
WAIT = 10
# The shape of a Twilio Account SID, for configs that need one (nothing
# reaches Twilio from these tests).
TWILIO_SID = "AC" + "0123456789abcdef" * 2
# The sandbox's scripted numbers (docs/adapters/sandbox.md).
ANSWERS = "+12015550100"
BUSY = "+12015550101"
NO_ANSWER = "+12015550102"         # unavailable at the ring timeout
PROVIDER_FAILURE = "+12015550103"  # failed, PROVIDER_ERROR
NETWORK_ERROR = "+12015550105"     # StartCall itself fails with NETWORK_ERROR
TERMINAL = {cpb.CALL_STATUS_DISCONNECTED, cpb.CALL_STATUS_FAILED, cpb.CALL_STATUS_BUSY,
            cpb.CALL_STATUS_UNAVAILABLE}

BASE = """\
listen: [%(listen)s]
default_region: US
default_system: sandbox
systems:
  sandbox: { type: sandbox, time_scale: 20 }
"""


def base_config(listen='"127.0.0.1:0"'):
    return BASE % {"listen": listen}


def new_token():
    return "vt_" + secrets.token_urlsafe(24)


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def token_yaml(name, token, scopes, labels=None, extra=""):
    line = "    - { name: %s, sha256: %s, scopes: [%s]" % (name, sha256_hex(token), ", ".join(scopes))
    if labels:
        line += ", labels: { %s }" % ", ".join("%s: %s" % kv for kv in labels.items())
    if extra:
        line += ", " + extra
    return line + " }\n"


def stub(addr, credentials=None, options=()):
    channel = (grpc.secure_channel(addr, credentials, options=list(options)) if credentials
               else grpc.insecure_channel(addr, options=list(options)))
    return channel, P.voip_service_pb2_grpc.VoipServiceStub(channel)


def auth(token):
    return (("authorization", "Bearer " + token),)


def voip_error(e):
    return P.voip_error(e)


def start_call(s, token, number=ANSWERS, **fields):
    return s.StartCall(pb.StartCallRequest(to=cpb.ContactPhoneNumber(number=number), **fields),
                       metadata=auth(token) if token else None, timeout=RPC_TIMEOUT)


def wait_terminal(s, token, session_id, deadline=WAIT):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        call = s.GetCallStatus(pb.GetCallStatusRequest(session_id=session_id),
                               metadata=auth(token) if token else None, timeout=RPC_TIMEOUT)
        if call.status in TERMINAL:
            return call
        time.sleep(0.02)
    raise AssertionError("call %s not terminal after %ss" % (session_id, deadline))


def wait_for(predicate, what, deadline=WAIT):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def own_channel(addr):
    """A channel on a TCP connection of its own (grpcio shares one between
    channels to the same address by default, with its reconnect backoff)."""
    return grpc.insecure_channel(addr, options=[("grpc.use_local_subchannel_pool", 1)])


def own_connections(addr, count):
    """`count` channels to `addr` (own_channel), each tried once. Returns the
    open channels and how many of them the server refused."""
    channels, refused = [], 0
    for _ in range(count):
        c = own_channel(addr)
        channels.append(c)
        try:
            P.voip_service_pb2_grpc.VoipServiceStub(c).GetCapabilities(
                pb.GetCapabilitiesRequest(), timeout=1)
        except grpc.RpcError:
            refused += 1
    return channels, refused


def cpu_seconds(pid):
    """User + system CPU time of `pid` so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def call_once_served(addr, deadline=WAIT):
    """A StartCall + EndCall to `addr`, tried on a new connection each time
    until one is served. A refused connection leaves a grpcio channel in
    reconnect backoff, and a sync stub's fail-fast RPCs do not drive the
    next handshake, so retrying on one channel can take seconds after the
    server is back: that measures grpcio, not voipd."""
    def attempt():
        with own_channel(addr) as channel:
            s = P.voip_service_pb2_grpc.VoipServiceStub(channel)
            call = try_rpc(lambda: start_call(s, None))
            if call:
                s.EndCall(pb.EndCallRequest(session_id=call.session_id), timeout=RPC_TIMEOUT)
            return call
    return wait_for(attempt, "a call once descriptors are free again", deadline)


def try_rpc(fn):
    """fn()'s result, or None if the RPC failed (for wait_for)."""
    try:
        return fn()
    except grpc.RpcError:
        return None
