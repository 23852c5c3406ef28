"""Documented error paths of the asterisk-ami adapter (docs/adapters/asterisk.md,
"Operations" and "Connection, health, recovery"), each through the gRPC API:

* EndCall while the AMI connection is down: OK, and the legs are hung up
  (Cause 16) at the resynchronisation after the reconnect;
* Hold not confirmed within hold.confirm_timeout_seconds, a refused Redirect
  (hold) or Bridge (resume), a hold pending when the connection drops;
* a refused Hangup, and `No such channel` counting as done;
* Hold/Mute before the call is connected;
* an MD5 login refused (after the Challenge, and the Challenge itself), a
  tls.ca_file that cannot be loaded;
* the reconnect backoff (reconnect_min_seconds doubling up to
  reconnect_max_seconds, +-20 % jitter).

SYNTHETIC server behaviour, not recorded from a real Asterisk, is made in this
file and marked as such:
* `derive()` writes a transcript derived from a recorded one (records left
  out, a reply replaced) to the test's temporary directory, with a
  "SYNTHETIC" header naming what was changed;
* `ScriptedAmiServer` is a minimal AMI peer for the login and reconnect
  tests (greeting as recorded in 01-login-success.txt, replies in the
  recorded formats).
"""
import hashlib
import os
import socket
import threading
import time
import unittest
from unittest import mock

import grpc

import ami_test_support
from ami_replay_server import AUTH_FAILED, CHALLENGE, Message, Record, read_transcript
from ami_test_support import (DIRECT, RPC_TIMEOUT, SECRET, AmiTestCase, S, cpb_health, epb,
                              pb, transcript)

HEALTHY = cpb_health("HEALTHY")
UNHEALTHY = cpb_health("UNHEALTHY")

# Direct mode: hold sends the target to music on hold in test,600 and resume
# back to agent,wait (transcript 15). Click-to-call: as in
# test_replay_click_to_call (transcript 16, synthetic s16).
DIRECT_HOLD = 'hold: { context: test, exten: "600", resume_context: agent, resume_exten: wait%s }'
CLICK_HOLD = 'hold: { context: test, exten: "600", agent_context: agent, agent_exten: wait }'

GREETING = b"Asterisk Call Manager/11.0.0\r\n"  # as recorded (peer README)


# ---- SYNTHETIC transcripts derived from recorded ones ---------------------

def find(records, direction, text, start=0):
    """Index of the first record at or after `start` going `direction` whose
    bytes contain `text`."""
    for i in range(start, len(records)):
        r = records[i]
        if r.direction == direction and not r.eof and text.encode() in r.data:
            return i
    raise AssertionError("no %s record with %r after #%d" % (direction, text, start))


def reply(like, response, message, action):
    """A server reply in Asterisk's format for the recorded `action` record
    (its recorded ActionID, which the replay maps to voipd's), at the time
    of the record `like` it stands in for."""
    aid = Message(action.data).get("ActionID").encode()
    data = b"Response: %s\r\nActionID: %s\r\nMessage: %s\r\n\r\n" % (
        response.encode(), aid, message.encode())
    return Record(like.t, "S>C", data)


def write_transcript(path, source, note, records):
    out = [b"# AMI transcript: %s  (SYNTHETIC, not recorded)\n" % os.path.basename(path).encode(),
           b"# Derived from %s by tests/integration/asterisk/test_error_paths.py:\n"
           % os.path.basename(source).encode()]
    out += [b"# " + line.encode() + b"\n" for line in note.splitlines()]
    out.append(b"# Format: as the recorded transcripts.\n\n")
    for r in records:
        if r.eof:
            out.append(b"--- +%.6f S>C EOF ---\n" % r.t)
        else:
            out.append(b"--- +%.6f %s %d bytes ---\n" % (r.t, r.direction.encode(), len(r.data))
                       + r.data + b"\n")
    with open(path, "wb") as f:
        f.write(b"".join(out))
    assert len(read_transcript(path)) == len(records), path
    return path


