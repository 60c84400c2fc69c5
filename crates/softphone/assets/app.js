// Softphone for pbxd: login over HTTPS, one WebSocket `/ws` with JSON messages
// (docs/softphone-protocol.md, version 1) and WebRTC for the voice.
// Plain ES module, no build step, nothing fetched from elsewhere.

import { Meter } from './meter.js';

const V = 1;
const REQUEST_TIMEOUT_MS = 10000;
const ICE_CAP_MS = 2000;
const BACKOFF_S = [0.5, 1, 2, 4, 8, 15, 30];

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// ---------------------------------------------------------------- state

const S = {
  me: null,              // answer of /api/login or /api/me
  ws: null,
  conn: 'geen',          // verbonden | opnieuw | geen
  retries: 0,
  retryTimer: 0,
  wantWs: false,
  welcomed: false,
  status: 'afgemeld',
  reden: '',
  afcoderingen: [],
  afrondtijd: 0,
  iceServers: [],
  calls: new Map(),      // call id -> Call
  incoming: new Map(),   // call id -> call:incoming message
  pending: new Map(),    // request id -> {resolve, reject, timer, type}
  pendingLegs: [],       // offers sent with call:dial / call:consult whose call id is not known yet
  wrap: null,            // current wrap-up
  lastError: null,
  loginError: null,
  nextId: 1,
  presence: [],
  log: [],
};

const meters = new Map(); // call id -> Meter

// ---------------------------------------------------------------- texts

const STATUS_TEKST = {
  beschikbaar: 'beschikbaar',
  pauze: 'pauze',
  niet_storen: 'niet storen',
  afgemeld: 'afgemeld',
};

const STATE_TEKST = {
  kiezen: 'kiezen…',
  overgaan: 'gaat over…',
  verbonden: 'verbonden',
  in_de_wacht: 'in de wacht',
  ruggespraak: 'ruggespraak',
  doorverbonden: 'doorverbonden',
  verbinden: 'verbinden…',
};

const LOGIN_FOUT = {
  onjuist: 'Organisatie, gebruiker of wachtwoord is onjuist.',
  totp_nodig: 'Voer de code uit je authenticator-app in.',
  totp_onjuist: 'De code is onjuist of verlopen. Voer de nieuwe code in.',
  geblokkeerd: 'Dit account is geblokkeerd na te veel mislukte pogingen. Vraag je beheerder om het te deblokkeren.',
  netwerk: 'Geen verbinding met de server. Controleer je netwerk en probeer het opnieuw.',
};

function micMessage(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'Toegang tot de microfoon is geweigerd. Sta de microfoon toe in de browser (het slotje naast het adres) en probeer het opnieuw.';
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return 'Geen microfoon gevonden. Sluit een headset of microfoon aan en probeer het opnieuw.';
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return 'De microfoon is niet te gebruiken; misschien gebruikt een ander programma hem.';
  }
  if (name === 'GeenMediaError') {
    return 'Deze browser geeft geen toegang tot de microfoon. De softphone werkt alleen via https en in een recente browser.';
  }
  return 'De microfoon werkt niet (' + (err && err.message ? err.message : 'onbekende fout') + ').';
}

// ---------------------------------------------------------------- small helpers

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
}

function announce(text) {
  const a = $('#aankondiging');
  a.textContent = '';
  // A new text node each time so that screen readers announce repeats too.
  setTimeout(() => { a.textContent = text; }, 30);
}

function toast(text, kind = 'fout') {
  const box = $('#toasts');
  const t = el('div', { class: 'toast toast-' + kind, role: kind === 'fout' ? 'alert' : 'status' },
    el('span', { text }),
    el('button', { type: 'button', class: 'toast-sluit', 'aria-label': 'Melding sluiten', text: '×', onclick: () => t.remove() }));
  box.append(t);
  setTimeout(() => t.remove(), kind === 'fout' ? 8000 : 4000);
  while (box.children.length > 4) box.firstElementChild.remove();
}

function fmtDuur(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return (h ? h + ':' : '') + mm + ':' + String(sec).padStart(2, '0');
}

