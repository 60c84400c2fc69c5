//! rtpload: the load generator of `bench/media/relay.sh`. Sets up N calls through an RTP relay
//! (pbxd over real SIP, or rtpengine over its ng protocol, or no relay at all for the baseline),
//! streams G.711 both ways on every call and reports loss and one-way latency.
//!
//! Output for the script: lines starting with `@` (`@pid`, `@opgezet`, `@meten-start`,
//! `@meten-einde`, `@resultaat key=value …`); every other line is for people.

mod media;
mod ng;
mod sip;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, ValueEnum};
use pbx_media::sdp::Connection;
use pbx_media::SessionDescription;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Geen relay: elk been stuurt rechtstreeks naar het andere (de nulmeting).
    Baseline,
    /// pbxd via SIP (REGISTER, INVITE met 407, ACK, BYE).
    Pbxd,
    /// rtpengine via het ng-protocol (offer, answer, delete).
    Rtpengine,
}

/// RTP-belasting door een relay: N gesprekken, G.711 in beide richtingen, verlies en latentie.
#[derive(Parser, Debug)]
#[command(name = "rtpload", version)]
struct Args {
    /// Welke relay.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Aantal gesprekken.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Meetvenster in seconden.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Stromen vóór het meetvenster, in seconden.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Tijdvakken per tik van 20 ms waarover de pakketten verdeeld worden.
    #[arg(long, default_value_t = 40)]
    slots: u32,
    /// Pauze van de ontvangstdraad tussen twee leesrondes, in µs (de latentie komt uit de
    /// kernelstempel, dus later lezen verandert die niet).
    #[arg(long, default_value_t = 1000)]
    rx_batch_us: u64,
    /// Adres voor de eigen RTP-sockets.
    #[arg(long, default_value = "127.0.0.1")]
    rtp_ip: IpAddr,
    /// Eerste poort voor de eigen RTP-sockets (per gesprek twee RTP/RTCP-paren, dus vier poorten; bezette paren worden overgeslagen).
    #[arg(long, default_value_t = 10000)]
    rtp_port: u16,
    /// SIP-adres van pbxd.
    #[arg(long, default_value = "127.0.0.1:5060")]
    sip: SocketAddr,
    /// SIP-domein van de organisatie.
    #[arg(long, default_value = "bench.example")]
    domain: String,
    /// Bellende extensie.
    #[arg(long, default_value = "1000")]
    caller: String,
    /// Gebelde extensie (registreert zich).
    #[arg(long, default_value = "2000")]
    callee: String,
    /// SIP-wachtwoord van beide extensies.
    #[arg(
        long,
        env = "RTPLOAD_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    password: String,
    /// ng-adres van rtpengine.
    #[arg(long, default_value = "127.0.0.1:2223")]
    ng: SocketAddr,
    /// Gesprekken tegelijk in opbouw of afbraak.
    #[arg(long, default_value_t = 100)]
    window: usize,
    /// Tijdslimiet van opbouw en afbraak, in seconden.
    #[arg(long, default_value_t = 120)]
    setup_timeout: u64,
}

/// The two legs of one call: the generator's sockets and where each sends (the relay's port
/// facing it, or the other leg for the baseline).
pub struct CallMedia {
    a: UdpSocket,
    b: UdpSocket,
    /// The RTCP sockets (RTP port + 1) of both legs: bound so that a relay's RTCP reports land
    /// in a phone's socket (and are dropped there when its buffer is full), never read.
    _rtcp: [UdpSocket; 2],
    pub a_port: u16,
    pub b_port: u16,
    pub a_dest: Option<SocketAddr>,
    pub b_dest: Option<SocketAddr>,
}

impl CallMedia {
    /// One priming packet per leg, so that the relay latches both at set-up.
    pub fn prime(&self, i: usize) -> Result<()> {
        let s = u32::try_from(2 * i).unwrap_or(u32::MAX);
        if let Some(d) = self.a_dest {
            media::prime(&self.a, s, d)?;
        }
        if let Some(d) = self.b_dest {
            media::prime(&self.b, s.saturating_add(1), d)?;
        }
        Ok(())
    }
}

/// The `o=` session id that names call `i` in an offer: pbxd passes it on to the callee with
/// its own Call-ID, so it is how the callee finds the call.
pub fn sdp_session_id(i: usize) -> String {
    (1_000_000 + i as u64).to_string()
}

/// The call index in an SDP's `o=` line (see [`sdp_session_id`]).
pub fn sdp_call_index(sdp: &str) -> Option<usize> {
    let s: SessionDescription = sdp.parse().ok()?;
    let id: u64 = s.origin.session_id.parse().ok()?;
    usize::try_from(id.checked_sub(1_000_000)?).ok()
}

