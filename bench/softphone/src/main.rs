//! Load of browser (WebRTC) legs against a real pbxd, as the softphone page does it.
//!
//! For every pair of users A and B: both log in (`POST /api/login`, cookie `pbx_sessie`) and open
//! `/ws`; B sends `agent:login` (its phone in pbxd registers); then, paced, A sends `call:dial`
//! to B's extension with the offer of a `pbx_webrtc::Client` (ICE, DTLS-SRTP like Chrome), B gets
//! `call:incoming` and answers with its own offer, and both clients stream 20 ms frames (50
//! packets/s) for the duration. Every browser leg is a WebRTC bridge in pbxd, and pbxd's relay
//! sits between the two bridges' plain sides (the call is a SIP call between two internal
//! phones).
//!
//! Measures per pair the setup time (A's `call:dial` sent -> first media packet at both
//! clients, the later of the two), p50/p99 over the pairs, the legs that came up, packet loss
//! over the steady phase (received by each client against sent by its peer), the CPU of this
//! process and (with `--pid`) of pbxd over the steady phase, and pbxd's RSS. Prints one
//! Markdown table (or only its row with `--row`).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, ValueEnum};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use pbx_webrtc::audio::{self, tone, OpusEncoder};
use pbx_webrtc::{Client, Codec};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CodecArg {
    /// The clients offer PCMU only: no transcoding in the bridges.
    Pcmu,
    /// The clients offer Opus only: the bridges transcode Opus <-> G.711.
    Opus,
}

/// Browser legs (WebRTC) against a real pbxd.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// pbxd's [http] address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Organisation (tenant slug).
    #[arg(long)]
    org: String,
    /// Users as user:extension, comma separated; without it the pattern below.
    #[arg(long, value_delimiter = ',')]
    users: Vec<String>,
    /// Username pattern; `{i}` is 0, 1, 2, …; user i owns extension ext_base + i.
    #[arg(long, default_value = "agent{i}")]
    pattern: String,
    /// First extension of the pattern.
    #[arg(long, default_value_t = 2000)]
    ext_base: u32,
    /// Password of all users.
    #[arg(long, env = "BENCH_PASSWORD")]
    password: String,
    /// Pairs (two browser legs each).
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Setup pace in browser legs per second (a pair is two legs).
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds of the measured steady phase (all calls up, audio both ways).
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Codec the clients offer.
    #[arg(long, value_enum, default_value = "pcmu")]
    codec: CodecArg,
    /// pbxd's process id: its CPU and RSS are measured too.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds to wait after the agents' `agent:login` (their phones register).
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Seconds a pair may take from `call:dial` to media at both ends.
    #[arg(long, default_value_t = 20)]
    setup_timeout: u64,
    /// Logins at the same time (each costs an argon2 check in pbxd).
    #[arg(long, default_value_t = 4)]
    login_parallel: usize,
    /// Print only the table row (for scripts that print the header once).
    #[arg(long)]
    row: bool,
}

/// CPU seconds (utime + stime) and RSS (kB) of a process from /proc.
fn proc_usage(pid: &str) -> (f64, u64) {
    let hz = 100.0; // CLK_TCK on Linux
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            Some((t(11)? + t(12)?) / hz)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    (cpu, rss)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `POST /api/login`; gives the session cookie (`pbx_sessie=…`).
async fn login(addr: SocketAddr, org: &str, user: &str, pw: &str) -> Result<String> {
    let body = json!({"organisatie": org, "gebruiker": user, "wachtwoord": pw}).to_string();
    let mut s = TcpStream::connect(addr)
        .await
        .context("verbinden voor login")?;
    let req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .map_err(|_| anyhow!("login van {user}: geen antwoord binnen 30 s"))??;
    let out = String::from_utf8_lossy(&out);
    let (head, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split(' ').nth(1).unwrap_or("?");
    if status != "200" {
        bail!("login van {user}: HTTP {status} {}", rest.trim());
    }
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|l| l.split_once(':'))
        .and_then(|(_, v)| v.trim().split(';').next())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("login van {user}: geen cookie"))
}

/// `presence` messages (and their bytes) the pages got.
static PRESENCE: AtomicU64 = AtomicU64::new(0);
static PRESENCE_BYTES: AtomicU64 = AtomicU64::new(0);

type WsSink = SplitSink<tokio_tungstenite::WebSocketStream<TcpStream>, Message>;

/// One open softphone page: the WebSocket with a reader task (so pbxd's events never back up).
struct Page {
    user: String,
    sink: WsSink,
    rx: mpsc::UnboundedReceiver<Value>,
    seen: VecDeque<Value>,
    next_id: u64,
}

