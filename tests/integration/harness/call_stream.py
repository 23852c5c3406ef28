"""Reading voip.v1 event streams in integration tests: a Stream reads a
server-streaming call on a thread so that tests wait on what arrived with
deadlines, and poll() retries a unary check until it holds. Shared by the
Python, SIP and history suites.

Status names come from the messages' own descriptors, so this module works
with whichever generated protos the suite loaded.
"""
import threading
import time

import grpc

WAIT = 10  # seconds: default deadline of every wait

TERMINAL_NAMES = {"CALL_STATUS_DISCONNECTED", "CALL_STATUS_FAILED", "CALL_STATUS_BUSY",
                  "CALL_STATUS_UNAVAILABLE"}


def status_name_of(session):
    field = session.DESCRIPTOR.fields_by_name["status"]
    value = field.enum_type.values_by_number.get(session.status)
    return value.name if value else str(session.status)


def is_terminal(session):
    return status_name_of(session) in TERMINAL_NAMES


def describe(events):
    out = []
    for e in events:
        type_value = e.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number.get(e.type)
        previous = e.DESCRIPTOR.fields_by_name["previous_status"].enum_type.values_by_number.get(
            e.previous_status)
        out.append("  #%d %s %s %s->%s" % (e.sequence, e.session.session_id[:8],
                                           type_value.name if type_value else e.type,
                                           previous.name if previous else e.previous_status,
                                           status_name_of(e.session)))
    return "\n".join(out)


def poll(fn, what, timeout=WAIT, interval=0.02):
    """Calls fn() until it returns a truthy value; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


class Stream:
    """Reads a server stream on a thread so tests can wait on what arrived."""

    def __init__(self, call):
        self.call = call
        self.events = []
        self.code = None          # final grpc.StatusCode once done
        self.details = None
        self.trailers = None
        self.done = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        code, details, trailers = grpc.StatusCode.OK, "", None
        try:
            for event in self.call:
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        except grpc.RpcError as e:
            code, details = e.code(), e.details()
        except Exception as e:  # noqa: BLE001 -- surfaces in wait_*()
            code, details = grpc.StatusCode.UNKNOWN, "client-side exception: %r" % e
        try:
            trailers = self.call.trailing_metadata()
        except Exception:  # noqa: BLE001
            trailers = None
        with self._cond:
            self.code, self.details, self.trailers = code, details, trailers
            self.done = True
            self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.events)

    def wait_started(self, timeout=WAIT):
        """Waits for the first message (or the end). A WatchCall opens with a
        snapshot of the call as the server sees it then: a test that acts only
        after it sees everything it causes as events."""
        with self._cond:
            self._cond.wait_for(lambda: self.events or self.done, timeout=timeout)

    def wait_for(self, pred, what, timeout=WAIT):
        """Waits until pred(events) is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = pred(self.events)
                if result:
                    return result
                if self.done:
                    raise AssertionError("stream ended (%s: %s) before %s; received:\n%s"
                                         % (self.code, self.details, what, describe(self.events)))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out after %ss waiting for %s; received:\n%s"
                                         % (timeout, what, describe(self.events)))
                self._cond.wait(remaining)

    def wait_status(self, session_id, status, timeout=WAIT):
        """The first event (a WatchCall snapshot counts) showing the call in `status`."""
        return self.wait_for(
            lambda evs: next((e for e in evs if e.session.session_id == session_id
                              and e.session.status == status), None),
            "status %s of %s" % (status, session_id), timeout)

    def wait_terminal(self, session_id, timeout=WAIT):
        return self.wait_for(
            lambda evs: next((e for e in evs if e.session.session_id == session_id
                              and is_terminal(e.session)), None),
            "terminal event of %s" % session_id, timeout)

    def wait_done(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("stream still open after %ss; received:\n%s"
                                         % (timeout, describe(self.events)))
                self._cond.wait(remaining)
            return self.code

    def cancel(self):
        self.call.cancel()
        self._thread.join(5)