/// Address and port of the first active stream of an SDP.
pub fn sdp_media_addr(sdp: &str) -> Option<SocketAddr> {
    let s: SessionDescription = sdp.parse().ok()?;
    let session_ip = s.connection.as_ref().and_then(Connection::ip);
    let m = s.media.iter().find(|m| m.port != 0)?;
    let ip = m
        .connection
        .as_ref()
        .and_then(Connection::ip)
        .or(session_ip)?;
    Some(SocketAddr::new(ip, m.port))
}

/// Per call two legs, each an even RTP port and the RTCP port above it, from `first` upward,
/// skipping pairs in use.
fn bind_legs(ip: IpAddr, first: u16, calls: usize) -> Result<Vec<CallMedia>> {
    let mut port = u32::from(first) + u32::from(first) % 2;
    let mut next = || -> Result<(UdpSocket, UdpSocket)> {
        while port < 65_535 {
            let p = u16::try_from(port).unwrap_or(u16::MAX - 1);
            port += 2;
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, p)) else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, p + 1)) else {
                continue;
            };
            rtp.set_nonblocking(true)?;
            return Ok((rtp, rtcp));
        }
        bail!("geen vrije poorten meer boven {first} voor {calls} gesprekken")
    };
    let mut out = Vec::with_capacity(calls);
    for _ in 0..calls {
        let (a, a_rtcp) = next()?;
        let (b, b_rtcp) = next()?;
        out.push(CallMedia {
            a_port: a.local_addr()?.port(),
            b_port: b.local_addr()?.port(),
            a,
            b,
            _rtcp: [a_rtcp, b_rtcp],
            a_dest: None,
            b_dest: None,
        });
    }
    Ok(out)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s.max(0.0) } else { 0.0 })
}

/// A G.711 A-law offer (or answer) for call `i` on `ip:port`.
pub fn offer_sdp(ip: IpAddr, i: usize, port: u16, user: &str) -> String {
    let v = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no={user} {} 1 IN {v} {ip}\r\ns=-\r\nc=IN {v} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        sdp_session_id(i)
    )
}