# ---- SYNTHETIC minimal AMI peer -------------------------------------------

class ScriptedAmiServer:
    """Accepts connections on 127.0.0.1 and runs `handler(server, index,
    conn)` for each (index 0, 1, ...); records when each was accepted
    (time.monotonic()) and every action received."""

    def __init__(self, handler):
        self.handler = handler
        self.accepts = []
        self.actions = []
        self.marks = {}
        self.errors = []
        self._stop = False
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self):
        self._stop = True
        self._thread.join(5)
        self._listener.close()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepts.append(time.monotonic())
            try:
                conn.settimeout(0.1)
                self.handler(self, len(self.accepts) - 1, conn)
            except OSError:
                pass
            except Exception as e:  # noqa: BLE001 - reported to the test
                self.errors.append(repr(e))
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def read_action(self, conn, buf, timeout=5.0):
        """(the next action or None at the deadline / EOF, rest of buf)."""
        deadline = time.monotonic() + timeout
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                msg = Message(buf[:end + 2])
                self.actions.append(msg)
                return msg, buf[end + 4:]
            if time.monotonic() >= deadline or self._stop:
                return None, buf
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return None, buf
            buf += chunk

    def sent(self, name):
        return [a for a in list(self.actions) if a.name() == name.lower()]


def close_at_once(server, index, conn):
    """A PBX port that accepts and closes at once (e.g. a crashing proxy)."""
    conn.close()


def refuse_login(server, index, conn):
    """Greeting, then `Authentication failed` to the Login (as in file 02,
    without its 1 s delay), then close."""
    conn.sendall(GREETING)
    action, _ = server.read_action(conn, b"")
    if action is not None:
        conn.sendall(AUTH_FAILED % action.get("ActionID").encode())


def log_in_then_drop(after, after_drop):
    """Connection 0 logs in, answers CoreShowChannels (no channels) and Pings,
    then is closed `after` seconds later (server.marks["drop"]); every later
    connection is passed to `after_drop`."""
    def handler(server, index, conn):
        if index > 0:
            return after_drop(server, index, conn)
        conn.sendall(GREETING)
        buf = b""
        deadline = None
        while not server._stop:
            wait = 5.0 if deadline is None else max(0.0, deadline - time.monotonic())
            action, buf = server.read_action(conn, buf, timeout=wait)
            if action is None:
                break
            aid = action.get("ActionID").encode()
            if action.name() == "login":
                conn.sendall(b"Response: Success\r\nActionID: %s\r\n"
                             b"Message: Authentication accepted\r\n\r\n" % aid)
                deadline = time.monotonic() + after
            elif action.name() == "coreshowchannels":
                conn.sendall(b"Response: Success\r\nActionID: %s\r\nEventList: start\r\n"
                             b"Message: Channels will follow\r\n\r\n"
                             b"Event: CoreShowChannelsComplete\r\nActionID: %s\r\n"
                             b"EventList: Complete\r\nListItems: 0\r\n\r\n" % (aid, aid))
            elif action.name() == "ping":
                conn.sendall(b"Response: Success\r\nActionID: %s\r\nPing: Pong\r\n"
                             b"Timestamp: %.6f\r\n\r\n" % (aid, time.time()))
        server.marks["drop"] = time.monotonic()
        conn.shutdown(socket.SHUT_RDWR)
    return handler


