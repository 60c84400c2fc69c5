// A standard WebRTC SIP client (JsSIP, from npm) in Chromium against pbxd's wss listener: it
// registers with digest and makes or takes a call like any phone. The page is served by a small
// HTTP server on 127.0.0.1 started here (a secure context, so the microphone works); JsSIP is
// bundled for the browser with esbuild; the level meter is the softphone's own meter.js.

import http from 'node:http';
import { readFileSync, existsSync, mkdirSync, writeFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fout } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const METER = join(HERE, '..', '..', 'crates', 'softphone', 'assets', 'meter.js');

/** JsSIP as one browser script (global `JsSIP`), built once and cached in node_modules/.cache. */
async function bundle() {
  const entry = join(HERE, 'node_modules', 'jssip', 'lib', 'JsSIP.js');
  if (!existsSync(entry)) throw new Fout('jssip ontbreekt: npm ci in tests/browser (scripts/test.sh doet dat)', { code: 69 });
  const cacheDir = join(HERE, 'node_modules', '.cache');
  const out = join(cacheDir, 'jssip.bundle.js');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(entry).mtimeMs) return readFileSync(out, 'utf8');
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName: 'JsSIP',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(out, r.outputFiles[0].text);
  return r.outputFiles[0].text;
}

const PAGE = `<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>JsSIP tegen pbxd</title>
<script src="/jssip.js"></script>
<script type="module">
import { Meter } from '/meter.js';
window.Meter = Meter;
window.klaar = true;
</script></head><body><h1>JsSIP tegen pbxd</h1></body></html>`;

/** Serves the test page on 127.0.0.1; gives {base, close()}. */
export async function servePage() {
  const js = await bundle();
  const meter = readFileSync(METER, 'utf8');
  const server = http.createServer((req, res) => {
    const send = (type, body) => { res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }); res.end(body); };
    if (req.url === '/') return send('text/html; charset=utf-8', PAGE);
    if (req.url === '/jssip.js') return send('text/javascript', js);
    if (req.url === '/meter.js') return send('text/javascript', meter);
    res.writeHead(404); res.end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  // Chromium keeps its connections open; close them too, or close() waits for them.
  const close = () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); });
  return { base: `http://127.0.0.1:${port}`, close };
}

/** Installs the JsSIP user agent in the page and waits for its registration. */
export async function register(page, { wss, domein, gebruiker, wachtwoord }) {
  await page.waitForFunction(() => window.klaar === true && typeof window.JsSIP === 'object', null, { timeout: 10000 });
  return page.evaluate(([wss, domein, gebruiker, wachtwoord]) => new Promise((resolve) => {
    const t = window.t = { events: [], session: null, meter: null, reinvites: 0, held: 0, unheld: 0, inkomend: 0 };
    const log = (e) => t.events.push(e);
    const attach = (pc) => {
      pc.addEventListener('track', (ev) => {
        const stream = ev.streams[0] || new MediaStream([ev.track]);
        // Chrome only feeds WebAudio from a remote stream that also plays somewhere.
        const audio = new Audio();
        audio.srcObject = stream;
        audio.play().catch(() => {});
        const ctx = new AudioContext();
        ctx.resume().catch(() => {});
        if (t.meter) t.meter.close();
        t.meter = new window.Meter(ctx, stream);
        log('track');
      });
    };
    const hook = (s) => {
      t.session = s;
      if (s.connection) attach(s.connection);
      s.on('peerconnection', (e) => attach(e.peerconnection));
      for (const ev of ['progress', 'accepted', 'confirmed', 'ended', 'failed']) {
        s.on(ev, (e) => log(ev + (e && e.cause ? ':' + e.cause : '')));
      }
      // Chromium may take up to 40 s to call gathering complete; the loopback host candidate is
      // all pbxd needs (the usual JsSIP practice: e.ready() once a usable candidate is there).
      s.on('icecandidate', (e) => {
        if (window.location.hash === '#debug') console.log('kandidaat', e.candidate && e.candidate.candidate);
        if (e.candidate && e.candidate.type === 'host' && e.candidate.protocol === 'udp') setTimeout(e.ready, 100);
      });
      s.on('reinvite', () => { t.reinvites++; log('reinvite'); });
      s.on('hold', () => { t.held++; log('hold'); });
      s.on('unhold', () => { t.unheld++; log('unhold'); });
    };
    if (window.location.hash === '#debug') JsSIP.debug.enable('JsSIP:*'); else JsSIP.debug.disable('JsSIP:*');
    const ua = window.ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(wss)],
      uri: `sip:${gebruiker}@${domein}`,
      password: wachtwoord,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'JsSIP (pbx-tests)',
    });
    ua.on('newRTCSession', (e) => {
      if (e.originator === 'remote') t.inkomend++;
      hook(e.session);
    });
    ua.on('registered', () => resolve({ ok: true }));
    ua.on('registrationFailed', (e) => resolve({ ok: false, reden: e.cause + (e.response ? ` (${e.response.status_code})` : '') }));
    ua.start();
    setTimeout(() => resolve({ ok: false, reden: 'geen antwoord op REGISTER binnen 15 s' }), 15000);
  }), [wss, domein, gebruiker, wachtwoord]);
}

// The fake microphone's tone as it is: no echo cancelling, noise suppression or gain control.
export const OPTIONS = {
  mediaConstraints: { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false },
  pcConfig: { iceServers: [] },
};

/** Waits until `fn(t)` in the page is true; throws with the events so far otherwise. */
export async function waitFor(page, fn, what, timeout = 20000) {
  try {
    await page.waitForFunction(fn, null, { timeout, polling: 100 });
  } catch {
    const events = await page.evaluate(() => window.t && window.t.events).catch(() => null);
    throw new Fout(`${what} bleef uit (${timeout} ms)`, { events });
  }
}

/** Median tone ratio at `hz` over `ms` (samples every 250 ms of the last second). */
export async function jssipTone(page, hz, ms = 2000) {
  const runs = [];
  const end = Date.now() + ms;
  do {
    await page.waitForTimeout(250);
    const r = await page.evaluate((f) => {
      const m = window.t.meter;
      if (!m) return null;
      const d = m.dominant();
      return { ratio: m.power(f).ratio, dominant: d ? d.hz : null, rms: m.rms() };
    }, hz);
    if (r) runs.push(r);
  } while (Date.now() < end);
  if (!runs.length) return { hz, ratio: 0, dominant: null, metingen: 0 };
  runs.sort((a, b) => a.ratio - b.ratio);
  const mid = runs[Math.floor(runs.length / 2)];
  return { hz, ratio: Math.round(mid.ratio * 1000) / 1000, dominant: mid.dominant, rms: Math.round(mid.rms * 1000) / 1000, metingen: runs.length };
}
