"""Run inside `unshare -m`: stands in for journald on a private tmpfs over
/run (so nothing of the host's /run is touched or seen; a datagram socket that records what sd_journal_send
sends), runs voipd with log_format: journal, places and ends one call, and
prints every received entry as JSON (one dict per entry) on stdout.

argv: config path. Parses the native protocol's simple KEY=VALUE form only;
voipd's values never contain newlines in these calls."""
import json
import os
import socket
import subprocess
import sys
import threading

from prod_common import RPC_TIMEOUT, pb, start_call, stub, voipd_harness, wait_terminal

subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
os.makedirs("/run/systemd/journal")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("/run/systemd/journal/socket")
entries = []


def receive():
    while True:
        data = sock.recv(1 << 16)
        if not data:
            return
        entries.append(dict(line.split("=", 1) for line in data.decode().splitlines()
                            if "=" in line))


threading.Thread(target=receive, daemon=True).start()
with open(sys.argv[1]) as f:
    d = voipd_harness.Voipd(config_text=f.read()).start()
channel, s = stub(d.addr)
with channel:
    call = start_call(s, None)
    s.EndCall(pb.EndCallRequest(session_id=call.session_id), timeout=RPC_TIMEOUT)
    wait_terminal(s, None, call.session_id)
d.stop()
stderr = d.log()
d.__exit__(None, None, None)
print(json.dumps({"session_id": call.session_id, "entries": entries, "stderr": stderr}))
