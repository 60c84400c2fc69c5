//! Two real baresip phones (Debian package `baresip`, 1.0.x) register with pbxd and call each
//! other through the B2BUA and the RTP relay, with audio from WAV files: 1001 sends a 697 Hz
//! tone, 1002 a 1000 Hz tone. Each phone records what it decodes (baresip's `sndfile` filter),
//! and a Goertzel filter checks that each side heard the other's tone and not its own. The CDR
//! must say the call was answered.
//!
//! baresip setup, per phone a config folder (`-f`):
//! - `sip_listen 127.0.0.1:<free port>`; baresip also opens TCP on that port and TLS on the next
//!   one, so both must be free.
//! - the account routes everything to pbxd with `outbound="sip:127.0.0.1:<pbx port>"`: the
//!   tenant's domain does not resolve; `dns_server` points at a dead loopback port so no query
//!   leaves the machine.
//! - audio: source `aufile` (the WAV, 8 kHz mono S16 as G.711 needs), player `aubridge` (needs
//!   no sound card; it pulls the decoded audio, which is what drives the decoder), filter
//!   `sndfile` writes `dump-<time>-dec.wav` (decoded, received audio) into `snd_path`.
//! - only the `g711` codec, so the tone survives; the account offers PCMU.
//! - commands (`/dial`, `/hangup`, `/quit`) go to the `stdio` module over a pipe; the callee has
//!   `answermode=auto`.
//!
//! baresip 1.0 links libre 1.1, whose digest code gives up (ENOSYS, "Function not implemented")
//! on any challenge that is not MD5, even when an MD5 challenge comes first: pbxd is set to offer
//! MD5 only here.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DOMAIN: &str = "acme.example";
/// Sample rate of the WAV files: G.711's own, so baresip does not resample.
const RATE: u32 = 8000;
/// The tone 1001 sends.
const TONE_A: f64 = 697.0;
/// The tone 1002 sends.
const TONE_B: f64 = 1000.0;
/// Peak amplitude of the generated tones (about -8.7 dBFS).
const AMPLITUDE: f64 = 12_000.0;
/// How long the call lasts once both sides say it is established.
const TALK: Duration = Duration::from_secs(3);
/// How long to wait for one step (registration, call set-up, hang-up, exit).
const STEP: Duration = Duration::from_secs(10);

// ---- WAV -----------------------------------------------------------------------------------------

/// A mono 16-bit PCM WAV file with a sine tone.
fn write_tone_wav(path: &Path, freq: f64, secs: u32) {
    let n = RATE * secs;
    let mut data = Vec::with_capacity(n as usize * 2);
    for i in 0..n {
        let t = f64::from(i) / f64::from(RATE);
        let v = (AMPLITUDE * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16;
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The samples and sample rate of a mono 16-bit PCM WAV file (chunks walked, so extra chunks
/// that libsndfile may write are skipped).
fn read_wav(path: &Path) -> Result<(u32, Vec<i16>), String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(format!("{}: not a RIFF/WAVE file", path.display()));
    }
    let mut pos = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let size = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
        let body = &b[pos + 8..(pos + 8 + size).min(b.len())];
        if id == b"fmt " && body.len() >= 16 {
            let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            fmt = Some((u16_at(0), u16_at(2), rate, u16_at(14)));
        } else if id == b"data" {
            let (format, channels, rate, bits) =
                fmt.ok_or_else(|| format!("{}: data before fmt", path.display()))?;
            if format != 1 || channels != 1 || bits != 16 {
                return Err(format!(
                    "{}: expected mono 16-bit PCM, got format {format}, {channels} channels, {bits} bits",
                    path.display()
                ));
            }
            let samples = body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            return Ok((rate, samples));
        }
        pos += 8 + size + (size & 1);
    }
    Err(format!("{}: no data chunk", path.display()))
}

/// Amplitude of the `freq` component of `x` (Goertzel): a full-scale sine of amplitude A over
/// the whole signal gives about A.
fn tone_amplitude(x: &[i16], freq: f64, rate: u32) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

// ---- baresip -------------------------------------------------------------------------------------

/// A local SIP port for baresip: it binds UDP and TCP on the port and TLS (TCP) on the next one.
fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let p = free_udp_port();
        let Some(next) = p.checked_add(1) else {
            continue;
        };
        let free = std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", next)).is_ok();
        if free {
            return p;
        }
    }
    panic!("no free port pair for baresip's SIP listeners");
}