fn run() -> Result<()> {
    let args = Args::parse();
    if args.calls == 0 {
        bail!("--calls moet minstens 1 zijn");
    }
    println!("@pid {}", std::process::id());
    let mut legs = bind_legs(args.rtp_ip, args.rtp_port, args.calls)?;
    let n = args.calls;
    let started = std::time::Instant::now();
    let mut phones = None;
    let mut ng = None;
    let run_tag = format!("{:08x}", rand::random::<u32>());
    match args.mode {
        Mode::Baseline => {
            for l in &mut legs {
                l.a_dest = Some(l.b.local_addr()?);
                l.b_dest = Some(l.a.local_addr()?);
            }
            println!("@opgezet ok={n} mislukt=0 s=0");
        }
        Mode::Pbxd => {
            if args.password.is_empty() {
                bail!("--password (of RTPLOAD_PASSWORD) is nodig voor pbxd");
            }
            let mut p = sip::Phones::new(
                sip::SipConfig {
                    server: args.sip,
                    domain: args.domain.clone(),
                    caller: args.caller.clone(),
                    callee: args.callee.clone(),
                    password: args.password.clone(),
                    window: args.window.max(1),
                    timeout: Duration::from_secs(args.setup_timeout),
                },
                n,
            )?;
            p.register().context("registreren")?;
            let out = p.setup(&mut legs)?;
            println!(
                "@opgezet ok={} mislukt={} s={:.2}",
                out.ok,
                out.failed,
                started.elapsed().as_secs_f64()
            );
            if out.failed > 0 {
                println!(
                    "mislukte opbouw per code (0 = geen antwoord): {:?}",
                    out.codes
                );
            }
            phones = Some(p);
        }
        Mode::Rtpengine => {
            let mut c = ng::Ng::new(args.ng)?;
            let (mut ok, mut failed) = (0usize, 0usize);
            for (i, l) in legs.iter_mut().enumerate() {
                let call_id = format!("rl{run_tag}-{i}");
                let offer = offer_sdp(args.rtp_ip, i, l.a_port, "rtpload");
                let res = c.offer(&call_id, "a", &offer).and_then(|for_b| {
                    l.b_dest = sdp_media_addr(&for_b);
                    let answer = offer_sdp(args.rtp_ip, i, l.b_port, "rtpload-b");
                    c.answer(&call_id, "a", "b", &answer)
                });
                match res {
                    Ok(for_a) => {
                        l.a_dest = sdp_media_addr(&for_a);
                        if l.a_dest.is_some() && l.b_dest.is_some() {
                            l.prime(i)?;
                            ok += 1;
                        } else {
                            failed += 1;
                        }
                    }
                    Err(e) => {
                        if failed == 0 {
                            println!("rtpengine: {e:#}");
                        }
                        failed += 1;
                    }
                }
            }
            println!(
                "@opgezet ok={ok} mislukt={failed} s={:.2}",
                started.elapsed().as_secs_f64()
            );
            ng = Some(c);
        }
    }

    // Streams only on calls that are up.
    let mut socks = Vec::with_capacity(2 * n);
    let mut dests = Vec::with_capacity(2 * n);
    for (i, l) in legs.iter().enumerate() {
        let up = match (&phones, l.a_dest, l.b_dest) {
            (_, None, _) | (_, _, None) => false,
            (Some(p), _, _) => p.up(i, &legs),
            (None, Some(_), Some(_)) => true,
        };
        if let (true, Some(ad), Some(bd)) = (up, l.a_dest, l.b_dest) {
            socks.push(l.a.try_clone()?);
            dests.push(ad);
            socks.push(l.b.try_clone()?);
            dests.push(bd);
        }
    }
    if socks.is_empty() {
        bail!("geen enkel gesprek opgezet");
    }
    let plan = media::Plan {
        warmup: secs(args.warmup),
        duration: secs(args.duration),
        tail: Duration::from_millis(300),
        drain: Duration::from_millis(300),
        tick: Duration::from_millis(20),
        slots: args.slots.max(1),
        rx_batch: Duration::from_micros(args.rx_batch_us),
    };
    let r = media::run(socks, dests, plan)?;
    let loss = if r.sent_window > 0 {
        100.0 * (r.sent_window.saturating_sub(r.received_window)) as f64 / r.sent_window as f64
    } else {
        f64::NAN
    };
    let lat = |h: &media::Histogram, prefix: &str| {
        let q = |x: f64| h.quantile_us(x).unwrap_or(f64::NAN);
        format!(
            "{prefix}p50_us={:.1} {prefix}p99_us={:.1} {prefix}p999_us={:.1} {prefix}max_us={:.1} {prefix}gem_us={:.1}",
            q(0.5),
            q(0.99),
            q(0.999),
            h.max_us(),
            h.mean_us().unwrap_or(f64::NAN)
        )
    };
    println!(
        "@resultaat modus={:?} gesprekken={} stromen={} verzonden={} ontvangen={} verlies_pct={loss:.4} \
         totaal_verzonden={} totaal_ontvangen={} volgnr_verloren={} laat={} dubbel={} verkeerd={} vreemd={} \
         priming={} stil={} zendfout={} ontvangstfout={} achter={} zonder_stempel={} venster_s={:.3} \
         tempo_pct={:.1} {} {}",
        args.mode,
        r.streams / 2,
        r.streams,
        r.sent_window,
        r.received_window,
        r.sent_total,
        r.received_total,
        r.seq_lost,
        r.late,
        r.duplicates,
        r.misrouted,
        r.foreign,
        r.primes,
        r.silent_streams,
        r.send_failed,
        r.recv_errors,
        r.late_slots,
        r.unstamped,
        r.window.as_secs_f64(),
        // Packets sent in the window against the nominal 50 per stream per second.
        100.0 * r.sent_window as f64 / (r.window.as_secs_f64() * r.streams as f64 * 50.0).max(1.0),
        lat(&r.kernel, ""),
        lat(&r.user, "lees_"),
    );

    // Tear down.
    let t = std::time::Instant::now();
    if let Some(mut p) = phones {
        let (out, b_byes) = p.teardown(&mut legs)?;
        println!(
            "@afgebroken ok={} mislukt={} bye_bij_gebelde={b_byes} door_pbxd_opgehangen={} s={:.2}",
            out.ok,
            out.failed,
            out.hung_up_by_pbx,
            t.elapsed().as_secs_f64()
        );
    }
    if let Some(mut c) = ng {
        let (mut ok, mut failed) = (0usize, 0usize);
        for i in 0..n {
            match c.delete(&format!("rl{run_tag}-{i}"), "a") {
                Ok(()) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        println!(
            "@afgebroken ok={ok} mislukt={failed} s={:.2}",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtpload: {e:#}");
            ExitCode::from(70)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_helpers() {
        let sdp = offer_sdp(IpAddr::from([127, 0, 0, 1]), 42, 12_000, "rtpload");
        assert_eq!(sdp_call_index(&sdp), Some(42));
        assert_eq!(
            sdp_media_addr(&sdp),
            Some(SocketAddr::from(([127, 0, 0, 1], 12_000)))
        );
        assert_eq!(sdp_call_index("v=0\r\n"), None);
    }
}