function fmtTijd(v) {
  if (v === undefined || v === null || v === '') return '';
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toLocaleString('nl-NL', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

function isTextField(t) {
  if (!t || !t.tagName) return false;
  if (t.isContentEditable) return true;
  if (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  if (t.tagName !== 'INPUT') return false;
  return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range'].includes(t.type);
}

function store(key, val) {
  try { if (val === null) localStorage.removeItem(key); else localStorage.setItem(key, val); } catch { /* private mode */ }
}
function load(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

// Contact and CDR objects are not fully specified in the protocol; read them defensively.
function contactNaam(c) { return c.naam || c.name || ''; }
function contactBedrijf(c) { return c.bedrijf || c.company || ''; }
function contactNotities(c) { return c.notities || c.notes || ''; }
function contactNummers(c) {
  const n = c.nummers || c.numbers || c.telefoon || c.nummer || c.number || [];
  const list = Array.isArray(n) ? n : [n];
  return list.map((x) => (typeof x === 'string' ? x : (x && (x.nummer || x.number)) || '')).filter(Boolean);
}
function cdrNummer(r) {
  if (r.nummer) return r.nummer;
  if (r.richting === 'uit') return r.naar || r.bestemming || '';
  return r.van || r.naar || '';
}

// ---------------------------------------------------------------- audio (ring + context)

let actx = null;
function audioCtx() {
  if (!actx) {
    const C = window.AudioContext || window.webkitAudioContext;
    if (!C) return null;
    actx = new C();
    const sink = load('pbx.speaker');
    if (sink && typeof actx.setSinkId === 'function') actx.setSinkId(sink).catch(() => {});
  }
  if (actx.state === 'suspended') actx.resume().catch(() => {});
  return actx;
}
// Browsers only start audio after a gesture; resume on the first one.
for (const ev of ['pointerdown', 'keydown']) {
  window.addEventListener(ev, () => { if (actx && actx.state === 'suspended') actx.resume().catch(() => {}); }, { capture: true });
}

const ring = {
  timer: 0,
  gain: null,
  start() {
    if (this.timer) return;
    const ctx = audioCtx();
    if (!ctx) return;
    this.gain = ctx.createGain();
    this.gain.gain.value = 0.15;
    this.gain.connect(ctx.destination);
    const burst = () => {
      const c = audioCtx();
      if (!c || !this.gain) return;
      const o = c.createOscillator();
      o.type = 'sine';
      o.frequency.value = 425;
      const g = c.createGain();
      const t = c.currentTime + 0.02;
      g.gain.setValueAtTime(0, t);
      g.gain.linearRampToValueAtTime(1, t + 0.02);
      g.gain.setValueAtTime(1, t + 0.98);
      g.gain.linearRampToValueAtTime(0, t + 1.0);
      o.connect(g).connect(this.gain);
      o.start(t);
      o.stop(t + 1.02);
    };
    burst();
    this.timer = setInterval(burst, 5000); // 1 s on, 4 s off
  },
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = 0;
    if (this.gain) { try { this.gain.disconnect(); } catch { /* already */ } }
    this.gain = null;
  },
};

// ---------------------------------------------------------------- microphone and devices

async function getMic() {
  const box = $('#mic-fout');
  const id = load('pbx.mic');
  try {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw Object.assign(new Error('geen mediaDevices'), { name: 'GeenMediaError' });
    }
    const stream = await navigator.mediaDevices.getUserMedia({ audio: id ? { deviceId: id } : true });
    box.hidden = true;
    $('#mic-status').textContent = 'Microfoon: ' + (stream.getAudioTracks()[0]?.label || 'in gebruik');
    refreshDevices();
    return stream;
  } catch (err) {
    if (err && typeof err === 'object') err.micShown = true;
    box.textContent = micMessage(err);
    box.hidden = false;
    $('#mic-status').textContent = 'Microfoon werkt niet.';
    throw err;
  }
}

async function refreshDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  let devs = [];
  try { devs = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
  const fill = (sel, kind, key) => {
    const cur = load(key) || '';
    sel.replaceChildren(el('option', { value: '', text: 'Standaard' }));
    let n = 1;
    for (const d of devs.filter((x) => x.kind === kind)) {
      if (d.deviceId === 'default' || d.deviceId === '') continue;
      sel.append(el('option', { value: d.deviceId, text: d.label || (kind === 'audioinput' ? 'Microfoon ' : 'Uitgang ') + n }));
      n++;
    }
    sel.value = cur;
    if (sel.value !== cur) sel.value = '';
  };
  fill($('#kies-mic'), 'audioinput', 'pbx.mic');
  if (typeof HTMLMediaElement.prototype.setSinkId === 'function') {
    $('#speaker-blok').hidden = false;
    fill($('#kies-speaker'), 'audiooutput', 'pbx.speaker');
  }
}

function applySink(audio) {
  const id = load('pbx.speaker');
  if (id && typeof audio.setSinkId === 'function') {
    audio.setSinkId(id).catch(() => toast('De gekozen luidspreker is niet beschikbaar; de standaard wordt gebruikt.'));
  }
}

// ---------------------------------------------------------------- WebSocket

function wsUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}

function setConn(state, extra = '') {
  S.conn = state;
  const p = $('#verbinding');
  p.dataset.toestand = state;
  const t = { verbonden: 'verbonden', opnieuw: 'opnieuw verbinden…', geen: 'geen verbinding' }[state];
  $('#verbinding-tekst').textContent = t + (extra ? ' ' + extra : '');
}

function connect() {
  clearTimeout(S.retryTimer);
  if (!S.wantWs) return;
  let ws;
  try { ws = new WebSocket(wsUrl()); } catch { scheduleReconnect(); return; }
  S.ws = ws;
  S.welcomed = false;
  ws.addEventListener('open', () => { /* wait for welcome */ });
  ws.addEventListener('message', (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (!msg || typeof msg !== 'object') return;
    try { handle(msg); } catch (err) { console.error('fout bij verwerken van bericht', msg.type, err); }
  });
  ws.addEventListener('close', (ev) => {
    if (S.ws !== ws) return;
    S.ws = null;
    S.welcomed = false;
    failPending('De verbinding met de server is verbroken.');
    if (!S.wantWs) { setConn('geen'); return; }
    if (ev.code === 1009) toast('Een bericht was te groot; de verbinding wordt opnieuw opgebouwd.');
    scheduleReconnect();
  });
}

async function scheduleReconnect() {
  if (!S.wantWs) return;
  const base = BACKOFF_S[Math.min(S.retries, BACKOFF_S.length - 1)];
  const wait = base * (0.8 + Math.random() * 0.4);
  S.retries++;
  setConn(S.retries > 5 ? 'geen' : 'opnieuw', S.retries > 5 ? '(nieuwe poging over ' + Math.round(wait) + ' s)' : '');
  // The upgrade may have failed because the session is gone: check before trying again.
  if (S.retries >= 2) {
    const me = await apiMe().catch(() => 'netwerk');
    if (me === null) { sessionLost(); return; }
  }
  S.retryTimer = setTimeout(connect, wait * 1000);
}

function failPending(text) {
  for (const [id, p] of S.pending) {
    clearTimeout(p.timer);
    p.reject(Object.assign(new Error(text), { code: 'verbroken' }));
    S.pending.delete(id);
  }
}

/** Sends a request and resolves with the answer (`ok`, `contacts`, `history`), rejects on `error` or timeout. */
function request(type, fields = {}) {
  return new Promise((resolve, reject) => {
    const ws = S.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !S.welcomed) {
      const err = Object.assign(new Error('Geen verbinding met de server; probeer het zo opnieuw.'), { code: 'geen_verbinding' });
      showError({ code: err.code, message: err.message, type });
      reject(err);
      return;
    }
    const id = String(S.nextId++);
    const timer = setTimeout(() => {
      S.pending.delete(id);
      const err = Object.assign(new Error('De server antwoordt niet (' + type + ').'), { code: 'timeout' });
      showError({ code: err.code, message: err.message, type });
      reject(err);
    }, REQUEST_TIMEOUT_MS);
    S.pending.set(id, { resolve, reject, timer, type });
    ws.send(JSON.stringify({ v: V, type, id, ...fields }));
  });
}

/** Fire-and-forget variant: errors are shown as a toast already. */
function send(type, fields) {
  return request(type, fields).catch(() => null);
}

function showError(e) {
  S.lastError = { code: e.code || 'fout', message: e.message || 'Er ging iets mis.', re: e.re, type: e.type, tijd: Date.now() };
  toast(S.lastError.message);
}

// ---------------------------------------------------------------- incoming messages

function handle(msg) {
  S.log.push({ type: msg.type, call: msg.call, state: msg.state, re: msg.re, code: msg.code, t: Date.now() });
  if (S.log.length > 100) S.log.shift();
  if (msg.re !== undefined && S.pending.has(String(msg.re))) {
    const p = S.pending.get(String(msg.re));
    S.pending.delete(String(msg.re));
    clearTimeout(p.timer);
    if (msg.type === 'error') {
      showError({ code: msg.code, message: msg.message, re: msg.re, type: p.type });
      p.reject(Object.assign(new Error(msg.message || 'fout'), { code: msg.code }));
    } else {
      p.resolve(msg);
    }
    if (msg.type === 'ok' || msg.type === 'error') return;
  } else if (msg.type === 'error') {
    showError(msg);
    return;
  }
  switch (msg.type) {
    case 'welcome': onWelcome(msg); break;
    case 'agent:status': onStatus(msg.status, msg.reden); break;
    case 'call:incoming': onIncoming(msg); break;
    case 'call:state': onCallState(msg); break;
    case 'call:ended': onEnded(msg); break;
    case 'presence': onPresence(msg.gebruikers || [], msg.wijziging === true); break;
    case 'contacts': renderContacts(msg.items || []); break;
    case 'history': renderHistory(msg.items || []); break;
    case 'ok': break;
    default: break; // newer server: ignore unknown events
  }
}

