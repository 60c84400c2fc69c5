//! Media through pbxd's relay, checked where it arrives: SIPp phones place the calls (1001
//! offers only PCMU, 1002 takes only PCMA), SIPp plays the audio from a pcap on one side, and
//! the other side's media address is a socket of this test that looks at every packet (payload
//! type, sequence number, the audio itself) and echoes it back like a phone would.
//!
//! The G.711 arithmetic here is the classic reference code (Sun's g711.c), written out again on
//! purpose rather than taken from `pbx_media`: the test must not share the relay's tables.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

// ---- G.711 (independent of pbx_media) -------------------------------------------------------

fn alaw_to_linear(a: u8) -> i32 {
    let a = a ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    if a & 0x80 != 0 {
        t
    } else {
        -t
    }
}

fn ulaw_to_linear(u: u8) -> i32 {
    let u = !u;
    let t = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        0x84 - t
    } else {
        t - 0x84
    }
}

fn linear_to_ulaw(x: i32) -> u8 {
    let (x, sign) = if x < 0 { (-x, 0x80) } else { (x, 0) };
    let x = x.min(32635) + 0x84;
    let exponent = 31 - ((x >> 7).max(1) as u32).leading_zeros();
    let mantissa = (x >> (exponent + 3)) & 0x0f;
    !(sign | ((exponent as u8) << 4) | mantissa as u8)
}

/// Two renderings of the same audio differ by at most about one quantisation step.
fn close(a: i32, b: i32) -> bool {
    (a - b).abs() <= a.abs().max(b.abs()) / 8 + 64
}

// ---- pcap and RTP -----------------------------------------------------------------------------

/// The RTP packets of a pcap (Ethernet, IPv4, UDP), and where in the file each RTP packet starts.
fn pcap_rtp(data: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = off + 16;
        let ihl = usize::from(data[frame + 14] & 0x0f) * 4;
        let rtp = frame + 14 + ihl + 8;
        out.push((rtp, data[rtp..frame + incl].to_vec()));
        off = frame + incl;
    }
    out
}

/// (payload type, sequence number, payload) of a plain RTP packet.
fn rtp_fields(p: &[u8]) -> Option<(u8, u16, &[u8])> {
    (p.len() >= 12 && p[0] >> 6 == 2 && p[0] & 0x1f == 0)
        .then(|| (p[1] & 0x7f, u16::from_be_bytes([p[2], p[3]]), &p[12..]))
}

/// SIPp's A-law recording as µ-law: payload type 0, every octet converted.
fn write_ulaw_pcap(to: &Path) -> HashMap<u16, Vec<u8>> {
    let mut data = std::fs::read(PCAP).unwrap();
    let mut sent = HashMap::new();
    for (at, pkt) in pcap_rtp(&data.clone()) {
        data[at + 1] &= 0x80;
        for i in 12..pkt.len() {
            data[at + i] = linear_to_ulaw(alaw_to_linear(pkt[i]));
        }
        let (_, seq, payload) = rtp_fields(&data[at..at + pkt.len()]).unwrap();
        sent.insert(seq, payload.to_vec());
        // No UDP checksum (IPv4 allows zero).
        data[at - 2] = 0;
        data[at - 1] = 0;
    }
    std::fs::write(to, data).unwrap();
    sent
}

/// SIPp's A-law recording: sequence number → payload.
fn alaw_payloads() -> HashMap<u16, Vec<u8>> {
    let data = std::fs::read(PCAP).unwrap();
    pcap_rtp(&data)
        .iter()
        .filter_map(|(_, p)| rtp_fields(p).map(|(_, seq, pl)| (seq, pl.to_vec())))
        .collect()
}

struct Got {
    packets: Vec<(u8, u16, Vec<u8>)>,
    from: Option<SocketAddr>,
}

/// Receives RTP on `sock` until `stop` (and 300 ms quiet), echoing every packet to its sender.
fn receive_and_echo(sock: UdpSocket, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Got> {
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    std::thread::spawn(move || {
        let mut got = Got {
            packets: Vec::new(),
            from: None,
        };
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if let Some((pt, seq, payload)) = rtp_fields(&buf[..n]) {
                        got.packets.push((pt, seq, payload.to_vec()));
                        got.from = Some(from);
                    }
                    let _ = sock.send_to(&buf[..n], from);
                }
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(_) => {}
            }
            if Instant::now() > deadline {
                break;
            }
        }
        got
    })
}

// ---- calls ------------------------------------------------------------------------------------

