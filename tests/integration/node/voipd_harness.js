'use strict';
// Node twin of tests/integration/harness/voipd_harness.py: starts the real
// voipd on a free loopback port with a temporary config and --ready-file,
// and loads the voip.v1 protos at run time.
//
// Environment (set by ctest): VOIPD_BIN (the binary), VOIPD_PROTO_DIR (the
// repository's proto/ directory).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { setTimeout: sleep } = require('node:timers/promises');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const VOIP_ERROR_TYPE_URL = 'type.googleapis.com/voip.v1.VoipError';

function defaultConfig({ timeScale = 20, window = 10000 } = {}) {
  return `listen: ["127.0.0.1:0"]
default_region: US
default_system: sandbox
systems:
  sandbox: { type: sandbox, time_scale: ${timeScale} }
events: { window: ${window} }
`;
}

function protoDir() {
  return path.resolve(process.env.VOIPD_PROTO_DIR || path.join(__dirname, '..', '..', '..', 'proto'));
}

const PROTO_FILES = ['voip/v1/voip_service.proto', 'voip/v1/call.proto', 'voip/v1/errors.proto',
  'google/rpc/status.proto'];

let cached;
// { grpcObject, VoipService, enums, decodeVoipError(err), decodeStatus(err) }
function loadProtos() {
  if (cached) return cached;
  const dir = protoDir();
  const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    includeDirs: [dir] };
  const packageDefinition = protoLoader.loadSync(PROTO_FILES, opts);
  const grpcObject = grpc.loadPackageDefinition(packageDefinition);

  // protobufjs types for the error trailer (proto-loader's definition holds
  // descriptors, not codecs). google/protobuf/*.proto come bundled with
  // protobufjs; everything else resolves against the proto dir.
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (target.startsWith('google/protobuf/')) return target; // protobufjs' common types
    if (path.isAbsolute(target)) return target;
    return path.join(dir, target);
  };
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  const Status = root.lookupType('google.rpc.Status');
  const VoipError = root.lookupType('voip.v1.VoipError');
  const convert = { longs: Number, enums: String, defaults: true };

  // The google.rpc.Status from a grpc-js ServiceError's metadata, or null.
  function decodeStatus(err) {
    const values = err && err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
    if (!values || values.length === 0) return null;
    return Status.toObject(Status.decode(values[0]), { ...convert, bytes: Buffer });
  }
  // The voip.v1.VoipError detail of a failed call (plain object, enum names
  // as strings), or null.
  function decodeVoipError(err) {
    const status = decodeStatus(err);
    if (!status) return null;
    const any = (status.details || []).find((d) => d.type_url === VOIP_ERROR_TYPE_URL);
    if (!any) return null;
    return VoipError.toObject(VoipError.decode(any.value), convert);
  }

  cached = {
    grpcObject,
    VoipService: grpcObject.voip.v1.VoipService,
    packageDefinition,
    root,
    decodeStatus,
    decodeVoipError,
  };
  return cached;
}

class Voipd {
  constructor({ configText, timeScale, window, extraArgs = [] } = {}) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'voipd-node-test-'));
    this.configPath = path.join(this.tmp, 'voipd.yaml');
    this.readyPath = path.join(this.tmp, 'ready.json');
    this.logPath = path.join(this.tmp, 'voipd.log');
    fs.writeFileSync(this.configPath, configText ?? defaultConfig({ timeScale, window }));
    this.extraArgs = extraArgs;
    this.proc = null;
    this.addr = null;
    this.exitCode = null;
    this.exited = null;
  }

  async start(timeoutMs = 20000) {
    const binary = process.env.VOIPD_BIN;
    if (!binary) throw new Error('VOIPD_BIN is not set');
    fs.accessSync(binary, fs.constants.X_OK);
    const log = fs.openSync(this.logPath, 'w');
    this.proc = spawn(binary, ['--config', this.configPath, '--ready-file', this.readyPath,
      ...this.extraArgs], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exitCode = code ?? signal;
        resolve(this.exitCode);
      });
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== null) {
        throw new Error(`voipd exited with ${this.exitCode}:\n${this.log()}`);
      }
      if (fs.existsSync(this.readyPath)) {
        try {
          const ready = JSON.parse(fs.readFileSync(this.readyPath, 'utf8'));
          this.addr = ready.listen[0];
          return this;
        } catch {
          // still being written: read it again
        }
      }
      await sleep(20);
    }
    this.proc.kill('SIGKILL');
    throw new Error(`voipd not ready after ${timeoutMs} ms:\n${this.log()}`);
  }

  client() {
    return new (loadProtos().VoipService)(this.addr, grpc.credentials.createInsecure());
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  // SIGTERM and wait; resolves to the exit code (SIGKILL after timeoutMs).
  async stop(timeoutMs = 10000) {
    if (this.proc && this.exitCode === null) {
      this.proc.kill('SIGTERM');
      let timer;
      const killed = new Promise((resolve) => {
        timer = setTimeout(() => {
          this.proc.kill('SIGKILL');
          resolve('timeout');
        }, timeoutMs);
      });
      const result = await Promise.race([this.exited, killed]);
      clearTimeout(timer);
      if (result === 'timeout') {
        await this.exited;
        throw new Error(`voipd did not exit within ${timeoutMs} ms of SIGTERM`);
      }
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
    return this.exitCode;
  }
}

module.exports = { Voipd, defaultConfig, loadProtos, protoDir, VOIP_ERROR_TYPE_URL };
