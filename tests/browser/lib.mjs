// Helpers for the Chromium tests of the pbxd softphone.
// Uses playwright-core against the system Chromium (/usr/bin/chromium); never downloads a browser.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';

export const CHROMIUM = process.env.PBX_CHROMIUM || '/usr/bin/chromium';

/** A failure with a Dutch reason for the person reading the test output. */
export class Fout extends Error {
  constructor(reden, details = {}) {
    super(reden);
    this.reden = reden;
    this.details = details;
  }
}

// ------------------------------------------------------------------ WAV

/** Writes a 16-bit mono PCM WAV with a sine tone (whole number of periods, so the loop is seamless). */
export function wavTone(path, { hz = 600, seconds = 10, rate = 48000, amplitude = 0.5 } = {}) {
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * amplitude * 32767);
    data.writeInt16LE(v, i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
  return path;
}

// ------------------------------------------------------------------ browser

/**
 * Starts Chromium with a fake microphone that plays a tone of `micHz` (or the WAV `wav`).
 * Returns {browser, context, page, dir, close()}. `dir` is a fresh temporary folder.
 */
export async function launch({ micHz = 600, wav = null, headless = true, viewport = { width: 1280, height: 800 }, extraArgs = [] } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Fout(`Chromium niet gevonden op ${CHROMIUM} (installeer de Debian-pakketten chromium en chromium-driver, of zet PBX_CHROMIUM)`, { code: 69 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'pbx-browser-'));
  const wavPath = wav || wavTone(join(dir, `mic-${micHz}.wav`), { hz: micHz });
  const userDataDir = join(dir, 'profiel');
  mkdirSync(userDataDir);
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wavPath}`,
    '--autoplay-policy=no-user-gesture-required',
    '--ignore-certificate-errors',
    ...extraArgs,
  ];
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless,
    args,
    // Playwright mutes audio by default; the page must produce real output for WebAudio.
    ignoreDefaultArgs: ['--mute-audio'],
    viewport,
    ignoreHTTPSErrors: true,
    locale: 'nl-NL',
    timezoneId: 'Europe/Amsterdam',
  });
  const page = context.pages()[0] || (await context.newPage());
  const consoleLines = [];
  page.on('console', (m) => { consoleLines.push(`${m.type()}: ${m.text()}`); if (consoleLines.length > 200) consoleLines.shift(); });
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  return {
    context, page, dir, wav: wavPath, console: consoleLines,
    async close() {
      await context.close().catch(() => {});
      if (!process.env.PBX_BEWAAR_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Screenshots of all given pages into `dir` (best effort). Returns the file names. */
export async function screenshots(dir, pages, prefix = 'fout') {
  if (!dir) return [];
  mkdirSync(dir, { recursive: true });
  const out = [];
  for (const [name, page] of Object.entries(pages)) {
    if (!page) continue;
    const file = join(dir, `${prefix}-${name}-${Date.now()}.png`);
    try { await page.screenshot({ path: file, fullPage: true }); out.push(file); } catch { /* page gone */ }
  }
  return out;
}

/** The hook state of the page (`window.__pbx.state()`). */
export function pbxState(page) {
  return page.evaluate(() => (window.__pbx ? window.__pbx.state() : null));
}

/**
 * Logs in through the form. Returns {ok, code, status, melding}. A TOTP code is entered when the
 * server answers `totp_nodig` and `totp` is given.
 */
export async function login(page, base, organisatie, gebruiker, wachtwoord, totp = null) {
  if (!page.url().startsWith(base)) await page.goto(base.replace(/\/$/, '') + '/', { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.__pbx && (document.querySelector('#login:not([hidden])') || window.__pbx.state().ingelogd), null, { timeout: 15000 });
  if ((await pbxState(page)).ingelogd) return { ok: true, code: null, status: 200, melding: '' };
  await page.fill('#login-org', organisatie);
  await page.fill('#login-gebruiker', gebruiker);
  await page.fill('#login-wachtwoord', wachtwoord);
  let res = await submitLogin(page);
  if (res.code === 'totp_nodig' && totp) {
    await page.fill('#login-totp', String(totp));
    if (!(await page.inputValue('#login-wachtwoord'))) await page.fill('#login-wachtwoord', wachtwoord);
    res = await submitLogin(page);
  }
  if (res.ok) await page.waitForFunction(() => window.__pbx.state().ingelogd, null, { timeout: 5000 });
  return res;
}

async function submitLogin(page) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/login') && r.request().method() === 'POST', { timeout: 15000 }),
    page.click('#login-knop'),
  ]);
  let body = null;
  try { body = await resp.json(); } catch { body = null; }
  // Let the page render its message.
  await page.waitForTimeout(50);
  const melding = (await page.textContent('#login-fout').catch(() => '')) || '';
  return { ok: resp.status() === 200, status: resp.status(), code: body && body.code ? body.code : null, melding };
}

const AGENT = ['beschikbaar', 'pauze', 'niet_storen', 'afgemeld'];

/**
 * Waits for a state. `want` is a call state (`'verbonden'`, `'in_de_wacht'`, …) or an object:
 * {verbinding}, {status}, {inkomend: true}, {afronden: true|false}, {gesprekken: n},
 * {call: state, consult?: bool}, {media: 'connected'}. An `error` from pbxd during the wait fails
 * at once, unless `negeerFouten: true`.
 */
export async function waitState(page, want, timeout = 15000) {
  if (typeof want === 'string') want = AGENT.includes(want) ? { status: want } : { call: want };
  // An `error` from pbxd while waiting ends the wait at once (unless want.negeerFouten).
  const since = await page.evaluate(() => Date.now()).catch(() => Date.now());
  let handle;
  try {
    handle = await page.waitForFunction(([w, t0]) => {
      const s = window.__pbx && window.__pbx.state();
      if (!s) return false;
      const e = window.__pbx.lastError();
      if (!w.negeerFouten && e && e.tijd >= t0) return { fout: e };
      if (w.verbinding && s.verbinding !== w.verbinding) return false;
      if (w.status && s.status !== w.status) return false;
      if (w.inkomend !== undefined && (s.inkomend.length > 0) !== w.inkomend) return false;
      if (w.afronden !== undefined && (!!s.afronden) !== w.afronden) return false;
      if (w.gesprekken !== undefined && s.gesprekken.length !== w.gesprekken) return false;
      if (w.call) {
        const c = s.gesprekken.filter((g) => (w.consult === undefined ? true : !!g.consultOf === w.consult));
        if (!c.some((g) => g.state === w.call && (!w.media || g.media === w.media))) return false;
      } else if (w.media && !s.gesprekken.some((g) => g.media === w.media)) return false;
      return true;
    }, [want, since], { timeout, polling: 100 });
  } catch {
    const s = await pbxState(page).catch(() => null);
    throw new Fout(`wachten op ${JSON.stringify(want)} duurde langer dan ${timeout} ms`, { toestand: s });
  }
  const v = await handle.jsonValue().catch(() => true);
  if (v && v.fout) {
    throw new Fout(`pbxd gaf een fout tijdens het wachten op ${JSON.stringify(want)}: ${v.fout.code}: ${v.fout.message}`, { fout: v.fout, toestand: await pbxState(page).catch(() => null) });
  }
  return pbxState(page);
}

/**
 * Measures the remote tone at `hz` for `ms` milliseconds (samples every 250 ms; each sample
 * covers the last second). Returns {hz, ratio, db, amplitude, dominant, metingen} with the
 * median ratio.
 */
export async function tone(page, hz, { ms = 2000, call = null } = {}) {
  const runs = [];
  const end = Date.now() + ms;
  do {
    await page.waitForTimeout(250);
    const r = await page.evaluate(([f, c]) => {
      const a = window.__pbx.audio;
      return { p: a.power(f, c === null ? undefined : c), d: a.dominant(c === null ? undefined : c), rms: a.rms(c === null ? undefined : c) };
    }, [hz, call]);
    if (r.p) runs.push(r);
  } while (Date.now() < end);
  if (!runs.length) return { hz, ratio: 0, db: null, amplitude: 0, dominant: null, rms: 0, metingen: 0 };
  const sorted = [...runs].sort((a, b) => a.p.ratio - b.p.ratio);
  const mid = sorted[Math.floor(sorted.length / 2)];
  return {
    hz,
    ratio: round(mid.p.ratio),
    db: Number.isFinite(mid.p.db) ? round(mid.p.db, 1) : null,
    amplitude: round(mid.p.amplitude),
    dominant: mid.d ? mid.d.hz : null,
    rms: round(mid.rms),
    metingen: runs.length,
  };
}

function round(x, d = 3) { return Math.round(x * 10 ** d) / 10 ** d; }

// ------------------------------------------------------------------ raw HTTP and WebSocket

function agentFor(url) {
  return url.protocol === 'https:' ? https : http;
}

/** A small JSON HTTP request without certificate checks (test servers use their own certificates). */
export function httpJson(base, method, path, body = null, headers = {}) {
  const url = new URL(path, base);
  const data = body === null ? null : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = agentFor(url).request(url, {
      method,
      headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers },
      rejectUnauthorized: false,
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('tijd verstreken')));
    if (data) req.write(data);
    req.end();
  });
}

export function originOf(base) {
  const u = new URL(base);
  return `${u.protocol}//${u.host}`;
}

