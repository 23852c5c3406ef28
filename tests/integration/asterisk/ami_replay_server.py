"""A scripted AMI server that replays a recorded Asterisk session.

It plays the server side of one transcript (tests/integration/asterisk/
transcripts/, recorded on a real Asterisk 22) to a real voipd, and checks what
voipd sends:

* Server bytes are the recorded ones, byte for byte, except for the ids that
  necessarily differ between the recording and this run: the ActionIDs voipd
  chose and the ChannelId/OtherChannelId it assigned (mapped from the recorded
  ones). They are cut at random points and sent piece by piece.
* Each recorded client action is an expectation. voipd's actions are matched
  structurally (the action name and its key headers, see KEY_HEADERS), never
  byte for byte: ActionIDs and ids differ, and voipd adds headers.
* Actions voipd sends that the recording does not have (keepalive Ping, the
  CoreShowChannels after each login, a second leg's Hangup...) get the reply
  a real Asterisk would give, computed from a model of the channels the
  replayed events created.
* Recorded actions that voipd never sends (Atxfer, Getvar...) can be declared
  "performed by another AMI client" (`auto`): the server goes on as if they had
  come, so that voipd sees the events they caused.

Options and faults:
  chunk=(min, max)   piece sizes the server bytes are cut into (random points)
  pause              seconds between pieces (partial / slow writes)
  time_scale, max_gap  how the recorded gaps between messages are replayed
  reply_delay        seconds before each reply to voipd (a slow server)
  answer=False       a hung PBX: login works, then nothing is ever answered
  drop={...}         an outage: "after": (text, n) closes the connection after the
                     n-th server message containing text, or "on_action": name
                     right after voipd's action (before its reply); "lose":
                     None | "rest" | text — what the PBX does meanwhile is applied
                     to the channel model but not sent (up to the first message
                     containing text); connections are refused until the test
                     calls restore.set(), then the replay goes on
  secret / md5       what the PBX accepts; md5=True answers `Challenge`
  tls_context        an ssl.SSLContext: serve TLS
  auto(action)       recorded actions done by "another AMI client"
  relaxed / relax(expected)  key headers not compared (all steps / one step)
  port               listen on this port (default: any free one)
  sync_after_reconnect  after an outage, the replay goes on only once voipd's
                     CoreShowChannels (answered from the channel model) came:
                     a restarted voipd sees the PBX's channels before the rest
  gate_timeout       after an accepted Originate's Response the replay waits
                     (at most this long) for release_events(), so that a test
                     can open WatchCall before the call's events flow

The synthetic transcripts in synthetic/ are derived from recorded ones and
say so in their header.

Run alone to debug:  /usr/bin/python3 ami_replay_server.py TRANSCRIPT
"""
import hashlib
import random
import re
import socket
import sys
import threading
import time

MARKER = re.compile(rb"--- \+([0-9.]+) (C>S|S>C) (?:(\d+) bytes|EOF) ---\n")

# What must match between a recorded action and voipd's. ActionIDs differ by
# design; Variable/CallerID... are checked by the tests where they matter.
KEY_HEADERS = {
    "originate": ["Channel", "Context", "Exten", "Priority", "Application", "Async", "Timeout"],
    "hangup": ["Channel"],
    "redirect": ["Channel", "Context", "Exten", "Priority", "ExtraChannel", "ExtraContext",
                 "ExtraExten", "ExtraPriority"],
    "muteaudio": ["Channel", "Direction", "State"],
    "bridge": ["Channel1", "Channel2"],
    "coreshowchannels": [],
    "ping": [],
}
# Ids Asterisk and voipd put in these headers are mapped recorded -> live.
ID_HEADERS = {"uniqueid", "linkedid", "destuniqueid", "destlinkedid", "localoneuniqueid",
              "localonelinkedid", "localtwouniqueid", "localtwolinkedid", "actionid"}
AUTH_FAILED = b"Response: Error\r\nActionID: %s\r\nMessage: Authentication failed\r\n\r\n"
CHALLENGE = "840415273"


