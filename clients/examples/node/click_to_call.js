#!/usr/bin/env node
'use strict';
// Click-to-call with voipd: place a call, follow it, hang up.
//
//   node click_to_call.js [--addr HOST:PORT] [--token-file PATH] [--system NAME] [--talk SECONDS] NUMBER
//
// Places a call to NUMBER, prints every state change from WatchCall, hangs
// up SECONDS after the call is answered (default 2), and exits 0 when the
// call was answered, 1 otherwise. When voipd refuses a request, the
// machine-readable voip.v1.VoipError is decoded from the
// `grpc-status-details-bin` trailer and printed. With --token-file (or
// $VOIPD_TOKEN_FILE), every request carries that file's API token as
// `authorization: Bearer`, as a daemon with auth.tokens requires. The .proto
// files are loaded at run time from $VOIPD_PROTO_DIR (default: the
// repository's proto/).

const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { parseArgs } = require('node:util');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_DIR = path.resolve(process.env.VOIPD_PROTO_DIR || path.join(__dirname, '../../../proto'));
const FILES = ['voip/v1/voip_service.proto', 'google/rpc/status.proto'];
const VOIP_ERROR_TYPE_URL = 'type.googleapis.com/voip.v1.VoipError';
const TERMINAL = new Set(['CALL_STATUS_DISCONNECTED', 'CALL_STATUS_FAILED', 'CALL_STATUS_BUSY',
  'CALL_STATUS_UNAVAILABLE']);

// The service, for calls. enums: String gives enum names ('CALL_STATUS_RINGING').
const packageDefinition = protoLoader.loadSync(FILES, {
  keepCase: true, longs: Number, enums: String, defaults: true, includeDirs: [PROTO_DIR],
});
const { VoipService } = grpc.loadPackageDefinition(packageDefinition).voip.v1;

// Message codecs, for the error trailer: google.rpc.Status wraps the VoipError
// in a google.protobuf.Any.
const root = new protobuf.Root();
root.resolvePath = (origin, target) =>
  target.startsWith('google/protobuf/') ? target : path.join(PROTO_DIR, target);
root.loadSync(FILES, { keepCase: true });
const Status = root.lookupType('google.rpc.Status');
const VoipError = root.lookupType('voip.v1.VoipError');

function voipErrorOf(err) {
  const [bin] = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (!bin) return null;
  const detail = Status.decode(bin).details.find((d) => d.type_url === VOIP_ERROR_TYPE_URL);
  return detail ? VoipError.toObject(VoipError.decode(detail.value), { enums: String }) : null;
}

function printError(what, err) {
  console.log(`${what} failed: ${grpc.status[err.code]}: ${err.details}`);
  const error = voipErrorOf(err);
  if (!error) return;
  console.log(`  error_code:  ${error.error_code}`);
  console.log(`  message:     ${error.message}`);
  for (const name of ['field', 'system_name', 'session_id']) {
    if (error[name]) console.log(`  ${(name + ':').padEnd(12)} ${error[name]}`);
  }
  for (const [key, value] of Object.entries(error.details || {})) {
    console.log(`  detail:      ${key}=${value}`);
  }
  if (error.provider_cause) {
    const c = error.provider_cause;
    console.log(`  provider:    sip ${c.sip_code || 0} ${c.sip_reason || ''}, status ${c.provider_status || ''}`);
  }
}

function describe(session) {
  let text = session.status;
  if (TERMINAL.has(session.status)) {
    const reason = session.end_reason || {};
    text += ` (by ${reason.source}`;
    if (reason.error_code && reason.error_code !== 'ERROR_CODE_UNSPECIFIED') text += `, ${reason.error_code}`;
    if (reason.provider_cause && reason.provider_cause.sip_code) text += `, SIP ${reason.provider_cause.sip_code}`;
    text += ')';
  }
  return text;
}

const deadline = (seconds) => new Date(Date.now() + seconds * 1000);

// Promise wrapper for a unary call.
function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: deadline(10) },
      (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      addr: { type: 'string', default: '127.0.0.1:50051' },
      system: { type: 'string', default: '' },
      talk: { type: 'string', default: '2' },
      'token-file': { type: 'string', default: process.env.VOIPD_TOKEN_FILE || '' },
    },
  });
  if (positionals.length !== 1) {
    console.error('usage: click_to_call.js [--addr HOST:PORT] [--token-file PATH] [--system NAME] ' +
      '[--talk SECONDS] NUMBER');
    return 2;
  }
  // Sent with every call (keep tokens out of command lines: a file only).
  const metadata = new grpc.Metadata();
  if (values['token-file']) {
    metadata.add('authorization', `Bearer ${fs.readFileSync(values['token-file'], 'utf8').trim()}`);
  }
  const voip = new VoipService(values.addr, grpc.credentials.createInsecure());
  try {
    let session;
    try {
      session = await unary(voip, 'StartCall', {
        to: { number: positionals[0] },
        preferred_system: values.system,
        request_id: randomUUID(), // safe to retry: never dials twice
        labels: { source: 'click_to_call.js' },
      }, metadata);
    } catch (err) {
      printError('StartCall', err);
      return 1;
    }
    console.log(`call ${session.session_id} via ${session.system_name} to ${session.to_normalized}`);

    // A SNAPSHOT first, then every change; the stream ends after the terminal event.
    return await new Promise((resolve) => {
      let answered = false;
      let hangupTimer = null;
      const watch = voip.WatchCall({ session_id: session.session_id }, metadata);
      watch.on('data', (event) => {
        console.log(`  #${event.sequence} ${describe(event.session)}`);
        if (event.session.status === 'CALL_STATUS_CONNECTED' && !answered) {
          answered = true;
          hangupTimer = setTimeout(() => {
            unary(voip, 'EndCall', { session_id: session.session_id }, metadata)
              .catch((err) => printError('EndCall', err));
          }, Number(values.talk) * 1000);
        }
      });
      watch.on('error', (err) => printError('WatchCall', err));
      watch.on('status', (status) => {
        clearTimeout(hangupTimer);
        resolve(status.code === grpc.status.OK && answered ? 0 : 1);
      });
    });
  } finally {
    voip.close();
  }
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