/** Logs in over HTTP; returns the cookie header value (`pbx_sessie=…`) or throws a Fout. */
export async function apiLogin(base, organisatie, gebruiker, wachtwoord, totp = null) {
  const body = { organisatie, gebruiker, wachtwoord };
  if (totp) body.totp = String(totp);
  const r = await httpJson(base, 'POST', '/api/login', body, { origin: originOf(base) });
  if (r.status !== 200) throw new Fout(`inloggen via de API mislukt: HTTP ${r.status} ${r.json && r.json.code ? r.json.code : ''}`.trim());
  const set = [].concat(r.headers['set-cookie'] || []);
  const c = set.map((s) => s.split(';')[0]).find((s) => s.startsWith('pbx_sessie='));
  if (!c) throw new Fout('inloggen gaf geen cookie pbx_sessie');
  return c;
}

/**
 * Opens a raw WebSocket (RFC 6455 client, text frames). Resolves with
 * {status, body, ws} where `ws` is null when the upgrade was refused.
 */
export function wsOpen(base, { cookie = null, origin = undefined, path = '/ws' } = {}) {
  const url = new URL(path, base);
  const headers = {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': randomBytes(16).toString('base64'),
  };
  if (cookie) headers.cookie = cookie;
  if (origin !== null) headers.origin = origin === undefined ? originOf(base) : origin;
  return new Promise((resolve, reject) => {
    const req = agentFor(url).request(url, { headers, rejectUnauthorized: false, agent: false });
    req.on('upgrade', (res, socket, head) => resolve({ status: res.statusCode, body: '', ws: new RawWs(socket, head) }));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), ws: null }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('tijd verstreken bij de upgrade')));
    req.end();
  });
}