class Record:
    def __init__(self, t, direction, data, eof=False):
        self.t, self.direction, self.data, self.eof = t, direction, data, eof


def read_transcript(path):
    with open(path, "rb") as f:
        raw = f.read()
    records, pos = [], 0
    while True:
        m = MARKER.search(raw, pos)
        if not m:
            return records
        t, direction = float(m.group(1)), m.group(2).decode()
        if m.group(3) is None:
            records.append(Record(t, direction, b"", eof=True))
            pos = m.end()
            continue
        n = int(m.group(3))
        records.append(Record(t, direction, raw[m.end():m.end() + n]))
        pos = m.end() + n + 1


class Message:
    """One AMI message; keeps the raw lines so that re-serialising an
    unchanged message gives the same bytes."""

    def __init__(self, data):
        self.lines = data.split(b"\r\n")
        self.headers = []
        for line in self.lines:
            k, sep, v = line.partition(b":")
            if sep:
                self.headers.append((k.decode("latin-1"), v[1:].decode("latin-1")
                                     if v.startswith(b" ") else v.decode("latin-1")))

    def get(self, key, default=""):
        key = key.lower()
        for k, v in self.headers:
            if k.lower() == key:
                return v
        return default

    def get_all(self, key):
        return [v for k, v in self.headers if k.lower() == key.lower()]

    def name(self):
        return self.get("Action").lower()

    def __repr__(self):
        return "<%s>" % " | ".join("%s: %s" % kv for kv in self.headers)


def rewrite(data, ids):
    """`data` with every id-carrying header value in `ids` replaced; every
    other byte stays as recorded."""
    out = []
    for line in data.split(b"\r\n"):
        k, sep, v = line.partition(b": ")
        if sep and k.decode("latin-1").lower() in ID_HEADERS:
            live = ids.get(v.decode("latin-1"))
            if live is not None:
                line = k + sep + live.encode()
        out.append(line)
    return b"\r\n".join(out)


def event_classes(msg):
    priv = msg.get("Privilege")
    return {c.strip().lower() for c in priv.split(",")} if priv else None


class Step:
    def __init__(self, kind, record=None, action=None):
        self.kind = kind          # "send" | "expect" | "eof"
        self.record = record
        self.action = action      # Message, for "expect"


def build_script(records):
    """Greeting, login block, then the steps; the closing Logoff (which voipd
    only sends when it stops) and what follows it are left out."""
    greeting = records[0].data
    login = Message(records[1].data)
    i = 2
    login_reply = []
    while i < len(records) and records[i].direction == "S>C":
        login_reply.append(records[i])
        i += 1
    steps = []
    for r in records[i:]:
        if r.direction == "C>S":
            action = Message(r.data)
            if action.name() == "logoff":
                break
            steps.append(Step("expect", record=r, action=action))
        elif r.eof:
            steps.append(Step("eof"))
        else:
            steps.append(Step("send", record=r))
    return greeting, login, login_reply, steps


class ConnectionClosed(Exception):
    pass


