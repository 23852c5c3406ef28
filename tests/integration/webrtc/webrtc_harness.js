'use strict';
// Starts the real voipd with a webrtc system and drives the softphone page
// in Debian's Chromium through playwright-core. Run inside a network
// namespace with only loopback (see package.json "test"), so that ICE stays
// on 127.0.0.1 (docs/adapters/webrtc.md, "Tests").
//
// Environment (set by ctest): VOIPD_BIN, VOIPD_PROTO_DIR.

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const { setTimeout: sleep } = require('node:timers/promises');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const { chromium } = require('playwright-core');

const REPO = path.resolve(__dirname, '..', '..', '..');
const PROTO_DIR = path.resolve(process.env.VOIPD_PROTO_DIR || path.join(REPO, 'proto'));
const PROTO_FILES = ['voip/v1/voip_service.proto', 'voip/v1/call.proto', 'voip/v1/errors.proto',
  'google/rpc/status.proto'];
const VOIP_ERROR_TYPE_URL = 'type.googleapis.com/voip.v1.VoipError';
const WAIT_MS = 15000;

function loadProtos() {
  const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    includeDirs: [PROTO_DIR] };
  const grpcObject = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILES, opts));
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => (target.startsWith('google/protobuf/') ||
    path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  const Status = root.lookupType('google.rpc.Status');
  const VoipError = root.lookupType('voip.v1.VoipError');
  const convert = { longs: Number, enums: String, defaults: true };
  // The voip.v1.VoipError of a failed RPC, or null.
  function voipError(err) {
    const values = err && err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
    if (!values || values.length === 0) return null;
    const status = Status.toObject(Status.decode(values[0]), { ...convert, bytes: Buffer });
    const any = (status.details || []).find((d) => d.type_url === VOIP_ERROR_TYPE_URL);
    return any ? VoipError.toObject(VoipError.decode(any.value), convert) : null;
  }
  return { VoipService: grpcObject.voip.v1.VoipService, voipError };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

class Voipd {
  // tokens: { name: { token, scopes } }
  constructor({ webPort, tokens, webrtcExtra = '', tls = false }) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'voipd-webrtc-test-'));
    this.configPath = path.join(this.tmp, 'voipd.yaml');
    this.readyPath = path.join(this.tmp, 'ready.json');
    this.logPath = path.join(this.tmp, 'voipd.log');
    this.webPort = webPort;
    this.webrtcExtra = webrtcExtra;
    this.writeConfig(tokens);
    this.webBase = `${tls ? 'https' : 'http'}://127.0.0.1:${webPort}`;
  }

  writeConfig(tokens) {
    const tokenYaml = Object.entries(tokens).map(([name, t]) =>
      `    - { name: ${name}, sha256: ${sha256(t.token)}, scopes: [${t.scopes.join(', ')}] }\n`).join('');
    fs.writeFileSync(this.configPath, `listen: ["127.0.0.1:0"]
default_region: US
default_system: webrtc
systems:
  webrtc:
    type: webrtc
    listen: "127.0.0.1:${this.webPort}"
    web_root: "${path.join(REPO, 'clients', 'web')}"
    numbers: { "+12015550123": bob }
    default_ring_timeout_seconds: 20
${this.webrtcExtra}auth:
  tokens:
${tokenYaml}calls:
  end_call_timeout: 5s
`);
  }

  // Rewrites the token table and reloads it (SIGHUP), as an operator
  // revoking or rotating a token does; resolves once voipd logged the reload.
  async reloadTokens(tokens) {
    const before = this.log().split('reloaded ').length;
    this.writeConfig(tokens);
    this.proc.kill('SIGHUP');
    const deadline = Date.now() + WAIT_MS;
    while (this.log().split('reloaded ').length === before) {
      if (Date.now() > deadline) throw new Error(`no reload logged:\n${this.log()}`);
      await sleep(20);
    }
  }

  async start(timeoutMs = 20000) {
    const binary = process.env.VOIPD_BIN;
    if (!binary) throw new Error('VOIPD_BIN is not set');
    const log = fs.openSync(this.logPath, 'w');
    this.proc = spawn(binary, ['--config', this.configPath, '--ready-file', this.readyPath],
      { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exitCode = null;
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      this.exitCode = code ?? signal;
      resolve(this.exitCode);
    }));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== null) throw new Error(`voipd exited with ${this.exitCode}:\n${this.log()}`);
      if (fs.existsSync(this.readyPath)) {
        try {
          this.addr = JSON.parse(fs.readFileSync(this.readyPath, 'utf8')).listen[0];
          return this;
        } catch { /* still being written */ }
      }
      await sleep(20);
    }
    this.proc.kill('SIGKILL');
    throw new Error(`voipd not ready after ${timeoutMs} ms:\n${this.log()}`);
  }

  log() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  async stop() {
    if (this.proc && this.exitCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
    return this.exitCode;
  }
}