export class RawWs {
  constructor(socket, head) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frag = [];
    this.messages = [];
    this.waiters = [];
    this.closeCode = null;
    this.closed = new Promise((r) => { this._closed = r; });
    socket.on('data', (d) => this._data(d));
    socket.on('close', () => this._end(this.closeCode ?? 1006));
    socket.on('error', () => this._end(this.closeCode ?? 1006));
    if (head && head.length) this._data(head);
  }

  _end(code) {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeCode = code;
    this._closed(code);
    for (const w of this.waiters.splice(0)) w.check();
  }

  _data(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0], b1 = this.buf[1];
      let len = b1 & 0x7f, off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      const masked = (b1 & 0x80) !== 0;
      const mask = masked ? this.buf.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      let payload = Buffer.from(this.buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      this.buf = this.buf.subarray(off + len);
      const op = b0 & 0x0f, fin = (b0 & 0x80) !== 0;
      if (op === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeCode = code;
        try { this._frame(0x8, payload.subarray(0, 2)); } catch { /* gone */ }
        this.socket.end();
        this._end(code);
        return;
      }
      if (op === 0x9) { this._frame(0xA, payload); continue; }
      if (op === 0xA) continue;
      if (op === 0x1 || op === 0x2 || op === 0x0) {
        this.frag.push(payload);
        if (fin) {
          const text = Buffer.concat(this.frag).toString('utf8');
          this.frag = [];
          let msg;
          try { msg = JSON.parse(text); } catch { msg = { _tekst: text }; }
          this.messages.push(msg);
          for (const w of this.waiters.slice()) w.check();
        }
      }
    }
  }

  _frame(op, payload) {
    const len = payload.length;
    const head = [0x80 | op];
    if (len < 126) head.push(0x80 | len);
    else if (len < 65536) head.push(0x80 | 126, (len >> 8) & 0xff, len & 0xff);
    else {
      head.push(0x80 | 127);
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(len));
      head.push(...b);
    }
    const mask = randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
    this.socket.write(Buffer.concat([Buffer.from(head), mask, body]));
  }

  /** Sends a text frame (a string, or an object as JSON). */
  send(x) { this._frame(0x1, Buffer.from(typeof x === 'string' ? x : JSON.stringify(x), 'utf8')); }
  sendBinary(buf) { this._frame(0x2, Buffer.from(buf)); }

  /** Waits for (and removes) the first message matching `pred`. */
  next(pred = () => true, timeout = 5000) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          const i = this.messages.findIndex(pred);
          if (i >= 0) {
            clearTimeout(t);
            this.waiters.splice(this.waiters.indexOf(w), 1);
            resolve(this.messages.splice(i, 1)[0]);
          } else if (this.isClosed) {
            clearTimeout(t);
            this.waiters.splice(this.waiters.indexOf(w), 1);
            reject(new Fout(`verbinding gesloten (code ${this.closeCode}) terwijl een bericht werd verwacht`));
          }
        },
      };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Fout(`geen passend bericht binnen ${timeout} ms`));
      }, timeout);
      this.waiters.push(w);
      w.check();
    });
  }

  close(code = 1000) {
    if (this.isClosed) return;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    try { this._frame(0x8, p); } catch { /* gone */ }
    setTimeout(() => this.socket.destroy(), 500);
  }
}
