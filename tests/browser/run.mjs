#!/usr/bin/env node
// Runs one browser scenario against a running pbxd:
//   node tests/browser/run.mjs <scenario> '<json-args>'
// Prints exactly one JSON line on stdout. Exit 0 = passed, 1 = failed (reason in Dutch, also
// on stderr), 64 = wrong use, 69 = Chromium missing.

import {
  Fout, launch, login, waitState, tone, screenshots, pbxState,
  apiLogin, wsOpen, originOf,
} from './lib.mjs';
import { servePage, register, OPTIONS, waitFor, jssipTone } from './jssip.mjs';

const SCENARIOS = {
  'login-fail': loginFail,
  answer,
  dial,
  transfer,
  consult,
  'two-browsers': twoBrowsers,
  'ws-security': wsSecurity,
  malformed,
  jssip,
  reload,
};

// ------------------------------------------------------------------ shared steps

function need(args, ...keys) {
  for (const k of keys) {
    if (args[k] === undefined || args[k] === null || args[k] === '') throw new Fout(`argument '${k}' ontbreekt`, { code: 64 });
  }
}

const open = [];
async function browser(args, micHz, viewport) {
  const b = await launch({ micHz, viewport, headless: args.headless !== false });
  open.push(b);
  return b;
}

async function loggedIn(b, args, who = args) {
  const r = await login(b.page, args.base, who.organisatie || args.organisatie, who.gebruiker, who.wachtwoord, who.totp || null);
  if (!r.ok) throw new Fout(`inloggen van ${who.gebruiker} mislukt (${r.code || 'HTTP ' + r.status}): ${r.melding}`);
  await waitState(b.page, { verbinding: 'verbonden' }, 10000);
  return r;
}

async function goAvailable(page) {
  const s = await pbxState(page);
  if (s.status !== 'beschikbaar') {
    await page.click('.status-knop[data-status="beschikbaar"]');
    await waitState(page, { status: 'beschikbaar' }, 5000);
  }
}

async function answerIncoming(page, args) {
  const s = await waitState(page, { inkomend: true }, args.timeout_ms || 30000);
  const call = s.inkomend[0];
  const banner = await page.evaluate(() => {
    const n = document.querySelector('#inkomend .inkomend');
    return n ? { nummer: n.querySelector('.inkomend-nummer').textContent, lead: !n.querySelector('.lead').hidden, eerder: !n.querySelector('.eerder').hidden } : null;
  });
  await page.click(`#inkomend [data-call="${call}"] .knop-opnemen`);
  await waitState(page, { call: 'verbonden', media: 'connected' }, 15000);
  return { call, banner };
}

async function measure(page, args, hz, call = null) {
  if (!hz) return null;
  const t = await tone(page, hz, { ms: args.meet_ms || 2000, call });
  const min = args.min_ratio ?? 0.3;
  if (t.ratio < min) {
    throw new Fout(`toon van ${hz} Hz komt niet aan in de browser (aandeel ${t.ratio}, verwacht ≥ ${min}; sterkste frequentie ${t.dominant} Hz)`, { toon: t });
  }
  return t;
}

async function callNode(page, call) {
  return `#lopend [data-call="${call}"]`;
}

async function holdUnhold(page, call) {
  const sel = await callNode(page, call);
  await page.click(`${sel} .knop-wacht`);
  await waitState(page, { call: 'in_de_wacht' }, 8000);
  await page.click(`${sel} .knop-wacht`);
  await waitState(page, { call: 'verbonden' }, 8000);
}

