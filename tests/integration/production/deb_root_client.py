"""gRPC client half of test_deb_install: run inside the throwaway root's
network namespace (`nsenter --net`), so that it reaches the installed voipd
on that namespace's loopback. Places one call to the sandbox, reads it back
with GetCallStatus and prints both as one JSON line.

    python3 deb_root_client.py 127.0.0.1:50051
"""
import json
import sys

from prod_common import ANSWERS, cpb, pb, start_call, stub, RPC_TIMEOUT


def main(addr):
    channel, s = stub(addr)
    with channel:
        call = start_call(s, None, ANSWERS)
        status = s.GetCallStatus(pb.GetCallStatusRequest(session_id=call.session_id),
                                 timeout=RPC_TIMEOUT)
    print(json.dumps({
        "session_id": call.session_id,
        "system": call.system_name,
        "started_status": cpb.CallStatus.Name(call.status),
        "status_session_id": status.session_id,
        "to": status.to.number,
        "status": cpb.CallStatus.Name(status.status),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
