"""A randomized soak of the voip.v1 API: concurrent clients start, end, hold,
mute and query calls while subscribers read, drop and resume the event
stream, then every invariant the API documents is checked on what they saw.

Used by the soak_*.py files of the python (sandbox), sip (baresip), twilio
(a scripted far end) and history (kill -9 and restart) suites, which ctest
runs alone (integration_<suite>_soak, RUN_SERIAL). It asserts no timing:
only what must hold whatever the interleaving:

- every RPC answers OK or a documented error that carries a VoipError, and
  each operation only fails in the ways its documentation allows;
- the event stream has no gap and no duplicate; each call's events follow
  the state machine (initiating first, previous_status chained, exactly one
  terminal event, nothing after it) and each names its own sequence;
- a subscriber that drops and resumes with after_sequence misses nothing;
- WatchCall starts with a snapshot and ends OK only after the terminal event;
- once everything is ended, no call is left active and GetCallStatus of each
  call agrees with the last event the stream delivered;
- for a tenant's token (`labels`): every event, listed call and watched call
  carries the tenant's labels, and another tenant's calls (`foreign`) are
  NOT_FOUND to GetCallStatus and EndCall.

The seed is random per run and printed with the run's summary and every
problem; VOIPD_SOAK_SEED=N re-runs with the same choices (the interleaving
itself is the machine's).
"""
import collections
import os
import random
import threading
import time

import grpc

from call_stream import poll

RPC_TIMEOUT = 15

# The status changes the daemon's state machine allows (README, "States").
ALLOWED = {
    "CALL_STATUS_UNSPECIFIED": {"CALL_STATUS_INITIATING"},
    "CALL_STATUS_INITIATING": {"CALL_STATUS_RINGING", "CALL_STATUS_CONNECTED"},
    "CALL_STATUS_RINGING": {"CALL_STATUS_CONNECTED"},
    "CALL_STATUS_CONNECTED": {"CALL_STATUS_ON_HOLD"},
    "CALL_STATUS_ON_HOLD": {"CALL_STATUS_CONNECTED"},
}
TERMINAL = {"CALL_STATUS_DISCONNECTED", "CALL_STATUS_FAILED", "CALL_STATUS_BUSY",
            "CALL_STATUS_UNAVAILABLE"}

# What each operation may answer besides OK, as "GRPC_CODE/VOIP_ERROR_CODE".
# Hold and Mute race the call's own progress (not connected yet, already
# ended, another hold change in flight): INVALID_STATE is their documented
# answer to all of these.
ALLOWED_ERRORS = {
    "EndCall": set(),
    "Hold": {"FAILED_PRECONDITION/INVALID_STATE"},
    "Mute": {"FAILED_PRECONDITION/INVALID_STATE"},
    "GetCallStatus": set(),
    "ListCalls": set(),
    "SimulateInboundCall": set(),
}


