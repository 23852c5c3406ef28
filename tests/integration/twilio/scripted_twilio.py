"""A scripted stand-in for Twilio's REST API and callback sender, for the
flows Prism cannot model (state, errors, retries, callbacks).

It listens on 127.0.0.1:0 (plain HTTP), records every request, answers from
per-route queues of scripted responses (falling back to a small stateful
model of Twilio's Call resource), and posts status callbacks to voipd's
webhook listener signed exactly as Twilio signs them: base64(HMAC-SHA1(auth
token, public URL + sorted name+value pairs)).
"""
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"

_sid_counter = itertools.count(1)

# The Call resource's statuses while the call is not over (the spec's
# call_enum_status has no "initiated": that is only a callback event).
UP = ("queued", "ringing", "in-progress")


def _rank(status):
    """Where a status is in a call's life: up statuses in order, then ended."""
    return UP.index(status) if status in UP else len(UP)


def new_sid(prefix):
    return "%s%032x" % (prefix, next(_sid_counter))


def signature(token, url, params):
    """X-Twilio-Signature for a form POST (params: list of (name, value))."""
    data = url + "".join(k + v for k, v in sorted(set(params)))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class Request:
    def __init__(self, method, path, query, form, headers, body, client_port=None):
        self.client_port = client_port  # tells connections apart (keep-alive reuse)
        self.method = method
        self.path = path            # without query
        self.query = query          # list of (name, value)
        self.form = form            # list of (name, value)
        self.headers = headers
        self.body = body
        self.time = time.monotonic()

    def value(self, name):
        return next((v for k, v in self.form if k == name), None)

    def values(self, name):
        return [v for k, v in self.form if k == name]

    def __repr__(self):
        return "%s %s %s" % (self.method, self.path, self.form or self.query)