function onWelcome(m) {
  S.welcomed = true;
  S.retries = 0;
  setConn('verbonden');
  S.afcoderingen = Array.isArray(m.afcoderingen) ? m.afcoderingen : [];
  S.afrondtijd = Number(m.afrondtijd_s) || 0;
  S.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
  S.me = Object.assign({}, S.me || {}, { gebruiker: m.gebruiker, naam: m.naam, organisatie: m.organisatie, rol: m.rol, toestel: m.toestel });
  renderWho();
  onStatus(m.status || 'afgemeld', m.reden);
  fillAfcoderingen();
  // Restore calls: keep local peer connections (the media does not depend on the WebSocket).
  const seen = new Set();
  for (const c of Array.isArray(m.gesprekken) ? m.gesprekken : []) {
    if (!c || !c.call) continue;
    seen.add(String(c.call));
    onCallState(c, true);
  }
  for (const id of Array.from(S.calls.keys())) {
    if (!seen.has(id)) onEnded({ call: id, afloop: 'beëindigd', oorzaak: 'tijdens de onderbreking', duur_s: null });
  }
  for (const id of Array.from(S.incoming.keys())) {
    if (!seen.has(id)) removeIncoming(id);
  }
  loadHistory(20);
}

function loadHistory(limit) {
  request('history:list', { limit }).then((m) => { if (m && Array.isArray(m.items)) renderHistory(m.items); }).catch(() => {});
}

function onStatus(status, reden) {
  S.status = status || 'afgemeld';
  S.reden = reden || '';
  const n = $('#status-nu');
  n.textContent = STATUS_TEKST[S.status] || S.status;
  n.dataset.status = S.status;
  $('#status-reden-nu').textContent = S.reden ? '(' + S.reden + ')' : '';
  for (const b of $$('.status-knop')) b.setAttribute('aria-pressed', String(b.dataset.status === S.status));
}

// ---------------------------------------------------------------- incoming call banner

function onIncoming(m) {
  const id = String(m.call);
  if (S.calls.has(id)) return;
  S.incoming.set(id, m);
  const node = $('#tpl-inkomend').content.firstElementChild.cloneNode(true);
  node.dataset.call = id;
  node.setAttribute('aria-label', 'Inkomend gesprek van ' + (m.naam || m.van || 'onbekend'));
  $('.inkomend-nummer', node).textContent = m.van || 'anoniem';
  $('.inkomend-naam', node).textContent = m.naam || '';
  const c = m.contact;
  if (c && typeof c === 'object') {
    const lead = $('.lead', node);
    lead.hidden = false;
    const dl = $('.lead-gegevens', node);
    const add = (k, v) => { if (v) dl.append(el('dt', { text: k }), el('dd', { text: v })); };
    add('Naam', contactNaam(c));
    add('Bedrijf', contactBedrijf(c));
    add('Nummers', contactNummers(c).join(', '));
    const tags = Array.isArray(c.tags) ? c.tags : [];
    for (const t of tags) $('.lead-tags', node).append(el('li', { class: 'tag', text: String(t) }));
    $('.lead-notities', node).textContent = contactNotities(c);
  }
  const eerder = Array.isArray(m.eerder) ? m.eerder : [];
  if (eerder.length) {
    $('.eerder', node).hidden = false;
    for (const r of eerder.slice(0, 5)) $('.eerder-lijst', node).append(cdrItem(r, false));
  }
  $('.knop-opnemen', node).addEventListener('click', () => answer(id));
  $('.knop-weigeren', node).addEventListener('click', () => reject(id));
  $('#inkomend').append(node);
  ring.start();
  notify(m);
  announce('Inkomend gesprek van ' + (m.naam || m.van || 'onbekend nummer') + '. Druk op o om op te nemen.');
  renderEmpty();
}

function removeIncoming(id) {
  S.incoming.delete(id);
  const node = $(`#inkomend [data-call="${CSS.escape(id)}"]`);
  if (node) node.remove();
  if (S.incoming.size === 0) ring.stop();
  if (notifs.has(id)) { try { notifs.get(id).close(); } catch { /* gone */ } notifs.delete(id); }
  renderEmpty();
}

const notifs = new Map();
function notify(m) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  try {
    const n = new Notification('Inkomend gesprek', { body: (m.naam ? m.naam + ' — ' : '') + (m.van || 'anoniem'), tag: 'pbx-' + m.call, requireInteraction: true });
    n.onclick = () => { window.focus(); n.close(); };
    notifs.set(String(m.call), n);
  } catch { /* not allowed here */ }
}

function offerNotifications() {
  if (!('Notification' in window)) return;
  if (Notification.permission !== 'default' || load('pbx.meldingen') === 'nee') return;
  $('#melding-toestemming').hidden = false;
}

// ---------------------------------------------------------------- WebRTC

function newPc() {
  const pc = new RTCPeerConnection({ iceServers: S.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  return pc;
}

function iceGathered(pc, cap) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', cand);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const cand = (e) => { if (!e.candidate) done(); };
    const t = setTimeout(done, cap);
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', cand);
  });
}

/** Creates a peer connection with the microphone and returns {pc, mic, sdp} once ICE gathering is done. */
async function prepareLeg() {
  const mic = await getMic();
  const pc = newPc();
  for (const t of mic.getAudioTracks()) pc.addTrack(t, mic);
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await iceGathered(pc, ICE_CAP_MS);
  return { pc, mic, sdp: pc.localDescription.sdp };
}

function closeLeg(c) {
  if (c.pc) { try { c.pc.close(); } catch { /* closed */ } }
  if (c.mic) for (const t of c.mic.getTracks()) t.stop();
  if (c.audio) { c.audio.srcObject = null; c.audio.remove(); }
  const m = meters.get(c.call);
  if (m) { m.close(); meters.delete(c.call); }
  c.pc = null; c.mic = null; c.audio = null;
}

function attachLeg(c, leg) {
  c.pc = leg.pc;
  c.mic = leg.mic;
  c.muted = false;
  const audio = el('audio', { autoplay: true, 'data-call': c.call });
  audio.playsInline = true;
  applySink(audio);
  $('#audio-uit').append(audio);
  c.audio = audio;
  leg.pc.addEventListener('track', (ev) => {
    const stream = ev.streams[0] || new MediaStream([ev.track]);
    c.remote = stream;
    audio.srcObject = stream;
    audio.play().catch(() => {});
    const ctx = audioCtx();
    if (ctx) {
      const old = meters.get(c.call);
      if (old) old.close();
      meters.set(c.call, new Meter(ctx, stream));
    }
  });
  leg.pc.addEventListener('connectionstatechange', () => {
    const st = leg.pc.connectionState;
    c.media = st;
    if (st === 'failed') {
      setCallNote(c, 'De spraakverbinding is mislukt. Hang op en bel opnieuw.');
      announce('Spraakverbinding mislukt.');
    } else if (st === 'disconnected') {
      setCallNote(c, 'De spraakverbinding hapert…');
    } else if (st === 'connected') {
      setCallNote(c, '');
    }
  });
}