class AmiReplayServer:
    """Use as a context manager; `port` is where voipd must connect."""

    def __init__(self, transcript, secret="voipd-secret", md5=False, seed=None,
                 chunk=(1, 400), pause=0.0, time_scale=0.2, max_gap=0.5, reply_delay=0.0,
                 auto=None, relaxed=(), drop=None, tls_context=None, wait_timeout=30.0,
                 lookahead=3, gate_timeout=5.0, relax=None, answer=True, port=0,
                 sync_after_reconnect=False):
        self.path = transcript
        self.records = read_transcript(transcript)
        self.greeting, self.login_action, self.login_reply, self.steps = build_script(self.records)
        self.secret = secret  # what the PBX expects (voipd's is in its secret_file)
        self.md5 = md5
        self.rng = random.Random(seed if seed is not None else random.randrange(1 << 30))
        self.chunk = chunk
        self.pause = pause
        self.time_scale = time_scale
        self.max_gap = max_gap
        self.reply_delay = reply_delay
        self.auto = auto or (lambda action: False)
        self.relaxed = {h.lower() for h in relaxed}
        # relax(expected) -> header names not compared for that one step.
        self.relax = relax or (lambda expected: ())
        # False: a hung PBX that reads actions and never answers them.
        self.answer = answer
        self.drop = drop
        self.tls_context = tls_context
        self.wait_timeout = wait_timeout
        self.lookahead = lookahead
        self.sync_after_reconnect = sync_after_reconnect
        self._synced = False

        self.ids = {}            # recorded id -> live id
        self.channels = {}       # model: live Uniqueid -> dict of the channel
        self.actions = []        # every action voipd sent (Message), in order
        self.logins = []         # Login actions
        self.errors = []         # mismatches: the test fails on any
        self.connections = 0
        self.script_done = threading.Event()
        self.logged_in = threading.Event()
        self.dropped = threading.Event()
        self.restore = threading.Event()   # set by the test to end an outage
        self.mask = None
        self.waiting_for = None  # name of the recorded action the replay waits for
        self._gate = threading.Semaphore(0)
        self.gate_timeout = gate_timeout
        self._pos = 0
        self._held = []          # actions received ahead of their turn
        self._stop = False
        self._sock = None
        self._conn = None
        self._buf = b""
        self._last_t = None
        self._lock = threading.Lock()
        self._listener = self._listen(port)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def release_events(self):
        """Lets the events of the last Originate flow (see _run_script)."""
        self._gate.release()

    # ---- lifecycle -----------------------------------------------------
    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop = True
        self.restore.set()
        for s in (self._conn, self._listener):
            try:
                if s:
                    s.close()
            except OSError:
                pass
        self._thread.join(5)

    def _listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(4)
        s.settimeout(0.2)
        return s

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop:
                    return
                time.sleep(0.05)
                continue
            if self.tls_context is not None:
                try:
                    conn.settimeout(5)
                    conn = self.tls_context.wrap_socket(conn, server_side=True)
                except OSError:
                    conn.close()  # a client that does not trust us: its business
                    continue
            self.connections += 1
            self._conn, self._buf = conn, b""
            conn.settimeout(0.1)
            try:
                self._session()
            except ConnectionClosed:
                pass
            except OSError:
                pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    # ---- I/O -----------------------------------------------------------
    def _write(self, data):
        """Sends `data` cut at random points (self.chunk = min, max piece)."""
        lo, hi = self.chunk
        i = 0
        while i < len(data):
            n = self.rng.randint(lo, hi)
            try:
                self._conn.sendall(data[i:i + n])
            except OSError:
                raise ConnectionClosed()
            i += n
            if self.pause:
                time.sleep(self.pause)

    def _read_action(self, timeout):
        """The next complete action, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                data, self._buf = self._buf[:end + 2], self._buf[end + 4:]
                msg = Message(data)
                with self._lock:
                    self.actions.append(msg)
                return msg
            if time.monotonic() >= deadline or self._stop:
                return None
            try:
                chunk = self._conn.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ValueError):
                raise ConnectionClosed()
            if not chunk:
                raise ConnectionClosed()
            self._buf += chunk

    # ---- the session ---------------------------------------------------
    def _session(self):
        self._write(self.greeting)
        if not self._login():
            return
        self.logged_in.set()
        if not self.answer:
            while not self._stop:
                self._read_action(0.2)  # read, never answer
            return
        if self.sync_after_reconnect and self.dropped.is_set() and not self._synced:
            self._synced = True
            deadline = time.monotonic() + self.wait_timeout
            while True:
                action = self._read_action(0.2)
                if action is not None:
                    self._reply_unscripted(action)
                    if action.name() == "coreshowchannels":
                        break
                elif time.monotonic() > deadline:
                    self.errors.append("no CoreShowChannels after the reconnect")
                    break
        self._run_script()
        self.script_done.set()
        while not self._stop:   # the recording is over: stay a polite PBX
            action = self._read_action(0.2)
            if action is not None:
                self._reply_unscripted(action)

    def _login(self):
        challenge = None
        while True:
            action = self._read_action(self.wait_timeout)
            if action is None:
                self.errors.append("no Login within %ss" % self.wait_timeout)
                return False
            aid = action.get("ActionID").encode()
            if action.name() == "challenge":
                challenge = CHALLENGE
                self._write(b"Response: Success\r\nActionID: %s\r\nChallenge: %s\r\n\r\n"
                            % (aid, challenge.encode()))
                continue
            if action.name() != "login":
                self._write(b"Response: Error\r\nActionID: %s\r\nMessage: Permission denied"
                            b"\r\n\r\n" % aid)
                continue
            self.logins.append(action)
            self.mask = action.get("Events") or None
            if action.get("Username") != self.login_action.get("Username"):
                ok = False
            elif action.get("AuthType").lower() == "md5":
                expected = hashlib.md5((str(challenge) + self.secret).encode()).hexdigest()
                ok = self.md5 and challenge is not None and action.get("Key") == expected
            else:
                ok = not self.md5 and action.get("Secret") == self.secret
            recorded_ok = Message(self.login_reply[0].data).get("Response") == "Success"
            self.ids[self.login_action.get("ActionID")] = action.get("ActionID")
            if ok and recorded_ok:
                self._send_records(self.login_reply)
                return True
            # Asterisk answers a failed login after ~1 s, then closes (file 02).
            time.sleep(min(1.0, 1.0 * self.time_scale * 5))
            self._write(AUTH_FAILED % aid)
            raise ConnectionClosed()

    def _send_records(self, records):
        for r in records:
            if r.eof:
                raise ConnectionClosed()
            self._send_record(r)

    def _send_record(self, r):
        if self._last_t is not None:
            gap = (r.t - self._last_t) * self.time_scale
            if gap > 0.001:
                self._serve_for(min(gap, self.max_gap))
        self._last_t = r.t
        data = rewrite(r.data, self.ids)
        msg = Message(data)
        self._model(msg)
        if msg.get("Event") and self.mask and self.mask.lower() not in ("on", "all"):
            classes = event_classes(msg)
            wanted = {c.strip().lower() for c in self.mask.split(",")}
            if classes is not None and not (classes & wanted):
                return  # Asterisk would not send it with this Events mask
        self._write(data)

    def _serve_for(self, seconds):
        """Waits, answering voipd meanwhile (it may Ping or act)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            action = self._read_action(left)
            if action is not None:
                self._dispatch_unexpected(action)

    def _run_script(self):
        while self._pos < len(self.steps) and not self._stop:
            step = self.steps[self._pos]
            if step.kind == "eof":
                self._pos += 1
                raise ConnectionClosed()
            if step.kind == "send":
                self._pos += 1
                self._send_record(step.record)
                if self._should_drop(step.record):
                    self._outage()
                    return
                continue
            # expect
            if self.auto(step.action):
                # Done by "another AMI client": its reply goes out with the
                # recorded ActionID, which voipd does not know and ignores.
                self._pos += 1
                self._last_t = step.record.t
                continue
            action = self._take_held(step.action)
            deadline = time.monotonic() + self.wait_timeout
            self.waiting_for = step.action.name() if action is None else None
            while action is None:
                if time.monotonic() > deadline:
                    self.errors.append("timed out waiting for %r" % step.action)
                    return
                got = self._read_action(0.2)
                if got is None:
                    continue
                if self._matches(step.action, got):
                    action = got
                else:
                    self._dispatch_unexpected(got)
            self.waiting_for = None
            self._pos += 1
            self._last_t = step.record.t  # the recorded replies follow it closely
            self._bind(step.action, action)
            if self.drop and self.drop.get("on_action") == action.name() and \
                    not self.dropped.is_set():
                self._pos_skip_reply()
                self._outage()  # before any reply: the action's fate is unknown
                return
            if self.reply_delay:
                time.sleep(self.reply_delay)
            if step.action.name() == "originate" and self._pos < len(self.steps) and \
                    self.steps[self._pos].kind == "send":
                # Its Response; if accepted, wait until the test watches the
                # call, so that WatchCall sees every state (release_events()).
                reply = self.steps[self._pos].record
                self._send_record(reply)
                self._pos += 1
                if Message(reply.data).get("Response") == "Success":
                    self._gate.acquire(timeout=self.gate_timeout)

    # ---- matching ------------------------------------------------------
    def _matches(self, expected, got):
        if expected.name() != got.name():
            return False
        relaxed = self.relaxed | {h.lower() for h in self.relax(expected)}
        for h in KEY_HEADERS.get(expected.name(), []):
            if h.lower() in relaxed:
                continue
            want = self.ids.get(expected.get(h), expected.get(h))
            if want.lower() != got.get(h).lower():
                return False
        return True

    def _upcoming(self):
        """The next few recorded actions voipd may already be sending."""
        out = []
        for step in self.steps[self._pos:]:
            if step.kind == "expect" and not self.auto(step.action):
                out.append(step.action)
                if len(out) >= self.lookahead:
                    break
        return out

    def _dispatch_unexpected(self, got):
        # An action that a later step expects is early, not extra: hold it
        # unanswered until its turn (e.g. two Hangups in the other order).
        if got.name() != "ping":
            for expected in self._upcoming():
                if self._matches(expected, got):
                    self._held.append(got)
                    return
        self._reply_unscripted(got)

    def _take_held(self, expected):
        for i, got in enumerate(self._held):
            if self._matches(expected, got):
                return self._held.pop(i)
        return None

    def _bind(self, expected, got):
        self.ids[expected.get("ActionID")] = got.get("ActionID")
        if expected.name() == "originate":
            self._bind_originate(expected, got)

    def _bind_originate(self, expected, got):
        live_a, live_b = got.get("ChannelId"), got.get("OtherChannelId")
        rec_a, rec_b = expected.get("ChannelId"), expected.get("OtherChannelId")
        if not rec_a:
            rec_a, rec_b = self._recorded_ids_after(self._pos)
        if rec_a and live_a:
            self.ids[rec_a] = live_a
        if rec_b and live_b:
            self.ids[rec_b] = live_b

    def _recorded_ids_after(self, pos):
        """The Uniqueids the PBX chose for this Originate's Local pair (the
        recording had no ChannelId): its first Newchannel, and the one
        linked to it."""
        first = second = None
        for step in self.steps[pos:]:
            if step.kind == "expect" and step.action.name() == "originate":
                break
            if step.kind != "send":
                continue
            msg = Message(step.record.data)
            if msg.get("Event") == "Newchannel":
                if first is None:
                    first = msg.get("Uniqueid")
                elif msg.get("Linkedid") == first and second is None:
                    second = msg.get("Uniqueid")
            if msg.get("Event") == "OriginateResponse" and first is None:
                uid = msg.get("Uniqueid")
                if uid and uid != "<unknown>":
                    first = uid
        return first, second

    # ---- what a PBX answers to actions that are not in the recording ----
    def _reply_unscripted(self, action):
        aid = action.get("ActionID").encode()
        name = action.name()
        if self.reply_delay:
            time.sleep(self.reply_delay)
        if name == "ping":
            self._write(b"Response: Success\r\nActionID: %s\r\nPing: Pong\r\nTimestamp: %.6f"
                        b"\r\n\r\n" % (aid, time.time()))
        elif name == "coreshowchannels":
            self._write(self._core_show_channels(aid))
        elif name == "hangup":
            chan = action.get("Channel")
            live = any(c["Channel"] == chan or u == chan for u, c in self.channels.items())
            if live:
                self._write(b"Response: Success\r\nActionID: %s\r\nMessage: Channel Hungup"
                            b"\r\n\r\n" % aid)
            else:
                self._write(b"Response: Error\r\nActionID: %s\r\nMessage: No such channel"
                            b"\r\n\r\n" % aid)
        elif name in ("events", "filter"):
            self._write(b"Response: Success\r\nActionID: %s\r\n\r\n" % aid)
        elif name == "logoff":
            self._write(b"Response: Goodbye\r\nActionID: %s\r\nMessage: Thanks for all the fish."
                        b"\r\n\r\n" % aid)
            raise ConnectionClosed()
        else:
            self._write(b"Response: Error\r\nActionID: %s\r\nMessage: Invalid/unknown command: "
                        b"%s. Use Action: ListCommands to show available commands.\r\n\r\n"
                        % (aid, action.get("Action").encode()))

    def _model(self, msg):
        """The channels that exist at the PBX after `msg` (already rewritten)."""
        event = msg.get("Event")
        uid = msg.get("Uniqueid")
        if not event or not uid:
            return
        if event == "Hangup":
            self.channels.pop(uid, None)
            return
        if event in ("CoreShowChannel",):
            return
        chan = self.channels.get(uid)
        if chan is None:
            if event != "Newchannel":
                return
            chan = self.channels[uid] = {"BridgeId": ""}
        for key in ("Channel", "ChannelState", "ChannelStateDesc", "Context", "Exten",
                    "Linkedid"):
            if msg.get(key):
                chan[key] = msg.get(key)
        chan["Uniqueid"] = uid
        if event == "BridgeEnter":
            chan["BridgeId"] = msg.get("BridgeUniqueid")
        elif event == "BridgeLeave":
            chan["BridgeId"] = ""

    def _core_show_channels(self, aid):
        out = [b"Response: Success\r\nActionID: %s\r\nEventList: start\r\n"
               b"Message: Channels will follow\r\n\r\n" % aid]
        for c in self.channels.values():
            out.append(("Event: CoreShowChannel\r\nActionID: %s\r\nChannel: %s\r\n"
                        "ChannelState: %s\r\nChannelStateDesc: %s\r\nContext: %s\r\n"
                        "Exten: %s\r\nUniqueid: %s\r\nLinkedid: %s\r\nBridgeId: %s\r\n\r\n" % (
                            aid.decode(), c.get("Channel", ""), c.get("ChannelState", "0"),
                            c.get("ChannelStateDesc", ""), c.get("Context", ""),
                            c.get("Exten", ""), c["Uniqueid"], c.get("Linkedid", ""),
                            c.get("BridgeId", ""))).encode())
        out.append(b"Event: CoreShowChannelsComplete\r\nActionID: %s\r\nEventList: Complete\r\n"
                   b"ListItems: %d\r\n\r\n" % (aid, len(self.channels)))
        return b"".join(out)

    # ---- outages -------------------------------------------------------
    def _should_drop(self, record):
        if not self.drop or self.dropped.is_set():
            return False
        if "after" not in self.drop:
            return False
        text, nth = self.drop["after"]
        if text.encode() in record.data:
            self.drop["_seen"] = self.drop.get("_seen", 0) + 1
            return self.drop["_seen"] == nth
        return False

    def _pos_skip_reply(self):
        """Skips the dropped action's own Response (it never went out)."""
        if self._pos < len(self.steps) and self.steps[self._pos].kind == "send" and \
                Message(self.steps[self._pos].record.data).get("Response"):
            self._pos += 1

    def _outage(self):
        """Closes the connection, lets the PBX go on without voipd (the
        `lose` records happen but are not sent), refuses connections until
        the test calls restore.set(), then serves the next connection."""
        self.dropped.set()
        try:
            self._conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._conn.close()
        self._listener.close()
        lose = self.drop.get("lose")
        while lose and self._pos < len(self.steps):
            step = self.steps[self._pos]
            if step.kind == "send":
                if lose != "rest" and lose.encode() in step.record.data:
                    break
                self._model(Message(rewrite(step.record.data, self.ids)))
            elif step.kind == "expect":
                break
            self._pos += 1
        self.restore.wait()
        if self._stop:
            return
        self._last_t = None
        self._listener = self._listen(self.port)
        raise ConnectionClosed()  # back to accept(): the script goes on


if __name__ == "__main__":
    with AmiReplayServer(sys.argv[1], seed=1) as server:
        print("listening on 127.0.0.1:%d" % server.port, flush=True)
        try:
            while True:
                time.sleep(1)
                for e in server.errors:
                    print("error:", e)
                server.errors.clear()
        except KeyboardInterrupt:
            pass