/// One baresip process with its config folder; killed when dropped.
struct Baresip {
    name: String,
    dir: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Baresip {
    /// Writes `config`, `accounts` and `contacts` into `dir` and starts `baresip -f dir`.
    fn start(name: &str, dir: &Path, pbx_port: u16, account: &str, wav: &Path) -> Baresip {
        assert!(
            Command::new("baresip")
                .arg("-h")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok(),
            "baresip ontbreekt: installeer het Debian-pakket baresip (scripts/test.sh doet dat)"
        );
        let rec = dir.join("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let config = format!(
            "# baresip config generated by tests/tests/sip_baresip.rs ({name})
poll_method epoll
sip_listen 127.0.0.1:{sip}
net_interface 127.0.0.1
dns_server 127.0.0.1:{dns}
call_local_timeout 30
call_max_calls 1
audio_source aufile,{wav}
audio_player aubridge,{name}
audio_alert aubridge,{name}
ausrc_format s16
auplay_format s16
auenc_format s16
audec_format s16
audio_level no
rtp_ports 30000-39999
rtcp_mux no
jitter_buffer_delay 1-10
rtp_stats no
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {rec}
",
            sip = free_sip_port(),
            dns = free_udp_port(),
            wav = wav.display(),
            rec = rec.display(),
        );
        std::fs::write(dir.join("config"), config).unwrap();
        let accounts = format!(
            "{account};outbound=\"sip:127.0.0.1:{pbx_port}\";regint=300;audio_codecs=PCMU\n"
        );
        std::fs::write(dir.join("accounts"), accounts).unwrap();
        std::fs::write(dir.join("contacts"), "").unwrap();

        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            .arg("-s") // SIP trace in the log, for failure messages
            .current_dir(dir)
            .env_remove("LANG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start baresip ({name}): {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Baresip {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            stdin: child.stdin.take(),
            child: Some(child),
            out,
        }
    }

    /// Types a command (`/dial …`, `/hangup`, `/quit`) into the stdio module.
    fn send(&mut self, cmd: &str) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = s.write_all(format!("{cmd}\n").as_bytes());
            let _ = s.flush();
        }
    }

    /// Everything baresip wrote so far, without the status line it redraws with `\r` and the
    /// echo of typed keys: only the last `\r`-separated part of each line is kept.
    fn log(&self) -> String {
        let raw = strip_ansi(&String::from_utf8_lossy(&self.out.lock().unwrap()));
        let mut s = String::new();
        for line in raw.lines() {
            let last = line
                .split('\r')
                .rev()
                .find(|p| !p.trim().is_empty())
                .unwrap_or("");
            if !last.trim_start().starts_with("[0:") {
                s.push_str(last);
                s.push('\n');
            }
        }
        s
    }

    /// Waits until the log contains `needle`.
    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if String::from_utf8_lossy(&self.out.lock().unwrap()).contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `/quit` and waits for the exit; kills baresip when it does not go.
    fn quit(&mut self) {
        self.send("/quit");
        let deadline = Instant::now() + STEP;
        if let Some(c) = self.child.as_mut() {
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }

    fn kill(&mut self) {
        self.stdin = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The recording of decoded (received) audio that the sndfile filter wrote.
    fn received_wav(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.join("rec"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with("-dec.wav"))
            })
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The text without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Everything needed to see why the test failed: both phones' logs, pbxd's log and, when the
/// call got that far, pbxd's SIP trace of the call.
fn context(pbx: &Pbx, phones: &[&Baresip]) -> String {
    let mut s = String::new();
    for p in phones {
        let log = p.log();
        if log.contains("Function not implemented") {
            s.push_str(&format!(
                "\nhint: baresip {} says ENOSYS: its libre answers only MD5 digest challenges and \
                 gives up on any other one; pbxd must offer [sip] digest = [\"MD5\"]",
                p.name
            ));
        }
        s.push_str(&format!("\n===== baresip {} =====\n{log}", p.name));
    }
    s.push_str(&format!("\n===== pbxd log =====\n{}", pbx.log_text()));
    let calls = pbx.ctl(&["cdr", "list", "--json"]);
    if let Ok(serde_json::Value::Array(list)) = serde_json::from_str(&calls.stdout) {
        for c in list {
            if let Some(id) = c["call_id"].as_str() {
                s.push_str(&format!(
                    "\n===== pbxctl trace {id} =====\n{}",
                    pbx.ctl(&["trace", id]).all()
                ));
            }
        }
    }
    s
}

/// The pbxd RTP relay's default port range.
const RELAY_PORTS: std::ops::RangeInclusive<u16> = 10_000..=19_999;

/// The port baresip says its RTP comes from (`receiving from 127.0.0.1:PORT`).
fn rtp_source_port(log: &str) -> Option<u16> {
    let rest = log.split("receiving from ").nth(1)?;
    let addr = rest.split_whitespace().next()?;
    addr.rsplit(':').next()?.parse().ok()
}

#[test]
fn two_baresip_phones_hear_each_other_through_the_relay() {
    let pbx = Pbx::start(Opts {
        // libre 1.1 (baresip 1.0) fails on a SHA-256 challenge even next to an MD5 one.
        extra_toml: "[sip]\ndigest = [\"MD5\"]\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", DOMAIN]).ok();
    let pw_a = pbx.ctl_json(&["extension", "add", "acme", "1001", "--name", "Jan"])["password"]
        .as_str()
        .unwrap()
        .to_string();
    let pw_b = pbx.ctl_json(&["extension", "add", "acme", "1002", "--name", "Piet"])["password"]
        .as_str()
        .unwrap()
        .to_string();

    let wav_a = pbx.root.join("tone-a.wav");
    let wav_b = pbx.root.join("tone-b.wav");
    write_tone_wav(&wav_a, TONE_A, 20);
    write_tone_wav(&wav_b, TONE_B, 20);

    let mut b = Baresip::start(
        "1002",
        &pbx.root.join("baresip-b"),
        pbx.sip_port,
        &format!("<sip:1002@{DOMAIN};transport=udp>;auth_pass={pw_b};answermode=auto"),
        &wav_b,
    );
    let mut a = Baresip::start(
        "1001",
        &pbx.root.join("baresip-a"),
        pbx.sip_port,
        &format!("<sip:1001@{DOMAIN};transport=udp>;auth_pass={pw_a};answermode=manual"),
        &wav_a,
    );

    // Both registered, as pbxd sees it.
    let deadline = Instant::now() + STEP;
    loop {
        let regs = pbx.ctl_json(&["registrations", "--tenant", "acme"]);
        let mut exts = strings(&regs, "extension");
        exts.sort();
        if exts == ["1001", "1002"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both baresips must register within {STEP:?}; registrations: {regs}{}",
            context(&pbx, &[&a, &b])
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    a.send(&format!("/dial sip:1002@{DOMAIN}"));
    for p in [&a, &b] {
        assert!(
            p.wait_for("Call established", STEP),
            "baresip {} did not get an established call within {STEP:?}{}",
            p.name,
            context(&pbx, &[&a, &b])
        );
    }
    std::thread::sleep(TALK);
    a.send("/hangup");
    for p in [&a, &b] {
        assert!(
            p.wait_for("terminated", STEP),
            "baresip {} did not end the call within {STEP:?}{}",
            p.name,
            context(&pbx, &[&a, &b])
        );
    }
    a.quit();
    b.quit();

    // RTP came from pbxd's relay, not from the other phone.
    for p in [&a, &b] {
        let port = rtp_source_port(&p.log());
        assert!(
            port.is_some_and(|x| RELAY_PORTS.contains(&x)),
            "baresip {} must receive RTP from pbxd's relay ({RELAY_PORTS:?}), got {port:?}{}",
            p.name,
            context(&pbx, &[&a, &b])
        );
    }

    // Each side heard the other's tone, and not its own.
    for (p, hear, own) in [(&a, TONE_B, TONE_A), (&b, TONE_A, TONE_B)] {
        let wav = p.received_wav().unwrap_or_else(|| {
            panic!(
                "baresip {} wrote no *-dec.wav recording{}",
                p.name,
                context(&pbx, &[&a, &b])
            )
        });
        let (rate, samples) = read_wav(&wav).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rate, RATE, "{}: sample rate", wav.display());
        let secs = samples.len() as f64 / f64::from(rate);
        let heard = tone_amplitude(&samples, hear, rate);
        let echo = tone_amplitude(&samples, own, rate);
        let summary = format!(
            "baresip {}: {secs:.2} s received, {hear} Hz amplitude {heard:.0}, {own} Hz amplitude \
             {echo:.0} (sent with amplitude {AMPLITUDE})",
            p.name
        );
        eprintln!("{summary}");
        assert!(
            secs >= 1.5,
            "{summary}: too little audio{}",
            context(&pbx, &[&a, &b])
        );
        assert!(
            heard >= AMPLITUDE / 3.0,
            "{summary}: the other side's tone is missing or too weak{}",
            context(&pbx, &[&a, &b])
        );
        assert!(
            echo < heard / 20.0,
            "{summary}: its own tone came back{}",
            context(&pbx, &[&a, &b])
        );
    }

    // The CDR: answered, 1001 → 1002, hung up by the caller, PCMU both ways through the relay.
    let mut list = pbx.ctl_json(&["cdr", "list"]);
    for _ in 0..50 {
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        list = pbx.ctl_json(&["cdr", "list"]);
    }
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let cdr = &list[0];
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(cdr["caller"]["number"], "1001", "{cdr}");
    assert_eq!(cdr["callee"]["number"], "1002", "{cdr}");
    assert_eq!(cdr["hangup_by"], "beller", "{cdr}");
    assert_eq!(cdr["codecs"][0], "PCMU", "{cdr}");
    let packets = |leg: &str| {
        cdr["legs"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["leg"] == leg))
            .and_then(|x| x["packets"].as_u64())
            .unwrap_or(0)
    };
    // 3 s of 20 ms packets is 150; allow for set-up.
    assert!(packets("a") >= 75, "1001 sent too little RTP: {cdr}");
    assert!(packets("b") >= 75, "1002 sent too little RTP: {cdr}");
    let billsec = cdr["end_ms"].as_u64().unwrap() - cdr["answer_ms"].as_u64().unwrap();
    assert!(billsec >= 2_500, "{cdr}");
}