class ErrorPathTestCase(AmiTestCase):

    def derive(self, name, note, edit):
        """Serves a SYNTHETIC transcript: the records of `name` as `edit`
        returns them. `name` is as for serve() (a recorded file, or
        ../synthetic/...)."""
        source = transcript(name)
        records = edit(read_transcript(source))
        path = os.path.join(self._tmp.name, "derived-" + os.path.basename(source))
        return write_transcript(path, source, note, records)

    def assert_rpc_error(self, call, grpc_code, code):
        """The RPC fails with this gRPC status and VoipError code."""
        with self.assertRaises(grpc.RpcError) as ctx:
            call()
        self.assertEqual(ctx.exception.code(), grpc_code, ctx.exception.details())
        err = ami_test_support.P.voip_error(ctx.exception)
        self.assertIsNotNone(err, "no VoipError detail on %s" % ctx.exception)
        self.assertEqual(epb.ErrorCode.Name(err.error_code), epb.ErrorCode.Name(code), err.message)
        return err

    def status(self, session_id):
        return self.stub.GetCallStatus(pb.GetCallStatusRequest(session_id=session_id),
                                       timeout=RPC_TIMEOUT)

    def start_voipd_replacing(self, replace, **kwargs):
        """start_voipd with some lines of the shared config replaced."""
        original = ami_test_support.config

        def patched(*args, **kw):
            text = original(*args, **kw)
            for old, new in replace.items():
                self.assertIn(old, text)
                text = text.replace(old, new)
            return text

        with mock.patch.object(ami_test_support, "config", patched):
            return self.start_voipd(**kwargs)

    def scripted(self, handler):
        server = ScriptedAmiServer(handler)
        self.addCleanup(server.close)
        return server


# ---- 1. EndCall while the AMI connection is down --------------------------