fn start() -> (Pbx, String, String) {
    two_extensions("[sip]\ndigest = [\"MD5\", \"SHA-256\"]\n")
}

fn sipp(pbx: &Pbx, file: &str, user: &str, password: &str, port: u16) -> Command {
    sipp_command(pbx, pbx.sip_port, file, user, password, port)
}

/// 1002 registers, then answers with `uas`; 1001 calls with `uac`. Both must succeed.
fn call(
    pbx: &Pbx,
    pw: &(String, String),
    uac: &str,
    uac_set: &[(&str, u16)],
    uas: &str,
    uas_set: &[(&str, u16)],
) {
    let port = free_udp_port();
    register_phone(pbx, "1002", &pw.1, "acme.example", port);
    let mut server = sipp(pbx, uas, "1002", &pw.1, port);
    for (k, v) in uas_set {
        server.args(["-set", k, &v.to_string()]);
    }
    let server = std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)));
    std::thread::sleep(Duration::from_millis(500));
    let mut client = sipp(pbx, uac, "1001", &pw.0, free_udp_port());
    client.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "1002",
        "-auth_uri",
        "1002@acme.example",
    ]);
    for (k, v) in uac_set {
        client.args(["-set", k, &v.to_string()]);
    }
    let client = run_for(&mut client, None, Duration::from_secs(40));
    let server = server.join().unwrap();
    assert_eq!(
        client.code,
        0,
        "uac 1001: {}\nuas: {}\n{}",
        client.all(),
        server.all(),
        pbx.log_text()
    );
    assert_eq!(
        server.code,
        0,
        "uas 1002: {}\n{}",
        server.all(),
        pbx.log_text()
    );
}

