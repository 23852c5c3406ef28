#!/usr/bin/python3
"""Builds bench/fixtures/ami_server_stream.txt from AMI transcripts.

Joins the server-to-client (S>C) payloads of every transcript given, in order,
keeping the `Asterisk Call Manager/...` greeting of the first one only, so the
result is one valid AMI byte stream (CRLF kept as recorded). Used once to make
the fixture; the benchmark never reads the transcripts themselves.

    bench/tools/extract_ami_fixture.py /work/shared/peers/asterisk/transcripts/*.txt \
        > bench/fixtures/ami_server_stream.txt
"""
import re
import sys

MARK = re.compile(rb"--- \+[0-9.]+ (C>S|S>C) (\d+) bytes ---\n")


def server_bytes(path):
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos < len(data):
        m = MARK.match(data, pos)
        if not m:
            nl = data.find(b"\n", pos)
            pos = len(data) if nl < 0 else nl + 1
            continue
        n = int(m.group(2))
        start = m.end()
        if m.group(1) == b"S>C":
            out.append(data[start:start + n])
        pos = start + n + 1
    return out


def main():
    first = True
    for path in sys.argv[1:]:
        for chunk in server_bytes(path):
            if chunk.startswith(b"Asterisk Call Manager/"):
                if not first:
                    continue
            first = False
            sys.stdout.buffer.write(chunk)


if __name__ == "__main__":
    main()
