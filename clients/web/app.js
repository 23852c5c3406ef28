// voipd softphone: registers an agent with the webrtc adapter over a
// WebSocket (same origin, /ws) and runs browser-to-browser calls. voipd only
// relays signaling; media flows between the two pages. Protocol:
// docs/adapters/webrtc.md.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let identity = null;
  let canWrite = false;  // the token's calls:write, as the last "registered" said
  let call = null;       // { id, role: 'caller'|'callee', peer, pc, stream, held, muted, answerWaiter }
  let chain = Promise.resolve();  // messages are handled one after another
  let requestSeq = 0;

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function showError(text) {
    $('error').textContent = text || '';
  }

  function setAgentState(text) {
    $('agent-state').textContent = text;
  }

  // ---- registration ----
  $('register-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('identity').value.trim();
    const token = $('token').value;
    if (ws) ws.close();
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${scheme}//${location.host}/ws`);
    ws.addEventListener('open', () => send({ type: 'register', token, identity: name }));
    ws.addEventListener('message', (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      chain = chain.then(() => handle(msg)).catch((err) => showError(String(err)));
    });
    ws.addEventListener('close', () => {
      setAgentState('Disconnected');
      identity = null;
      endLocal('connection lost');
    });
  });

  async function handle(msg) {
    switch (msg.type) {
      case 'registered':
        identity = msg.identity;
        canWrite = Boolean(msg.can_write);
        setAgentState(`Registered as ${msg.identity}${msg.can_write ? '' : ' (read only)'}`);
        $('register-panel').hidden = true;
        showError('');
        break;
      case 'error':
        showError(`${msg.code}${msg.field ? ` (${msg.field})` : ''}: ${msg.message}`);
        break;
      case 'call_result':
        break;  // the "outgoing" message opened the call panel
      case 'outgoing':
        call = { id: msg.session_id, role: 'caller', peer: msg.to, held: false, muted: false };
        showCall(`Calling ${msg.to}`);
        break;
      case 'incoming':
        call = { id: msg.session_id, role: 'callee', peer: msg.from, held: false, muted: false };
        $('incoming-from').textContent = `From ${msg.from}`;
        $('incoming-panel').hidden = false;
        $('answer-button').focus();
        send({ type: 'ringing', session_id: msg.session_id });
        break;
      case 'start':
        if (call && call.id === msg.session_id) await startCaller();
        break;
      case 'sdp':
        if (call && call.id === msg.session_id) await onDescription(msg.description);
        break;
      case 'ice':
        if (call && call.id === msg.session_id && call.pc) {
          await call.pc.addIceCandidate(msg.candidate || null).catch(() => {});
        }
        break;
      case 'hold':
        if (call && call.id === msg.session_id) await doHold(msg.hold, msg.op);
        break;
      case 'mute':
        if (call && call.id === msg.session_id) doMute(msg.mute, msg.op);
        break;
      case 'ended':
        if (call && call.id === msg.session_id) endLocal(msg.reason);
        break;
      case 'status':
        onStatus(msg);
        break;
      default:
        break;
    }
  }

  // ---- media ----
  async function newPeerConnection() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    const pc = new RTCPeerConnection();
    const id = call.id;
    call.stream = stream;
    call.pc = pc;
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
    pc.addEventListener('icecandidate', (e) => {
      send({ type: 'ice', session_id: id, candidate: e.candidate ? e.candidate.toJSON() : null });
    });
    pc.addEventListener('connectionstatechange', () => {
      send({ type: 'state', session_id: id, connection_state: pc.connectionState });
      if (call && call.id === id) $('call-state').textContent = `Media: ${pc.connectionState}`;
    });
    pc.addEventListener('track', (e) => {
      $('remote-audio').srcObject = e.streams[0] || new MediaStream([e.track]);
    });
    return pc;
  }

  async function startCaller() {
    const pc = await newPeerConnection();
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: 'sdp', session_id: call.id, description: { type: offer.type, sdp: offer.sdp } });
  }

  async function onDescription(description) {
    if (description.type === 'offer') {
      if (!call.pc) await newPeerConnection();
      await call.pc.setRemoteDescription(description);
      const answer = await call.pc.createAnswer();
      await call.pc.setLocalDescription(answer);
      send({ type: 'sdp', session_id: call.id, description: { type: answer.type, sdp: answer.sdp } });
    } else if (call.pc) {
      await call.pc.setRemoteDescription(description);
      if (call.answerWaiter) {
        const done = call.answerWaiter;
        call.answerWaiter = null;
        done();
      }
    }
  }

  // Hold: renegotiate with our transceiver sendonly (the far end stops
  // sending to us); resume: back to sendrecv. Confirmed to voipd only once
  // the answer is applied.
  async function doHold(hold, op) {
    const reply = { type: 'held', session_id: call.id, held: hold };
    if (op !== undefined) reply.op = op;
    try {
      if (!call.pc || call.pc.connectionState !== 'connected') throw new Error('not connected');
      for (const t of call.pc.getTransceivers()) t.direction = hold ? 'sendonly' : 'sendrecv';
      const answered = new Promise((resolve) => { call.answerWaiter = resolve; });
      const offer = await call.pc.createOffer();
      await call.pc.setLocalDescription(offer);
      send({ type: 'sdp', session_id: call.id, description: { type: offer.type, sdp: offer.sdp } });
      // The answer arrives through the message chain, which is waiting on
      // us: release it and wait for the answer separately.
      waitThen(answered, () => {
        call.held = hold;
        setPressed('hold-button', hold);
        send(reply);
      });
    } catch (err) {
      reply.error = String(err.message || err);
      send(reply);
    }
  }

  function waitThen(promise, fn) {
    promise.then(fn).catch((err) => showError(String(err)));
  }

  // Mute: the local track stops carrying audio (packets continue, silent).
  function doMute(mute, op) {
    const reply = { type: 'muted', session_id: call.id, muted: mute };
    if (op !== undefined) reply.op = op;
    if (!call.stream) {
      reply.error = 'no local audio';
    } else {
      for (const track of call.stream.getAudioTracks()) track.enabled = !mute;
      call.muted = mute;
      setPressed('mute-button', mute);
    }
    send(reply);
  }

  function setPressed(id, on) {
    $(id).setAttribute('aria-pressed', on ? 'true' : 'false');
    if (id === 'hold-button') $(id).textContent = on ? 'Resume' : 'Hold';
    if (id === 'mute-button') $(id).textContent = on ? 'Unmute' : 'Mute';
  }

  function showCall(text) {
    $('call-peer').textContent = text;
    $('call-state').textContent = '';
    $('call-panel').hidden = false;
    setPressed('hold-button', false);
    setPressed('mute-button', false);
  }

  function endLocal(reason) {
    if (!call) return;
    if (call.pc) call.pc.close();
    if (call.stream) for (const t of call.stream.getTracks()) t.stop();
    $('remote-audio').srcObject = null;
    $('incoming-panel').hidden = true;
    $('call-panel').hidden = true;
    $('call-state').textContent = '';
    if (reason) $('current-status').textContent = `Ended (${reason})`;
    call = null;
  }

  // ---- status widget: every core state as it streams ----
  const STATUS_TEXT = {
    CALL_STATUS_INITIATING: 'Initiating',
    CALL_STATUS_RINGING: 'Ringing',
    CALL_STATUS_CONNECTED: 'Connected',
    CALL_STATUS_ON_HOLD: 'On hold',
    CALL_STATUS_DISCONNECTED: 'Disconnected',
    CALL_STATUS_FAILED: 'Failed',
    CALL_STATUS_BUSY: 'Busy',
    CALL_STATUS_UNAVAILABLE: 'Unavailable',
  };
  function onStatus(msg) {
    const text = STATUS_TEXT[msg.status] || msg.status;
    const other = msg.from === identity ? msg.to : msg.from;
    const line = `${text}${msg.muted ? ' (muted)' : ''} — ${other}`;
    $('current-status').textContent = line;
    $('current-status').dataset.status = msg.status;
    const item = document.createElement('li');
    item.textContent = line;
    item.dataset.status = msg.status;
    item.dataset.session = msg.session_id;
    $('status-log').prepend(item);
    while ($('status-log').children.length > 50) $('status-log').lastChild.remove();
    if (call && call.id === msg.session_id) $('call-title').textContent = `Call — ${text}`;
  }

  // ---- controls ----
  $('answer-button').addEventListener('click', () => {
    if (!call) return;
    $('incoming-panel').hidden = true;
    showCall(`With ${call.peer}`);
    send({ type: 'accept', session_id: call.id });
    $('hangup-button').focus();
  });
  $('reject-button').addEventListener('click', () => {
    if (!call) return;
    send({ type: 'reject', session_id: call.id });
  });
  $('hangup-button').addEventListener('click', () => {
    if (call) send({ type: 'hangup', session_id: call.id });
  });
  // Holding and muting change this page's media before voipd is told; a
  // read-only page would be refused after the change, so it refuses first
  // and page and call stay in agreement. (A Hold or Mute the core sends,
  // authorized by its own caller, is still carried out.)
  function refusedReadOnly(what) {
    if (canWrite) return false;
    showError(`PERMISSION_DENIED_SCOPE: ${what} needs a token with calls:write`);
    return true;
  }
  $('hold-button').addEventListener('click', () => {
    if (call && !refusedReadOnly('holding')) chain = chain.then(() => doHold(!call.held));
  });
  $('mute-button').addEventListener('click', () => {
    if (call && !refusedReadOnly('muting')) doMute(!call.muted);
  });

  function dial(to) {
    to = String(to || '').trim();
    if (!to) return;
    send({ type: 'call', to, request_id: `page-${Date.now()}-${++requestSeq}` });
  }

  $('keypad').addEventListener('click', (e) => {
    const key = e.target.closest('button[data-key]');
    if (!key) return;
    const input = $('dial-input');
    input.value += key.dataset.key;
    input.focus();
  });
  $('backspace-button').addEventListener('click', () => {
    const input = $('dial-input');
    input.value = input.value.slice(0, -1);
    input.focus();
  });
  $('dial-form').addEventListener('submit', (e) => {
    e.preventDefault();
    dial($('dial-input').value);
  });

  // ---- contacts (kept in this browser; ?contacts=bob,carol pre-fills) ----
  function loadContacts() {
    const fromQuery = new URLSearchParams(location.search).get('contacts');
    if (fromQuery) return fromQuery.split(',').map((s) => s.trim()).filter(Boolean);
    try { return JSON.parse(localStorage.getItem('voipd.contacts') || '[]'); } catch { return []; }
  }
  let contacts = loadContacts();
  function renderContacts() {
    const list = $('contacts');
    list.replaceChildren();
    for (const name of contacts) {
      const li = document.createElement('li');
      const label = document.createElement('span');
      label.textContent = name;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'good';
      button.textContent = 'Call';
      button.setAttribute('aria-label', `Call ${name}`);
      button.dataset.contact = name;
      button.addEventListener('click', () => dial(name));
      li.append(label, button);
      list.append(li);
    }
  }
  $('contact-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('contact-input').value.trim();
    if (!name || contacts.includes(name)) return;
    contacts.push(name);
    try { localStorage.setItem('voipd.contacts', JSON.stringify(contacts)); } catch { /* private mode */ }
    $('contact-input').value = '';
    renderContacts();
  });
  renderContacts();

  // For tests and debugging: the live call's RTCPeerConnection and state.
  window.voipdTest = {
    pc: () => (call ? call.pc || null : null),
    call: () => (call ? { id: call.id, role: call.role, held: call.held, muted: call.muted } : null),
    send: (text) => ws && ws.send(text),
  };
})();