class EndCallWhileDownTest(ErrorPathTestCase):
    """asterisk_ami_adapter.cc DoEndCall (not connected: OK at once) and
    ami_call_tracker_resync.cc Resync (end_requested: HangupChannels)."""

    AGENT = "Local/100@test-00000001;1"
    TARGET = "Local/100@test-00000002;1"

    def connected_then_down(self, end_call_timeout="5s"):
        # File 04: click-to-call answered and bridged; the connection drops
        # after the second BridgeEnter and connections are refused until
        # restore. The recording's next step is voipd's Hangup of the agent.
        self.serve("04-click-to-call-answered-hangup-action.txt",
                   drop={"after": ("Event: BridgeEnter", 2)})
        self.start_voipd_replacing(
            {"end_call_timeout: 5s": "end_call_timeout: %s" % end_call_timeout})
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        self.assertTrue(self.server.dropped.wait(10), "the replay never dropped")
        # The adapter knows it is down (its reconnects are refused).
        self.wait_health(UNHEALTHY, contains="cannot connect")
        return session, w

    def assert_legs_hung_up_after_the_reconnect(self):
        actions = list(self.server.actions)
        names = [a.name() for a in actions]
        hangups = [a for a in actions if a.name() == "hangup"]
        self.assertEqual(self.server.connections, 2)
        # The second login's CoreShowChannels (the resynchronisation) comes
        # before any Hangup: nothing was sent while down.
        lists = [i for i, n in enumerate(names) if n == "coreshowchannels"]
        self.assertEqual(len(lists), 2, names)
        self.assertLess(lists[1], names.index("hangup"), names)
        channels = [h.get("Channel") for h in hangups]
        self.assertEqual(channels[0], self.AGENT, "the originated leg first")
        self.assertIn(self.TARGET, channels, "every leg of the call")
        self.assertEqual([h.get("Cause") for h in hangups], ["16"] * len(hangups), channels)

    def test_end_call_while_down_is_ok_at_once_and_legs_are_hung_up_at_resync(self):
        session, w = self.connected_then_down(end_call_timeout="2s")
        # The PBX stays away. The adapter answers OK at once, so the core
        # waits its end_call_timeout (2 s here) and ends the call locally.
        # Were the adapter to refuse, EndCall would fail; were it to wait for
        # the reconnect, EndCall would run into the RPC deadline
        # (RPC_TIMEOUT, 15 s).
        ended = self.end_call(session.session_id)
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        self.assertIn("did not confirm the hangup", ended.end_reason.message)
        self.assertEqual(self.sent("Hangup"), [], "nothing can be sent while down")
        # Back: the resynchronisation hangs up every leg with Cause 16. The
        # replay's next recorded step is that Hangup of the agent leg.
        self.server.restore.set()
        self.wait_health(HEALTHY)
        self.assert_server_clean()
        self.assert_legs_hung_up_after_the_reconnect()
        # The PBX's Hangup events end nothing twice.
        self.assertEqual(self.status(session.session_id).end_reason.message,
                         ended.end_reason.message)
        self.assertEqual(w.statuses(), ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                        "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])

    def test_end_call_during_outage_is_confirmed_by_the_resync_hangups(self):
        session, w = self.connected_then_down()
        pending = self.stub.EndCall.future(pb.EndCallRequest(session_id=session.session_id),
                                           timeout=RPC_TIMEOUT)
        time.sleep(0.5)  # the adapter takes the EndCall while still down
        self.assertEqual(self.sent("Hangup"), [])
        self.server.restore.set()
        # Back within the core's end_call_timeout: the Hangups sent at the
        # resynchronisation end the call, as requested.
        ended = pending.result()
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        self.assertEqual(ended.end_reason.message.split(";")[0], "ended by request")
        self.assertEqual(ended.end_reason.provider_cause.q850_cause, 16)
        self.assert_server_clean()
        self.assert_legs_hung_up_after_the_reconnect()


# ---- 2, 3, 5. Hold errors ---------------------------------------------------

class HoldErrorTest(ErrorPathTestCase):

    def redirects_of_15(self, records):
        first = find(records, "C>S", "Action: Redirect")
        second = find(records, "C>S", "Action: Redirect", first + 1)
        hangup = find(records, "C>S", "Action: Hangup", second + 1)
        return first, second, hangup

    def start_direct_hold(self, extra=""):
        return self.start_voipd(mode="direct", mode_value=DIRECT, extra=DIRECT_HOLD % extra)

    def connected_call(self, number="100"):
        session, w = self.call_and_watch(number)
        w.wait_status(S.CALL_STATUS_CONNECTED)
        return session, w

    def end_and_check(self, session, w, held_before=False):
        self.end_call(session.session_id)
        self.assertEqual(w.wait_terminal().status, S.CALL_STATUS_DISCONNECTED)
        expected = ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING", "CALL_STATUS_CONNECTED"]
        if held_before:
            expected.append("CALL_STATUS_ON_HOLD")
        self.assertEqual(w.statuses(), expected + ["CALL_STATUS_DISCONNECTED"])
        self.assert_server_clean()

    # 2. confirm_timeout_seconds --------------------------------------------
    def test_hold_not_confirmed_within_confirm_timeout_is_a_provider_error(self):
        def edit(records):
            first, second, hangup = self.redirects_of_15(records)
            between = [r for r in records[first + 2:second]
                       if b"Event: MusicOnHoldStart" not in r.data]
            return records[:first + 2] + between + records[hangup:]
        self.serve(self.derive(
            "15-redirect-to-music-on-hold.txt",
            "The PBX accepts the hold Redirect but never sends MusicOnHoldStart; the\n"
            "resume Redirect and its events are left out. Then the recorded Hangup.",
            edit))
        self.start_direct_hold(", confirm_timeout_seconds: 1")
        session, w = self.connected_call()
        began = time.monotonic()
        err = self.assert_rpc_error(lambda: self.hold(session.session_id, True),
                                    grpc.StatusCode.UNAVAILABLE, epb.PROVIDER_ERROR)
        waited = time.monotonic() - began
        self.assertIn("did not confirm the hold", err.message)
        self.assertIn("MusicOnHoldStart", err.message)
        self.assertGreaterEqual(waited, 0.9, "failed before confirm_timeout_seconds (1 s)")
        self.assertEqual(len(self.sent("Redirect")), 1)
        now = self.status(session.session_id)
        self.assertEqual(now.status, S.CALL_STATUS_CONNECTED)
        self.assertFalse(now.on_hold)
        self.end_and_check(session, w)

    # 3. Response: Error ------------------------------------------------------
    def test_refused_hold_redirect_is_a_provider_error(self):
        def edit(records):
            first, second, hangup = self.redirects_of_15(records)
            refusal = reply(records[first + 1], "Error",
                            "Channel does not exist: Local/100@test-0000000f;1", records[first])
            return records[:first + 1] + [refusal] + records[hangup:]
        self.serve(self.derive(
            "15-redirect-to-music-on-hold.txt",
            "The hold Redirect is answered `Response: Error` (manager.c action_redirect's\n"
            "wording); nothing of the hold or resume follows. Then the recorded Hangup.",
            edit))
        self.start_direct_hold()
        session, w = self.connected_call()
        err = self.assert_rpc_error(lambda: self.hold(session.session_id, True),
                                    grpc.StatusCode.UNAVAILABLE, epb.PROVIDER_ERROR)
        self.assertIn("Asterisk refused the Redirect: Channel does not exist", err.message)
        self.assertEqual(err.provider_cause.provider_status, "Error")
        self.assertEqual(err.provider_cause.text,
                         "Channel does not exist: Local/100@test-0000000f;1")
        self.assertEqual(err.system_name, "pbx")
        now = self.status(session.session_id)
        self.assertEqual(now.status, S.CALL_STATUS_CONNECTED)
        self.assertFalse(now.on_hold)
        self.end_and_check(session, w)

    def test_refused_resume_bridge_is_a_provider_error(self):
        def edit(records):
            bridge = find(records, "C>S", "Action: Bridge")
            hangup = find(records, "C>S", "Action: Hangup", bridge + 1)
            refusal = reply(records[bridge + 1], "Error", "Could not add Channel2 to bridge",
                            records[bridge])
            return records[:bridge + 1] + [refusal] + records[hangup:]
        self.serve(self.derive(
            "../synthetic/s16-hold-resume-bridge.txt",
            "The resume Bridge is answered `Response: Error` (wording of Asterisk's\n"
            "action_bridge); no MusicOnHoldStop or BridgeEnter follows. Then the Hangups.",
            edit))
        self.start_voipd(extra=CLICK_HOLD)
        session, w = self.connected_call()
        self.assertEqual(self.hold(session.session_id, True).status, S.CALL_STATUS_ON_HOLD)
        err = self.assert_rpc_error(lambda: self.hold(session.session_id, False),
                                    grpc.StatusCode.UNAVAILABLE, epb.PROVIDER_ERROR)
        self.assertIn("Asterisk refused the Bridge: Could not add Channel2 to bridge", err.message)
        self.assertEqual(err.provider_cause.text, "Could not add Channel2 to bridge")
        self.assertEqual(len(self.sent("Bridge")), 1)
        # A refusal leaves the state as it was: still held.
        now = self.status(session.session_id)
        self.assertEqual(now.status, S.CALL_STATUS_ON_HOLD)
        self.assertTrue(now.on_hold)
        self.end_and_check(session, w, held_before=True)

    # 5. the connection drops with a hold pending --------------------------
    def test_hold_pending_when_the_connection_drops_is_a_network_error(self):
        # File 15: the connection drops right after the Redirect's Success,
        # before MusicOnHoldStart (what follows until the resume is lost).
        # The resume Redirect is then done by "another AMI client" so that
        # the replay reaches voipd's Hangup.
        self.serve("15-redirect-to-music-on-hold.txt",
                   drop={"after": ("Message: Redirect successful", 1), "lose": "rest"},
                   auto=lambda a: a.name() == "redirect" and a.get("Context") == "agent")
        self.start_direct_hold()
        session, w = self.connected_call()
        err = self.assert_rpc_error(lambda: self.hold(session.session_id, True),
                                    grpc.StatusCode.UNAVAILABLE, epb.NETWORK_ERROR)
        self.assertTrue(self.server.dropped.is_set())
        # OnAmiDown's answer (the Redirect itself had been answered).
        self.assertIn("AMI connection lost", err.message)
        now = self.status(session.session_id)
        self.assertEqual(now.status, S.CALL_STATUS_CONNECTED)
        self.assertFalse(now.on_hold)
        self.server.restore.set()
        self.wait_health(HEALTHY)
        self.end_and_check(session, w)


# ---- 4. Hangup refused ------------------------------------------------------

class HangupErrorTest(ErrorPathTestCase):

    CHANNEL = "Local/100@test-00000000;1"

    def test_refused_hangup_fails_end_call_with_provider_error(self):
        def edit(records):
            hangup = find(records, "C>S", "Action: Hangup")
            refusal = reply(records[hangup + 1], "Error", "Permission denied", records[hangup])
            # The refused Hangup, then the recorded one (a second EndCall).
            return records[:hangup + 1] + [refusal] + records[hangup:]
        self.serve(self.derive(
            "03-originate-answered-hangup-action.txt",
            "The first Hangup is answered `Response: Error` / `Permission denied`\n"
            "(manager.c, a user without write=call); the recorded Hangup then repeats.",
            edit))
        self.start_voipd(mode="direct", mode_value=DIRECT)
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        err = self.assert_rpc_error(lambda: self.end_call(session.session_id),
                                    grpc.StatusCode.UNAVAILABLE, epb.PROVIDER_ERROR)
        self.assertIn("Asterisk refused the Hangup: Permission denied", err.message)
        self.assertEqual(err.provider_cause.text, "Permission denied")
        self.assertEqual(self.status(session.session_id).status, S.CALL_STATUS_CONNECTED)
        # A second EndCall is answered as recorded.
        ended = self.end_call(session.session_id)
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        hangups = self.sent("Hangup")
        self.assertEqual([(h.get("Channel"), h.get("Cause")) for h in hangups],
                         [(self.CHANNEL, "16")] * 2)
        self.assert_server_clean()

    def test_no_such_channel_counts_as_already_ended(self):
        def edit(records):
            hangup = find(records, "C>S", "Action: Hangup")
            logoff = find(records, "C>S", "Action: Logoff", hangup + 1)
            nochan = reply(records[logoff - 1], "Error", "No such channel", records[hangup])
            # The channel went away as the Hangup arrived: its events first,
            # then `No such channel` (the reply of file 18).
            return records[:hangup + 1] + records[hangup + 2:logoff] + [nochan] + records[logoff:]
        self.serve(self.derive(
            "03-originate-answered-hangup-action.txt",
            "The Hangup is answered `Response: Error` / `No such channel` (as in file 18),\n"
            "after the channel's recorded hangup events.",
            edit))
        self.start_voipd(mode="direct", mode_value=DIRECT)
        session, w = self.call_and_watch("100")
        w.wait_status(S.CALL_STATUS_CONNECTED)
        ended = self.end_call(session.session_id)  # OK, not PROVIDER_ERROR
        self.assertEqual(ended.status, S.CALL_STATUS_DISCONNECTED)
        self.assertEqual(ended.end_reason.source, S.HANGUP_SOURCE_LOCAL)
        # Ended by the PBX's Hangup events, not by the core's end_call_timeout.
        self.assertEqual(ended.end_reason.message.split(";")[0], "ended by request")
        self.assertEqual(len(self.sent("Hangup")), 1)
        self.assert_server_clean()
        # The reply really was `No such channel` (sent last by the replay).
        self.assertTrue(self.server.script_done.is_set())


# ---- 6. Hold/Mute before the call is connected -------------------------------

class NotConnectedTest(ErrorPathTestCase):

    def assert_invalid_state(self, call, session_id):
        err = self.assert_rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION, epb.INVALID_STATE)
        self.assertEqual(err.session_id, session_id)
        return err

    def test_hold_and_mute_before_connected_are_invalid_state(self):
        # File 05: the target rings for 5 s (recorded pacing kept), then no
        # answer. Hold and mute are configured.
        self.serve("05-originate-no-answer-timeout.txt", time_scale=1.0, max_gap=10)
        self.start_voipd(mode="direct", mode_value=DIRECT,
                         extra="\n".join([DIRECT_HOLD % "", "mute_direction: all"]))
        session = self.start_call("200", ring_timeout=5)
        w = self.watch(session.session_id)
        self.assertEqual(w.wait_for(lambda s: True).status, S.CALL_STATUS_INITIATING)
        for op in (self.hold, self.mute):  # INITIATING: the replay holds the events
            self.assert_invalid_state(lambda: op(session.session_id, True), session.session_id)
        self.server.release_events()
        w.wait_status(S.CALL_STATUS_RINGING)
        for op in (self.hold, self.mute):
            err = self.assert_invalid_state(lambda: op(session.session_id, True),
                                            session.session_id)
            self.assertIn("ringing", err.message)
        self.assertEqual(self.sent("Redirect") + self.sent("MuteAudio"), [])
        self.assertEqual(w.wait_terminal().status, S.CALL_STATUS_UNAVAILABLE)
        self.assert_server_clean()