class Soak:
    """Drives one daemon. `numbers` are dialled at random; `start_errors` are
    the StartCall answers (besides OK) those numbers may get."""

    def __init__(self, P, stub, numbers, start_errors=(), workers=6, seed=None,
                 live_per_worker=None, metadata=(), labels=None, foreign=None,
                 inbound_from=()):
        self.P = P
        self.pb = P.voip_service_pb2
        self.cpb = P.call_pb2
        self.metadata = tuple(metadata)
        self.stub = _WithMetadata(stub, self.metadata) if metadata else stub
        self._outage = False  # see crashed()
        self.lost_in_crash = []  # see restarted()
        # A tenant's token: what it sees must carry these labels, and the
        # event stream has gaps where other tenants' events were.
        self.labels = dict(labels or {})
        self.foreign = foreign  # another Soak whose calls this one must not see
        # Callers a simulator system rings in from (SimulateInboundCall); none:
        # outbound calls only.
        self.inbound_from = list(inbound_from)
        self.numbers = list(numbers)
        self.allowed_errors = dict(ALLOWED_ERRORS, StartCall=set(start_errors))
        self.workers = workers
        if seed is None:
            seed = int(os.environ.get("VOIPD_SOAK_SEED") or random.randrange(1 << 30))
        self.seed = seed
        # None: a worker forgets its older calls, which stay up until the end
        # (cheap on the sandbox). N: it ends its oldest call before it would
        # hold more than N, so a real far end never has more than
        # workers * N calls.
        self.live_per_worker = live_per_worker
        self.problems = []
        self.answers = collections.Counter()  # "Op OK" / "Op CODE/ERROR" -> count
        self.sessions = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._open_calls = set()  # streams to cancel at stop
        self.full_events = []
        self.resumed = []  # one list of sequences per resuming subscriber

    # --- bookkeeping ------------------------------------------------------

    def problem(self, text):
        with self._lock:
            self.problems.append("seed %d: %s" % (self.seed, text))

    def status_name(self, value):
        return self.cpb.CallStatus.Name(value)

    def _track(self, call):
        with self._lock:
            if self._stop.is_set():
                call.cancel()
            self._open_calls.add(call)

    def _untrack(self, call):
        with self._lock:
            self._open_calls.discard(call)

    def _answer(self, op, fn):
        try:
            result = fn()
            self.answers[op + " OK"] += 1
            return result
        except grpc.RpcError as e:
            err = self.P.voip_error(e)
            key = "%s/%s" % (e.code().name,
                             self.P.errors_pb2.ErrorCode.Name(err.error_code) if err else "-")
            self.answers["%s %s" % (op, key)] += 1
            if self._outage and e.code() == grpc.StatusCode.UNAVAILABLE:
                return None
            if err is None:
                self.problem("%s answered %s without a VoipError: %s" % (op, key, e.details()))
            elif key not in self.allowed_errors[op]:
                self.problem("%s answered %s: %s" % (op, key, e.details()))
            return None

    # --- the clients ------------------------------------------------------

    def _worker(self, index):
        r = random.Random(self.seed * 100 + index)
        mine = []
        while not self._stop.is_set():
            op = r.random()
            if op < 0.3 or not mine:
                if self.inbound_from and r.random() < 0.25:
                    self._ring_in(r, mine)
                else:
                    self._start(r, mine)
                continue
            sid = r.choice(mine)
            if op < 0.45:
                self._answer("EndCall", lambda: self.stub.EndCall(
                    self.pb.EndCallRequest(session_id=sid), timeout=RPC_TIMEOUT))
            elif op < 0.6:
                self._answer("Hold", lambda: self.stub.Hold(
                    self.pb.HoldRequest(session_id=sid, hold=r.random() < 0.6),
                    timeout=RPC_TIMEOUT))
            elif op < 0.7:
                self._answer("Mute", lambda: self.stub.Mute(
                    self.pb.MuteRequest(session_id=sid, mute=r.random() < 0.6),
                    timeout=RPC_TIMEOUT))
            elif op < 0.75 and self.foreign is not None:
                self._probe_foreign(r)
            elif op < 0.9:
                self._answer("GetCallStatus", lambda: self.stub.GetCallStatus(
                    self.pb.GetCallStatusRequest(session_id=sid), timeout=RPC_TIMEOUT))
            else:
                page = self._answer("ListCalls", lambda: self.stub.ListCalls(
                    self.pb.ListCallsRequest(active_only=r.random() < 0.5, page_size=50),
                    timeout=RPC_TIMEOUT))
                for call in page.calls if page is not None else ():
                    self._check_labels("ListCalls", call)
            self._forget(mine)

    def _forget(self, mine):
        limit = self.live_per_worker or 40
        while len(mine) > limit:
            sid = mine.pop(0)
            if self.live_per_worker:
                self._answer("EndCall", lambda: self.stub.EndCall(
                    self.pb.EndCallRequest(session_id=sid), timeout=RPC_TIMEOUT))

    def _check_labels(self, where, session):
        for key, value in self.labels.items():
            if session.labels.get(key) != value:
                self.problem("%s showed %s with labels %s, not this tenant's %s"
                             % (where, session.session_id, dict(session.labels), self.labels))
                return

    def _probe_foreign(self, r):
        with self.foreign._lock:
            theirs = sorted(self.foreign.sessions)
        if not theirs:
            return
        sid = r.choice(theirs)
        for op, fn in (("GetCallStatus", self.stub.GetCallStatus),
                       ("EndCall", self.stub.EndCall)):
            request = (self.pb.GetCallStatusRequest if op == "GetCallStatus"
                       else self.pb.EndCallRequest)(session_id=sid)
            try:
                fn(request, timeout=RPC_TIMEOUT)
                self.problem("%s of another tenant's call %s answered OK" % (op, sid))
            except grpc.RpcError as e:
                err = self.P.voip_error(e)
                if e.code() != grpc.StatusCode.NOT_FOUND or err is None or \
                        self.P.errors_pb2.ErrorCode.Name(err.error_code) != "SESSION_NOT_FOUND":
                    self.problem("%s of another tenant's call %s answered %s: %s"
                                 % (op, sid, e.code(), e.details()))
            self.answers["foreign %s NOT_FOUND" % op] += 1

    def _ring_in(self, r, mine):
        session = self._answer("SimulateInboundCall", lambda: self.stub.SimulateInboundCall(
            self.pb.SimulateInboundCallRequest(to="1001", **{"from": r.choice(self.inbound_from)}),
            timeout=RPC_TIMEOUT))
        if session is not None:
            with self._lock:
                self.sessions.add(session.session_id)
            mine.append(session.session_id)
            self._forget(mine)

    def _start(self, r, mine):
        to = self.cpb.ContactPhoneNumber(number=r.choice(self.numbers))
        req = self.pb.StartCallRequest(to=to)
        if r.random() < 0.5:
            req.request_id = "soak-%d-%d" % (self.seed, r.randrange(1 << 40))
        if r.random() < 0.3:
            req.labels["soak"] = str(r.randint(0, 3))
        session = self._answer("StartCall", lambda: self.stub.StartCall(req, timeout=RPC_TIMEOUT))
        if session is None:
            return
        with self._lock:
            self.sessions.add(session.session_id)
        mine.append(session.session_id)
        self._forget(mine)
        if req.request_id and r.random() < 0.3:
            again = self._answer("StartCall", lambda: self.stub.StartCall(req, timeout=RPC_TIMEOUT))
            if again is not None and again.session_id != session.session_id:
                self.problem("a retry of request_id %s placed another call (%s, then %s)"
                             % (req.request_id, session.session_id, again.session_id))

    def _read_all(self, call):
        try:
            for event in call:
                self.full_events.append(event)
                self._check_labels("SubscribeCallEvents", event.session)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED and not self._outage:
                self.problem("the full subscriber ended with %s: %s" % (e.code(), e.details()))

    def _resuming(self, index, seen):
        r = random.Random(self.seed * 100 + 50 + index)
        last = None
        while not self._stop.is_set():
            req = self.pb.SubscribeCallEventsRequest()
            if last is not None:
                req.after_sequence = last
            call = self.stub.SubscribeCallEvents(req, timeout=120)
            self._track(call)
            budget = r.randint(1, 200)
            try:
                for event in call:
                    if last is not None and event.sequence <= last:
                        self.problem("a resumed subscriber got #%d after #%d"
                                     % (event.sequence, last))
                    last = event.sequence
                    seen.append(event.sequence)
                    budget -= 1
                    if budget == 0:
                        break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED and not self._outage:
                    self.problem("a resuming subscriber ended with %s: %s"
                                 % (e.code(), e.details()))
            call.cancel()
            self._untrack(call)

    def _watcher(self, index):
        r = random.Random(self.seed * 100 + 80 + index)
        while not self._stop.is_set():
            with self._lock:
                candidates = sorted(self.sessions)
            if not candidates:
                time.sleep(0.01)
                continue
            sid = r.choice(candidates)
            call = self.stub.WatchCall(self.pb.WatchCallRequest(session_id=sid), timeout=120)
            self._track(call)
            events = []
            try:
                events = list(call)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED and not self._outage:
                    self.problem("WatchCall(%s) ended with %s: %s" % (sid, e.code(), e.details()))
                events = None
            self._untrack(call)
            if events is None:
                continue
            for event in events:
                self._check_labels("WatchCall", event.session)
            if not events or events[0].type != self.cpb.CALL_EVENT_TYPE_SNAPSHOT:
                self.problem("WatchCall(%s) did not start with a snapshot" % sid)
            elif self.status_name(events[-1].session.status) not in TERMINAL:
                self.problem("WatchCall(%s) ended OK before the terminal event" % sid)
            for a, b in zip(events, events[1:]):
                if b.sequence <= a.sequence:
                    self.problem("WatchCall(%s): #%d after #%d" % (sid, b.sequence, a.sequence))

    # --- the run ----------------------------------------------------------

    def run(self, seconds, tick=None, resuming=3, watchers=2):
        """Runs the clients for `seconds`; `tick()` runs about once a second
        on this thread (e.g. to send SIGHUP). Then ends every call."""
        self.start(resuming, watchers)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            if tick:
                tick()
        self.stop_clients()
        self.finish()

    def start(self, resuming=3, watchers=2):
        """Starts the full subscriber and the client threads."""
        self._follow(after_sequence=0)
        self.resumed = [[] for _ in range(resuming)]
        self._threads = [threading.Thread(target=self._worker, args=(i,))
                         for i in range(self.workers)]
        self._threads += [threading.Thread(target=self._resuming, args=(i, self.resumed[i]))
                          for i in range(resuming)]
        self._threads += [threading.Thread(target=self._watcher, args=(i,))
                          for i in range(watchers)]
        for t in self._threads:
            t.start()

    def _follow(self, after_sequence):
        self._full = self.stub.SubscribeCallEvents(
            self.pb.SubscribeCallEventsRequest(after_sequence=after_sequence), timeout=600)
        self._reader = threading.Thread(target=self._read_all, args=(self._full,), daemon=True)
        self._reader.start()

    def stop_clients(self):
        with self._lock:
            self._stop.set()
            for call in self._open_calls:
                call.cancel()
        for t in self._threads:
            t.join(RPC_TIMEOUT * 3)
            if t.is_alive():
                self.problem("a client thread did not stop: %s" % t.name)

    def crashed(self):
        """The daemon was killed on purpose: from now on UNAVAILABLE answers
        and a broken stream are expected, not problems. Call before the kill."""
        self._outage = True

    def restarted(self, stub):
        """Goes on against the restarted daemon (same state_dir): the full
        subscriber resumes after the last event it saw. A call whose StartCall
        was answered but whose first event never reached a stream may be gone
        (docs/history.md: StartCall answers before its first commit); one whose
        event was seen must not be."""
        self._reader.join(10)
        self.stub = _WithMetadata(stub, self.metadata) if self.metadata else stub
        self._outage = False
        seen = {event.session.session_id for event in self.full_events}
        for sid in sorted(self.sessions):
            try:
                self.stub.GetCallStatus(self.pb.GetCallStatusRequest(session_id=sid),
                                        timeout=RPC_TIMEOUT)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                if sid in seen:
                    self.problem("%s: a stream showed it before the crash, and after the "
                                 "restart it is NOT_FOUND" % sid)
                self.sessions.discard(sid)
                self.lost_in_crash.append(sid)
        self._follow(after_sequence=self.full_events[-1].sequence if self.full_events else 0)

    def finish(self):
        """Ends every call, then waits until the full subscriber has read
        everything any client saw."""
        self._end_everything()
        last = max([s.last_sequence for s in self._final.values()]
                   + [seen[-1] for seen in self.resumed if seen] + [0])
        poll(lambda: self.full_events and self.full_events[-1].sequence >= last,
             "the full subscriber to reach #%d" % last, timeout=30)
        self._full.cancel()
        self._reader.join(10)

    def _end_everything(self):
        def active():
            ids = []
            token = ""
            while True:
                page = self.stub.ListCalls(self.pb.ListCallsRequest(
                    active_only=True, page_size=100, page_token=token), timeout=RPC_TIMEOUT)
                ids += [c.session_id for c in page.calls]
                token = page.next_page_token
                if not token:
                    return ids

        def end_all():
            ids = active()
            for sid in ids:
                self._answer("EndCall", lambda: self.stub.EndCall(
                    self.pb.EndCallRequest(session_id=sid), timeout=RPC_TIMEOUT))
            return not ids
        poll(end_all, "no call left active", timeout=60, interval=0.2)
        self._final = {}
        for sid in sorted(self.sessions):
            self._final[sid] = self.stub.GetCallStatus(
                self.pb.GetCallStatusRequest(session_id=sid), timeout=RPC_TIMEOUT)

    # --- the checks -------------------------------------------------------

    def check(self):
        """Every problem found, as text; empty when all invariants held."""
        per_call = collections.defaultdict(list)
        last = 0
        for event in self.full_events:
            # A tenant's stream skips other tenants' events: it only rises.
            if event.sequence != last + 1 and not (self.labels and event.sequence > last):
                self.problem("the full stream went from #%d to #%d" % (last, event.sequence))
            last = event.sequence
            per_call[event.session.session_id].append(event)
        for sid in sorted(self.sessions):
            self._check_call(sid, per_call.get(sid, []))
        # A resumed subscriber saw a run of what the full subscriber saw, with
        # nothing missing where it dropped and resumed.
        order = [event.sequence for event in self.full_events]
        index = {sequence: i for i, sequence in enumerate(order)}
        for seen in self.resumed:
            if not seen:
                continue
            start = index.get(seen[0])
            if start is None or order[start:start + len(seen)] != seen:
                self.problem("a resuming subscriber's %d events (#%d..#%d) are not a run of "
                             "the full stream" % (len(seen), seen[0], seen[-1]))
        return list(self.problems)

    def _check_call(self, sid, events):
        if not events:
            self.problem("%s: no event reached the full subscriber" % sid)
            return
        status = "CALL_STATUS_UNSPECIFIED"
        ended = False
        for event in events:
            now = self.status_name(event.session.status)
            was = self.status_name(event.previous_status)
            where = "%s #%d %s->%s" % (sid, event.sequence, was, now)
            if ended:
                self.problem("%s: an event after the terminal one" % where)
            if event.session.last_sequence != event.sequence:
                self.problem("%s: session.last_sequence is %d"
                             % (where, event.session.last_sequence))
            if event.type == self.cpb.CALL_EVENT_TYPE_STATUS_CHANGED:
                if was != status:
                    self.problem("%s: previous_status is not the last status %s" % (where, status))
                if now not in ALLOWED.get(status, set()) and not (
                        now in TERMINAL and status not in TERMINAL
                        and status != "CALL_STATUS_UNSPECIFIED"):
                    self.problem("%s: not a transition the state machine allows" % where)
            elif now != status:
                self.problem("%s: a %s event changed the status"
                             % (where, self.cpb.CallEventType.Name(event.type)))
            if event.session.on_hold != (now == "CALL_STATUS_ON_HOLD"):
                self.problem("%s: on_hold is %s" % (where, event.session.on_hold))
            status = now
            ended = now in TERMINAL
        if not ended:
            self.problem("%s: no terminal event (last status %s)" % (sid, status))
        final = self._final[sid]
        if final.last_sequence != events[-1].sequence or final.status != events[-1].session.status:
            self.problem("%s: GetCallStatus says %s at #%d, the stream's last event %s at #%d"
                         % (sid, self.status_name(final.status), final.last_sequence,
                            status, events[-1].sequence))


class _WithMetadata:
    """A stub whose every call carries `metadata` (a tenant's bearer token)."""

    def __init__(self, stub, metadata):
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name):
        method = getattr(self._stub, name)

        def call(request, **kwargs):
            return method(request, metadata=self._metadata, **kwargs)
        return call
