// Read-only level meter on a remote WebRTC stream, used by the test hook (`window.__pbx.audio`).
// Keeps the last second of audio in a ring buffer and answers Goertzel questions about it.

export class Meter {
  constructor(ctx, stream) {
    this.ctx = ctx;
    this.rate = ctx.sampleRate;
    this.buf = new Float32Array(Math.round(this.rate));
    this.pos = 0;
    this.filled = 0;
    this.src = ctx.createMediaStreamSource(stream);
    this.mute = ctx.createGain();
    this.mute.gain.value = 0; // the meter itself must not be heard
    if (typeof ctx.createScriptProcessor === 'function') {
      this.node = ctx.createScriptProcessor(2048, 1, 1);
      this.node.onaudioprocess = (ev) => this.push(ev.inputBuffer.getChannelData(0));
    } else {
      // Fallback: a large analyser window read on demand.
      this.node = ctx.createAnalyser();
      this.node.fftSize = 32768;
    }
    this.src.connect(this.node);
    this.node.connect(this.mute);
    this.mute.connect(ctx.destination);
  }

  push(data) {
    const n = this.buf.length;
    for (let i = 0; i < data.length; i++) {
      this.buf[this.pos] = data[i];
      this.pos = (this.pos + 1) % n;
    }
    this.filled = Math.min(n, this.filled + data.length);
  }

  /** The most recent `count` samples (at most one second), oldest first. */
  samples(count = this.buf.length) {
    if (this.node instanceof AnalyserNode) {
      const a = new Float32Array(this.node.fftSize);
      this.node.getFloatTimeDomainData(a);
      return a.subarray(Math.max(0, a.length - count));
    }
    const n = Math.min(count, this.filled);
    const out = new Float32Array(n);
    const len = this.buf.length;
    let start = (this.pos - n + len) % len;
    for (let i = 0; i < n; i++) out[i] = this.buf[(start + i) % len];
    return out;
  }

  static goertzel(x, rate, hz) {
    const w = (2 * Math.PI * hz) / rate;
    const coeff = 2 * Math.cos(w);
    let s1 = 0, s2 = 0;
    for (let i = 0; i < x.length; i++) {
      const s0 = x[i] + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2; // |X(hz)|^2
  }

  /**
   * Tone at `hz` over the last second: `amplitude` of the sinusoid (0..1 full scale), `db`
   * (dBFS of that sinusoid) and `ratio`, the share of the total signal power at that frequency
   * (close to 1 for a clean tone, close to 0 when the tone is absent).
   */
  power(hz) {
    const x = this.samples();
    const n = x.length;
    if (n < 256) return { hz, amplitude: 0, db: -Infinity, ratio: 0, samples: n };
    let total = 0;
    for (let i = 0; i < n; i++) total += x[i] * x[i];
    const meanPower = total / n;
    const mag2 = Meter.goertzel(x, this.rate, hz);
    const amplitude = (2 * Math.sqrt(mag2)) / n;
    const tonePower = (amplitude * amplitude) / 2;
    return {
      hz,
      amplitude,
      db: amplitude > 0 ? 20 * Math.log10(amplitude) : -Infinity,
      ratio: meanPower > 1e-12 ? Math.min(1, tonePower / meanPower) : 0,
      samples: n,
    };
  }

  /** Strongest frequency between 100 and 4000 Hz (10 Hz steps, then refined to 1 Hz). */
  dominant() {
    const x = this.samples(Math.round(this.rate / 4));
    if (x.length < 256) return null;
    let best = 0, bestHz = 0;
    for (let hz = 100; hz <= 4000; hz += 10) {
      const p = Meter.goertzel(x, this.rate, hz);
      if (p > best) { best = p; bestHz = hz; }
    }
    const full = this.samples();
    const centre = bestHz;
    best = -1;
    for (let hz = Math.max(20, centre - 10); hz <= centre + 10; hz++) {
      const p = Meter.goertzel(full, this.rate, hz);
      if (p > best) { best = p; bestHz = hz; }
    }
    return this.power(bestHz);
  }

  rms() {
    const x = this.samples();
    if (!x.length) return 0;
    let t = 0;
    for (let i = 0; i < x.length; i++) t += x[i] * x[i];
    return Math.sqrt(t / x.length);
  }

  close() {
    try { this.src.disconnect(); } catch { /* gone */ }
    try { this.node.disconnect(); } catch { /* gone */ }
    try { this.mute.disconnect(); } catch { /* gone */ }
    if (this.node.onaudioprocess) this.node.onaudioprocess = null;
  }
}
