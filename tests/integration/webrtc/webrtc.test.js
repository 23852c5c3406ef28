'use strict';
// The webrtc adapter end to end: real voipd, real Chromium pages running
// clients/web, every scenario driven and checked through the voip.v1 gRPC
// API (StartCall/EndCall/Hold/Mute + SubscribeCallEvents), media proven with
// getStats(). Must run in its own network namespace with only loopback:
//   unshare -n sh -c 'ip link set lo up && exec node --test'
// Nothing is skipped: a missing binary or browser fails the suite.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const { Voipd, Api, Agent, launchBrowser, freePort, mediaWindow, selfSignedCert, REPO,
  WAIT_MS } = require('./webrtc_harness.js');

const AGENT = 'agent-token-4b1c7f';
// Received audio energy over a window below this is silence: the fake
// microphone's tone gives ~0.3 per 1.5 s window, a disabled track leaves
// only ~1e-9 of decoder dither.
const SILENT = 1e-6;
const VIEWER = 'viewer-token-93d0aa';
// Revoked by the last scenario of the first suite.
const TEMP = 'temp-agent-token-c25e01';
// Loses calls:write in a reload mid-call (read-only party).
const DEMOTE = 'demote-agent-token-7e4a19';

// Audio already in flight (jitter buffer) drains after a change: measure
// windows until one shows the expected steady state, at most four. The
// checks are on counters, not on how fast: a stream that never stops (or
// never restarts) fails every window.
async function settled(agent, steady) {
  let w;
  for (let i = 0; i < 4; i++) {
    [w] = await mediaWindow([agent]);
    if (steady(w)) return w;
  }
  return w;
}

// The call-status widget as the user sees it: waits until the badge (a
// role=status live region) reads `text` for `status`, then checks that the
// history list got the same line for call `sessionId`.
async function widgetShows(agent, sessionId, status, text) {
  const badge = agent.page.locator('#current-status');
  try {
    await agent.page.waitForFunction(([s, t]) => {
      const b = document.getElementById('current-status');
      return b.textContent === t && b.dataset.status === s;
    }, [status, text], { timeout: WAIT_MS });
  } catch {
    assert.fail(`${agent.identity}'s status badge: want "${text}" (${status}), shows ` +
      `"${await badge.textContent()}" (${await badge.getAttribute('data-status')})`);
  }
  const items = agent.page.getByRole('list', { name: 'Call status history' })
    .locator(`li[data-session="${sessionId}"][data-status="${status}"]`).filter({ hasText: text });
  assert.ok(await items.count() > 0, `${agent.identity}'s status history lacks "${text}"`);
}

// The widget's history lines of one call, oldest first.
async function widgetHistory(agent, sessionId) {
  const lines = await agent.page.getByRole('list', { name: 'Call status history' })
    .locator(`li[data-session="${sessionId}"]`).allTextContents();
  return lines.reverse();
}

// What has keyboard focus, by accessible name (label, aria-label or text).
function focused(agent) {
  return agent.page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    if (el.labels && el.labels.length > 0) return el.labels[0].textContent.trim();
    return el.getAttribute('aria-label') || el.textContent.trim();
  });
}

// Presses `key` n times, returning what has focus after each press.
async function focusWalk(agent, key, n) {
  const seen = [];
  for (let i = 0; i < n; i++) {
    await agent.page.keyboard.press(key);
    seen.push(await focused(agent));
  }
  return seen;
}

const TOKENS = {
  agents: { token: AGENT, scopes: ['calls:read', 'calls:write'] },
  viewer: { token: VIEWER, scopes: ['calls:read'] },
};

