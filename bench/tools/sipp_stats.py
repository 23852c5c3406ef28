#!/usr/bin/python3
"""Prints the last row of a SIPp -trace_stat CSV as JSON (cumulative counters).

    sipp_stats.py FILE.csv [key=value ...]   # extra keys are added as numbers/strings
"""
import json
import sys


def main():
    rows = [l.rstrip("\n") for l in open(sys.argv[1], encoding="latin-1") if l.strip()]
    head = rows[0].split(";")
    last = rows[-1].split(";")
    out = {}
    for key in ("TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)", "CurrentCall",
                "OutgoingCall(C)", "IncomingCall(C)", "FailedMaxUDPRetrans(C)",
                "FailedUnexpectedMessage(C)", "FailedCallRejected(C)",
                "FailedCmdNotSent(C)", "FailedRegexpDoesntMatch(C)", "OutOfCallMsgs(C)",
                "DeadCallMsgs(C)", "Retransmissions(C)", "ElapsedTime(C)", "CallRate(C)"):
        if key in head and head.index(key) < len(last):
            v = last[head.index(key)]
            try:
                out[key] = float(v) if "." in v else int(v)
            except ValueError:
                out[key] = v
    for arg in sys.argv[2:]:
        k, _, v = arg.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
