#!/usr/bin/env python3
"""Click-to-call with voipd: place a call, follow it, hang up.

    click_to_call.py [--addr HOST:PORT] [--token-file PATH] [--system NAME] [--talk SECONDS] NUMBER

Places a call to NUMBER, prints every state change from WatchCall, hangs up
SECONDS after the call is answered (default 2), and exits 0 when the call was
answered, 1 otherwise. When voipd refuses a request, the machine-readable
voip.v1.VoipError is decoded from the `grpc-status-details-bin` trailer and
printed. With --token-file (or $VOIPD_TOKEN_FILE), every request carries
that file's API token as `authorization: Bearer`, as a daemon with
auth.tokens requires. Needs the generated stubs on PYTHONPATH (see README.md).
"""
import argparse
import os
import sys
import threading
import uuid

import grpc

from google.rpc import status_pb2  # generated from proto/google/rpc/status.proto
from voip.v1 import call_pb2, errors_pb2, voip_service_pb2, voip_service_pb2_grpc

VOIP_ERROR_TYPE_URL = "type.googleapis.com/voip.v1.VoipError"
TERMINAL = {call_pb2.CALL_STATUS_DISCONNECTED, call_pb2.CALL_STATUS_FAILED,
            call_pb2.CALL_STATUS_BUSY, call_pb2.CALL_STATUS_UNAVAILABLE}


def voip_error_of(rpc_error):
    """The VoipError voipd attached to a failed call, or None."""
    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.type_url == VOIP_ERROR_TYPE_URL:
                    error = errors_pb2.VoipError()
                    detail.Unpack(error)
                    return error
    return None


def print_rpc_error(what, rpc_error):
    print("%s failed: %s: %s" % (what, rpc_error.code().name, rpc_error.details()))
    error = voip_error_of(rpc_error)
    if error is None:
        return
    print("  error_code:  %s" % errors_pb2.ErrorCode.Name(error.error_code))
    print("  message:     %s" % error.message)
    for name in ("field", "system_name", "session_id"):
        if getattr(error, name):
            print("  %-12s %s" % (name + ":", getattr(error, name)))
    for key, value in sorted(error.details.items()):
        print("  detail:      %s=%s" % (key, value))
    if error.HasField("provider_cause"):
        cause = error.provider_cause
        print("  provider:    sip %d %s, status %r" % (cause.sip_code, cause.sip_reason,
                                                       cause.provider_status))


def describe(session):
    text = call_pb2.CallStatus.Name(session.status)
    if session.status in TERMINAL:
        reason = session.end_reason
        text += " (by %s" % call_pb2.HangupSource.Name(reason.source)
        if reason.error_code:
            text += ", %s" % errors_pb2.ErrorCode.Name(reason.error_code)
        if reason.provider_cause.sip_code:
            text += ", SIP %d" % reason.provider_cause.sip_code
        text += ")"
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("number", help='e.g. "+1 201-555-0100"')
    parser.add_argument("--addr", default="127.0.0.1:50051", help="voipd's gRPC address")
    parser.add_argument("--system", default="", help="system to dial through (default: routed)")
    parser.add_argument("--talk", type=float, default=2.0, help="seconds to stay connected")
    parser.add_argument("--token-file", default=os.environ.get("VOIPD_TOKEN_FILE", ""),
                        help="file holding the API token (keep tokens out of command lines)")
    args = parser.parse_args()
    metadata = ()
    if args.token_file:
        with open(args.token_file) as f:
            metadata = (("authorization", "Bearer " + f.read().strip()),)

    with grpc.insecure_channel(args.addr) as channel:
        voip = voip_service_pb2_grpc.VoipServiceStub(channel)
        try:
            session = voip.StartCall(voip_service_pb2.StartCallRequest(
                to=call_pb2.ContactPhoneNumber(number=args.number),
                preferred_system=args.system,
                request_id=str(uuid.uuid4()),  # safe to retry: never dials twice
                labels={"source": "click_to_call.py"}), metadata=metadata, timeout=10)
        except grpc.RpcError as e:
            print_rpc_error("StartCall", e)
            return 1
        print("call %s via %s to %s" % (session.session_id, session.system_name,
                                        session.to_normalized))

        hangup_timer = None
        answered = False
        try:
            # A SNAPSHOT first, then every change; the stream ends after the
            # terminal event.
            for event in voip.WatchCall(
                    voip_service_pb2.WatchCallRequest(session_id=session.session_id),
                    metadata=metadata):
                print("  #%d %s" % (event.sequence, describe(event.session)))
                if event.session.status == call_pb2.CALL_STATUS_CONNECTED and not answered:
                    answered = True
                    hangup_timer = threading.Timer(args.talk, hang_up,
                                                   (voip, session.session_id, metadata))
                    hangup_timer.start()
        except grpc.RpcError as e:
            print_rpc_error("WatchCall", e)
            return 1
        except KeyboardInterrupt:
            hang_up(voip, session.session_id, metadata)  # do not leave the call up
            return 130
        finally:
            if hangup_timer is not None:
                hangup_timer.cancel()
        return 0 if answered else 1


def hang_up(voip, session_id, metadata):
    try:
        voip.EndCall(voip_service_pb2.EndCallRequest(session_id=session_id), metadata=metadata,
                     timeout=10)
    except grpc.RpcError as e:
        print_rpc_error("EndCall", e)


if __name__ == "__main__":
    sys.exit(main())