describe('webrtc adapter with the softphone page in Chromium', () => {
  let voipd;
  let api;
  let events;
  let browser;
  const open = [];

  const agent = async (identity, opts = {}) => {
    const a = await Agent.open(browser, voipd.webBase, identity, opts.token || AGENT, opts);
    open.push(a);
    await a.registered();
    return a;
  };
  const start = (from, to, extra = {}) => api.unary('StartCall', { from, to: { number: to }, ...extra });

  // Calls `from` → `to`, answers on `callee`, waits for CONNECTED.
  async function connectedCall(caller, callee) {
    const session = await start(caller.identity, callee.identity);
    await events.waitStatus(session.session_id, 'CALL_STATUS_RINGING');
    await callee.answer();
    await events.waitStatus(session.session_id, 'CALL_STATUS_CONNECTED');
    return session.session_id;
  }

  before(async () => {
    const webPort = await freePort();
    voipd = new Voipd({ webPort, tokens: { ...TOKENS,
      temp: { token: TEMP, scopes: ['calls:read', 'calls:write'] },
      demote: { token: DEMOTE, scopes: ['calls:read', 'calls:write'] } } });
    await voipd.start();
    api = new Api(voipd.addr, AGENT);
    events = api.subscribe();
    browser = await launchBrowser();
  });

  // A failed scenario must not leave registered pages behind for the next.
  afterEach(async () => {
    for (const a of open.splice(0)) await a.close().catch(() => {});
  });

  after(async () => {
    if (browser) await browser.close();
    if (events) events.close();
    if (api) api.close();
    if (voipd) {
      const log = voipd.log();
      assert.ok(!log.includes(AGENT) && !log.includes(VIEWER) && !log.includes(DEMOTE),
        'a token was logged');
      await voipd.stop();
    }
  });

  it('serves the page and refuses traversal', async () => {
    const ok = await fetch(`${voipd.webBase}/`);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type'), /text\/html/);
    assert.match(ok.headers.get('content-security-policy'), /default-src 'self'/);
    const js = await fetch(`${voipd.webBase}/app.js`);
    assert.match(js.headers.get('content-type'), /javascript/);
    for (const bad of ['/../README.md', '/%2e%2e/README.md', '/..%2fREADME.md', '/nope.js']) {
      const r = await fetch(`${voipd.webBase}${bad}`);
      assert.equal(r.status, 404, bad);
    }
    const post = await fetch(`${voipd.webBase}/`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
  });

  it('answered call: media both ways, mute and hold from gRPC and from the page, callee hangs up',
    async () => {
      const alice = await agent('alice');
      const bob = await agent('bob');
      const id = await connectedCall(alice, bob);
      const statuses = events.statuses(id);
      assert.deepEqual(statuses.slice(0, 3),
        ['CALL_STATUS_INITIATING', 'CALL_STATUS_RINGING', 'CALL_STATUS_CONNECTED']);

      // Media flows both ways.
      let [a, b] = await mediaWindow([alice, bob]);
      assert.equal(a.connectionState, 'connected');
      assert.equal(b.connectionState, 'connected');
      assert.ok(a.packets > 0 && b.packets > 0, `packets a=${a.packets} b=${b.packets}`);
      assert.ok(b.energy > 0, 'bob hears alice before mute');
      await bob.page.screenshot({ path: path.join(REPO, 'docs', 'webrtc-active-call.png'), fullPage: true });

      // The status widget showed the states as they streamed.
      for (const st of ['CALL_STATUS_RINGING', 'CALL_STATUS_CONNECTED']) {
        await bob.page.locator(`#status-log li[data-status="${st}"][data-session="${id}"]`)
          .first().waitFor({ timeout: 5000 });
      }

      // gRPC Mute: alice's track disabled; bob gets packets with no energy.
      let res = await api.unary('Mute', { session_id: id, mute: true });
      assert.equal(res.muted, true);
      await events.waitMuted(id, true);
      b = await settled(bob, (w) => w.energy < SILENT);
      assert.ok(b.packets > 0, 'packets continue while muted');
      assert.ok(b.energy < SILENT, `bob's received energy grew while muted: ${b.energy}`);
      res = await api.unary('Mute', { session_id: id, mute: false });
      assert.equal(res.muted, false);
      await events.waitMuted(id, false);
      b = await settled(bob, (w) => w.energy > 0);
      assert.ok(b.energy > 0, 'energy back after unmute');

      // Mute from the page (bob presses Mute): streamed to gRPC subscribers.
      await bob.page.getByRole('button', { name: 'Mute' }).click();
      await events.waitFor(id, (e) => e.type === 'CALL_EVENT_TYPE_MUTE_CHANGED' &&
        e.session.muted === true && e.sequence > res.last_sequence, 'page mute');
      a = await settled(alice, (w) => w.energy < SILENT);
      assert.ok(a.packets > 0 && a.energy < SILENT, `alice while bob muted: ${JSON.stringify(a)}`);
      await bob.page.getByRole('button', { name: 'Unmute' }).click();
      await events.waitFor(id, (e) => e.type === 'CALL_EVENT_TYPE_MUTE_CHANGED' &&
        e.session.muted === false && e.sequence > res.last_sequence + 1, 'page unmute');

      // gRPC Hold: alice renegotiates sendonly; bob→alice carries nothing,
      // alice→bob continues, the connection stays up.
      res = await api.unary('Hold', { session_id: id, hold: true });
      assert.equal(res.status, 'CALL_STATUS_ON_HOLD');
      a = await settled(alice, (w) => w.packets === 0);
      [b] = await mediaWindow([bob]);
      assert.equal(a.packets, 0, 'held direction (bob→alice) carries no packets');
      assert.ok(b.packets > 0, 'alice→bob continues on hold');
      assert.equal(a.connectionState, 'connected');
      assert.equal(b.connectionState, 'connected');
      res = await api.unary('Hold', { session_id: id, hold: false });
      assert.equal(res.status, 'CALL_STATUS_CONNECTED');
      a = await settled(alice, (w) => w.packets > 0);
      [b] = await mediaWindow([bob]);
      assert.ok(a.packets > 0 && b.packets > 0, 'both directions after resume');

      // Hold from the page (bob): streamed as ON_HOLD, then resumed.
      await bob.page.getByRole('button', { name: 'Hold' }).click();
      await events.waitFor(id, (e) => e.session.status === 'CALL_STATUS_ON_HOLD' &&
        e.sequence > res.last_sequence, 'page hold');
      b = await settled(bob, (w) => w.packets === 0);
      assert.equal(b.packets, 0, 'alice→bob stops while bob holds');
      await bob.page.getByRole('button', { name: 'Resume' }).click();
      await events.waitFor(id, (e) => e.session.status === 'CALL_STATUS_CONNECTED' &&
        e.previous_status === 'CALL_STATUS_ON_HOLD' && e.sequence > res.last_sequence + 1,
      'page resume');

      // The callee hangs up: DISCONNECTED, source REMOTE; the caller's page
      // is told.
      await bob.page.getByRole('button', { name: 'Hang up' }).click();
      const ended = await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
      assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_REMOTE');
      await alice.received({ type: 'ended', session_id: id });
      await alice.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: 5000 });
      await alice.close();
      await bob.close();
    });

  it('the caller hangs up from its page, and EndCall hangs up from gRPC', async () => {
    const alice = await agent('alice');
    const bob = await agent('bob');
    let id = await connectedCall(alice, bob);
    await alice.page.getByRole('button', { name: 'Hang up' }).click();
    let ended = await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
    assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_REMOTE');
    await bob.received({ type: 'ended', session_id: id });

    id = await connectedCall(alice, bob);
    const res = await api.unary('EndCall', { session_id: id });
    ended = await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
    assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_LOCAL');
    assert.ok(res.status === 'CALL_STATUS_DISCONNECTED' || res.status === 'CALL_STATUS_CONNECTED');
    await alice.received({ type: 'ended', session_id: id });
    await bob.received({ type: 'ended', session_id: id });
    await alice.close();
    await bob.close();
  });

  it('rejected: BUSY; not answered: UNAVAILABLE; unregistered target: UNAVAILABLE', async () => {
    const alice = await agent('alice');
    const bob = await agent('bob');
    let session = await start('alice', 'bob');
    await events.waitStatus(session.session_id, 'CALL_STATUS_RINGING');
    await bob.page.getByRole('button', { name: 'Reject' }).click();
    let ended = await events.waitStatus(session.session_id, 'CALL_STATUS_BUSY');
    assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_REMOTE');

    session = await start('alice', 'bob', { ring_timeout: { seconds: 2 } });
    await events.waitStatus(session.session_id, 'CALL_STATUS_RINGING');
    await events.waitStatus(session.session_id, 'CALL_STATUS_UNAVAILABLE');
    await bob.page.locator('#incoming-panel').waitFor({ state: 'hidden', timeout: 5000 });

    session = await start('alice', 'nobody');
    ended = await events.waitStatus(session.session_id, 'CALL_STATUS_UNAVAILABLE');
    assert.deepEqual(events.statuses(session.session_id).slice(-1), ['CALL_STATUS_UNAVAILABLE']);
    await alice.close();
    await bob.close();
  });

  it('a callee already in a call is BUSY; a second tab of the callee rings and the first answer wins',
    async () => {
      const alice = await agent('alice');
      const bob = await agent('bob');
      const bob2 = await agent('bob');
      const carol = await agent('carol');
      const session = await start('alice', 'bob');
      await bob.page.locator('#incoming-panel').waitFor({ timeout: 5000 });
      await bob2.page.locator('#incoming-panel').waitFor({ timeout: 5000 });
      await bob2.answer();
      await events.waitStatus(session.session_id, 'CALL_STATUS_CONNECTED');
      await bob.received({ type: 'ended', reason: 'answered_elsewhere' });
      await bob.page.locator('#incoming-panel').waitFor({ state: 'hidden', timeout: 5000 });
      // alice is in a call: carol → alice is busy; and alice cannot dial again.
      const busy = await start('carol', 'alice');
      await events.waitStatus(busy.session_id, 'CALL_STATUS_BUSY');
      await assert.rejects(start('alice', 'carol'), (err) => {
        assert.equal(err.code, grpc().status.INVALID_ARGUMENT);
        assert.equal(api.voipError(err).field, 'from');
        return true;
      });
      await api.unary('EndCall', { session_id: session.session_id });
      await events.waitStatus(session.session_id, 'CALL_STATUS_DISCONNECTED');
      for (const a of [alice, bob, bob2, carol]) await a.close();
    });

  it('page closed mid-call: DISCONNECTED', async () => {
    const alice = await agent('alice');
    const bob = await agent('bob');
    const id = await connectedCall(alice, bob);
    await bob.page.close();
    const ended = await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
    assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_REMOTE');
    await alice.received({ type: 'ended', session_id: id, reason: 'page_closed' });
    await alice.close();
    await bob.close();
  });

  it('StartCall needs a registered calling agent in `from`', async () => {
    const bob = await agent('bob');
    for (const from of ['', 'ghost', '+12015550100']) {
      await assert.rejects(start(from, 'bob'), (err) => {
        assert.equal(err.code, grpc().status.INVALID_ARGUMENT, from);
        assert.equal(api.voipError(err).field, 'from', from);
        return true;
      });
    }
    await bob.close();
  });

  it('dial pad and contact click-to-call place calls through the daemon', async () => {
    const alice = await agent('alice', { query: '?contacts=bob' });
    const bob = await agent('bob');
    // Keypad digits for a number mapped to bob.
    for (const key of '+12015550123') {
      const name = key === '+' ? 'Plus' : key;
      await alice.page.locator('#keypad').getByRole('button', { name, exact: true }).click();
    }
    await alice.page.getByRole('button', { name: 'Delete last character' }).click();
    await alice.page.locator('#keypad').getByRole('button', { name: '3', exact: true }).click();
    assert.equal(await alice.page.getByLabel('Number or agent').inputValue(), '+12015550123');
    await alice.page.screenshot({ path: path.join(REPO, 'docs', 'webrtc-dialpad.png'), fullPage: true });
    await alice.page.getByRole('button', { name: 'Call', exact: true }).click();
    const result = await alice.received({ type: 'call_result' });
    const id = result.session_id;
    const initiating = await events.waitStatus(id, 'CALL_STATUS_INITIATING');
    assert.equal(initiating.session.from, 'alice');
    assert.equal(initiating.session.to_normalized, '+12015550123');
    await bob.answer();
    await events.waitStatus(id, 'CALL_STATUS_CONNECTED');
    await api.unary('EndCall', { session_id: id });
    await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');

    // Contact list: "Call bob".
    await alice.page.getByRole('button', { name: 'Call bob' }).click();
    const second = await alice.received({ type: 'call_result' }, 1);
    await events.waitStatus(second.session_id, 'CALL_STATUS_RINGING');
    await bob.page.getByRole('button', { name: 'Reject' }).click();
    await events.waitStatus(second.session_id, 'CALL_STATUS_BUSY');

    // An unknown target is refused with the core's error, named.
    await alice.page.getByLabel('Number or agent').fill('12');
    await alice.page.getByRole('button', { name: 'Call', exact: true }).click();
    const err = await alice.received({ type: 'error', in_reply_to: 'call' });
    assert.equal(err.field, 'to.number');
    await alice.close();
    await bob.close();
  });

  it('malformed, unknown and oversized messages are refused without effect', async () => {
    const alice = await agent('alice');
    const bob = await agent('bob');
    const send = (text) => alice.page.evaluate((t) => window.voipdTest.send(t), text);
    await send('{not json');
    await send(JSON.stringify({ type: 'teleport', session_id: 'x' }));
    await send(JSON.stringify({ type: 'call', to: 'bob', pad: 'x'.repeat(70 * 1024) }));
    await send(JSON.stringify({ type: 'hangup' }));
    const errors = await alice.page.waitForFunction(
      () => window.voipdReceived.filter((m) => m.type === 'error').length >= 4 &&
        window.voipdReceived.filter((m) => m.type === 'error'), null, { timeout: 10000 });
    const list = await errors.jsonValue();
    assert.deepEqual(list.map((e) => [e.code, e.field]), [
      ['INVALID_ARGUMENT', 'message'],
      ['INVALID_ARGUMENT', 'type'],
      ['INVALID_ARGUMENT', 'message'],
      ['INVALID_ARGUMENT', 'session_id'],
    ]);
    // No call was placed by the oversized "call", and the page still works.
    assert.equal((await api.unary('ListCalls', { active_only: true })).calls.length, 0);
    const id = await connectedCall(alice, bob);
    await api.unary('EndCall', { session_id: id });
    await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
    await alice.close();
    await bob.close();
  });

  it("an agent cannot act on another agent's call; a read-only page cannot place calls", async () => {
    const alice = await agent('alice');
    const bob = await agent('bob');
    const mallory = await agent('mallory');
    const id = await connectedCall(alice, bob);
    const send = (msg) => mallory.page.evaluate((t) => window.voipdTest.send(t), JSON.stringify(msg));
    for (const type of ['hangup', 'reject', 'accept']) await send({ type, session_id: id });
    await send({ type: 'held', session_id: id, held: true });
    await send({ type: 'sdp', session_id: id, description: { type: 'offer', sdp: 'v=0\r\n' } });
    const errors = await mallory.page.waitForFunction(
      () => window.voipdReceived.filter((m) => m.type === 'error').length >= 5 &&
        window.voipdReceived.filter((m) => m.type === 'error'), null, { timeout: 10000 });
    for (const e of await errors.jsonValue()) assert.equal(e.code, 'SESSION_NOT_FOUND');
    // mallory saw no status of that call either.
    assert.equal(await mallory.page.evaluate((sid) =>
      window.voipdReceived.filter((m) => m.session_id === sid && m.type !== 'error').length, id), 0);
    const now = await api.unary('GetCallStatus', { session_id: id });
    assert.equal(now.status, 'CALL_STATUS_CONNECTED');
    assert.equal(now.on_hold, false);

    const viewer = await agent('viewer', { token: VIEWER });
    assert.match(await viewer.page.locator('#agent-state').textContent(), /read only/);
    await viewer.page.getByLabel('Number or agent').fill('bob');
    await viewer.page.getByRole('button', { name: 'Call', exact: true }).click();
    const denied = await viewer.received({ type: 'error', in_reply_to: 'call' });
    assert.equal(denied.code, 'PERMISSION_DENIED_SCOPE');

    const intruder = await Agent.open(browser, voipd.webBase, 'eve', 'not-a-token');
    open.push(intruder);
    const refused = await intruder.received({ type: 'error', in_reply_to: 'register' });
    assert.equal(refused.code, 'AUTHENTICATION_FAILED');

    await api.unary('EndCall', { session_id: id });
    await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
  });

  it('the status widget shows on hold, resumed, muted, disconnected, busy and unavailable as they stream',
    async () => {
      const alice = await agent('alice');
      const bob = await agent('bob');
      const badge = bob.page.locator('#current-status');
      assert.equal(await badge.getAttribute('role'), 'status');
      assert.equal(await badge.getAttribute('aria-live'), 'polite');
      const id = await connectedCall(alice, bob);
      await widgetShows(bob, id, 'CALL_STATUS_CONNECTED', 'Connected — alice');
      await widgetShows(alice, id, 'CALL_STATUS_CONNECTED', 'Connected — bob');

      // gRPC Hold holds on alice's page: both widgets and call panels say
      // so, and alice's Hold button turned into a pressed Resume.
      await api.unary('Hold', { session_id: id, hold: true });
      await widgetShows(bob, id, 'CALL_STATUS_ON_HOLD', 'On hold — alice');
      await widgetShows(alice, id, 'CALL_STATUS_ON_HOLD', 'On hold — bob');
      assert.equal(await bob.page.locator('#call-title').textContent(), 'Call — On hold');
      assert.equal(await alice.page.locator('#call-title').textContent(), 'Call — On hold');
      const aliceHold = alice.page.locator('#hold-button');
      assert.equal(await aliceHold.textContent(), 'Resume');
      assert.equal(await aliceHold.getAttribute('aria-pressed'), 'true');

      await api.unary('Hold', { session_id: id, hold: false });
      await widgetShows(bob, id, 'CALL_STATUS_CONNECTED', 'Connected — alice');
      assert.equal(await bob.page.locator('#call-title').textContent(), 'Call — Connected');
      assert.equal(await aliceHold.textContent(), 'Hold');
      assert.equal(await aliceHold.getAttribute('aria-pressed'), 'false');

      // Muted (gRPC Mute mutes alice's page): "(muted)" on both widgets.
      await api.unary('Mute', { session_id: id, mute: true });
      await widgetShows(bob, id, 'CALL_STATUS_CONNECTED', 'Connected (muted) — alice');
      await widgetShows(alice, id, 'CALL_STATUS_CONNECTED', 'Connected (muted) — bob');
      const aliceMute = alice.page.locator('#mute-button');
      assert.equal(await aliceMute.textContent(), 'Unmute');
      assert.equal(await aliceMute.getAttribute('aria-pressed'), 'true');
      await api.unary('Mute', { session_id: id, mute: false });
      await widgetShows(bob, id, 'CALL_STATUS_CONNECTED', 'Connected — alice');
      assert.equal(await aliceMute.getAttribute('aria-pressed'), 'false');

      // Disconnected: bob hangs up; the last word on both badges is the
      // core's final state, not only the page's "Ended".
      await bob.page.getByRole('button', { name: 'Hang up' }).click();
      await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
      await widgetShows(bob, id, 'CALL_STATUS_DISCONNECTED', 'Disconnected — alice');
      await widgetShows(alice, id, 'CALL_STATUS_DISCONNECTED', 'Disconnected — bob');
      // Every streamed state reached the widget, in order.
      const expected = ['Initiating — alice', 'Ringing — alice', 'Connected — alice',
        'On hold — alice', 'Connected — alice', 'Connected (muted) — alice', 'Connected — alice',
        'Disconnected — alice'];
      assert.deepEqual(await widgetHistory(bob, id), expected);
      assert.equal(events.of(id).length, expected.length, 'one widget line per streamed event');

      // Busy: bob declines; both widgets end on Busy.
      let session = await start('alice', 'bob');
      await events.waitStatus(session.session_id, 'CALL_STATUS_RINGING');
      await bob.page.getByRole('button', { name: 'Reject' }).click();
      await widgetShows(alice, session.session_id, 'CALL_STATUS_BUSY', 'Busy — bob');
      await widgetShows(bob, session.session_id, 'CALL_STATUS_BUSY', 'Busy — alice');
      assert.deepEqual(await widgetHistory(alice, session.session_id),
        ['Initiating — bob', 'Ringing — bob', 'Busy — bob']);

      // Unavailable: nobody answers before the ring timeout; nobody is
      // registered as the target.
      const UNAVAILABLE = 'CALL_STATUS_UNAVAILABLE';
      session = await start('alice', 'bob', { ring_timeout: { seconds: 1 } });
      await widgetShows(bob, session.session_id, UNAVAILABLE, 'Unavailable — alice');
      await widgetShows(alice, session.session_id, UNAVAILABLE, 'Unavailable — bob');
      await bob.page.locator('#incoming-panel').waitFor({ state: 'hidden', timeout: 5000 });
      session = await start('alice', 'nobody');
      await widgetShows(alice, session.session_id, UNAVAILABLE, 'Unavailable — nobody');
      assert.deepEqual(await widgetHistory(alice, session.session_id),
        ['Initiating — nobody', 'Unavailable — nobody']);
      await alice.close();
      await bob.close();
    });

  it('gRPC Hold/Resume stream ON_HOLD then CONNECTED; a page hold keeps the connection and media flows again after resume',
    async () => {
      const alice = await agent('alice');
      const bob = await agent('bob');
      const id = await connectedCall(alice, bob);
      const watch = api.watch(id);
      try {
        await watch.waitFor(id, (e) => e.type === 'CALL_EVENT_TYPE_SNAPSHOT', 'snapshot');
        const changes = (stream, after) => stream.of(id)
          .filter((e) => e.type === 'CALL_EVENT_TYPE_STATUS_CHANGED' && e.sequence > after)
          .map((e) => `${e.previous_status} -> ${e.session.status} hold=${e.session.on_hold}`);
        const start0 = events.of(id).at(-1).sequence;

        // gRPC Hold then Resume: both streams carry ON_HOLD then CONNECTED.
        let res = await api.unary('Hold', { session_id: id, hold: true });
        assert.equal(res.status, 'CALL_STATUS_ON_HOLD');
        for (const s of [events, watch]) {
          await s.waitFor(id, (e) => e.session.status === 'CALL_STATUS_ON_HOLD' &&
            e.sequence > start0, 'gRPC hold');
        }
        res = await api.unary('Hold', { session_id: id, hold: false });
        assert.equal(res.status, 'CALL_STATUS_CONNECTED');
        for (const s of [events, watch]) {
          await s.waitFor(id, (e) => e.session.status === 'CALL_STATUS_CONNECTED' &&
            e.previous_status === 'CALL_STATUS_ON_HOLD' && e.sequence > start0, 'gRPC resume');
        }
        const want = ['CALL_STATUS_CONNECTED -> CALL_STATUS_ON_HOLD hold=true',
          'CALL_STATUS_ON_HOLD -> CALL_STATUS_CONNECTED hold=false'];
        assert.deepEqual(changes(events, start0), want);
        assert.deepEqual(changes(watch, start0), want);
        let a = await settled(alice, (w) => w.packets > 0);
        assert.ok(a.packets > 0, 'bob→alice flows again after the gRPC resume');

        // Hold from bob's page: ON_HOLD streamed, alice→bob stops, the
        // connection stays up on both pages.
        const start1 = res.last_sequence;
        await bob.page.getByRole('button', { name: 'Hold' }).click();
        for (const s of [events, watch]) {
          await s.waitFor(id, (e) => e.session.status === 'CALL_STATUS_ON_HOLD' &&
            e.sequence > start1, 'page hold');
        }
        let b = await settled(bob, (w) => w.packets === 0);
        assert.equal(b.packets, 0, 'alice→bob stops while bob holds');
        assert.equal(b.connectionState, 'connected', "bob's connection while holding");
        [a] = await mediaWindow([alice]);
        assert.equal(a.connectionState, 'connected', "alice's connection while held");
        assert.ok(a.packets > 0, 'bob→alice continues while bob holds');

        // Resume from the page: CONNECTED streamed, media flows again both ways.
        await bob.page.getByRole('button', { name: 'Resume' }).click();
        for (const s of [events, watch]) {
          await s.waitFor(id, (e) => e.session.status === 'CALL_STATUS_CONNECTED' &&
            e.previous_status === 'CALL_STATUS_ON_HOLD' && e.sequence > start1, 'page resume');
        }
        assert.deepEqual(changes(events, start1), want);
        assert.deepEqual(changes(watch, start1), want);
        b = await settled(bob, (w) => w.packets > 0);
        assert.ok(b.packets > 0, 'alice→bob flows again after the page resumed');
        assert.equal(b.connectionState, 'connected');
        [a] = await mediaWindow([alice]);
        assert.ok(a.packets > 0, 'bob→alice still flows after the page resumed');
        assert.equal(a.connectionState, 'connected');

        await api.unary('EndCall', { session_id: id });
        await watch.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
      } finally {
        watch.close();
      }
      await alice.close();
      await bob.close();
    });

  it('keyboard only: focus reaches the dial pad, Call, Answer and Hang up; a call is placed, muted and ended',
    async () => {
      const alice = await agent('alice');
      const bob = await agent('bob');
      const kb = alice.page.keyboard;
      // Signed in, the form is gone: the first Tab lands on the number field.
      assert.deepEqual(await focusWalk(alice, 'Tab', 1), ['Number or agent']);
      await kb.type('+1201555012');  // digit keys (and +) into the field
      // ⌫ with Space, then keypad keys with Enter and Space; each gives
      // focus back to the field.
      assert.deepEqual(await focusWalk(alice, 'Tab', 1), ['Delete last character']);
      await kb.press('Space');
      assert.equal(await focused(alice), 'Number or agent');
      assert.deepEqual(await focusWalk(alice, 'Tab', 3), ['Delete last character', '1', '2']);
      await kb.press('Enter');
      assert.equal(await focused(alice), 'Number or agent');
      assert.deepEqual(await focusWalk(alice, 'Tab', 4), ['Delete last character', '1', '2', '3']);
      await kb.press('Space');
      const input = alice.page.getByLabel('Number or agent');
      assert.equal(await input.inputValue(), '+12015550123');

      // Focus order from the field: ⌫, the twelve keys, Call.
      assert.deepEqual(await focusWalk(alice, 'Tab', 14), ['Delete last character',
        '1', '2', '3', '4', '5', '6', '7', '8', '9', 'Plus', '0', 'Hash', 'Call']);
      await kb.press('Enter');
      const { session_id: id } = await alice.received({ type: 'call_result' });
      await events.waitStatus(id, 'CALL_STATUS_RINGING');

      // bob's alert takes focus on Answer: Enter answers, focus goes to Hang up.
      await bob.page.locator('#incoming-panel').waitFor({ timeout: 5000 });
      assert.equal(await focused(bob), 'Answer');
      await bob.page.keyboard.press('Enter');
      await events.waitStatus(id, 'CALL_STATUS_CONNECTED');
      assert.equal(await focused(bob), 'Hang up');

      // alice walks back from Call to the call controls (they come before
      // the dial pad), mutes with Space and hangs up with Enter.
      assert.equal(await focused(alice), 'Call');
      assert.deepEqual(await focusWalk(alice, 'Shift+Tab', 16), ['Hash', '0', 'Plus',
        '9', '8', '7', '6', '5', '4', '3', '2', '1', 'Delete last character', 'Number or agent',
        'Hang up', 'Mute']);
      await kb.press('Space');
      await events.waitMuted(id, true);
      assert.equal(await alice.page.locator('#mute-button').getAttribute('aria-pressed'), 'true');
      assert.deepEqual(await focusWalk(alice, 'Tab', 1), ['Hang up']);
      await kb.press('Enter');
      const ended = await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
      assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_REMOTE');
      await bob.received({ type: 'ended', session_id: id, reason: 'hangup' });
      await alice.page.locator('#call-panel').waitFor({ state: 'hidden', timeout: 5000 });
      await alice.close();
      await bob.close();
    });

  it('a read-only page cannot hang up, hold or mute a call it sees or is party to; the call is unchanged',
    async () => {
      const alice = await agent('alice');
      // A read-only tab of alice: a status display of her calls.
      const display = await agent('alice', { token: VIEWER });
      const dana = await agent('dana', { token: DEMOTE });
      const id = await connectedCall(alice, dana);
      const unchanged = async (before, why) => {
        const now = await api.unary('GetCallStatus', { session_id: id });
        assert.equal(now.status, 'CALL_STATUS_CONNECTED', why);
        assert.equal(now.on_hold, false, why);
        assert.equal(now.muted, false, why);
        assert.equal(now.last_sequence, before.last_sequence, `${why}: no event`);
      };
      const before = await api.unary('GetCallStatus', { session_id: id });

      // The display sees the call but has no call controls; what it sends
      // anyway is refused and shown.
      await widgetShows(display, id, 'CALL_STATUS_CONNECTED', 'Connected — dana');
      assert.equal(await display.page.locator('#call-panel').isHidden(), true);
      const send = (msg) => display.page.evaluate((t) => window.voipdTest.send(t),
        JSON.stringify(msg));
      await send({ type: 'hangup', session_id: id });
      await send({ type: 'held', session_id: id, held: true });
      await send({ type: 'muted', session_id: id, muted: true });
      for (const type of ['hangup', 'held', 'muted']) {
        const e = await display.received({ type: 'error', in_reply_to: type });
        assert.equal(e.code, 'SESSION_NOT_FOUND', type);
      }
      assert.match(await display.page.locator('#error').textContent(), /^SESSION_NOT_FOUND/);
      await unchanged(before, 'after the display page tried');

      // dana answered, then her token loses calls:write: her page says read
      // only, and her own Hang up, Mute and Hold are refused: Hang up by
      // voipd; Mute and Hold by the page itself, before it touches its media
      // (voipd would refuse after the change), so her media stays as it is.
      await voipd.reloadTokens({ ...TOKENS,
        temp: { token: TEMP, scopes: ['calls:read', 'calls:write'] },
        demote: { token: DEMOTE, scopes: ['calls:read'] } });
      await dana.page.locator('#agent-state').filter({ hasText: 'Registered as dana (read only)' })
        .waitFor({ timeout: 10000 });
      const error = dana.page.getByRole('alert');
      for (const [button, id_] of [['Hang up', 'hangup-button'], ['Mute', 'mute-button'],
        ['Hold', 'hold-button']]) {
        await dana.page.evaluate(() => { document.getElementById('error').textContent = ''; });
        await dana.page.getByRole('button', { name: button, exact: true }).click();
        if (button === 'Hang up') {
          const e = await dana.received({ type: 'error', in_reply_to: 'hangup' });
          assert.equal(e.code, 'PERMISSION_DENIED_SCOPE', button);
        } else {
          assert.equal(await dana.page.locator(`#${id_}`).getAttribute('aria-pressed'), 'false',
            `${button} must not change the page's media`);
        }
        await error.filter({ hasText: /^PERMISSION_DENIED_SCOPE/ }).waitFor({ timeout: 5000 });
        await unchanged(before, `after dana pressed ${button}`);
      }
      assert.equal(await dana.page.evaluate(() =>
        window.voipdTest.call().muted || window.voipdTest.call().held), false, 'dana\'s media unchanged');
      // Still in the call on both sides.
      assert.equal(await dana.page.locator('#call-panel').isVisible(), true);
      assert.equal(await alice.page.locator('#call-panel').isVisible(), true);
      assert.equal(await alice.page.evaluate(() =>
        window.voipdReceived.filter((m) => m.type === 'ended').length), 0);

      await api.unary('EndCall', { session_id: id });
      await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
    });

  // Last: it takes the temp token out of this suite's daemon.
  it("a reload that revokes a page's token closes the page and ends its call", async () => {
    const alice = await agent('alice');
    const tina = await agent('tina', { token: TEMP });
    const id = await connectedCall(alice, tina);
    await voipd.reloadTokens(TOKENS);
    const error = await tina.received({ type: 'error', in_reply_to: 'register' });
    assert.equal(error.code, 'AUTHENTICATION_FAILED');
    assert.equal(error.message, "tokens were reloaded: token 'temp' is no longer accepted");
    await tina.page.locator('#agent-state').filter({ hasText: 'Disconnected' })
      .waitFor({ timeout: 10000 });
    const ended = await events.waitStatus(id, 'CALL_STATUS_DISCONNECTED');
    assert.equal(ended.session.end_reason.source, 'HANGUP_SOURCE_REMOTE');
    await alice.received({ type: 'ended', session_id: id, reason: 'page_closed' });
    // alice's token was kept: her page is still registered.
    assert.match(await alice.page.locator('#agent-state').textContent(), /Registered as alice/);
    assert.ok(!voipd.log().includes(TEMP), 'the revoked token was logged');
  });
});