impl Page {
    async fn open(addr: SocketAddr, user: &str, cookie: &str) -> Result<Page> {
        let mut req = format!("ws://{addr}/ws").into_client_request()?;
        req.headers_mut()
            .insert("Origin", format!("http://{addr}").parse()?);
        req.headers_mut().insert("Cookie", cookie.parse()?);
        let tcp = TcpStream::connect(addr).await?;
        let (ws, _) = tokio_tungstenite::client_async(req, tcp)
            .await
            .with_context(|| format!("/ws van {user}"))?;
        let (sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m {
                    // `presence` (all colleagues, after every status change of any of them) is
                    // only counted: with hundreds of agents it is most of the traffic.
                    if t.as_str().contains("\"type\":\"presence\"") {
                        PRESENCE.fetch_add(1, Ordering::Relaxed);
                        PRESENCE_BYTES.fetch_add(t.len() as u64, Ordering::Relaxed);
                        continue;
                    }
                    if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut p = Page {
            user: user.to_string(),
            sink,
            rx,
            seen: VecDeque::new(),
            next_id: 0,
        };
        p.next(|v| v["type"] == "welcome", Duration::from_secs(10))
            .await?;
        Ok(p)
    }

    /// The next message for which `want` holds (earlier ones are kept for later), within `t`.
    async fn next(&mut self, want: impl Fn(&Value) -> bool, t: Duration) -> Result<Value> {
        if let Some(i) = self.seen.iter().position(&want) {
            if let Some(v) = self.seen.remove(i) {
                return Ok(v);
            }
        }
        let deadline = tokio::time::Instant::now() + t;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Err(_) => bail!("{}: geen antwoord binnen {t:?}", self.user),
                Ok(None) => bail!("{}: WebSocket gesloten", self.user),
                Ok(Some(v)) if want(&v) => return Ok(v),
                Ok(Some(v)) => {
                    // Keep a bounded history (presence updates are many).
                    if self.seen.len() > 256 {
                        self.seen.pop_front();
                    }
                    if v["type"] != "presence" {
                        self.seen.push_back(v);
                    }
                }
            }
        }
    }

    async fn send(&mut self, mut msg: Value) -> Result<String> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        msg["v"] = json!(1);
        msg["id"] = json!(id);
        self.sink
            .send(Message::Text(msg.to_string().into()))
            .await?;
        Ok(id)
    }

    /// Sends a request and waits for its `ok` (an `error` becomes an error).
    async fn ask(&mut self, msg: Value, t: Duration) -> Result<Value> {
        let kind = msg["type"].as_str().unwrap_or("?").to_string();
        let id = self.send(msg).await?;
        let v = self.next(|v| v["re"] == id.as_str(), t).await?;
        if v["type"] != "ok" {
            bail!(
                "{} {kind}: {} {}",
                self.user,
                v["code"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            );
        }
        Ok(v)
    }

    async fn close(mut self) {
        let _ = self.sink.close().await;
    }
}

/// A call that is up: both pages, both clients.
struct Up {
    a: Page,
    b: Page,
    ca: Client,
    cb: Client,
    call: String,
    setup: Duration,
}

