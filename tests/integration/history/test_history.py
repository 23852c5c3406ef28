"""Inbound calls, startup refusal of foreign/corrupt databases, migration
from schema v1 and `voipctl history` (issue 8)."""
import csv
import io
import json
import os
import sqlite3
import subprocess
import time

import grpc

from history_common import (ANSWERS, BUSY, REMOTE_HANGUP, TERMINAL, HistoryTestCase, P, cpb,
                            code_name, config, schema_v1_ddl, source_name, status_name, type_name)

STARTUP_LIMIT = 30  # seconds: a refused start must exit well within this


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class InboundTest(HistoryTestCase):

    def test_inbound_answered_and_caller_gives_up(self):
        d = self.daemon()
        events = d.subscribe(after_sequence=0)
        answered = d.inbound(**{"from": "+12025550123", "to": "+12015550000",
                                "labels": {"t": self.tag}})
        self.assertEqual(cpb.CallDirection.Name(answered.direction), "CALL_DIRECTION_INBOUND")
        events.wait_terminal(answered.session_id)
        mine = [e for e in events.snapshot() if e.session.session_id == answered.session_id]
        self.assertEqual([status_name(e.session.status) for e in mine],
                         ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                          "CALL_STATUS_CONNECTED", "CALL_STATUS_DISCONNECTED"])
        for e in mine:
            self.assertEqual(type_name(e.type), "CALL_EVENT_TYPE_STATUS_CHANGED")
            self.assertEqual(cpb.CallDirection.Name(e.session.direction), "CALL_DIRECTION_INBOUND")
            self.assertEqual(getattr(e.session, "from"), "+12025550123")

        gave_up = d.inbound(**{"from": REMOTE_HANGUP, "to": "+12015550000",
                               "labels": {"t": self.tag}})
        events.wait_terminal(gave_up.session_id)
        mine = [e for e in events.snapshot() if e.session.session_id == gave_up.session_id]
        statuses = [status_name(e.session.status) for e in mine]
        self.assertEqual(statuses, ["CALL_STATUS_INITIATING", "CALL_STATUS_RINGING",
                                    "CALL_STATUS_DISCONNECTED"])
        self.assertNotIn("CALL_STATUS_CONNECTED", statuses)
        self.assertEqual(source_name(mine[-1].session.end_reason.source), "HANGUP_SOURCE_REMOTE")
        self.assertEqual(cpb.CallDirection.Name(mine[-1].session.direction),
                         "CALL_DIRECTION_INBOUND")
        listed = d.list_page(labels={"t": self.tag}, direction=cpb.CALL_DIRECTION_INBOUND).calls
        self.assertEqual([c.session_id for c in listed], [answered.session_id, gave_up.session_id])

    def test_inbound_errors(self):
        d = self.daemon()
        with self.assertRaises(grpc.RpcError) as cm:
            d.inbound(**{"system_name": "nosuchsystem", "from": "+12025550123",
                         "to": "+12015550000"})
        err = P.voip_error(cm.exception)
        self.assertIsNotNone(err, cm.exception.details())
        self.assertEqual(code_name(err.error_code), "UNKNOWN_SYSTEM")
        self.assertIn("nosuchsystem", err.message)
        self.assertIn("nosuchsystem", cm.exception.details())

        with self.assertRaises(grpc.RpcError) as cm:
            d.inbound(**{"from": "+12025550123", "to": ""})
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        err = P.voip_error(cm.exception)
        self.assertIsNotNone(err, cm.exception.details())
        self.assertEqual(code_name(err.error_code), "INVALID_ARGUMENT")
        self.assertEqual(err.field, "to")
        self.assertEqual(list(d.list_page().calls), [], "a rejected inbound call must not be stored")


