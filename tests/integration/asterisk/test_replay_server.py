"""The replay server itself: played against the recorded client bytes (so
every id maps to itself), it must send back exactly the recorded server
stream, byte for byte, whatever points it cuts it at. This is what makes the
voipd tests a replay of the real PBX rather than of an imitation."""
import glob
import os
import socket
import time
import unittest

from ami_replay_server import AmiReplayServer, read_transcript

HERE = os.path.dirname(os.path.abspath(__file__))


def play_recorded_client(server, records, timeout=20):
    """Sends each recorded C>S record once the server bytes recorded before it
    have arrived; returns everything received up to the server's close."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    received = b""
    expected_so_far = 0
    deadline = time.monotonic() + timeout
    try:
        for r in records:
            if r.direction == "S>C":
                expected_so_far += len(r.data)
                continue
            while len(received) < expected_so_far:
                if time.monotonic() > deadline:
                    raise AssertionError("stalled after %d bytes" % len(received))
                chunk = sock.recv(65536)
                if not chunk:
                    return received
                received += chunk
            sock.sendall(r.data)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    finally:
        sock.close()


class ReplayServerTest(unittest.TestCase):

    def test_every_transcript_is_replayed_byte_exact(self):
        files = sorted(glob.glob(os.path.join(HERE, "transcripts", "*.txt")))
        self.assertEqual(len(files), 22)
        for seed, path in enumerate(files):
            with self.subTest(os.path.basename(path)):
                records = read_transcript(path)
                recorded = b"".join(r.data for r in records if r.direction == "S>C")
                with AmiReplayServer(path, seed=seed, time_scale=0.02, max_gap=0.05,
                                     chunk=(1, 64), gate_timeout=0) as server:
                    got = play_recorded_client(server, records)
                    self.assertEqual(server.errors, [])
                self.assertEqual(len(got), len(recorded))
                self.assertEqual(got, recorded)


if __name__ == "__main__":
    unittest.main()
