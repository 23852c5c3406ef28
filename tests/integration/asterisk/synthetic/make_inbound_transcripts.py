"""Writes the SYNTHETIC inbound transcripts s23/s24 (run from this folder's
parent: python3 synthetic/make_inbound_transcripts.py). No recording has a
call arriving from a trunk: the blocks are built from the recorded formats
named in each file's header."""
import re

src = open("transcripts/03-originate-answered-hangup-action.txt", "rb").read()
MARK = re.compile(rb"--- \+([0-9.]+) (C>S|S>C) (?:(\d+) bytes|EOF) ---\n")
recs, pos = [], 0
while True:
    m = MARK.search(src, pos)
    if not m:
        break
    n = int(m.group(3) or 0)
    recs.append((m.group(2), src[m.end():m.end() + n]))
    pos = m.end() + n + 1
login = recs[:5]  # greeting, Login, Response, FullyBooted, SuccessfulAuth
assert login[1][1].startswith(b"Action: Login") and b"SuccessfulAuth" in login[4][1], login


def block(headers):
    return b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers) + b"\r\n"


def chan(event, channel, state, desc, context, exten, prio, uid, linked, extra=()):
    # Header order of the recorded Newchannel/Newstate/Hangup blocks (file 19).
    return block([("Event", event), ("Privilege", "call,all"), ("Channel", channel),
                  ("ChannelState", str(state)), ("ChannelStateDesc", desc),
                  ("CallerIDNum", "+12025550199"), ("CallerIDName", "<unknown>"),
                  ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"),
                  ("Language", "en"), ("AccountCode", ""), ("Context", context),
                  ("Exten", exten), ("Priority", str(prio)), ("Uniqueid", uid),
                  ("Linkedid", linked)] + list(extra))


def internal(uid):
    # A phone calling another phone: context from-internal, not listed.
    c = "PJSIP/201-00000001"
    return [chan("Newchannel", c, 4, "Ring", "from-internal", "202", 1, uid, uid),
            chan("Hangup", c, 4, "Ring", "from-internal", "202", 1, uid, uid,
                 [("Cause", "16"), ("Cause-txt", "Normal Clearing")])]


def trunk_call(channel, uid):
    return [chan("Newchannel", channel, 4, "Ring", "from-pstn", "+12015550000", 1, uid, uid),
            chan("Newstate", channel, 6, "Up", "from-pstn", "+12015550000", 2, uid, uid)]


def write(name, header, steps):
    out = [b"# AMI transcript: %s  (SYNTHETIC, not recorded)\n" % name.encode()]
    out += [b"# " + h.encode() + b"\n" for h in header]
    out.append(b"# Format: as the recorded transcripts.\n\n")
    t = 0.0
    for d, data in login:
        t += 0.0003
        out.append(b"--- +%.6f %s %d bytes ---\n" % (t, d, len(data)) + data + b"\n")
    for gap, d, data in steps:
        t += gap
        out.append(b"--- +%.6f %s %d bytes ---\n" % (t, d.encode(), len(data)) + data + b"\n")
    t += 1.0
    logoff = b"Action: Logoff\r\nActionID: logoff-1\r\n\r\n"
    out.append(b"--- +%.6f C>S %d bytes ---\n" % (t, len(logoff)) + logoff + b"\n")
    with open("synthetic/%s.txt" % name, "wb") as f:
        f.write(b"".join(out))


COMMON = ["No recording has a call arriving from a trunk (the recording PBX had no SIP driver).",
          "Login block copied from 03-originate-answered-hangup-action.txt; every event block uses",
          "the header set and order of the recorded Newchannel/Newstate/Hangup blocks of",
          "19-login-events-call.txt, with a PJSIP trunk channel in context from-pstn as values."]


def hangup_event(trunk, uid):
    return chan("Hangup", trunk, 6, "Up", "from-pstn", "+12015550000", 2, uid, uid,
                [("Cause", "16"), ("Cause-txt", "Normal Clearing")])


trunk, uid = "PJSIP/trunk-00000002", "1795465500.70"
steps = [(0.3, "S>C", d) for d in internal("1795465500.68")]
steps += [(0.3, "S>C", d) for d in trunk_call(trunk, uid)]
steps += [(2.0, "S>C", hangup_event(trunk, uid))]
write("s23-inbound-caller-hangup",
      COMMON + ["First a call between two phones in context from-internal (not an inbound context),",
                "then a trunk call in from-pstn: Newchannel (Ring), Newstate Up, and 2 s later the",
                "caller hangs up (Hangup, Cause 16)."], steps)

trunk, uid = "PJSIP/trunk-00000003", "1795465600.80"
mute = (b"Action: MuteAudio\r\nActionID: mute-1\r\nChannel: %s\r\nDirection: in\r\nState: on"
        b"\r\n\r\n" % trunk.encode())
mute_ok = b"Response: Success\r\nActionID: mute-1\r\n\r\n"  # as in file 14: no Message
hangup = b"Action: Hangup\r\nActionID: hangup-1\r\nChannel: %s\r\nCause: 16\r\n\r\n" % trunk.encode()
hangup_ok = b"Response: Success\r\nActionID: hangup-1\r\nMessage: Channel Hungup\r\n\r\n"  # file 04
steps = [(0.3, "S>C", d) for d in trunk_call(trunk, uid)]
steps += [(1.0, "C>S", mute), (0.001, "S>C", mute_ok),
          (1.0, "C>S", hangup), (0.001, "S>C", hangup_ok),
          (0.0005, "S>C", hangup_event(trunk, uid))]
write("s24-inbound-ended-by-endcall",
      COMMON + ["A trunk call in from-pstn is answered; voipd mutes it (MuteAudio on the trunk",
                "channel, reply as in 14-muteaudio.txt), then ends it (Hangup with Cause 16, reply",
                "as in 04-click-to-call-answered-hangup-action.txt), and the channel's Hangup",
                "follows."], steps)
