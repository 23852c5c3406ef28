'use strict';
// The voip.v1 API driven with @grpc/grpc-js against the real voipd binary.
//
//   cd tests/integration/node && npm ci
//   VOIPD_BIN=.../voipd VOIPD_PROTO_DIR=.../proto node --test
//
// Nothing is skipped: a missing binary fails the suite. Waits are
// deadline-bound promises, never fixed sleeps.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { createHash, randomUUID } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');

const grpc = require('@grpc/grpc-js');
const { Voipd, defaultConfig, loadProtos, VOIP_ERROR_TYPE_URL } = require('./voipd_harness.js');

const ANSWERS = '+12015550100';
const BUSY = '+12015550101';
const NO_ANSWER = '+12015550102';
const PROVIDER_FAILURE = '+12015550103';
const REMOTE_HANGUP = '+12015550104';
const NETWORK_FAILURE = '+12015550105';
const TERMINAL = new Set(['CALL_STATUS_DISCONNECTED', 'CALL_STATUS_FAILED', 'CALL_STATUS_BUSY',
  'CALL_STATUS_UNAVAILABLE']);
const WAIT_MS = 10000;

const describeEvents = (events) => events.map((e) =>
  `  #${e.sequence} ${e.session.session_id.slice(0, 8)} ${e.type} ${e.previous_status}->${e.session.status}`)
  .join('\n');

// Collects a server stream's messages; lets tests wait on them.
class EventStream {
  constructor(call) {
    this.call = call;
    this.events = [];
    this.status = null; // final { code, details, metadata }
    this.error = null;
    this.ended = false;
    this.waiters = new Set();
    call.on('data', (e) => { this.events.push(e); this.notify(); });
    call.on('error', (err) => { this.error = err; });
    call.on('status', (status) => { this.status = status; this.notify(); });
    call.on('end', () => { this.ended = true; this.notify(); });
    call.on('close', () => { this.ended = true; this.notify(); });
  }

  get done() { return this.status !== null && this.ended; }

  notify() { for (const w of [...this.waiters]) w(); }