# ---- 7. Login and TLS configuration errors -----------------------------------

class LoginConfigErrorTest(ErrorPathTestCase):

    def assert_configuration_error_on_start_call(self, contains):
        err = self.assert_rpc_error(lambda: self.start_call("100"),
                                    grpc.StatusCode.FAILED_PRECONDITION, epb.CONFIGURATION_ERROR)
        self.assertIn(contains, err.message)
        self.assertNotIn(SECRET, err.message)
        return err

    def test_md5_challenge_answered_login_refused(self):
        # The PBX answers the Challenge, but its secret differs: the MD5 key
        # is refused (`Authentication failed`, then it closes).
        self.serve("01-login-success.txt", md5=True, secret="the-pbx-has-another-secret")
        self.start_voipd(extra="auth: md5", wait_ready=False)
        h = self.wait_health(UNHEALTHY, contains="Authentication failed")
        self.assertIn("refused the AMI login", h.message)
        self.assertNotIn(SECRET, h.message)
        self.assertEqual(self.sent("Challenge")[0].get("AuthType"), "MD5")
        login = self.server.logins[0]
        self.assertEqual(login.get("AuthType"), "MD5")
        self.assertEqual(login.get("Key"),
                         hashlib.md5((CHALLENGE + SECRET).encode()).hexdigest())
        self.assertEqual(login.get("Secret"), "")
        self.assert_configuration_error_on_start_call("refused the AMI login")
        self.assertNotIn(SECRET, self.voipd.log())
        self.assertEqual(self.server.errors, [])

    def test_md5_challenge_refused(self):
        # SYNTHETIC: a PBX that refuses the Challenge itself (Asterisk's
        # action_challenge wording for a missing AuthType).
        def refuse_challenge(server, index, conn):
            conn.sendall(GREETING)
            action, buf = server.read_action(conn, b"")
            if action is None:
                return
            if action.name() == "challenge":
                conn.sendall(b"Response: Error\r\nActionID: %s\r\nMessage: Must specify AuthType"
                             b"\r\n\r\n" % action.get("ActionID").encode())
            server.read_action(conn, buf, timeout=2.0)  # a Login would show here
        server = self.scripted(refuse_challenge)
        self.start_voipd(port=server.port, extra="auth: md5", wait_ready=False)
        h = self.wait_health(UNHEALTHY, contains="refused the MD5 Challenge")
        self.assertIn("Must specify AuthType", h.message)
        err = self.assert_configuration_error_on_start_call("refused the MD5 Challenge")
        self.assertEqual(err.field, "auth")
        self.assertGreaterEqual(len(server.sent("Challenge")), 1)
        self.assertEqual(server.sent("Login"), [], "no Login after a refused Challenge")
        self.assertEqual(server.errors, [])

    def unloadable_ca_file(self, path, why):
        # A PBX that would accept the login: the CA bundle alone is wrong.
        self.serve("01-login-success.txt")
        self.start_voipd(extra="tls: { enabled: true, ca_file: %s }" % path, wait_ready=False)
        # The daemon starts; the system is unhealthy with the configuration
        # error (ami_connection.cc Start), and StartCall reports it.
        h = self.wait_health(UNHEALTHY, contains="tls.ca_file: cannot load")
        self.assertIn(path, h.message)
        err = self.assert_configuration_error_on_start_call("tls.ca_file: cannot load")
        self.assertEqual(err.field, "tls.ca_file")
        # The path and what is wrong with it, not Boost's "asio.ssl error".
        self.assertIn("'%s': %s" % (path, why), err.message)
        self.assertEqual(self.server.connections, 0, "no connection without a CA to verify with")
        self.assertEqual(self.server.logins, [])

    def test_tls_ca_file_missing(self):
        missing = os.path.join(self._tmp.name, "no-such-ca.pem")
        self.unloadable_ca_file(missing, "No such file or directory")

    def test_tls_ca_file_without_a_certificate(self):
        garbage = os.path.join(self._tmp.name, "not-a-ca.pem")
        with open(garbage, "w") as f:
            f.write("this is not a PEM certificate\n")
        self.unloadable_ca_file(garbage, "no certificate or crl found")