class Response:
    """A scripted answer. `action` may be "close" (drop the connection
    without answering) or "hang" (answer after `delay` seconds)."""

    def __init__(self, status=200, body=None, headers=None, delay=0.0, action=None, before=None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay
        self.action = action
        self.before = before  # callable(request) run before answering


def twilio_error(status, code, message):
    return Response(status, {"code": code, "message": message,
                             "more_info": "https://www.twilio.com/docs/errors/%d" % code,
                             "status": status})


class ScriptedTwilio:
    def __init__(self, public_url=None, webhook_addr=None, token=AUTH_TOKEN):
        self.public_url = public_url        # what voipd told Twilio (signature base)
        self.webhook_addr = webhook_addr    # where voipd really listens ("127.0.0.1:P")
        self.token = token
        self.requests = []
        self.calls = {}                     # CallSid -> status (the fake's state)
        self.call_requests = {}             # CallSid -> create Request
        self.conference_sid = new_sid("CF")
        self._scripts = []                  # [method, regex, Response]
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parsed = urllib.parse.urlsplit(self.path)
                req = Request(self.command, parsed.path,
                              urllib.parse.parse_qsl(parsed.query, keep_blank_values=True),
                              urllib.parse.parse_qsl(body, keep_blank_values=True),
                              dict(self.headers), body, self.client_address[1])
                with fake._cond:
                    fake.requests.append(req)
                    fake._cond.notify_all()
                resp = fake._answer(req)
                if resp.before:
                    resp.before(req)
                if resp.delay:
                    time.sleep(resp.delay)
                if resp.action == "close":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = resp.body
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload)
                payload = (payload or "").encode()
                try:
                    self.send_response(resp.status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # voipd gave up (request timeout): fine

            do_GET = _handle
            do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ scripting
    def script(self, method, path_regex, *responses):
        """Queues one-shot responses for requests matching method + path."""
        with self._cond:
            for r in responses:
                self._scripts.append([method, re.compile(path_regex), r])

    def _answer(self, req):
        with self._cond:
            for i, (method, regex, resp) in enumerate(self._scripts):
                if method == req.method and regex.search(req.path):
                    del self._scripts[i]
                    return resp
        return self._model(req)

    def _model(self, req):
        """Twilio's default behaviour, with state."""
        base = "/2010-04-01/Accounts/%s/" % ACCOUNT_SID
        if not req.path.startswith(base):
            return twilio_error(404, 20404, "The requested resource was not found")
        tail = req.path[len(base):]
        if req.method == "POST" and tail == "Calls.json":
            sid = new_sid("CA")
            with self._cond:
                self.calls[sid] = "queued"
                self.call_requests[sid] = req
            return Response(201, self.call_json(sid))
        m = re.fullmatch(r"Calls/(CA[0-9a-f]{32})\.json", tail)
        if m:
            sid = m.group(1)
            if sid not in self.calls:
                return twilio_error(404, 20404, "The requested resource was not found")
            if req.method == "POST":
                status = req.value("Status")
                with self._cond:
                    current = self.calls[sid]
                    if status == "canceled" and current in ("queued", "ringing"):
                        self.calls[sid] = "canceled"
                    elif status == "completed" and current == "in-progress":
                        self.calls[sid] = "completed"
            return Response(200, self.call_json(sid))
        if req.method == "GET" and tail == "Conferences.json":
            return Response(200, {"conferences": [{"sid": self.conference_sid,
                                                   "status": "in-progress",
                                                   "friendly_name": dict(req.query).get("FriendlyName")}],
                                  "page": 0, "page_size": 50})
        m = re.fullmatch(r"Conferences/(CF[0-9a-f]{32})/Participants/(CA[0-9a-f]{32})\.json", tail)
        if m and req.method == "POST":
            return Response(200, {"call_sid": m.group(2), "conference_sid": m.group(1),
                                  "hold": req.value("Hold") == "true",
                                  "muted": req.value("Muted") == "true"})
        m = re.fullmatch(r"Conferences/([^/]+)/Participants\.json", tail)
        if m and req.method == "POST":
            sid = new_sid("CA")
            with self._cond:
                self.calls[sid] = "queued"
                self.call_requests[sid] = req
            return Response(201, {"call_sid": sid, "conference_sid": self.conference_sid})
        return twilio_error(404, 20404, "The requested resource was not found")

    def call_json(self, sid):
        with self._cond:
            status = self.calls[sid]
        return {"sid": sid, "account_sid": ACCOUNT_SID, "status": status,
                "direction": "outbound-api", "api_version": "2010-04-01"}

    def set_status(self, sid, status):
        with self._cond:
            self.calls[sid] = status

    def advance(self, sid, status):
        """The call moves to `status` at Twilio, as a callback reports it. A
        call only moves forward: a late, stale or repeated callback neither
        takes it back (in-progress to ringing) nor revives it once ended;
        "initiated" is the resource's "queued"."""
        status = "queued" if status == "initiated" else status
        with self._cond:
            current = self.calls.get(sid)
            if current in UP and _rank(status) > _rank(current):
                self.calls[sid] = status

    def status_of(self, sid):
        with self._cond:
            return self.calls.get(sid)

    def calls_up(self):
        """The CallSids the fake still has up, sorted."""
        with self._cond:
            return sorted(sid for sid, status in self.calls.items() if status in UP)

    def requests_since(self, index):
        """(requests recorded from `index` on, the index after them)."""
        with self._cond:
            return self.requests[index:], len(self.requests)

    # ------------------------------------------------------------ inspection
    def wait_request(self, method, path_regex, pred=lambda r: True, timeout=10, after=0):
        """The first recorded request (index >= after) matching; waits for it."""
        regex = re.compile(path_regex)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.requests[after:]:
                    if r.method == method and regex.search(r.path) and pred(r):
                        return r
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no %s %s within %ss; got:\n  %s" % (
                        method, path_regex, timeout,
                        "\n  ".join(repr(r) for r in self.requests)))
                self._cond.wait(remaining)

    def matching(self, method, path_regex, pred=lambda r: True):
        regex = re.compile(path_regex)
        with self._cond:
            return [r for r in self.requests
                    if r.method == method and regex.search(r.path) and pred(r)]

    def count(self):
        with self._cond:
            return len(self.requests)

    # ------------------------------------------------------------ callbacks
    def post_webhook(self, public_url, params, sign=True, signature_value=None,
                     content_type="application/x-www-form-urlencoded", body=None,
                     method="POST", sign_url=None):
        """POSTs `params` to voipd's listener for `public_url` (a URL voipd
        gave Twilio). Returns (status, body)."""
        assert public_url.startswith(self.public_url), public_url
        target = public_url[len(self.public_url):] or "/"
        if body is None:
            body = urllib.parse.urlencode(params)
        headers = {"Content-Type": content_type}
        if sign:
            headers["X-Twilio-Signature"] = signature_value or signature(
                self.token, sign_url or public_url, params)
        host, port = self.webhook_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def status_callback(self, sid, status, seq=None, extra=None, **kw):
        """Sends the call status callback Twilio would send for `sid`."""
        req = self.call_requests[sid]
        url = req.value("StatusCallback")
        self.advance(sid, status)  # Twilio reports what it has
        params = [("AccountSid", ACCOUNT_SID), ("ApiVersion", "2010-04-01"), ("CallSid", sid),
                  ("CallStatus", status), ("Direction", "outbound-api"),
                  ("From", req.value("From") or ""), ("To", req.value("To") or ""),
                  ("CallbackSource", "call-progress-events"),
                  ("Timestamp", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))]
        if seq is not None:
            params.append(("SequenceNumber", str(seq)))
        params += list((extra or {}).items())
        return self.post_webhook(url, params, **kw)

    def conference_join(self, sid):
        """The <Conference statusCallback> "participant-join" event."""
        twiml = self.call_requests[sid].value("Twiml")
        url = re.search(r'statusCallback="([^"]+)"', twiml).group(1).replace("&amp;", "&")
        params = [("AccountSid", ACCOUNT_SID), ("ConferenceSid", self.conference_sid),
                  ("FriendlyName", re.search(r">([^<]+)</Conference>", twiml).group(1)),
                  ("CallSid", sid), ("StatusCallbackEvent", "participant-join"),
                  ("Muted", "false"), ("Hold", "false"), ("SequenceNumber", "1")]
        return self.post_webhook(url, params)