// A gRPC client whose every call carries the bearer token.
class Api {
  constructor(addr, token) {
    const { VoipService, voipError } = loadProtos();
    this.client = new VoipService(addr, grpc.credentials.createInsecure());
    this.token = token;
    this.voipError = voipError;
  }
  md() {
    const m = new grpc.Metadata();
    m.set('authorization', `Bearer ${this.token}`);
    return m;
  }
  unary(method, request) {
    return new Promise((resolve, reject) => {
      this.client[method](request, this.md(), { deadline: Date.now() + WAIT_MS },
        (err, res) => (err ? reject(err) : resolve(res)));
    });
  }
  subscribe(filter = { system_name: 'webrtc' }) {
    return new EventStream(this.client.SubscribeCallEvents({ filter }, this.md()));
  }
  // One call's WatchCall stream: a SNAPSHOT, then every change.
  watch(sessionId) {
    return new EventStream(this.client.WatchCall({ session_id: sessionId }, this.md()));
  }
  close() { this.client.close(); }
}

class EventStream {
  constructor(call) {
    this.call = call;
    this.events = [];
    this.waiters = new Set();
    call.on('data', (e) => { this.events.push(e); for (const w of [...this.waiters]) w(); });
    call.on('error', () => {});
  }
  of(sessionId) { return this.events.filter((e) => e.session.session_id === sessionId); }
  statuses(sessionId) {
    return this.of(sessionId).filter((e) => e.type === 'CALL_EVENT_TYPE_STATUS_CHANGED')
      .map((e) => e.session.status);
  }
  // Resolves with the first event of `sessionId` matching pred.
  waitFor(sessionId, pred, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.of(sessionId).find(pred);
        if (!hit) return false;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what} of ${sessionId}; saw:\n` +
          this.of(sessionId).map((e) => `  ${e.type} ${e.previous_status} -> ${e.session.status}` +
            ` hold=${e.session.on_hold} muted=${e.session.muted}`).join('\n')));
      }, WAIT_MS);
      if (!check()) this.waiters.add(check);
    });
  }
  waitStatus(sessionId, status) {
    return this.waitFor(sessionId, (e) => e.session.status === status, status);
  }
  waitMuted(sessionId, muted) {
    return this.waitFor(sessionId, (e) => e.type === 'CALL_EVENT_TYPE_MUTE_CHANGED' &&
      e.session.muted === muted, `muted=${muted}`);
  }
  close() { this.call.cancel(); }
}

async function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection'],
  });
}

// One agent's softphone page in its own browser context.
class Agent {
  constructor(context, page, identity) {
    this.context = context;
    this.page = page;
    this.identity = identity;
  }

  static async open(browser, base, identity, token, { query = '', viewport, ignoreHTTPSErrors } = {}) {
    const context = await browser.newContext({ permissions: ['microphone'],
      viewport: viewport || { width: 390, height: 844 }, ignoreHTTPSErrors: !!ignoreHTTPSErrors });
    const page = await context.newPage();
    // Every message the page receives, for assertions.
    await page.addInitScript(() => {
      window.voipdReceived = [];
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', (e) => {
            try { window.voipdReceived.push(JSON.parse(e.data)); } catch { /* not JSON */ }
          });
        }
      };
    });
    await page.goto(`${base}/${query}`);
    await page.getByLabel('Agent name').fill(identity);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Register' }).click();
    return new Agent(context, page, identity);
  }

  async registered() {
    await this.page.locator('#agent-state').filter({ hasText: `Registered as ${this.identity}` })
      .waitFor({ timeout: WAIT_MS });
  }

  // Waits for the nth message the page received whose fields equal all of
  // `match`'s (the page's CSP forbids eval, so no predicate source).
  async received(match, nth = 0) {
    const handle = await this.page.waitForFunction(([want, n]) => {
      const hits = window.voipdReceived.filter((m) =>
        Object.entries(want).every(([k, v]) => m[k] === v));
      return hits.length > n ? hits[n] : null;
    }, [match, nth], { timeout: WAIT_MS });
    return handle.jsonValue();
  }

  async answer() {
    await this.page.getByRole('button', { name: 'Answer' }).click({ timeout: WAIT_MS });
  }

  // Inbound/outbound audio RTP counters and the connection state.
  async stats() {
    return this.page.evaluate(async () => {
      const pc = window.voipdTest.pc();
      if (!pc) return null;
      const out = { connectionState: pc.connectionState, packetsReceived: 0, energy: 0,
        packetsSent: 0 };
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.packetsReceived += s.packetsReceived || 0;
          out.energy += s.totalAudioEnergy || 0;
        }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packetsSent += s.packetsSent || 0;
      });
      return out;
    });
  }

  async close() { await this.context.close(); }
}

// Counter growth on each page over one window (functional check: does
// media flow, not how fast).
async function mediaWindow(agents, ms = 1500) {
  const before = await Promise.all(agents.map((a) => a.stats()));
  await sleep(ms);
  const after = await Promise.all(agents.map((a) => a.stats()));
  return after.map((s, i) => ({
    connectionState: s.connectionState,
    packets: s.packetsReceived - before[i].packetsReceived,
    energy: s.energy - before[i].energy,
  }));
}

// A throwaway self-signed certificate for 127.0.0.1 (openssl CLI).
function selfSignedCert(dir) {
  const cert = path.join(dir, 'web.crt');
  const key = path.join(dir, 'web.key');
  require('node:child_process').execFileSync('openssl', ['req', '-x509', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

module.exports = { selfSignedCert, Voipd, Api, Agent, launchBrowser, freePort, mediaWindow, REPO, WAIT_MS };