async function sendDigits(page, call, digits) {
  if (!digits) return;
  const sel = await callNode(page, call);
  await page.click(`${sel} .knop-toon-pad`);
  await page.focus(`${sel} .gesprek-pad`);
  for (const d of String(digits)) {
    const before = (await page.evaluate(() => window.__pbx.log().length));
    await page.keyboard.press(d);
    // Each key is one call:dtmf request; wait for its answer (ok or error).
    await page.waitForFunction((n) => window.__pbx.log().length > n, before, { timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(120);
  }
  // pbxd plays each digit for 100 ms as RFC 4733: let the last one finish before hanging up.
  await page.waitForTimeout(400);
}

async function hangupAndWrap(page, call, args, hangup = true) {
  if (hangup) {
    await page.click(`${await callNode(page, call)} .knop-ophangen`);
  }
  await waitState(page, { gesprekken: 0 }, hangup ? 10000 : (args.einde_ms || 30000));
  return wrapUp(page, args);
}

async function wrapUp(page, args) {
  const s = await pbxState(page);
  if (!s.afronden) return { afronden: false };
  const notes = args.notities ?? 'Getest door de browsertest.';
  await page.fill('#afronden-notities', notes);
  await page.focus('#afronden-code'); // blur of the notes sends call:notes
  const code = args.afcodering || s.afcoderingen[0] || '';
  if (code) await page.selectOption('#afronden-code', code);
  await page.click('#knop-afronden');
  await waitState(page, { afronden: false }, 8000);
  return { afronden: true, notities: notes, afcodering: code || null };
}

async function noErrors(page, what) {
  const e = await page.evaluate(() => window.__pbx.lastError());
  if (e) throw new Fout(`foutmelding van de server tijdens ${what}: ${e.code}: ${e.message}`, { fout: e });
}

// ------------------------------------------------------------------ scenarios

/** N wrong passwords, then the account must be blocked (also for the right password if given). */
async function loginFail(args) {
  need(args, 'base', 'organisatie', 'gebruiker');
  const n = args.pogingen ?? 5;
  const fout = args.wachtwoord_fout || 'fout-wachtwoord-' + Date.now();
  const b = await browser(args, 600);
  const codes = [];
  let r;
  for (let i = 0; i < n; i++) {
    r = await login(b.page, args.base, args.organisatie, args.gebruiker, fout);
    codes.push(r.code);
    if (r.ok) throw new Fout('inloggen lukte met een fout wachtwoord');
  }
  r = await login(b.page, args.base, args.organisatie, args.gebruiker, args.wachtwoord || fout);
  codes.push(r.code);
  const early = codes.slice(0, n - 1).filter((c) => c !== 'onjuist');
  if (early.length) throw new Fout(`verwacht 'onjuist' voor de eerste pogingen, kreeg ${JSON.stringify(codes)}`);
  if (r.ok || r.code !== 'geblokkeerd') throw new Fout(`na ${n} foute pogingen verwacht 'geblokkeerd', kreeg ${r.code || 'HTTP ' + r.status}`, { codes });
  if (!/geblokkeerd/i.test(r.melding)) throw new Fout(`de pagina toont geen Nederlandse melding over blokkeren: '${r.melding}'`);
  return { codes, melding: r.melding };
}

/** Answers a call from outside, checks the tone, hold, DTMF, hang-up and wrap-up. */
async function answer(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord');
  const b = await browser(args, args.mic_hz || 600);
  const page = b.page;
  await loggedIn(b, args);
  await goAvailable(page);
  const t0 = Date.now();
  const { call, banner } = await answerIncoming(page, args);
  const toon = await measure(page, args, args.hz);
  if (args.wacht !== false) await holdUnhold(page, call);
  await sendDigits(page, call, args.digits ?? '123#');
  await noErrors(page, 'het gesprek');
  const wrap = await hangupAndWrap(page, call, args, args.ophangen !== false);
  await noErrors(page, 'het afronden');
  return { call, inkomend: banner, toon, dtmf: args.digits ?? '123#', ...wrap, gesprek_ms: Date.now() - t0 };
}

/**
 * Answers a call, checks the tone, reloads the page during the call: the page gets the call back
 * (`call:state` after `welcome`), asks new media with `call:reoffer` and hears the caller again;
 * then the caller hangs up.
 */
async function reload(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord');
  const b = await browser(args, args.mic_hz || 600);
  const page = b.page;
  await loggedIn(b, args);
  await goAvailable(page);
  const { call } = await answerIncoming(page, args);
  const voor = await measure(page, args, args.hz);
  const t0 = Date.now();
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.__pbx && window.__pbx.state().ingelogd, null, { timeout: 15000 });
  await waitState(page, { call: 'verbonden', media: 'connected' }, 15000);
  const hersteld_ms = Date.now() - t0;
  const na = await measure(page, args, args.hz, call);
  await noErrors(page, 'het herstellen');
  const wrap = await hangupAndWrap(page, call, args, false);
  return { call, toon_voor: voor, toon_na: na, hersteld_ms, ...wrap };
}

/** Dials a number from the dial field (Enter), checks the tone and hangs up. */
async function dial(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord', 'nummer');
  const b = await browser(args, args.mic_hz || 600);
  const page = b.page;
  await loggedIn(b, args);
  await page.fill('#bel-nummer', String(args.nummer));
  await page.press('#bel-nummer', 'Enter');
  const s = await waitState(page, { call: 'verbonden', media: 'connected' }, args.timeout_ms || 30000);
  const call = s.gesprekken[0].call;
  const toon = await measure(page, args, args.hz);
  if (args.houd_ms) await page.waitForTimeout(args.houd_ms);
  if (args.digits) await sendDigits(page, call, args.digits);
  await noErrors(page, 'het gesprek');
  const wrap = await hangupAndWrap(page, call, args, args.ophangen !== false);
  return { call, nummer: String(args.nummer), toon, ...wrap };
}

/** Answers, then transfers directly to args.doel. */
async function transfer(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord', 'doel');
  const b = await browser(args, args.mic_hz || 600);
  const page = b.page;
  await loggedIn(b, args);
  await goAvailable(page);
  const { call } = await answerIncoming(page, args);
  const toon = await measure(page, args, args.hz);
  const sel = await callNode(page, call);
  await page.fill(`${sel} .doorverbind-nummer`, String(args.doel));
  await page.click(`${sel} .knop-direct`);
  await waitState(page, { gesprekken: 0 }, args.timeout_ms || 15000);
  await noErrors(page, 'het doorverbinden');
  const log = await page.evaluate((c) => window.__pbx.log().filter((m) => m.call === c).map((m) => m.state || m.type), call);
  const wrap = await wrapUp(page, args);
  return { call, doel: String(args.doel), toon, verloop: log, ...wrap };
}

/** Answers, consults args.doel (second call), then completes the transfer (or cancels with args.afbreken). */
async function consult(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord', 'doel');
  const b = await browser(args, args.mic_hz || 600);
  const page = b.page;
  await loggedIn(b, args);
  await goAvailable(page);
  const { call } = await answerIncoming(page, args);
  const toon = await measure(page, args, args.hz);
  const sel = await callNode(page, call);
  await page.fill(`${sel} .doorverbind-nummer`, String(args.doel));
  await page.click(`${sel} .knop-rugg`);
  const s = await waitState(page, { call: 'verbonden', consult: true, media: 'connected' }, args.timeout_ms || 30000);
  const second = s.gesprekken.find((g) => g.consultOf).call;
  const toonDoel = await measure(page, args, args.hz_doel, second);
  if (args.afbreken) {
    await page.click(`${sel} .knop-rugg-stop`);
    await waitState(page, { gesprekken: 1 }, 10000);
    await waitState(page, { call: 'verbonden' }, 10000);
    const wrap = await hangupAndWrap(page, call, args);
    await noErrors(page, 'de ruggespraak');
    return { call, ruggespraak: second, afgebroken: true, toon, toon_doel: toonDoel, ...wrap };
  }
  await page.click(`${sel} .knop-rugg-klaar`);
  await waitState(page, { gesprekken: 0 }, 15000);
  await noErrors(page, 'de ruggespraak');
  const wrap = await wrapUp(page, args);
  return { call, ruggespraak: second, afgebroken: false, toon, toon_doel: toonDoel, ...wrap };
}

/** Two browsers (own profile and microphone tone each): A dials B's extension, both hear the other. */
async function twoBrowsers(args) {
  need(args, 'base', 'organisatie', 'a', 'b');
  const hzA = args.hz_a || 600, hzB = args.hz_b || 800;
  const A = await browser(args, hzA);
  const B = await browser(args, hzB);
  await loggedIn(A, args, args.a);
  await loggedIn(B, args, args.b);
  // Calls ring only for an agent who is beschikbaar.
  await goAvailable(B.page);
  const sB = await pbxState(B.page);
  const nummer = String(args.nummer || sB.toestel || '');
  if (!nummer) throw new Fout('toestel van B onbekend; geef "nummer" mee');
  await A.page.fill('#bel-nummer', nummer);
  await A.page.press('#bel-nummer', 'Enter');
  const { call: callB } = await answerIncoming(B.page, args);
  const sA = await waitState(A.page, { call: 'verbonden', media: 'connected' }, 15000);
  const callA = sA.gesprekken[0].call;
  const toonBijB = await measure(B.page, args, hzA);
  const toonBijA = await measure(A.page, args, hzB);
  await A.page.click(`#lopend [data-call="${callA}"] .knop-ophangen`);
  await waitState(A.page, { gesprekken: 0 }, 10000);
  await waitState(B.page, { gesprekken: 0 }, 10000);
  await noErrors(A.page, 'het gesprek (A)');
  await noErrors(B.page, 'het gesprek (B)');
  const wrapA = await wrapUp(A.page, args);
  const wrapB = await wrapUp(B.page, args);
  return { nummer, call_a: callA, call_b: callB, toon_bij_b: toonBijB, toon_bij_a: toonBijA, afronden_a: wrapA.afronden, afronden_b: wrapB.afronden };
}

/** The WebSocket must refuse an upgrade without (valid) session or with a foreign Origin. */
async function wsSecurity(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord');
  const cookie = await apiLogin(args.base, args.organisatie, args.gebruiker, args.wachtwoord, args.totp);
  const vreemd = args.origin_fout || 'https://kwaadwillend.example';
  const checks = [
    { naam: 'zonder cookie', opts: { cookie: null }, verwacht: [401] },
    { naam: 'onbekende sessie', opts: { cookie: 'pbx_sessie=' + 'x'.repeat(43) }, verwacht: [401] },
    { naam: 'vreemde Origin', opts: { cookie, origin: vreemd }, verwacht: [403] },
    { naam: 'Origin van een andere poort', opts: { cookie, origin: otherPort(args.base) }, verwacht: [403] },
    { naam: 'zonder Origin', opts: { cookie, origin: null }, verwacht: [401, 403] },
    { naam: 'vreemde Origin zonder cookie', opts: { cookie: null, origin: vreemd }, verwacht: [401, 403] },
    { naam: 'geldig (controle)', opts: { cookie }, verwacht: [101] },
  ];
  const uit = [];
  for (const c of checks) {
    const r = await wsOpen(args.base, c.opts);
    let welcome = null;
    if (r.ws) {
      try { welcome = (await r.ws.next((m) => m.type === 'welcome', 5000)).type; } catch { welcome = null; }
      r.ws.close();
    }
    uit.push({ naam: c.naam, verwacht: c.verwacht, kreeg: r.status, welcome });
    if (!c.verwacht.includes(r.status)) throw new Fout(`WebSocket ${c.naam}: verwacht HTTP ${c.verwacht.join(' of ')}, kreeg ${r.status}`, { checks: uit });
    if (r.status === 101 && !welcome) throw new Fout(`WebSocket ${c.naam}: geen welcome ontvangen`, { checks: uit });
  }
  return { checks: uit };
}

function otherPort(base) {
  const u = new URL(base);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return `${u.protocol}//${u.hostname}:${port === 65535 ? port - 1 : port + 1}`;
}

/** Garbage over /ws: every message gets `error` (code ongeldig), the socket stays open; > 64 KiB closes with 1009. */
async function malformed(args) {
  need(args, 'base', 'organisatie', 'gebruiker', 'wachtwoord');
  const cookie = await apiLogin(args.base, args.organisatie, args.gebruiker, args.wachtwoord, args.totp);
  const r = await wsOpen(args.base, { cookie, origin: originOf(args.base) });
  if (!r.ws) throw new Fout(`WebSocket-upgrade geweigerd (HTTP ${r.status})`);
  const ws = r.ws;
  await ws.next((m) => m.type === 'welcome', 5000);
  const rommel = [
    { tekst: 'dit is geen json' },
    { tekst: '{"v":1,"type":' },
    { tekst: '[1,2,3]' },
    { tekst: '"alleen tekst"' },
    { tekst: 'null' },
    { tekst: '{}' },
    { tekst: '{"v":1}' },
    { id: 'm1', tekst: '{"v":1,"type":"call:dail","id":"m1"}' },
    { id: 'm2', tekst: '{"v":2,"type":"history:list","id":"m2"}' },
    { id: 'm3', tekst: '{"v":1,"type":42,"id":"m3"}' },
    { id: 'm4', tekst: '{"v":1,"type":"call:hangup","id":"m4"}' },
    { id: 'm5', tekst: '{"v":1,"type":"call:dtmf","id":"m5","call":"bestaat-niet","digits":"Z!"}' },
    { id: 'm6', tekst: '{"v":1,"type":"agent:status","id":"m6","status":"op_vakantie"}' },
    { id: 'm7', tekst: '{"v":1,"type":"call:dial","id":"m7","nummer":"201","sdp":12}' },
    { id: 'm8', tekst: '{"v":1,"type":"contacts:search","id":"m8","q":{"$ne":null}}' },
    { id: 'm9', tekst: JSON.stringify({ v: 1, type: 'history:list', id: 'm9', limit: -1e308 }) },
    { id: 'm10', tekst: '{"v":1,"type":"call:notes","id":"m10","call":"\\u0000","notes":"\\ud800"}' },
    { id: 'm11', tekst: '{"v":1,"type":"call:answer","id":"m11","call":"c-bestaat-niet","sdp":"v=0\\r\\nonzin"}' },
  ];
  if (args.binair) rommel.push({ binair: true });
  const antwoorden = [];
  for (const m of rommel) {
    if (m.binair) ws.sendBinary(Buffer.from([0, 1, 2, 3, 255]));
    else ws.send(m.tekst);
    let e;
    const wat = m.binair ? 'een binair bericht' : m.tekst.slice(0, 60);
    try {
      // The answer carrying the id, or an error without `re` (a server that could not read the id).
      e = await ws.next((x) => (m.id && x.re === m.id) || (x.type === 'error' && (x.re === undefined || x.re === null)), args.wacht_ms || 3000);
    } catch (err) {
      throw new Fout(`geen 'error' op ${wat}: ${err.message}`, { antwoorden });
    }
    antwoorden.push({ bericht: m.binair ? '<binair>' : m.tekst.slice(0, 60), type: e.type, code: e.code, message: e.message });
    if (e.type !== 'error') throw new Fout(`verwacht 'error' op ${wat}, kreeg '${e.type}'`, { antwoorden });
    if (typeof e.message !== 'string' || !e.message) throw new Fout(`error zonder Nederlandse 'message' op ${m.tekst}`, { antwoorden });
    if (!m.id && e.code !== 'ongeldig') throw new Fout(`verwacht code 'ongeldig' op ${m.tekst}, kreeg '${e.code}'`, { antwoorden });
  }
  // Still open and working?
  ws.send({ v: 1, type: 'history:list', id: 'nog-open', limit: 1 });
  const ok = await ws.next((x) => x.re === 'nog-open', 5000).catch(() => null);
  if (!ok) throw new Fout('de verbinding werkt niet meer na de misvormde berichten', { antwoorden, sluitcode: ws.closeCode });
  let sluitcode = null;
  if (args.groot !== false) {
    ws.send(JSON.stringify({ v: 1, type: 'call:notes', id: 'groot', call: 'x', notes: 'a'.repeat(70 * 1024) }));
    const code = await Promise.race([ws.closed, new Promise((r) => setTimeout(() => r(null), 5000))]);
    sluitcode = code;
    if (code !== 1009) throw new Fout(`een bericht > 64 KiB moet de verbinding sluiten met 1009, kreeg ${code === null ? 'geen sluiting' : code}`, { antwoorden });
  } else {
    ws.close();
  }
  return { antwoorden, open_na_rommel: true, sluitcode };
}

/**
 * JsSIP (npm) in Chromium registers over wss and calls (`richting: "bellen"`, `nummer`) or takes
 * a call (`richting: "opnemen"`). Checks the far side's tone; when calling, holds and resumes
 * with JsSIP's own re-INVITEs and hangs up; when called, stays until the far side hangs up and
 * counts the re-INVITEs it got.
 */
async function jssip(args) {
  need(args, 'wss', 'domein', 'gebruiker', 'wachtwoord', 'richting');
  const site = await servePage();
  try {
    const b = await browser(args, args.mic_hz || 600);
    const page = b.page;
    await page.goto(site.base + (args.debug ? '/#debug' : '/'));
    const reg = await register(page, args);
    if (!reg.ok) throw new Fout(`JsSIP registreert niet: ${reg.reden}`);
    const result = { geregistreerd: true, stappen: {} };
    const t0 = Date.now();
    const step = (name) => { result.stappen[name] = Date.now() - t0; };
    step('geregistreerd');
    if (args.richting === 'bellen') {
      need(args, 'nummer');
      await page.evaluate(([target, opts]) => { window.ua.call(target, opts); }, [`sip:${args.nummer}@${args.domein}`, OPTIONS]);
      await waitFor(page, () => window.t.events.includes('confirmed'), 'het gesprek (confirmed)');
      step('verbonden');
      await waitFor(page, () => window.t.meter !== null, 'spraak van de andere kant');
      result.toon = await jssipTone(page, args.hz);
      step('toon');
      if (args.wacht) {
        await page.evaluate(() => window.t.session.hold());
        await waitFor(page, () => window.t.held === 1 && window.t.session.isOnHold().local, 'in de wacht');
        await page.waitForTimeout(1000);
        await page.evaluate(() => window.t.session.unhold());
        await waitFor(page, () => window.t.unheld === 1 && !window.t.session.isOnHold().local, 'uit de wacht');
        result.toon_na_wacht = await jssipTone(page, args.hz);
        step('wacht');
      }
      await page.waitForTimeout(args.praat_ms || 1000);
      await page.evaluate(() => window.t.session.terminate());
      await waitFor(page, () => window.t.events.some((e) => e.startsWith('ended')), 'ophangen', 5000);
    } else {
      await waitFor(page, () => window.t.inkomend === 1, 'het inkomende gesprek', args.timeout_ms || 30000);
      // pbxd's INVITE carries the offer of its bridge: JsSIP answers it like any offer.
      await page.evaluate((opts) => window.t.session.answer(opts), OPTIONS);
      await waitFor(page, () => window.t.events.includes('confirmed'), 'het gesprek (confirmed)');
      step('verbonden');
      await waitFor(page, () => window.t.meter !== null, 'spraak van de andere kant');
      result.toon = await jssipTone(page, args.hz);
      step('toon');
      await waitFor(page, () => window.t.events.some((e) => e.startsWith('ended') || e.startsWith('failed')), 'ophangen door de andere kant', 30000);
      result.toon_na_wacht = null;
    }
    step('einde');
    const t = await page.evaluate(() => ({ events: window.t.events, reinvites: window.t.reinvites }));
    result.events = t.events;
    result.reinvites = t.reinvites;
    const min = args.min_ratio ?? 0.3;
    for (const k of ['toon', 'toon_na_wacht']) {
      if (result[k] && result[k].ratio < min) {
        throw new Fout(`toon van ${args.hz} Hz komt niet aan bij JsSIP (${k}: aandeel ${result[k].ratio}, sterkste ${result[k].dominant} Hz)`, result);
      }
    }
    await page.evaluate(() => new Promise((ok) => {
      window.ua.on('unregistered', ok);
      window.ua.unregister();
      setTimeout(ok, 3000);
    }));
    await page.evaluate(() => window.ua.stop());
    return result;
  } finally {
    await site.close();
  }
}

// ------------------------------------------------------------------ main

async function main() {
  const [scenario, raw] = process.argv.slice(2);
  const fn = SCENARIOS[scenario];
  if (!fn) {
    finish(64, { ok: false, scenario: scenario || null, reden: `onbekend scenario; kies uit: ${Object.keys(SCENARIOS).join(', ')}` });
    return;
  }
  let args;
  try { args = JSON.parse(raw || '{}'); } catch (e) {
    finish(64, { ok: false, scenario, reden: `argumenten zijn geen geldige JSON: ${e.message}` });
    return;
  }
  const t0 = Date.now();
  const limit = args.limiet_ms || 120000;
  let timer;
  try {
    const result = await Promise.race([
      fn(args),
      new Promise((_, rej) => { timer = setTimeout(() => rej(new Fout(`scenario duurde langer dan ${limit} ms`)), limit); }),
    ]);
    clearTimeout(timer);
    if (args.shots && args.shots_altijd) await screenshots(args.shots, pagesOf(), 'klaar');
    await closeAll();
    finish(0, { ok: true, scenario, duur_ms: Date.now() - t0, ...result });
  } catch (err) {
    clearTimeout(timer);
    const shots = await screenshots(args.shots, pagesOf(), scenario).catch(() => []);
    const consoleTail = open.flatMap((b) => b.console.slice(-(args.console_regels || 15)));
    await closeAll();
    const code = err instanceof Fout && err.details.code ? err.details.code : 1;
    const reden = err instanceof Fout ? err.reden : `onverwachte fout: ${err && err.message ? err.message.split('\n')[0] : String(err)}`;
    finish(code, { ok: false, scenario, duur_ms: Date.now() - t0, reden, details: err instanceof Fout ? err.details : undefined, screenshots: shots, console: consoleTail });
  }
}

function pagesOf() {
  const pages = {};
  open.forEach((b, i) => { pages[String.fromCharCode(97 + i)] = b.page; });
  return pages;
}

async function closeAll() {
  for (const b of open.splice(0)) await b.close();
}

function finish(code, obj) {
  if (code !== 0) process.stderr.write(`mislukt: ${obj.reden}\n`);
  // Exit explicitly: a raw socket or browser left over must not keep the process alive.
  process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(code));
}

main();