/// The one CDR, in full (`pbxctl cdr show`).
fn the_cdr(pbx: &Pbx) -> serde_json::Value {
    for _ in 0..50 {
        let list = pbx.ctl_json(&["cdr", "list"]);
        if let Some(id) = list
            .as_array()
            .and_then(|a| a.first())
            .and_then(|c| c["id"].as_str())
        {
            return pbx.ctl_json(&["cdr", "show", "acme", id]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no CDR: {}", pbx.log_text());
}

fn leg<'a>(cdr: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    cdr["legs"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["leg"] == name))
        .unwrap_or_else(|| panic!("no leg {name}: {cdr}"))
}

fn bind() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

/// 1001 plays µ-law (PCMU is all it offers), 1002 takes only A-law: the relay converts, and
/// 1002's socket receives A-law carrying the same audio, in order.
#[test]
fn pcmu_caller_to_pcma_callee_is_transcoded() {
    assert!(
        Path::new(PCAP).exists(),
        "{PCAP} ontbreekt: installeer sip-tester"
    );
    let (pbx, a, b) = start();
    let sent = write_ulaw_pcap(&pbx.root.join("g711u.pcap"));
    let (sock, mport) = bind();
    let stop = Arc::new(AtomicBool::new(false));
    let rx = receive_and_echo(sock, stop.clone());
    call(
        &pbx,
        &(a, b),
        "call_1001_pcmu_play.xml",
        &[],
        "uas_1002_pcma_socket.xml",
        &[("mport", mport)],
    );
    stop.store(true, Ordering::Relaxed);
    let got = rx.join().unwrap();

    // Four seconds of 30 ms packets is about 130.
    assert!(
        got.packets.len() >= 100,
        "1002 got {} packets",
        got.packets.len()
    );
    let mut last = None;
    for (pt, seq, payload) in &got.packets {
        assert_eq!(*pt, 8, "1002 agreed to PCMA only");
        let orig = sent
            .get(seq)
            .unwrap_or_else(|| panic!("sequence {seq} was never sent"));
        assert_eq!(payload.len(), orig.len());
        for (r, o) in payload.iter().zip(orig) {
            let (r, o) = (alaw_to_linear(*r), ulaw_to_linear(*o));
            assert!(close(r, o), "seq {seq}: A-law {r} for µ-law {o}");
        }
        assert!(last.is_none_or(|l: u16| seq.wrapping_sub(l) < 100), "order");
        last = Some(*seq);
    }

    let cdr = the_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(leg(&cdr, "a")["codec"], "PCMU", "{cdr}");
    assert_eq!(leg(&cdr, "b")["codec"], "PCMA", "{cdr}");
    assert_eq!(cdr["codecs"], serde_json::json!(["PCMU→PCMA"]), "{cdr}");
    assert!(leg(&cdr, "a")["packets"].as_u64() >= Some(100), "{cdr}");
    // 1002's socket echoed everything: counted on B's leg.
    assert!(leg(&cdr, "b")["packets"].as_u64() >= Some(100), "{cdr}");
}

/// 1002 plays SIPp's A-law recording; 1001 offered only PCMU, so its socket receives µ-law.
/// The same call checks RTCP: pbxd sends 1001 its own report from the RTP port + 1 to the
/// `a=rtcp` address; 1001's answer to it gives the RTT in the CDR, and a forged answer from
/// another address is ignored.
#[test]
fn pcma_callee_to_pcmu_caller_with_rtcp_and_rtt() {
    assert!(
        Path::new(PCAP).exists(),
        "{PCAP} ontbreekt: installeer sip-tester"
    );
    let (pbx, a, b) = start();
    let sent = alaw_payloads();
    let (sock, mport) = bind();
    let (rtcp, rtcpport) = bind();
    rtcp.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rx = receive_and_echo(sock, stop.clone());
    // 1001's RTCP: wait for pbxd's report, answer it after 150 ms saying it was held 50 ms
    // (RTT about 100 ms); a stranger on 127.0.0.2 answers first claiming it held it 150 ms.
    let rtcp_side = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let (n, from) = rtcp.recv_from(&mut buf).expect("RTCP from pbxd");
        let report = buf[..n].to_vec();
        assert_eq!(report[0] >> 6, 2, "{report:?}");
        assert_eq!(
            report[1], 200,
            "an SR: pbxd sends media to 1001: {report:?}"
        );
        let words = usize::from(u16::from_be_bytes([report[2], report[3]]));
        let sdes = 4 * (words + 1);
        assert_eq!(report.get(sdes + 1), Some(&202), "SDES follows: {report:?}");
        let ssrc: [u8; 4] = report[4..8].try_into().unwrap();
        let lsr: [u8; 4] = report[10..14].try_into().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        let rr = |dlsr_ms: u32| {
            let mut p = vec![0x81, 201, 0, 7, 0, 0, 0x10, 0x01];
            p.extend_from_slice(&ssrc);
            p.extend_from_slice(&[0; 12]);
            p.extend_from_slice(&lsr);
            p.extend_from_slice(&(dlsr_ms * 65536 / 1000).to_be_bytes());
            p
        };
        let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
        stranger.send_to(&rr(150), from).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        rtcp.send_to(&rr(50), from).unwrap();
        from
    });
    call(
        &pbx,
        &(a, b),
        "call_1001_pcmu_socket.xml",
        &[("mport", mport), ("rtcpport", rtcpport)],
        "uas_1002_pcma_play.xml",
        &[],
    );
    stop.store(true, Ordering::Relaxed);
    let got = rx.join().unwrap();
    let rtcp_from = rtcp_side.join().unwrap();

    assert!(
        got.packets.len() >= 100,
        "1001 got {} packets",
        got.packets.len()
    );
    for (pt, seq, payload) in &got.packets {
        assert_eq!(*pt, 0, "1001 offered PCMU only");
        let orig = sent
            .get(seq)
            .unwrap_or_else(|| panic!("sequence {seq} was never sent"));
        for (r, o) in payload.iter().zip(orig) {
            let (r, o) = (ulaw_to_linear(*r), alaw_to_linear(*o));
            assert!(close(r, o), "seq {seq}: µ-law {r} for A-law {o}");
        }
    }
    // RTP from the relay's even port, RTCP from the one above it.
    let rtp_from = got.from.unwrap();
    assert_eq!(rtp_from.port() % 2, 0, "{rtp_from}");
    assert_eq!(rtcp_from.port(), rtp_from.port() + 1);

    let cdr = the_cdr(&pbx);
    assert_eq!(cdr["afloop"], "beantwoord", "{cdr}");
    assert_eq!(leg(&cdr, "a")["codec"], "PCMU", "{cdr}");
    assert_eq!(leg(&cdr, "b")["codec"], "PCMA", "{cdr}");
    assert_eq!(cdr["codecs"], serde_json::json!(["PCMU→PCMA"]), "{cdr}");
    let rtt = leg(&cdr, "a")["rtt_ms"].as_u64();
    assert!(
        rtt.is_some_and(|ms| (80..=250).contains(&ms)),
        "RTT of leg a should be about 100 ms (the forged report would give about 0): {cdr}"
    );
    assert!(leg(&cdr, "b")["packets"].as_u64() >= Some(100), "{cdr}");
}