class IdempotencyAfterPruningTest(HistoryTestCase):
    """request_id keys outlive the calls held in memory (idempotency_ttl 24 h
    against ended_retention 1 h): a retry of a call memory has forgotten gets
    it back from history, and nothing is dialled again."""

    def test_retry_of_a_forgotten_call_is_answered_from_history(self):
        d = self.daemon(config(extra="calls: { max_ended_calls: 1 }\n"))
        labels = {"t": self.tag}
        first = d.start_call(ANSWERS, labels=labels, request_id="rid-" + self.tag)
        ended = d.end(first.session_id)
        # Two more ended calls push the first out of memory (at most 1 kept).
        for _ in range(2):
            d.end(d.start_call(ANSWERS).session_id)

        retry = d.start_call(ANSWERS, labels=labels, request_id="rid-" + self.tag)
        self.assertEqual(retry.session_id, first.session_id)
        self.assertEqual(status_name(retry.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(retry.ended_at, ended.ended_at)
        self.assertEqual([c.session_id for c in d.list_page(labels=labels).calls],
                         [first.session_id])


class RefusedDatabaseTest(HistoryTestCase):

    def assertRefused(self, expect_words):
        before = read_bytes(self.db_path)
        started = time.monotonic()
        rc, out, ready = self.run_voipd(timeout=STARTUP_LIMIT)
        self.assertNotEqual(rc, 0, "voipd must refuse to start:\n" + out)
        self.assertFalse(ready, "voipd wrote its ready file although it refused to start")
        self.assertLess(time.monotonic() - started, STARTUP_LIMIT)
        self.assertIn(self.db_path, out, "the message must name the file")
        low = out.lower()
        self.assertTrue(any(w in low for w in expect_words),
                        "the message must say why (%s):\n%s" % (expect_words, out))
        self.assertEqual(read_bytes(self.db_path), before, "the file was modified")
        return out

    def test_garbage_file_is_not_overwritten(self):
        with open(self.db_path, "wb") as f:
            f.write(os.urandom(64 * 1024))
        out = self.assertRefused(["not a database", "file is not a database"])
        self.assertIn("will not overwrite", out)

    def test_foreign_database_without_user_version_is_refused(self):
        db = sqlite3.connect(self.db_path)
        db.executescript("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL);"
                         "INSERT INTO invoices(total) VALUES (12.5), (99);")
        db.close()
        self.assertRefused(["no voipd schema version", "did not create"])
        db = sqlite3.connect(self.db_path)
        self.assertEqual(db.execute("SELECT count(*) FROM invoices").fetchone()[0], 2)
        self.assertEqual(db.execute("SELECT count(*) FROM sqlite_master WHERE name='calls'")
                         .fetchone()[0], 0)
        db.close()

    def test_newer_schema_version_is_refused(self):
        db = sqlite3.connect(self.db_path)
        db.executescript(schema_v1_ddl())
        db.execute("PRAGMA user_version = 99")
        db.commit()
        db.close()
        out = self.assertRefused(["newer than this voipd", "schema version 99"])
        self.assertIn("99", out)


class MigrationTest(HistoryTestCase):

    def _v1_database(self):
        session = cpb.CallSession(session_id="0f6c9a52-5b0e-4c55-9a1e-6c1a7e0b2d11",
                                  system_name="sandbox", status=cpb.CALL_STATUS_DISCONNECTED,
                                  to=cpb.ContactPhoneNumber(number="(201) 555-0100"),
                                  to_normalized=ANSWERS, labels={"crm": "acme", "t": self.tag},
                                  last_sequence=2)
        setattr(session, "from", "+12015559999")
        now = int(time.time())
        session.created_at.seconds = now - 120
        session.answered_at.seconds = now - 110
        session.ended_at.seconds = now - 60
        session.end_reason.source = cpb.HANGUP_SOURCE_LOCAL
        created = cpb.CallEvent(sequence=1, type=cpb.CALL_EVENT_TYPE_STATUS_CHANGED)
        created.session.CopyFrom(session)
        created.session.status = cpb.CALL_STATUS_INITIATING
        created.session.last_sequence = 1
        created.session.ClearField("ended_at")
        created.session.ClearField("answered_at")
        created.time.seconds = now - 120
        ended = cpb.CallEvent(sequence=2, type=cpb.CALL_EVENT_TYPE_STATUS_CHANGED,
                              previous_status=cpb.CALL_STATUS_CONNECTED, session=session)
        ended.time.seconds = now - 60
        db = sqlite3.connect(self.db_path)
        db.executescript(schema_v1_ddl())
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 1)
        db.execute("INSERT INTO calls(session_id, created_seq, system, status, from_number, "
                   "to_number, to_normalized, created_at_us, ended_at_us, last_sequence, session) "
                   "VALUES(?, 1, 'sandbox', ?, ?, ?, ?, ?, ?, 2, ?)",
                   (session.session_id, session.status, getattr(session, "from"),
                    session.to.number, session.to_normalized, (now - 120) * 10**6,
                    (now - 60) * 10**6, session.SerializeToString()))
        for e in (created, ended):
            db.execute("INSERT INTO events(sequence, session_id, time_us, event) VALUES(?, ?, ?, ?)",
                       (e.sequence, session.session_id, e.time.seconds * 10**6,
                        e.SerializeToString()))
        db.commit()
        db.close()
        return session

    def test_v1_database_is_migrated(self):
        old = self._v1_database()
        d = self.daemon()
        by_label = d.list_page(labels={"crm": "acme"}).calls
        self.assertEqual([c.session_id for c in by_label], [old.session_id],
                         "labels moved to call_labels")
        self.assertEqual([c.session_id for c in d.list_page(labels={"crm": "other"}).calls], [])
        outbound = d.list_page(direction=cpb.CALL_DIRECTION_OUTBOUND).calls
        self.assertEqual([c.session_id for c in outbound], [old.session_id])
        self.assertEqual(list(d.list_page(direction=cpb.CALL_DIRECTION_INBOUND).calls), [])
        got = d.get(old.session_id)
        self.assertEqual(status_name(got.status), "CALL_STATUS_DISCONNECTED")
        self.assertEqual(dict(got.labels), dict(old.labels))
        self.assertEqual(got.to_normalized, ANSWERS)
        self.assertEqual(cpb.CallDirection.Name(got.direction), "CALL_DIRECTION_OUTBOUND",
                         "a v1 call is an outbound call: %s" % got)
        self.assertEqual([c.session_id for c in d.list_page(number=ANSWERS).calls],
                         [old.session_id])
        # The event history continues after the migrated events.
        s = d.subscribe(after_sequence=0)
        s.wait_for(lambda evs: len(evs) >= 2, "the migrated events")
        self.assertEqual([e.sequence for e in s.snapshot()[:2]], [1, 2])
        fresh = d.start_call(BUSY, labels={"t": self.tag})
        term = s.wait_terminal(fresh.session_id)
        self.assertGreater(term.sequence, 2)
        first = [e for e in s.snapshot() if e.session.session_id == fresh.session_id][0]
        self.assertEqual(first.sequence, 3, "sequences continue after the migrated ones")
        self.assertEqual(d.stop(), 0, d.log()[-3000:])
        db = sqlite3.connect(self.db_path)
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 2)
        self.assertEqual(db.execute("SELECT key, value FROM call_labels WHERE session_id = ? "
                                    "ORDER BY key", (old.session_id,)).fetchall(),
                         [("crm", "acme"), ("t", self.tag)])
        db.close()