  // Resolves with pred(events) once truthy; rejects on timeout or stream end.
  waitFor(pred, what, timeoutMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const result = pred(this.events);
        if (result) return finish(null, result);
        if (this.done) {
          return finish(new Error(`stream ended (${this.status.code}: ${this.status.details}) `
            + `before ${what}; received:\n${describeEvents(this.events)}`));
        }
        return undefined;
      };
      const finish = (err, value) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err); else resolve(value);
      };
      timer = setTimeout(() => finish(new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; received:\n${describeEvents(this.events)}`)),
      timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  waitStatus(sessionId, status) {
    return this.waitFor((evs) => evs.find((e) => e.session.session_id === sessionId
      && e.session.status === status), `${status} of ${sessionId}`);
  }

  waitTerminal(sessionId) {
    return this.waitFor((evs) => evs.find((e) => e.session.session_id === sessionId
      && TERMINAL.has(e.session.status)), `the terminal event of ${sessionId}`);
  }

  // Resolves with the final status once the stream is over.
  async waitDone(timeoutMs = WAIT_MS) {
    await new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (!this.done) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`stream still open after ${timeoutMs} ms; received:\n${describeEvents(this.events)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
    return this.status;
  }

  cancel() { this.call.cancel(); }
}

function assertContiguous(events, first) {
  const seqs = events.map((e) => e.sequence);
  assert.ok(seqs.length > 0, 'no events');
  assert.equal(seqs[0], first, `first sequence\n${describeEvents(events)}`);
  assert.deepEqual(seqs, seqs.map((_, i) => first + i), `gaps or duplicates:\n${describeEvents(events)}`);
}

describe('voipd via @grpc/grpc-js', () => {
  let voipd;
  let client;
  const protos = loadProtos();
  const streams = [];
  const started = [];

  const call = (method, request) => new Promise((resolve, reject) => {
    client[method](request, { deadline: new Date(Date.now() + WAIT_MS) },
      (err, response) => (err ? reject(err) : resolve(response)));
  });
  const startCall = async (number, extra = {}) => {
    const session = await call('StartCall', {
      to: { number }, request_id: randomUUID(), labels: { suite: 'node' }, ...extra,
    });
    started.push(session.session_id);
    return session;
  };
  const endCall = (sessionId) => call('EndCall', { session_id: sessionId });
  const subscribe = (request) => {
    const s = new EventStream(client.SubscribeCallEvents(request));
    streams.push(s);
    return s;
  };
  const watch = (sessionId) => {
    const s = new EventStream(client.WatchCall({ session_id: sessionId }));
    streams.push(s);
    return s;
  };
  // The newest sequence: a call that starts and ends right away.
  const lastSequence = async () => {
    const s = await startCall(ANSWERS);
    await endCall(s.session_id);
    const got = await call('GetCallStatus', { session_id: s.session_id });
    assert.ok(TERMINAL.has(got.status), got.status);
    assert.ok(got.last_sequence > 0);
    return got.last_sequence;
  };
  // Expects `promise` to fail with gRPC `code` and a VoipError `errorCode`.
  const expectVoipError = async (promise, code, errorCode) => {
    const err = await promise.then(
      (value) => assert.fail(`expected ${grpc.status[code]}, got ${JSON.stringify(value)}`),
      (e) => e);
    assert.equal(grpc.status[err.code], grpc.status[code], `${err.code}: ${err.details}`);
    const status = protos.decodeStatus(err);
    assert.ok(status, 'no grpc-status-details-bin trailer');
    assert.equal(status.code, code);
    assert.equal(status.message, err.details);
    assert.equal(status.details.filter((d) => d.type_url === VOIP_ERROR_TYPE_URL).length, 1,
      `details: ${status.details.map((d) => d.type_url)}`);
    const voipError = protos.decodeVoipError(err);
    assert.equal(voipError.error_code, errorCode);
    assert.ok(voipError.message, 'VoipError.message is empty');
    return voipError;
  };

  before(async () => {
    voipd = new Voipd();
    await voipd.start();
    client = voipd.client();
  });

  after(async () => {
    for (const s of streams) s.cancel();
    for (const id of started) await endCall(id).catch(() => {});
    if (client) client.close();
    if (!voipd) return;
    const code = await voipd.stop();
    assert.equal(code, 0, 'voipd exit code after SIGTERM');
  });

  it('follows a call through its lifecycle on WatchCall', async () => {
    const session = await startCall('+1 201-555-0100', { labels: { crm: '7' } });
    assert.ok(session.session_id);
    assert.equal(session.to_normalized, ANSWERS);
    assert.equal(session.system_name, 'sandbox');
    assert.deepEqual(session.labels, { crm: '7' });
    const id = session.session_id;

    const w = watch(id);
    const snap = await w.waitFor((evs) => evs[0], 'the snapshot');
    assert.equal(snap.type, 'CALL_EVENT_TYPE_SNAPSHOT');
    assert.equal(snap.session.session_id, id);
    assert.equal(snap.sequence, snap.session.last_sequence);
    assert.ok(['CALL_STATUS_INITIATING', 'CALL_STATUS_RINGING'].includes(snap.session.status),
      snap.session.status);

    await w.waitStatus(id, 'CALL_STATUS_CONNECTED');
    const held = await call('Hold', { session_id: id, hold: true });
    assert.equal(held.status, 'CALL_STATUS_ON_HOLD');
    assert.equal(held.on_hold, true);
    await w.waitStatus(id, 'CALL_STATUS_ON_HOLD');
    const resumed = await call('Hold', { session_id: id, hold: false });
    assert.equal(resumed.status, 'CALL_STATUS_CONNECTED');
    assert.equal(resumed.on_hold, false);
    const muted = await call('Mute', { session_id: id, mute: true });
    assert.equal(muted.muted, true);
    const muteEvent = await w.waitFor((evs) => evs.find((e) => e.type === 'CALL_EVENT_TYPE_MUTE_CHANGED'),
      'MUTE_CHANGED');
    assert.equal(muteEvent.session.muted, true);
    const ended = await endCall(id);
    assert.equal(ended.status, 'CALL_STATUS_DISCONNECTED');
    assert.equal(ended.end_reason.source, 'HANGUP_SOURCE_LOCAL');

    const final = await w.waitDone();
    assert.equal(final.code, grpc.status.OK, final.details);
    const events = w.events;
    const all = ['CALL_STATUS_INITIATING', 'CALL_STATUS_RINGING', 'CALL_STATUS_CONNECTED',
      'CALL_STATUS_ON_HOLD', 'CALL_STATUS_CONNECTED', 'CALL_STATUS_CONNECTED', 'CALL_STATUS_DISCONNECTED'];
    const types = ['STATUS_CHANGED', 'STATUS_CHANGED', 'STATUS_CHANGED', 'STATUS_CHANGED',
      'STATUS_CHANGED', 'MUTE_CHANGED', 'STATUS_CHANGED'].map((t) => `CALL_EVENT_TYPE_${t}`);
    const skip = all.indexOf(snap.session.status); // the snapshot stands for what came before
    assert.deepEqual(events.slice(1).map((e) => [e.type, e.session.status]),
      types.slice(skip + 1).map((t, i) => [t, all[skip + 1 + i]]), describeEvents(events));
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i].sequence > events[i - 1].sequence, `sequence order\n${describeEvents(events)}`);
    }
  });

  it('reports busy and unavailable with their causes', async () => {
    const busy = await startCall(BUSY);
    const ended = await watch(busy.session_id).waitTerminal(busy.session_id);
    assert.equal(ended.session.status, 'CALL_STATUS_BUSY');
    assert.equal(ended.session.end_reason.provider_cause.sip_code, 486);
    assert.equal(ended.session.end_reason.provider_cause.q850_cause, 17);
    const unanswered = await startCall(NO_ANSWER, { ring_timeout: { seconds: 0, nanos: 300000000 } });
    const gaveUp = await watch(unanswered.session_id).waitTerminal(unanswered.session_id);
    assert.equal(gaveUp.session.status, 'CALL_STATUS_UNAVAILABLE');
  });

  it('decodes the VoipError a stream ends with', async () => {
    const s = subscribe({ after_sequence: 1e15 });
    const final = await s.waitDone();
    assert.equal(final.code, grpc.status.INVALID_ARGUMENT, final.details);
    const voipError = protos.decodeVoipError(s.error);
    assert.ok(voipError, 'no VoipError on the stream\'s status');
    assert.equal(voipError.error_code, 'INVALID_ARGUMENT');
    assert.equal(voipError.field, 'after_sequence');
  });

  it('decodes the VoipError of NETWORK_ERROR', async () => {
    const err = await expectVoipError(startCall(NETWORK_FAILURE), grpc.status.UNAVAILABLE, 'NETWORK_ERROR');
    assert.equal(err.system_name, 'sandbox');
  });

  it('decodes the VoipError of INVALID_NUMBER naming to.number', async () => {
    const err = await expectVoipError(startCall('not-a-number'), grpc.status.INVALID_ARGUMENT,
      'INVALID_NUMBER');
    assert.equal(err.field, 'to.number');
  });

  it('gives two subscribers identical ordered events', async () => {
    const start = await lastSequence();
    const a = subscribe({ after_sequence: start });
    const b = subscribe({ after_sequence: start });
    const calls = [];
    for (const n of [ANSWERS, BUSY, PROVIDER_FAILURE, REMOTE_HANGUP]) calls.push(await startCall(n));
    await Promise.all([a, b].map((s) => s.waitStatus(calls[0].session_id, 'CALL_STATUS_CONNECTED')));
    await endCall(calls[0].session_id);
    for (const s of [a, b]) {
      for (const c of calls) await s.waitTerminal(c.session_id);
    }
    const n = Math.min(a.events.length, b.events.length);
    assert.deepEqual(a.events.slice(0, n), b.events.slice(0, n));
    assertContiguous(a.events, start + 1);
    assertContiguous(b.events, start + 1);
    for (const c of calls) {
      const mine = a.events.filter((e) => e.session.session_id === c.session_id);
      assert.equal(mine[0].session.status, 'CALL_STATUS_INITIATING');
      assert.equal(mine.filter((e) => TERMINAL.has(e.session.status)).length, 1, describeEvents(mine));
    }
  });

  it('resumes with after_sequence: exactly the missed events', async () => {
    const start = await lastSequence();
    const reference = subscribe({ after_sequence: start });
    const first = subscribe({ after_sequence: start });
    const a = await startCall(ANSWERS);
    await first.waitStatus(a.session_id, 'CALL_STATUS_CONNECTED');
    first.cancel();
    const cancelled = await first.waitDone();
    assert.equal(cancelled.code, grpc.status.CANCELLED);
    const seen = [...first.events];
    const lastSeen = seen[seen.length - 1].sequence;

    const b = await startCall(BUSY);
    await endCall(a.session_id);
    await reference.waitTerminal(a.session_id);
    await reference.waitTerminal(b.session_id);

    const resumed = subscribe({ after_sequence: lastSeen });
    await resumed.waitTerminal(a.session_id);
    await resumed.waitTerminal(b.session_id);
    const c = await startCall(ANSWERS); // live again after the replay
    await endCall(c.session_id);
    await resumed.waitTerminal(c.session_id);
    await reference.waitTerminal(c.session_id);

    assertContiguous(reference.events, start + 1);
    assert.deepEqual(seen, reference.events.slice(0, seen.length));
    assertContiguous(resumed.events, lastSeen + 1);
    assert.deepEqual(resumed.events,
      reference.events.filter((e) => e.sequence > lastSeen).slice(0, resumed.events.length));
    const got = new Set(resumed.events.map((e) => `${e.session.session_id} ${e.session.status}`));
    for (const want of [`${a.session_id} CALL_STATUS_DISCONNECTED`, `${b.session_id} CALL_STATUS_INITIATING`,
      `${b.session_id} CALL_STATUS_BUSY`, `${c.session_id} CALL_STATUS_INITIATING`]) {
      assert.ok(got.has(want), `missing ${want}\n${describeEvents(resumed.events)}`);
    }
  });

  it('runs the Node click-to-call example', async () => {
    const script = path.join(__dirname, '..', '..', '..', 'clients', 'examples', 'node', 'click_to_call.js');
    const run = (number) => new Promise((resolve) => {
      execFile(process.execPath, [script, '--addr', voipd.addr, '--talk', '0', number], {
        timeout: 60000,
        // The example's own node_modules may not be installed: use ours.
        env: { ...process.env, NODE_PATH: path.join(__dirname, 'node_modules') },
      }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout + stderr }));
    });
    const ok = await run(ANSWERS);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /CALL_STATUS_CONNECTED/);
    assert.match(ok.out, /CALL_STATUS_DISCONNECTED/);
    const bad = await run('not-a-number');
    assert.equal(bad.code, 1, bad.out);
    assert.match(bad.out, /INVALID_NUMBER/);
    assert.match(bad.out, /field:\s+to\.number/);
  });
});