describe('webrtc adapter over HTTPS/WSS', () => {
  let voipd;
  let api;
  let events;
  let browser;
  const agents = [];

  let certDir;

  before(async () => {
    const webPort = await freePort();
    certDir = require('node:fs').mkdtempSync(path.join(require('node:os').tmpdir(), 'voipd-webrtc-tls-'));
    const { cert, key } = selfSignedCert(certDir);
    voipd = new Voipd({ webPort, tls: true,
      tokens: { agents: { token: AGENT, scopes: ['calls:read', 'calls:write'] } },
      webrtcExtra: `    tls_cert_file: "${cert}"\n    tls_key_file: "${key}"\n` +
        '    identity_tokens: { alice: agents, bob: agents }\n' });
    await voipd.start();
    api = new Api(voipd.addr, AGENT);
    events = api.subscribe();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const a of agents) await a.close().catch(() => {});
    if (browser) await browser.close();
    if (events) events.close();
    if (api) api.close();
    if (voipd) await voipd.stop();
    if (certDir) require('node:fs').rmSync(certDir, { recursive: true, force: true });
  });

  it('identity_tokens: an identity not bound to the token is refused', async () => {
    const eve = await Agent.open(browser, voipd.webBase, 'eve', AGENT, { ignoreHTTPSErrors: true });
    agents.push(eve);
    const refused = await eve.received({ type: 'error', in_reply_to: 'register' });
    assert.equal(refused.code, 'PERMISSION_DENIED_SCOPE');
    assert.equal(refused.field, 'identity');
    assert.equal(await eve.page.evaluate(() =>
      window.voipdReceived.filter((m) => m.type === 'registered').length), 0);
  });

  it('pages load over HTTPS, register over WSS and connect a call', async () => {
    const plain = await fetch(voipd.webBase.replace('https:', 'http:') + '/').catch((e) => e);
    assert.ok(plain instanceof Error, 'plain HTTP must not be served on a TLS listener');
    for (const name of ['alice', 'bob']) {
      const a = await Agent.open(browser, voipd.webBase, name, AGENT, { ignoreHTTPSErrors: true });
      agents.push(a);
      await a.registered();
    }
    const [alice, bob] = agents.slice(-2);
    const session = await api.unary('StartCall', { from: 'alice', to: { number: 'bob' } });
    await events.waitStatus(session.session_id, 'CALL_STATUS_RINGING');
    await bob.answer();
    await events.waitStatus(session.session_id, 'CALL_STATUS_CONNECTED');
    const [a, b] = await mediaWindow([alice, bob]);
    assert.ok(a.packets > 0 && b.packets > 0, `packets a=${a.packets} b=${b.packets}`);
    await api.unary('EndCall', { session_id: session.session_id });
    await events.waitStatus(session.session_id, 'CALL_STATUS_DISCONNECTED');
  });
});

function grpc() { return require('@grpc/grpc-js'); }
