"""Generates the voip.v1 Python stubs at test time and decodes VoipError.

Generated code is never committed: `load()` runs protoc once per process
into a temporary directory (removed at exit), puts it on sys.path and returns
the imported modules. It uses grpc_tools.protoc when that module is
importable, otherwise the `protoc` binary with Debian's grpc_python_plugin.

    protos = voipd_protos.load()
    stub = protos.voip_service_pb2_grpc.VoipServiceStub(channel)
    try:
        stub.StartCall(...)
    except grpc.RpcError as e:
        err = protos.voip_error(e)   # voip.v1.VoipError or None

Environment: VOIPD_PROTO_DIR (the repository's proto/ directory; defaults to
the one next to this file).
"""
import atexit
import glob
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types

VOIP_ERROR_TYPE_URL = "type.googleapis.com/voip.v1.VoipError"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

_loaded = {}


def proto_dir():
    d = os.environ.get("VOIPD_PROTO_DIR")
    if d:
        return os.path.abspath(d)
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "proto"))


def _protoc(include_dirs, files, out_dir):
    """Runs protoc (Python messages + gRPC services) on `files`."""
    try:
        from grpc_tools import protoc as grpc_protoc  # pip's grpcio-tools
    except ImportError:
        grpc_protoc = None
    if grpc_protoc is not None:
        wkt = os.path.join(os.path.dirname(grpc_protoc.__file__), "_proto")
        args = (["grpc_tools.protoc"] + ["-I" + d for d in include_dirs] + ["-I" + wkt]
                + ["--python_out=" + out_dir, "--grpc_python_out=" + out_dir] + list(files))
        if grpc_protoc.main(args) != 0:
            raise RuntimeError("grpc_tools.protoc failed: %s" % " ".join(args))
        return
    protoc = shutil.which("protoc") or "/usr/bin/protoc"
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    for tool in (protoc, plugin):
        if not os.access(tool, os.X_OK):
            raise RuntimeError("cannot generate Python stubs: %s not found (install "
                               "protobuf-compiler and protobuf-compiler-grpc, or grpcio-tools)" % tool)
    args = ([protoc] + ["-I" + d for d in include_dirs]
            + ["--python_out=" + out_dir, "--grpc_out=" + out_dir,
               "--plugin=protoc-gen-grpc=" + plugin] + list(files))
    res = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        raise RuntimeError("protoc failed (%s):\n%s" % (" ".join(args), res.stdout.decode()))


def generate(out_dir, extra_include_dirs=(), extra_files=()):
    """Writes the stubs for proto/voip/v1/*.proto and google/rpc/status.proto
    (plus `extra_files`, relative to one of `extra_include_dirs`) to out_dir."""
    pd = proto_dir()
    files = sorted(os.path.relpath(p, pd) for p in glob.glob(os.path.join(pd, "voip", "v1", "*.proto")))
    if not files:
        raise RuntimeError("no voip/v1/*.proto under %s (set VOIPD_PROTO_DIR)" % pd)
    files.append(os.path.join("google", "rpc", "status.proto"))
    _protoc([pd] + list(extra_include_dirs), files + list(extra_files), out_dir)


def load(extra_include_dirs=(), extra_files=()):
    """Generates (once per process and argument set) and imports the stubs.

    Returns a namespace with the modules call_pb2, errors_pb2, voip_service_pb2,
    voip_service_pb2_grpc, status_pb2, `modules[<name>]` for extra files
    (e.g. modules["health_check_pb2"]), `stub_dir`, and the decoding helpers
    voip_error() / rpc_status()."""
    key = (tuple(extra_include_dirs), tuple(extra_files))
    if key in _loaded:
        return _loaded[key]
    out_dir = tempfile.mkdtemp(prefix="voipd-stubs-")
    atexit.register(shutil.rmtree, out_dir, True)
    generate(out_dir, extra_include_dirs, extra_files)
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    importlib.invalidate_caches()
    ns = types.SimpleNamespace(stub_dir=out_dir, modules={})
    ns.call_pb2 = importlib.import_module("voip.v1.call_pb2")
    ns.errors_pb2 = importlib.import_module("voip.v1.errors_pb2")
    ns.voip_service_pb2 = importlib.import_module("voip.v1.voip_service_pb2")
    ns.voip_service_pb2_grpc = importlib.import_module("voip.v1.voip_service_pb2_grpc")
    ns.status_pb2 = importlib.import_module("google.rpc.status_pb2")
    for f in extra_files:
        base = os.path.splitext(f)[0].replace(os.sep, ".").replace("-", "_")
        ns.modules[base.rsplit(".", 1)[-1] + "_pb2"] = importlib.import_module(base + "_pb2")
        ns.modules[base.rsplit(".", 1)[-1] + "_pb2_grpc"] = importlib.import_module(base + "_pb2_grpc")

    def rpc_status(error_or_metadata):
        """The google.rpc.Status in the grpc-status-details-bin trailer of a
        failed call (a grpc.RpcError / grpc.Call, or its trailing metadata),
        or None when there is none."""
        md = error_or_metadata
        if hasattr(md, "trailing_metadata"):
            md = md.trailing_metadata()
        for k, v in md or ():
            if k == STATUS_DETAILS_KEY:
                return ns.status_pb2.Status.FromString(v)
        return None

    def voip_error(error_or_metadata):
        """The voip.v1.VoipError detail of a failed call, or None."""
        status = rpc_status(error_or_metadata)
        if status is None:
            return None
        for detail in status.details:
            if detail.type_url == VOIP_ERROR_TYPE_URL:
                err = ns.errors_pb2.VoipError()
                if not detail.Unpack(err):
                    raise ValueError("VoipError detail does not parse")
                return err
        return None

    ns.rpc_status = rpc_status
    ns.voip_error = voip_error
    _loaded[key] = ns
    return ns