/// One call from A to B's extension, until media arrives at both clients.
async fn call(
    mut a: Page,
    mut b: Page,
    b_ext: String,
    codecs: &'static [Codec],
    frames: Arc<Vec<Vec<u8>>>,
    timeout: Duration,
) -> (Result<Up>, Option<(Page, Page)>) {
    let (mut ca, offer_a) = match Client::offer(LOOPBACK, codecs).await {
        Ok(x) => x,
        Err(e) => return (Err(anyhow!("client-aanbod: {e}")), Some((a, b))),
    };
    let t0 = Instant::now();
    let side_a = async {
        let ok = a
            .ask(
                json!({"type": "call:dial", "nummer": b_ext, "sdp": offer_a}),
                timeout,
            )
            .await?;
        let call = ok["call"].as_str().unwrap_or_default().to_string();
        let sdp = ok["sdp"]
            .as_str()
            .ok_or_else(|| anyhow!("{}: ok op call:dial zonder sdp", a.user))?;
        ca.accept_answer(sdp)
            .map_err(|e| anyhow!("{}: antwoord van de brug: {e}", a.user))?;
        ca.play(frames.clone());
        Ok::<String, anyhow::Error>(call)
    };
    let side_b = async {
        let inc = b.next(|v| v["type"] == "call:incoming", timeout).await?;
        let call = inc["call"].as_str().unwrap_or_default().to_string();
        let (mut cb, offer_b) = Client::offer(LOOPBACK, codecs)
            .await
            .map_err(|e| anyhow!("client-aanbod: {e}"))?;
        let ok = b
            .ask(
                json!({"type": "call:answer", "call": call, "sdp": offer_b}),
                timeout,
            )
            .await?;
        let sdp = ok["sdp"]
            .as_str()
            .ok_or_else(|| anyhow!("{}: ok op call:answer zonder sdp", b.user))?;
        cb.accept_answer(sdp)
            .map_err(|e| anyhow!("{}: antwoord van de brug: {e}", b.user))?;
        cb.play(frames.clone());
        Ok::<Client, anyhow::Error>(cb)
    };
    let (ra, rb) = tokio::join!(side_a, side_b);
    let (call, mut cb) = match (ra, rb) {
        (Ok(c), Ok(cb)) => (c, cb),
        (Err(e), _) | (_, Err(e)) => return (Err(e), Some((a, b))),
    };
    let deadline = t0 + timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    let (fa, fb) = tokio::join!(ca.recv(left()), cb.recv(left()));
    let (Some(fa), Some(fb)) = (fa, fb) else {
        let which = match (ca.received_count(), cb.received_count()) {
            (0, 0) => "bij geen van beide",
            (0, _) => "niet bij A",
            _ => "niet bij B",
        };
        let e = anyhow!(
            "geen spraak {which} binnen {timeout:?} (A verbonden: {}, B verbonden: {})",
            ca.is_connected(),
            cb.is_connected()
        );
        let _ = a
            .ask(
                json!({"type": "call:hangup", "call": call}),
                Duration::from_secs(5),
            )
            .await;
        return (Err(e), Some((a, b)));
    };
    let setup = fa.at.max(fb.at).saturating_duration_since(t0);
    (
        Ok(Up {
            a,
            b,
            ca,
            cb,
            call,
            setup,
        }),
        None,
    )
}

/// Packets of the steady phase.
#[derive(Default)]
struct Window {
    /// Audio packets the clients sent.
    sent: u64,
    /// Packets the clients received (all).
    received: u64,
    /// Distinct audio sequence numbers the clients received.
    unique: u64,
    /// A client got nothing.
    dead: bool,
}

/// Drains `c` until `w1`; gives the distinct audio sequence numbers that arrived from `w0` on.
async fn drain(c: &mut Client, w0: Instant, w1: Instant) -> u64 {
    let mut seen = HashSet::new();
    let pt = c.audio_pt();
    loop {
        let left = w1.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match c.recv(left).await {
            Some(r) if r.at >= w0 && r.at < w1 && r.pt == pt => {
                seen.insert(r.seq);
            }
            Some(_) => {}
            None => break,
        }
    }
    seen.len() as u64
}