# ---- 8. Reconnect backoff ----------------------------------------------------

class ReconnectBackoffTest(ErrorPathTestCase):
    """ami_connection.cc NextBackoff: reconnect_min_seconds * 2^(n-1), at most
    reconnect_max_seconds, times a jitter in [0.8, 1.2]; n counts the failed
    attempts since the last login."""

    MIN = 0.3
    MAX = 1.2
    GAPS = 6  # delays after the drop: bases 0.3, 0.6, 1.2, 1.2, 1.2, 1.2

    def measure(self, after_drop):
        server = self.scripted(log_in_then_drop(0.3, after_drop))
        self.start_voipd_replacing(
            {"reconnect_min_seconds: 0.2": "reconnect_min_seconds: %s" % self.MIN,
             "reconnect_max_seconds: 0.5": "reconnect_max_seconds: %s" % self.MAX},
            port=server.port, wait_ready=False)
        deadline = time.monotonic() + 30
        while len(server.accepts) < 1 + self.GAPS:
            self.assertLess(time.monotonic(), deadline,
                            "only %d connections: %s" % (len(server.accepts), self.voipd.log()))
            time.sleep(0.05)
        self.assertEqual(server.errors, [])
        self.assertIn("drop", server.marks)
        self.assertGreaterEqual(len(server.sent("Login")), 1)
        # Gap k: from the drop (k = 1) or the previous attempt to attempt k.
        times = [server.marks["drop"]] + server.accepts[1:1 + self.GAPS]
        return [b - a for a, b in zip(times, times[1:])]

    def assert_backoff(self, gaps):
        what = "gaps %s" % ["%.3f" % g for g in gaps]
        for k, gap in enumerate(gaps, start=1):
            base = min(self.MAX, self.MIN * 2 ** (k - 1))
            # A timer never fires early: at least the smallest jittered delay.
            self.assertGreaterEqual(gap, 0.8 * base - 0.01, "gap %d below 0.8 x %s; %s"
                                    % (k, base, what))
            # Never beyond reconnect_max_seconds plus jitter (and a generous
            # allowance for a loaded machine).
            self.assertLessEqual(gap, 1.2 * self.MAX + 1.0, "gap %d above the cap; %s" % (k, what))
        # Growth: the 3rd delay is 4x the 1st before jitter (>= 2.67x with it).
        self.assertGreaterEqual(gaps[2], 1.5 * gaps[0], what)
        self.assertGreaterEqual(min(gaps[3:]), 1.5 * gaps[0], what)

    def test_backoff_grows_when_the_pbx_closes_at_once(self):
        self.assert_backoff(self.measure(close_at_once))

    def test_backoff_grows_when_the_pbx_refuses_logins(self):
        self.assert_backoff(self.measure(refuse_login))


if __name__ == "__main__":
    unittest.main()