describe('the Node click-to-call example against a daemon with auth.tokens', () => {
  const token = `vt_${randomUUID()}`;
  let voipd;
  let tmp;
  before(async () => {
    const sha256 = createHash('sha256').update(token).digest('hex');
    voipd = new Voipd({ configText: `${defaultConfig()}auth:
  tokens:
    - { name: crm, sha256: ${sha256}, scopes: [calls:read, calls:write] }
` });
    await voipd.start();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'voipd-node-token-'));
  });
  after(async () => {
    if (voipd) await voipd.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const run = (args, env = {}) => new Promise((resolve) => {
    const script = path.join(__dirname, '..', '..', '..', 'clients', 'examples', 'node', 'click_to_call.js');
    execFile(process.execPath, [script, '--addr', voipd.addr, '--talk', '0', ...args], {
      timeout: 60000,
      env: { ...process.env, VOIPD_TOKEN_FILE: '', NODE_PATH: path.join(__dirname, 'node_modules'), ...env },
    }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout + stderr }));
  });

  it('sends the token from --token-file or VOIPD_TOKEN_FILE on every call, and fails without it', async () => {
    const file = path.join(tmp, 'token');
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
    for (const attempt of [await run(['--token-file', file, ANSWERS]),
      await run([ANSWERS], { VOIPD_TOKEN_FILE: file })]) {
      assert.equal(attempt.code, 0, attempt.out);
      assert.match(attempt.out, /CALL_STATUS_CONNECTED/);  // WatchCall carried it
      assert.match(attempt.out, /CALL_STATUS_DISCONNECTED/);  // and EndCall
      assert.ok(!attempt.out.includes(token), 'the token was printed');
    }
    const without = await run([ANSWERS]);
    assert.equal(without.code, 1, without.out);
    assert.match(without.out, /AUTHENTICATION_FAILED/);
  });
});