/// 1 s of a 1 kHz tone as 20 ms frames, encoded for `codec`.
fn frames(codec: CodecArg) -> Result<Arc<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    let mut enc = match codec {
        CodecArg::Opus => Some(OpusEncoder::new(5).map_err(|e| anyhow!("opus: {e}"))?),
        CodecArg::Pcmu => None,
    };
    for f in 0..50u64 {
        let pcm = tone(1000.0, 8000, 8000.0, f * 160, 160);
        let frame = match enc.as_mut() {
            Some(e) => e.encode(&pcm).map_err(|e| anyhow!("opus: {e}"))?.to_vec(),
            None => {
                let mut b = Vec::new();
                audio::g711_encode(Codec::Pcmu, &pcm, &mut b);
                b
            }
        };
        out.push(frame);
    }
    Ok(Arc::new(out))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let users: Vec<(String, String)> = if args.users.is_empty() {
        (0..2 * args.pairs)
            .map(|i| {
                (
                    args.pattern.replace("{i}", &i.to_string()),
                    (args.ext_base + i as u32).to_string(),
                )
            })
            .collect()
    } else {
        args.users
            .iter()
            .map(|u| {
                u.split_once(':')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| anyhow!("gebruiker '{u}' is niet gebruiker:toestel"))
            })
            .collect::<Result<_>>()?
    };
    if users.len() < 2 * args.pairs {
        bail!(
            "{} paren vragen {} gebruikers, er zijn er {}",
            args.pairs,
            2 * args.pairs,
            users.len()
        );
    }
    let codecs: &'static [Codec] = match args.codec {
        CodecArg::Pcmu => &[Codec::Pcmu],
        CodecArg::Opus => &[Codec::Opus],
    };
    let frames = frames(args.codec)?;
    let me = std::process::id().to_string();
    let pid = args.pid.map(|p| p.to_string());
    let (cpu_start, rss_idle) = pid.as_deref().map(proc_usage).unwrap_or_default();

    // Preparation (not measured): log in, open the pages, agents beschikbaar.
    let t_prep = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(args.login_parallel.max(1)));
    let mut prep = Vec::new();
    for (user, _) in users.iter().take(2 * args.pairs) {
        let (sem, user, org, pw, addr) = (
            sem.clone(),
            user.clone(),
            args.org.clone(),
            args.password.clone(),
            args.http,
        );
        prep.push(tokio::spawn(async move {
            let cookie = {
                let _permit = sem.acquire().await?;
                login(addr, &org, &user, &pw).await?
            };
            Page::open(addr, &user, &cookie).await
        }));
    }
    let mut pages = Vec::new();
    for p in prep {
        pages.push(p.await.map_err(|e| anyhow!("taak: {e}"))??);
    }
    let mut pairs = Vec::new();
    let mut it = pages.into_iter();
    while let (Some(a), Some(mut b)) = (it.next(), it.next()) {
        b.ask(json!({"type": "agent:login"}), Duration::from_secs(10))
            .await?;
        pairs.push((a, b));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let (_, rss_prep) = pid.as_deref().map(proc_usage).unwrap_or_default();
    let (cpu_prep, _) = pid.as_deref().map(proc_usage).unwrap_or_default();
    let prep_wall = t_prep.elapsed().as_secs_f64();
    let (pres_n, pres_b) = (
        PRESENCE.load(Ordering::Relaxed),
        PRESENCE_BYTES.load(Ordering::Relaxed),
    );
    eprintln!(
        "voorbereiding {} benen: {:.1} s, pbxd-CPU {:.0} s, {pres_n} presence-berichten ({:.0} MB) naar de pagina's",
        2 * args.pairs,
        prep_wall,
        cpu_prep - cpu_start,
        pres_b as f64 / 1e6
    );
    if !args.row {
        eprintln!(
            "voorbereid: {} gebruikers ingelogd, {} agenten beschikbaar in {:.1} s",
            2 * args.pairs,
            pairs.len(),
            t_prep.elapsed().as_secs_f64()
        );
    }

    // Setup, paced: one pair every 2/rate seconds.
    let (cpu_p0, _) = pid.as_deref().map(proc_usage).unwrap_or_default();
    let (cpu_d0, _) = proc_usage(&me);
    let t_setup = Instant::now();
    let gap = Duration::from_secs_f64(2.0 / args.rate.max(0.01));
    let mut tasks = Vec::new();
    for (i, (a, b)) in pairs.into_iter().enumerate() {
        tokio::time::sleep_until((t_setup + gap * i as u32).into()).await;
        let b_ext = users[2 * i + 1].1.clone();
        let frames = frames.clone();
        let timeout = Duration::from_secs(args.setup_timeout);
        tasks.push(tokio::spawn(async move {
            call(a, b, b_ext, codecs, frames, timeout).await
        }));
    }
    let mut up = Vec::new();
    let mut failed = Vec::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        match t.await {
            Ok((Ok(u), _)) => up.push(u),
            Ok((Err(e), pages)) => {
                *errors.entry(format!("{e:#}")).or_default() += 1;
                if let Some(p) = pages {
                    failed.push(p);
                }
            }
            Err(e) => *errors.entry(format!("taak: {e}")).or_default() += 1,
        }
    }
    let setup_wall = t_setup.elapsed().as_secs_f64();
    let pres_setup = PRESENCE_BYTES.load(Ordering::Relaxed) - pres_b;
    let (cpu_p1, _) = pid.as_deref().map(proc_usage).unwrap_or_default();
    let (cpu_d1, _) = proc_usage(&me);
    let mut setups: Vec<Duration> = up.iter().map(|u| u.setup).collect();
    setups.sort();
    let negotiated: BTreeMap<String, usize> = up
        .iter()
        .flat_map(|u| [u.ca.codec(), u.cb.codec()])
        .fold(BTreeMap::new(), |mut m, c| {
            *m.entry(format!("{c:?}")).or_default() += 1;
            m
        });

    // Steady phase: 2 s settle, then measure. Every client is drained in its own task, which
    // counts the distinct sequence numbers that arrive in the window (a duplicated or
    // retransmitted packet counts once) against the audio packets its peer sent in it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_p2, _) = pid.as_deref().map(proc_usage).unwrap_or_default();
    let (cpu_d2, _) = proc_usage(&me);
    let w0 = Instant::now();
    let w1 = w0 + Duration::from_secs(args.secs);
    let mut drains = Vec::new();
    for mut u in up {
        drains.push(tokio::spawn(async move {
            let s0 = u.ca.sent_count() + u.cb.sent_count();
            let r0 = u.ca.received_count() + u.cb.received_count();
            let (ua, ub) = tokio::join!(drain(&mut u.ca, w0, w1), drain(&mut u.cb, w0, w1));
            let w = Window {
                sent: u.ca.sent_count() + u.cb.sent_count() - s0,
                received: u.ca.received_count() + u.cb.received_count() - r0,
                unique: ua + ub,
                dead: ua == 0 || ub == 0,
            };
            (u, w)
        }));
    }
    let mut up = Vec::new();
    let mut win = Window::default();
    let mut dead = 0;
    for d in drains {
        if let Ok((u, w)) = d.await {
            win.sent += w.sent;
            win.received += w.received;
            win.unique += w.unique;
            dead += usize::from(w.dead);
            up.push(u);
        }
    }
    let (cpu_p3, rss) = pid.as_deref().map(proc_usage).unwrap_or_default();
    let (cpu_d3, _) = proc_usage(&me);
    let wall = w0.elapsed().as_secs_f64();
    let (recv, sent) = (win.unique, win.sent);
    let extra = win.received.saturating_sub(win.unique);
    let expected = (up.len() * 2) as f64 * 50.0 * wall;
    let loss = if sent > 0 {
        (1.0 - recv as f64 / sent as f64) * 100.0
    } else {
        100.0
    };

    // Hang up everything.
    let mut hangup_errors = 0;
    for u in up.iter_mut() {
        if u.a
            .ask(
                json!({"type": "call:hangup", "call": u.call}),
                Duration::from_secs(10),
            )
            .await
            .is_err()
        {
            hangup_errors += 1;
        }
    }
    for u in up {
        u.ca.close().await;
        u.cb.close().await;
        let mut b = u.b;
        let _ = b
            .ask(json!({"type": "agent:logout"}), Duration::from_secs(5))
            .await;
        u.a.close().await;
        b.close().await;
    }
    for (a, mut b) in failed {
        let _ = b
            .ask(json!({"type": "agent:logout"}), Duration::from_secs(5))
            .await;
        a.close().await;
        b.close().await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, rss_after) = pid.as_deref().map(proc_usage).unwrap_or_default();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |c: f64, w: f64| if w > 0.0 { c / w * 100.0 } else { 0.0 };
    let n_up = setups.len();
    let pbxd_cpu = pid.as_ref().map(|_| pct(cpu_p3 - cpu_p2, wall));
    let pbxd_setup_cpu = pid.as_ref().map(|_| pct(cpu_p1 - cpu_p0, setup_wall));
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    if !args.row {
        println!("| benen | codec | op | opzet p50 | opzet p99 | verlies % | pbxd CPU % | driver CPU % | pbxd CPU % opzet | pbxd RSS MB (leeg) |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
    }
    println!(
        "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.2} | {} | {:.0} | {} | {} ({}) |",
        2 * args.pairs,
        match args.codec {
            CodecArg::Pcmu => "pcmu",
            CodecArg::Opus => "opus",
        },
        2 * n_up,
        ms(percentile(&setups, 0.5)),
        ms(percentile(&setups, 0.99)),
        loss,
        opt(pbxd_cpu),
        pct(cpu_d3 - cpu_d2, wall),
        opt(pbxd_setup_cpu),
        if pid.is_some() {
            format!("{:.0}", rss as f64 / 1024.0)
        } else {
            "-".into()
        },
        if pid.is_some() {
            format!("{:.0}", rss_idle as f64 / 1024.0)
        } else {
            "-".into()
        },
    );
    eprintln!(
        "{} benen {:?}: {} op, opzet max {:.0} ms, ontvangen {recv} verschillende / verzonden {sent} (verwacht {expected:.0}), extra (dubbel of herhaald) {extra} in {wall:.1} s, zonder spraak {dead}, opzet {setup_wall:.1} s (driver-CPU daarin {:.0} %), presence tijdens opzet {:.0} MB, codecs {negotiated:?}, ophangen mislukt {hangup_errors}; pbxd-RSS MB: voor {}, na inloggen {}, gesprekken op {}, na ophangen {}",
        2 * args.pairs,
        args.codec,
        2 * n_up,
        ms(setups.last().copied().unwrap_or_default()),
        pct(cpu_d1 - cpu_d0, setup_wall),
        pres_setup as f64 / 1e6,
        rss_idle / 1024,
        rss_prep / 1024,
        rss / 1024,
        rss_after / 1024,
    );
    for (e, n) in &errors {
        eprintln!("  fout ({n}x): {e}");
    }
    Ok(())
}