async function applyAnswer(c, sdp) {
  if (!c.pc || !sdp) return;
  if (c.pc.signalingState !== 'have-local-offer') return; // already applied (repeat or restore)
  // The answer comes twice (in `ok` and in `call:state`): the second must not start while the
  // first is still being applied.
  if (c.answering === c.pc) return;
  c.answering = c.pc;
  try {
    await c.pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (err) {
    setCallNote(c, 'Het SDP-antwoord van de server is niet bruikbaar: ' + err.message);
    showError({ code: 'sdp', message: 'Geen spraakverbinding: het antwoord van de server is ongeldig.' });
  }
}

// ---------------------------------------------------------------- call actions

async function answer(id) {
  const m = S.incoming.get(id);
  if (!m) return;
  const node = $(`#inkomend [data-call="${CSS.escape(id)}"]`);
  const btns = node ? $$('button', node) : [];
  btns.forEach((b) => { b.disabled = true; });
  let leg;
  try {
    leg = await prepareLeg();
  } catch (err) {
    btns.forEach((b) => { b.disabled = false; });
    if (!(err && err.micShown)) showError({ code: 'webrtc', message: 'Opnemen lukt niet: ' + (err && err.message) });
    return;
  }
  if (!S.incoming.has(id)) { closeLeg(leg); return; } // caller hung up meanwhile
  const c = ensureCall({ call: id, state: 'verbinden', richting: 'in', nummer: m.van, naam: m.naam, contact: m.contact });
  attachLeg(c, leg);
  c.statusAtStart = S.status;
  removeIncoming(id);
  renderCall(c);
  try {
    await request('call:answer', { call: id, sdp: leg.sdp });
  } catch {
    // Keep nothing half-open: the server did not take the call.
    finishCall(id, false);
  }
}

function reject(id) {
  if (!S.incoming.has(id)) return;
  removeIncoming(id);
  send('call:reject', { call: id });
}

async function dial(nummer) {
  nummer = String(nummer || '').trim();
  if (!nummer) { toast('Vul eerst een nummer in.'); $('#bel-nummer').focus(); return; }
  if (!/^[0-9+*#A-Da-d ()\-.]{1,40}$/.test(nummer)) { toast('Dat is geen geldig nummer.'); return; }
  nummer = nummer.replace(/[ ()\-.]/g, '');
  const knop = $('#knop-bellen');
  knop.disabled = true;
  let leg;
  try {
    leg = await prepareLeg();
  } catch (err) {
    knop.disabled = false;
    if (!(err && err.micShown)) showError({ code: 'webrtc', message: 'Bellen lukt niet: ' + (err && err.message) });
    return;
  }
  const pendingLeg = { leg, nummer, kind: 'dial', statusAtStart: S.status };
  S.pendingLegs.push(pendingLeg);
  try {
    const ok = await request('call:dial', { nummer, sdp: leg.sdp });
    if (ok && ok.call) bindLeg(pendingLeg, ok.call, { state: 'kiezen', richting: 'uit', nummer });
  } catch {
    dropPendingLeg(pendingLeg);
  } finally {
    knop.disabled = false;
  }
  announce('Bellen naar ' + nummer);
}

function dropPendingLeg(p) {
  const i = S.pendingLegs.indexOf(p);
  if (i >= 0) S.pendingLegs.splice(i, 1);
  if (!p.bound) closeLeg(p.leg);
}

/** Connects an offer sent with call:dial / call:consult to the call id given by pbxd. */
function bindLeg(p, id, info) {
  id = String(id);
  const i = S.pendingLegs.indexOf(p);
  if (i >= 0) S.pendingLegs.splice(i, 1);
  if (p.bound) return S.calls.get(id);
  p.bound = true;
  const existing = S.calls.get(id);
  const c = ensureCall(Object.assign({ call: id }, info, existing ? { state: existing.state } : {}));
  attachLeg(c, p.leg);
  c.statusAtStart = p.statusAtStart;
  if (p.kind === 'consult') {
    c.consultOf = p.first;
    const first = S.calls.get(p.first);
    if (first) first.consult = id;
  }
  if (c.pendingSdp) { applyAnswer(c, c.pendingSdp); c.pendingSdp = null; }
  renderCall(c);
  if (c.consultOf) renderCall(S.calls.get(c.consultOf));
  return c;
}

function callAction(id, type, extra = {}) {
  if (!S.calls.has(id)) return Promise.resolve(null);
  return send(type, { call: id, ...extra });
}

function hangup(id) {
  const c = S.calls.get(id);
  if (!c) return;
  callAction(id, 'call:hangup');
}

function toggleHold(id) {
  const c = S.calls.get(id);
  if (!c) return;
  callAction(id, c.state === 'in_de_wacht' ? 'call:unhold' : 'call:hold');
}

function toggleMute(id) {
  const c = S.calls.get(id);
  if (!c || !c.mic) return;
  c.muted = !c.muted;
  for (const t of c.mic.getAudioTracks()) t.enabled = !c.muted;
  renderCall(c);
  announce(c.muted ? 'Microfoon gedempt' : 'Microfoon aan');
}

function dtmf(id, digits) {
  digits = String(digits).toUpperCase();
  if (!/^[0-9*#A-D]+$/.test(digits)) return;
  const c = S.calls.get(id);
  if (!c) return;
  keyBeep(digits[digits.length - 1]);
  callAction(id, 'call:dtmf', { digits });
}

// Short local feedback for a key (DTMF pair), quiet and only in the page.
const DTMF = { 1: [697, 1209], 2: [697, 1336], 3: [697, 1477], A: [697, 1633], 4: [770, 1209], 5: [770, 1336], 6: [770, 1477], B: [770, 1633], 7: [852, 1209], 8: [852, 1336], 9: [852, 1477], C: [852, 1633], '*': [941, 1209], 0: [941, 1336], '#': [941, 1477], D: [941, 1633] };
function keyBeep(d) {
  const ctx = audioCtx();
  const f = DTMF[d];
  if (!ctx || !f) return;
  const g = ctx.createGain();
  g.gain.value = 0.04;
  g.connect(ctx.destination);
  for (const hz of f) {
    const o = ctx.createOscillator();
    o.frequency.value = hz;
    o.connect(g);
    o.start();
    o.stop(ctx.currentTime + 0.12);
  }
  setTimeout(() => g.disconnect(), 300);
}

function transfer(id, nummer) {
  nummer = String(nummer || '').trim();
  if (!nummer) { toast('Vul het nummer in om naar door te verbinden.'); return; }
  callAction(id, 'call:transfer', { nummer }).then((ok) => { if (ok) announce('Doorverbinden naar ' + nummer + '…'); });
}

async function consult(id, nummer) {
  nummer = String(nummer || '').trim();
  if (!nummer) { toast('Vul het nummer in voor de ruggespraak.'); return; }
  const first = S.calls.get(id);
  if (!first || first.consult) return;
  let leg;
  try {
    leg = await prepareLeg();
  } catch (err) {
    if (!(err && err.micShown)) showError({ code: 'webrtc', message: 'Ruggespraak lukt niet: ' + (err && err.message) });
    return;
  }
  const p = { leg, nummer, kind: 'consult', first: id, statusAtStart: null };
  S.pendingLegs.push(p);
  first.consultPending = true;
  renderCall(first);
  try {
    const ok = await request('call:consult', { call: id, nummer, sdp: leg.sdp });
    if (ok && ok.call) bindLeg(p, ok.call, { state: 'kiezen', richting: 'uit', nummer });
  } catch {
    dropPendingLeg(p);
  } finally {
    first.consultPending = false;
    renderCall(first);
  }
}

function consultComplete(id) { callAction(id, 'call:consult_complete'); }
function consultCancel(id) { callAction(id, 'call:consult_cancel'); }

// ---------------------------------------------------------------- call state

function ensureCall(info) {
  const id = String(info.call);
  let c = S.calls.get(id);
  if (!c) {
    c = { call: id, state: info.state || 'kiezen', richting: info.richting || '', nummer: info.nummer || '', naam: info.naam || '', sinds: info.sinds || null, verbondenOp: null, muted: false, pc: null, mic: null, audio: null, remote: null, contact: info.contact || null, consult: null, consultOf: null, node: null, media: 'nieuw' };
    S.calls.set(id, c);
  } else {
    for (const k of ['state', 'richting', 'nummer', 'naam', 'sinds']) if (info[k] !== undefined && info[k] !== null && info[k] !== '') c[k] = info[k];
  }
  return c;
}

function onCallState(m, restoring = false) {
  const id = String(m.call);
  let c = S.calls.get(id);
  if (!c) {
    // An offer without known call id yet (the state may arrive before the `ok`).
    const p = S.pendingLegs.find((x) => x.nummer === m.nummer && !x.bound) || (m.richting === 'uit' ? S.pendingLegs.find((x) => !x.bound) : null);
    if (p) c = bindLeg(p, id, m);
  }
  if (!c && m.richting === 'in' && m.state === 'overgaan') {
    // Still ringing and not answered here: keep (or, after a reconnect, rebuild) the banner.
    if (!S.incoming.has(id)) onIncoming({ call: id, van: m.nummer, naam: m.naam, contact: null, eerder: [] });
    return;
  }
  if (!c && S.incoming.has(id)) removeIncoming(id); // answered or moved on elsewhere
  const prev = c ? c.state : null;
  c = ensureCall(m);
  if ((m.state === 'verbonden' || m.state === 'in_de_wacht') && !c.verbondenOp) {
    c.verbondenOp = restoring && m.sinds ? m.sinds * 1000 : Date.now();
  }
  if (!c.pc && (m.state === 'verbonden' || m.state === 'in_de_wacht')) {
    // A call in progress this page has no media for: it was reloaded during the call (pbxd
    // sends the calls after `welcome`). The old answer is of no use; new media is asked.
    c.pendingSdp = null;
    restoreMedia(c);
  } else if (m.sdp) {
    if (c.pc) applyAnswer(c, m.sdp); else c.pendingSdp = m.sdp;
  }
  renderCall(c);
  if (prev !== c.state) announce('Gesprek met ' + (c.naam || c.nummer || 'onbekend') + ': ' + (STATE_TEKST[c.state] || c.state));
}

/** After a reload: a new peer connection for a call in progress (`call:reoffer`). */
async function restoreMedia(c) {
  if (c.restoring) return;
  c.restoring = true;
  setCallNote(c, 'Spraak herstellen…');
  try {
    const leg = await prepareLeg();
    if (!S.calls.has(c.call) || c.pc) { closeLeg(leg); return; }
    attachLeg(c, leg);
    const m = await request('call:reoffer', { call: c.call, sdp: leg.sdp });
    await applyAnswer(c, m && m.sdp);
    setCallNote(c, '');
    announce('Spraak van het gesprek hersteld.');
  } catch (err) {
    if (!(err && err.micShown)) {
      setCallNote(c, 'Dit gesprek loopt nog, maar de spraak is na het herladen niet hersteld. Hang op of verbind door.');
    }
  } finally {
    c.restoring = false;
  }
}

function onEnded(m) {
  const id = String(m.call);
  if (S.incoming.has(id)) {
    removeIncoming(id);
    announce('Het gesprek is niet meer beschikbaar.');
  }
  if (!S.calls.has(id)) return;
  finishCall(id, true, m);
}

function finishCall(id, wrapUp, m = {}) {
  const c = S.calls.get(id);
  if (!c) return;
  closeLeg(c);
  S.calls.delete(id);
  if (c.node) c.node.remove();
  clearInterval(c.tick);
  if (c.consultOf) {
    const first = S.calls.get(c.consultOf);
    if (first) { first.consult = null; renderCall(first); }
  }
  if (c.consult && S.calls.has(c.consult)) {
    const second = S.calls.get(c.consult);
    second.consultOf = null;
    renderCall(second);
  }
  announce('Gesprek met ' + (c.naam || c.nummer || 'onbekend') + ' beëindigd' + (m.afloop ? ' (' + m.afloop + ')' : '') + '.');
  // A consult leg has no wrap-up of its own; the first call carries it.
  if (wrapUp && !c.consultOf) startWrap(c, m);
  renderEmpty();
}

// ---------------------------------------------------------------- wrap-up (afronden)

function fillAfcoderingen() {
  const sel = $('#afronden-code');
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '', text: '(kies een afcodering)' }));
  for (const a of S.afcoderingen) sel.append(el('option', { value: a.code, text: a.naam || a.code }));
  sel.value = cur;
}

function startWrap(c, m) {
  if (S.wrap) endWrap(false);
  const w = { call: c.call, notes: '', sentNotes: '', statusAtStart: c.statusAtStart, deadline: 0, timer: 0 };
  S.wrap = w;
  const box = $('#afronden');
  box.hidden = false;
  const dur = m.duur_s !== undefined && m.duur_s !== null ? ', ' + fmtDuur(m.duur_s) : '';
  $('#afronden-info').textContent = 'Gesprek met ' + (c.naam || c.nummer || 'onbekend') + dur + (m.afloop ? ' — ' + m.afloop : '') + (m.oorzaak ? ' (' + m.oorzaak + ')' : '');
  $('#afronden-notities').value = '';
  fillAfcoderingen();
  $('#afronden-code').value = '';
  if (S.afrondtijd > 0) {
    w.deadline = Date.now() + S.afrondtijd * 1000;
    w.timer = setInterval(tickWrap, 250);
    tickWrap();
  } else {
    $('#afronden-aftellen').textContent = '';
  }
  $('#knop-afronden-langer').hidden = !(S.afrondtijd > 0);
  renderEmpty();
}

function tickWrap() {
  const w = S.wrap;
  if (!w || !w.deadline) return;
  const left = Math.ceil((w.deadline - Date.now()) / 1000);
  $('#afronden-aftellen').textContent = 'Nog ' + Math.max(0, left) + ' s afrondtijd, daarna ben je weer beschikbaar.';
  if (left <= 0) endWrap(true);
}

function saveNotes() {
  const w = S.wrap;
  if (!w) return Promise.resolve();
  const notes = $('#afronden-notities').value;
  if (notes === w.sentNotes) return Promise.resolve();
  w.sentNotes = notes;
  return send('call:notes', { call: w.call, notes });
}

async function finishWrapWithCode() {
  const w = S.wrap;
  if (!w) return;
  const code = $('#afronden-code').value;
  if (!code && S.afcoderingen.length) { toast('Kies een afcodering.'); $('#afronden-code').focus(); return; }
  await saveNotes();
  if (code) {
    const ok = await send('call:disposition', { call: w.call, code });
    if (!ok) return; // error toast shown; keep the form
  }
  endWrap(true);
}

/** Closes the wrap-up; `backToAvailable` returns to beschikbaar if the agent was beschikbaar when the call began. */
function endWrap(backToAvailable) {
  const w = S.wrap;
  if (!w) return;
  clearInterval(w.timer);
  saveNotes();
  S.wrap = null;
  $('#afronden').hidden = true;
  if (backToAvailable && w.statusAtStart === 'beschikbaar' && S.status !== 'beschikbaar' && S.status !== 'afgemeld' && S.status !== 'niet_storen' && !(S.status === 'pauze' && S.reden)) {
    setStatus('beschikbaar');
  }
  renderEmpty();
}

// ---------------------------------------------------------------- agent status

function setStatus(status) {
  let reden;
  if (status === 'pauze') {
    const v = $('#pauze-reden').value;
    reden = v === '__anders' ? $('#pauze-anders').value.trim() : v;
  }
  if (status === 'beschikbaar' && S.status === 'afgemeld') return send('agent:login');
  if (status === 'afgemeld') return send('agent:logout');
  return send('agent:status', reden ? { status, reden } : { status });
}

// ---------------------------------------------------------------- rendering

function renderWho() {
  const w = $('#wie');
  if (!S.me) { w.hidden = true; return; }
  w.hidden = false;
  w.textContent = (S.me.naam || S.me.gebruiker) + (S.me.toestel ? ' · toestel ' + S.me.toestel : '') + (S.me.organisatie ? ' · ' + S.me.organisatie : '');
}

function setCallNote(c, text) {
  c.note = text;
  if (c.node) {
    const p = $('.gesprek-melding', c.node);
    p.textContent = text;
    p.hidden = !text;
  }
}

function renderCall(c) {
  if (!c) return;
  if (!c.node) {
    const n = $('#tpl-gesprek').content.firstElementChild.cloneNode(true);
    n.dataset.call = c.call;
    const pad = $('.gesprek-pad', n);
    buildPad(pad, (d) => dtmf(c.call, d));
    pad.setAttribute('aria-label', 'Kiestoetsen voor het gesprek; typ cijfers, * of #');
    pad.addEventListener('keydown', (ev) => {
      const k = ev.key; // digits, * and #; A–D only with Shift so that shortcuts keep working
      if (/^[0-9*#A-D]$/.test(k) && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault();
        ev.stopPropagation();
        dtmf(c.call, k);
        flashKey(pad, k);
      }
    });
    $('.knop-wacht', n).addEventListener('click', () => toggleHold(c.call));
    $('.knop-dempen', n).addEventListener('click', () => toggleMute(c.call));
    $('.knop-ophangen', n).addEventListener('click', () => hangup(c.call));
    $('.knop-toon-pad', n).addEventListener('click', (ev) => {
      pad.hidden = !pad.hidden;
      ev.currentTarget.setAttribute('aria-expanded', String(!pad.hidden));
      if (!pad.hidden) pad.focus();
    });
    const input = $('.doorverbind-nummer', n);
    input.id = 'doorverbind-' + c.call.replace(/[^a-zA-Z0-9_-]/g, '_');
    $('.doorverbind-label', n).setAttribute('for', input.id);
    $('.doorverbind-form', n).addEventListener('submit', (ev) => { ev.preventDefault(); transfer(c.call, input.value); });
    $('.knop-rugg', n).addEventListener('click', () => consult(c.call, input.value));
    $('.knop-rugg-klaar', n).addEventListener('click', () => consultComplete(c.call));
    $('.knop-rugg-stop', n).addEventListener('click', () => consultCancel(c.call));
    c.node = n;
    $('#lopend').append(n);
    c.tick = setInterval(() => tickCall(c), 1000);
    setCallNote(c, c.note || '');
  }
  const n = c.node;
  const who = c.naam || (c.contact && contactNaam(c.contact)) || '';
  $('.gesprek-titel', n).textContent = (c.consultOf ? 'Ruggespraak' : c.richting === 'uit' ? 'Uitgaand' : 'Inkomend') + (who ? ': ' + who : '');
  $('.gesprek-nummer', n).textContent = c.nummer || '';
  if (c.contact && typeof c.contact === 'object') {
    const tags = Array.isArray(c.contact.tags) ? c.contact.tags.join(', ') : '';
    const info = [contactNaam(c.contact), contactBedrijf(c.contact), tags, contactNotities(c.contact)].filter(Boolean).join(' · ');
    const p = $('.gesprek-contact', n);
    p.textContent = info;
    p.hidden = !info;
  }
  const st = $('.gesprek-toestand', n);
  st.textContent = STATE_TEKST[c.state] || c.state;
  st.dataset.state = c.state;
  n.setAttribute('aria-label', 'Gesprek met ' + (who || c.nummer || 'onbekend'));
  n.dataset.state = c.state;
  const held = c.state === 'in_de_wacht';
  const wacht = $('.knop-wacht', n);
  wacht.textContent = held ? 'Terugnemen' : 'In de wacht';
  wacht.setAttribute('aria-pressed', String(held));
  const live = ['verbonden', 'in_de_wacht', 'ruggespraak'].includes(c.state);
  wacht.disabled = !live || !!c.consult;
  const demp = $('.knop-dempen', n);
  demp.textContent = c.muted ? 'Dempen uit' : 'Dempen';
  demp.setAttribute('aria-pressed', String(!!c.muted));
  demp.disabled = !c.mic;
  $('.knop-toon-pad', n).disabled = !live;
  // Transfer / consult only from the first call, not from a consult leg.
  const form = $('.doorverbind-form', n);
  form.hidden = !!c.consultOf || !!c.consult;
  for (const b of $$('button', form)) b.disabled = !live || !!c.consultPending;
  $('.rugg-knoppen', n).hidden = !c.consult;
  tickCall(c);
  renderEmpty();
}

function tickCall(c) {
  if (!c.node) return;
  const t = $('.gesprek-tijd', c.node);
  t.textContent = c.verbondenOp ? fmtDuur((Date.now() - c.verbondenOp) / 1000) : '–:––';
}

function renderEmpty() {
  $('#geen-gesprek').hidden = S.calls.size > 0 || S.incoming.size > 0 || !!S.wrap;
}

function flashKey(pad, k) {
  const b = $$('button', pad).find((x) => x.dataset.key === k);
  if (!b) return;
  b.classList.add('gedrukt');
  setTimeout(() => b.classList.remove('gedrukt'), 150);
}

function buildPad(box, onKey) {
  const keys = [['1', ''], ['2', 'abc'], ['3', 'def'], ['4', 'ghi'], ['5', 'jkl'], ['6', 'mno'], ['7', 'pqrs'], ['8', 'tuv'], ['9', 'wxyz'], ['*', ''], ['0', '+'], ['#', '']];
  for (const [k, sub] of keys) {
    const b = el('button', { type: 'button', class: 'toets', dataset: { key: k }, 'aria-label': k === '*' ? 'ster' : k === '#' ? 'hekje' : k },
      el('span', { class: 'toets-cijfer', text: k }), el('span', { class: 'toets-sub', 'aria-hidden': 'true', text: sub }));
    b.addEventListener('click', () => onKey(k));
    box.append(b);
  }
}

function onPresence(list, change = false) {
  // The full list comes on connecting; after that only the colleagues that changed.
  if (change) {
    const byName = new Map((S.presence || []).map((u) => [u.gebruiker, u]));
    for (const u of list) if (u && u.gebruiker) byName.set(u.gebruiker, u);
    list = [...byName.values()];
  }
  S.presence = list;
  const ul = $('#collega-lijst');
  ul.replaceChildren();
  const mine = S.me && S.me.gebruiker;
  const sorted = list.filter((u) => u && u.gebruiker !== mine).sort((a, b) => String(a.naam || a.gebruiker).localeCompare(String(b.naam || b.gebruiker), 'nl'));
  if (!sorted.length) ul.append(el('li', { class: 'leeg', text: 'Geen collega\'s gevonden.' }));
  for (const u of sorted) {
    const status = u.in_gesprek ? 'in gesprek' : (STATUS_TEKST[u.status] || u.status || '');
    const label = (u.naam || u.gebruiker) + (u.toestel ? ', toestel ' + u.toestel : '') + ', ' + status;
    const li = el('li', { class: 'lijst-item' },
      el('span', { class: 'stip-status', dataset: { status: u.in_gesprek ? 'in_gesprek' : (u.status || 'afgemeld') }, 'aria-hidden': 'true' }),
      el('span', { class: 'lijst-tekst' }, el('strong', { text: u.naam || u.gebruiker }), el('span', { class: 'stil', text: (u.toestel ? ' ' + u.toestel : '') + ' · ' + status })),
      u.toestel ? el('button', { type: 'button', class: 'knop knop-klein', 'aria-label': 'Bel ' + label, text: 'Bellen', onclick: () => dial(u.toestel) }) : null);
    ul.append(li);
  }
}

function renderContacts(items) {
  const ul = $('#zoek-lijst');
  ul.replaceChildren();
  if (!items.length) { ul.append(el('li', { class: 'leeg', text: 'Niets gevonden.' })); return; }
  for (const c of items.slice(0, 50)) {
    const nums = contactNummers(c);
    const li = el('li', { class: 'lijst-item' },
      el('span', { class: 'lijst-tekst' }, el('strong', { text: contactNaam(c) || '(zonder naam)' }), el('span', { class: 'stil', text: contactBedrijf(c) ? ' · ' + contactBedrijf(c) : '' })));
    const knoppen = el('span', { class: 'lijst-knoppen' });
    for (const n of nums.slice(0, 3)) knoppen.append(el('button', { type: 'button', class: 'knop knop-klein', 'aria-label': 'Bel ' + (contactNaam(c) || '') + ' op ' + n, text: n, onclick: () => dial(n) }));
    li.append(knoppen);
    ul.append(li);
  }
}

const AFLOOP_RICHTING = { in: 'inkomend', uit: 'uitgaand', intern: 'intern' };
function cdrItem(r, withButton = true) {
  const nummer = cdrNummer(r);
  const when = fmtTijd(r.start_ms || r.start || r.begin || r.sinds || r.tijd);
  const dur = r.duur_s !== undefined && r.duur_s !== null ? fmtDuur(r.duur_s) : '';
  const parts = [AFLOOP_RICHTING[r.richting] || r.richting, when, dur, r.afloop, r.afcodering].filter(Boolean).join(' · ');
  const li = el('li', { class: 'lijst-item' },
    el('span', { class: 'lijst-tekst' }, el('strong', { text: r.naam || nummer || 'onbekend' }), el('span', { class: 'stil', text: (r.naam && nummer ? ' ' + nummer : '') + (parts ? ' · ' + parts : '') }),
      r.notities || r.notes ? el('span', { class: 'cdr-notities', text: r.notities || r.notes }) : null));
  if (withButton && nummer) li.append(el('button', { type: 'button', class: 'knop knop-klein', 'aria-label': 'Terugbellen naar ' + nummer, text: 'Bellen', onclick: () => dial(nummer) }));
  return li;
}

function renderHistory(items) {
  const ul = $('#historie-lijst');
  ul.replaceChildren();
  if (!items.length) { ul.append(el('li', { class: 'leeg', text: 'Nog geen gesprekken.' })); return; }
  for (const r of items.slice(0, 50)) ul.append(cdrItem(r, true));
}

// ---------------------------------------------------------------- HTTP: login, me, logout

/** Returns the user, null on 401, throws on a network error. */
async function apiMe() {
  const r = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' });
  if (r.status === 401) return null;
  if (!r.ok) throw new Error('HTTP ' + r.status);
  return r.json();
}

function showLogin(text = '') {
  $('#app').hidden = true;
  $('#login').hidden = false;
  $('#knop-uitloggen').hidden = true;
  $('#wie').hidden = true;
  $('#login-fout').textContent = text;
  $('#login-org').value = $('#login-org').value || load('pbx.organisatie') || '';
  $('#login-gebruiker').value = $('#login-gebruiker').value || load('pbx.gebruiker') || '';
  const first = !$('#login-org').value ? '#login-org' : !$('#login-gebruiker').value ? '#login-gebruiker' : '#login-wachtwoord';
  $(first).focus();
}

function showApp() {
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#knop-uitloggen').hidden = false;
  renderWho();
  renderEmpty();
  offerNotifications();
  S.wantWs = true;
  S.retries = 0;
  setConn('opnieuw');
  connect();
  refreshDevices();
}

async function onLoginSubmit(ev) {
  ev.preventDefault();
  audioCtx(); // created inside a gesture, so ringing can start later
  const fout = $('#login-fout');
  const body = {
    organisatie: $('#login-org').value.trim(),
    gebruiker: $('#login-gebruiker').value.trim(),
    wachtwoord: $('#login-wachtwoord').value,
  };
  if (!body.organisatie || !body.gebruiker || !body.wachtwoord) {
    fout.textContent = 'Vul organisatie, gebruiker en wachtwoord in.';
    return;
  }
  const totpBlok = $('#login-totp-blok');
  if (!totpBlok.hidden && $('#login-totp').value.trim()) body.totp = $('#login-totp').value.trim();
  const knop = $('#login-knop');
  knop.disabled = true;
  fout.textContent = '';
  let r;
  try {
    r = await fetch('/api/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch {
    S.loginError = 'netwerk';
    fout.textContent = LOGIN_FOUT.netwerk;
    knop.disabled = false;
    return;
  }
  knop.disabled = false;
  let data = null;
  try { data = await r.json(); } catch { data = null; }
  if (r.ok && data) {
    S.loginError = null;
    S.me = data;
    store('pbx.organisatie', body.organisatie);
    store('pbx.gebruiker', body.gebruiker);
    $('#login-wachtwoord').value = '';
    $('#login-totp').value = '';
    totpBlok.hidden = true;
    showApp();
    return;
  }
  const code = data && data.code;
  S.loginError = code || 'http_' + r.status;
  if (code === 'totp_nodig' || code === 'totp_onjuist') {
    totpBlok.hidden = false;
    $('#login-totp').value = '';
    $('#login-totp').focus();
  } else if (code === 'onjuist') {
    $('#login-wachtwoord').value = '';
    $('#login-wachtwoord').focus();
  }
  fout.textContent = LOGIN_FOUT[code] || (data && data.fout) || ('Inloggen lukt nu niet (HTTP ' + r.status + '). Probeer het later opnieuw.');
}

function stopEverything() {
  S.wantWs = false;
  clearTimeout(S.retryTimer);
  if (S.ws) { try { S.ws.close(1000); } catch { /* closed */ } }
  S.ws = null;
  for (const id of Array.from(S.calls.keys())) finishCall(id, false);
  for (const id of Array.from(S.incoming.keys())) removeIncoming(id);
  if (S.wrap) endWrap(false);
  ring.stop();
  setConn('geen');
}

function sessionLost() {
  stopEverything();
  S.me = null;
  showLogin('Je sessie is verlopen. Log opnieuw in.');
}

async function logout() {
  if (S.calls.size && !window.confirm('Je hebt een lopend gesprek. Toch uitloggen? Het gesprek wordt dan verbroken.')) return;
  for (const id of Array.from(S.calls.keys())) hangup(id);
  stopEverything();
  try { await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' }); } catch { /* offline: cookie expires anyway */ }
  S.me = null;
  showLogin('Je bent uitgelogd.');
}

// ---------------------------------------------------------------- keyboard

/** The call that shortcuts act on: a consult leg, else the newest connected call, else the newest. */
function firstCall() {
  const list = Array.from(S.calls.values()).reverse();
  return list.find((c) => c.consultOf) || list.find((c) => c.state === 'verbonden' && c.pc) || list.find((c) => c.state === 'verbonden') || list[0] || null;
}

function onKey(ev) {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const dlg = $('#help');
  if (dlg.open) return;
  if (isTextField(ev.target)) return;
  if ($('#app').hidden) return;
  const k = ev.key;
  const c = firstCall();
  const inc = S.incoming.keys().next().value;
  let done = true;
  switch (k) {
    case 'o': if (inc) answer(inc); else done = false; break;
    case 'w': if (inc) reject(inc); else done = false; break;
    case 'h': if (c) hangup(c.call); else done = false; break;
    case 'i': if (c) toggleHold(c.call); else done = false; break;
    case 'm': if (c) toggleMute(c.call); else done = false; break;
    case 'n': $('#bel-nummer').focus(); break;
    case 'k': {
      if (!c || !c.node) { done = false; break; }
      const pad = $('.gesprek-pad', c.node);
      pad.hidden = false;
      $('.knop-toon-pad', c.node).setAttribute('aria-expanded', 'true');
      pad.focus();
      break;
    }
    case '/': $('#zoek-q').focus(); break;
    case 'b': setStatus('beschikbaar'); break;
    case 'p': setStatus('pauze'); break;
    case '?': dlg.showModal(); break;
    default: done = false;
  }
  if (done) ev.preventDefault();
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('#login-form').addEventListener('submit', onLoginSubmit);
  $('#knop-uitloggen').addEventListener('click', logout);
  $('#knop-help').addEventListener('click', () => $('#help').showModal());
  document.addEventListener('keydown', onKey);

  buildPad($('#kiespad'), (k) => {
    const i = $('#bel-nummer');
    i.value += k;
  });
  $('#bel-form').addEventListener('submit', (ev) => { ev.preventDefault(); audioCtx(); dial($('#bel-nummer').value); });

  $('#zoek-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = $('#zoek-q').value.trim();
    if (!q) return;
    // The answer is `contacts` (protocol) or `ok` with `items` (pbxd today): accept both.
    request('contacts:search', { q }).then((m) => { if (m && Array.isArray(m.items)) renderContacts(m.items); }).catch(() => {});
  });
  $('#knop-historie').addEventListener('click', () => loadHistory(50));

  for (const b of $$('.status-knop')) b.addEventListener('click', () => { audioCtx(); setStatus(b.dataset.status); });
  $('#pauze-reden').addEventListener('change', () => {
    const anders = $('#pauze-reden').value === '__anders';
    $('#pauze-anders-blok').hidden = !anders;
    if (anders) $('#pauze-anders').focus();
    else if (S.status === 'pauze') setStatus('pauze');
  });
  $('#pauze-anders').addEventListener('change', () => { if (S.status === 'pauze') setStatus('pauze'); });

  $('#afronden-notities').addEventListener('blur', () => saveNotes());
  $('#knop-afronden').addEventListener('click', finishWrapWithCode);
  $('#knop-afronden-langer').addEventListener('click', () => {
    if (S.wrap && S.wrap.deadline) { S.wrap.deadline += 60000; tickWrap(); }
  });

  $('#kies-mic').addEventListener('change', (ev) => store('pbx.mic', ev.target.value || null));
  $('#kies-speaker').addEventListener('change', (ev) => {
    const id = ev.target.value || null;
    store('pbx.speaker', id);
    for (const a of $$('#audio-uit audio')) applySink(a);
    if (actx && typeof actx.setSinkId === 'function') actx.setSinkId(id || '').catch(() => {});
  });
  $('#knop-mic-test').addEventListener('click', async () => {
    try {
      const s = await getMic();
      for (const t of s.getTracks()) t.stop();
      toast('De microfoon werkt.', 'info');
    } catch { /* message shown */ }
  });
  $('#knop-bel-test').addEventListener('click', () => {
    ring.start();
    setTimeout(() => { if (!S.incoming.size) ring.stop(); }, 1200);
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener('devicechange', refreshDevices);
  }

  $('#knop-meldingen-aan').addEventListener('click', async () => {
    $('#melding-toestemming').hidden = true;
    try { await Notification.requestPermission(); } catch { /* ignored */ }
  });
  $('#knop-meldingen-niet').addEventListener('click', () => {
    $('#melding-toestemming').hidden = true;
    store('pbx.meldingen', 'nee');
  });

  window.addEventListener('online', () => { if (S.wantWs && !S.ws) { S.retries = 0; connect(); } });
  window.addEventListener('beforeunload', (ev) => {
    if (S.calls.size) { ev.preventDefault(); ev.returnValue = ''; }
  });
}

// ---------------------------------------------------------------- test hook (read-only)

function callView(c) {
  return {
    call: c.call, state: c.state, richting: c.richting, nummer: c.nummer, naam: c.naam,
    muted: !!c.muted, consult: c.consult, consultOf: c.consultOf, media: c.pc ? c.pc.connectionState : 'geen',
    remote: !!c.remote,
  };
}

function meterFor(call) {
  if (call !== undefined && call !== null) return meters.get(String(call)) || null;
  const c = firstCall();
  if (c && meters.has(c.call)) return meters.get(c.call);
  const all = Array.from(meters.values());
  return all[all.length - 1] || null;
}

window.__pbx = Object.freeze({
  state: () => ({
    ingelogd: !!S.me && $('#login').hidden,
    verbinding: S.conn,
    status: S.status,
    reden: S.reden,
    gebruiker: S.me ? S.me.gebruiker : null,
    toestel: S.me ? S.me.toestel : null,
    inkomend: Array.from(S.incoming.keys()),
    gesprekken: Array.from(S.calls.values()).map(callView),
    afronden: S.wrap ? S.wrap.call : null,
    loginFout: S.loginError,
    afcoderingen: S.afcoderingen.map((a) => a.code),
  }),
  lastError: () => (S.lastError ? { ...S.lastError } : null),
  calls: () => Array.from(S.calls.values()).map(callView),
  log: () => S.log.map((x) => ({ ...x })),
  audio: Object.freeze({
    /** Goertzel at `hz` over the last second of the remote audio of `call` (default: the active call). */
    power: (hz, call) => { const m = meterFor(call); return m ? m.power(hz) : null; },
    /** Strongest frequency between 100 and 4000 Hz over the last second. */
    dominant: (call) => { const m = meterFor(call); return m ? m.dominant() : null; },
    /** RMS level (0..1) over the last second. */
    rms: (call) => { const m = meterFor(call); return m ? m.rms() : null; },
    calls: () => Array.from(meters.keys()),
    context: () => (actx ? actx.state : 'geen'),
  }),
});

// ---------------------------------------------------------------- start

async function start() {
  wire();
  setConn('geen');
  try {
    const me = await apiMe();
    if (me) { S.me = me; showApp(); return; }
    showLogin();
  } catch {
    showLogin(LOGIN_FOUT.netwerk);
  }
}

start();