class VoipctlHistoryTest(HistoryTestCase):

    def voipctl(self, d, *args):
        binary = os.environ.get("VOIPCTL_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("VOIPCTL_BIN must name the voipctl binary (got %r)" % binary)
        return subprocess.run([binary, "--addr", d.v.addr] + list(args), capture_output=True,
                              text=True, timeout=60)

    def test_voipctl_history(self):
        d = self.daemon()
        a = d.start_call(ANSWERS, labels={"t": self.tag, "note": "a,b"})
        d.wait_call_status(a.session_id, {cpb.CALL_STATUS_CONNECTED})
        d.end(a.session_id)
        b = d.start_call(BUSY, labels={"t": self.tag})
        i = d.inbound(**{"from": "+12025550123", "to": "+12015550000", "labels": {"t": self.tag}})
        for s in (a, b, i):
            d.wait_call_status(s.session_id, TERMINAL)
        ids = [a.session_id, b.session_id, i.session_id]

        r = self.voipctl(d, "history", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.reader(io.StringIO(r.stdout)))
        self.assertEqual(rows[0], ["session_id", "created_at", "answered_at", "ended_at",
                                   "duration_seconds", "direction", "system", "from", "to",
                                   "to_normalized", "status", "end_source", "end_error", "labels"])
        self.assertEqual([row[0] for row in rows[1:]], ids, r.stdout)
        self.assertTrue(all(len(row) == 14 for row in rows), r.stdout)
        by_id = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
        ra = by_id[a.session_id]
        self.assertEqual(ra["direction"], "outbound")
        self.assertEqual(ra["system"], "sandbox")
        self.assertEqual(ra["to_normalized"], ANSWERS)
        self.assertEqual(ra["end_source"], "local")
        self.assertTrue(ra["answered_at"] and ra["ended_at"], ra)
        self.assertGreaterEqual(float(ra["duration_seconds"]), 0.0)
        self.assertEqual(ra["labels"], "note=a,b;t=%s" % self.tag)
        self.assertIn("\"note=a,b;t=", r.stdout, "a field with a comma is quoted")
        rb = by_id[b.session_id]
        self.assertEqual(rb["end_source"], "remote")
        self.assertEqual(rb["answered_at"], "")
        self.assertEqual(rb["duration_seconds"], "")
        self.assertEqual(by_id[i.session_id]["direction"], "inbound")
        self.assertEqual(by_id[i.session_id]["from"], "+12025550123")

        r = self.voipctl(d, "history", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        objs = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(objs), 3, r.stdout)
        self.assertTrue(all(isinstance(o, dict) for o in objs))
        self.assertEqual([o.get("sessionId", o.get("session_id")) for o in objs], ids, r.stdout)

        r = self.voipctl(d, "history", "--direction", "inbound", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        objs = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([o.get("sessionId", o.get("session_id")) for o in objs], [i.session_id])

        r = self.voipctl(d, "history", "--since", "1h", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 4, r.stdout)
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        r = self.voipctl(d, "history", "--since", future, "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1, "only the header:\n" + r.stdout)
        r = self.voipctl(d, "history", "--until", "1h", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1, "nothing older than 1h:\n" + r.stdout)

        r = self.voipctl(d, "history", "--since", "yesterdayish")
        self.assertEqual(r.returncode, 2, "usage error: %s %s" % (r.stdout, r.stderr))
        self.assertIn("--since", r.stderr)
        self.assertIn("yesterdayish", r.stderr)
        self.assertEqual(r.stdout, "")
