//! Registration over SIP: SIPp registers with MD5 digest, a wrong password and an unknown
//! extension get the same 403, registrations survive a restart; SHA-256 digest, 423, absorbed
//! retransmissions and un-REGISTER are checked with a small UDP client here, because SIPp 3.6
//! (Debian 12) has no SHA-256 digest.
#![allow(clippy::unwrap_used)]

use pbx_tests::*;
use sha2::Digest;
use std::net::UdpSocket;
use std::time::Duration;

fn sipp(pbx: &Pbx, file: &str, user: &str, password: &str, domain: &str) -> Run {
    sipp_on(pbx, pbx.sip_port, &[], file, user, password, domain)
}

fn sipp_on(
    pbx: &Pbx,
    port_to: u16,
    extra: &[&str],
    file: &str,
    user: &str,
    password: &str,
    domain: &str,
) -> Run {
    let mut cmd = sipp_command(pbx, port_to, file, user, password, free_udp_port());
    cmd.args(["-set", "domain", domain, "-auth_uri", domain])
        .args(extra);
    run_for(&mut cmd, None, Duration::from_secs(30))
}

fn start() -> (Pbx, String) {
    let pbx = Pbx::start(Opts {
        extra_toml: "[sip]\ndigest = [\"MD5\", \"SHA-256\"]\n".into(),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let created = pbx.ctl_json(&["extension", "add", "acme", "1001", "--name", "Jan"]);
    let pw = created["password"].as_str().unwrap().to_string();
    (pbx, pw)
}

#[test]
fn sipp_registers_with_md5_and_wrong_credentials_get_403() {
    let (mut pbx, pw) = start();
    let ok = sipp(&pbx, "register.xml", "1001", &pw, "acme.example");
    assert_eq!(ok.code, 0, "sipp register: {}", ok.all());
    let regs = pbx.ctl_json(&["registrations", "--tenant", "acme"]);
    assert_eq!(regs.as_array().map(Vec::len), Some(1), "{regs}");
    assert_eq!(regs[0]["extension"], "1001");
    assert_eq!(regs[0]["user_agent"], "SIPp");

    let wrong = sipp(
        &pbx,
        "register_fail.xml",
        "1001",
        "niet-het-wachtwoord",
        "acme.example",
    );
    assert_eq!(
        wrong.code,
        0,
        "wrong password must get 403: {}",
        wrong.all()
    );
    let unknown = sipp(
        &pbx,
        "register_fail.xml",
        "1999",
        "wat-dan-ook",
        "acme.example",
    );
    assert_eq!(
        unknown.code,
        0,
        "unknown extension must get the same 403: {}",
        unknown.all()
    );

    // A registration survives a restart of pbxd.
    pbx.sigterm();
    pbx.spawn();
    pbx.wait_ready();
    let regs = pbx.ctl_json(&["registrations"]);
    assert_eq!(
        regs.as_array().map(Vec::len),
        Some(1),
        "after restart: {regs}"
    );
}

/// pbxd caches organisations and extensions for REGISTER; a change through pbxctl must count
/// for the very next REGISTER: a reset password, a removed extension, a suspended organisation.
#[test]
fn credential_changes_take_effect_for_the_next_register() {
    let (pbx, pw) = start();
    let ok = sipp(&pbx, "register.xml", "1001", &pw, "acme.example");
    assert_eq!(ok.code, 0, "sipp register: {}", ok.all());

    let reset = pbx.ctl_json(&["extension", "reset-password", "acme", "1001"]);
    let new_pw = reset["password"].as_str().unwrap().to_string();
    assert_ne!(new_pw, pw);
    let old = sipp(&pbx, "register_fail.xml", "1001", &pw, "acme.example");
    assert_eq!(
        old.code,
        0,
        "the old password must get 403 right after the reset: {}",
        old.all()
    );
    let ok = sipp(&pbx, "register.xml", "1001", &new_pw, "acme.example");
    assert_eq!(ok.code, 0, "the new password at once: {}", ok.all());

    // A second extension, registered (and so cached), then removed.
    let created = pbx.ctl_json(&["extension", "add", "acme", "1002", "--name", "Piet"]);
    let pw2 = created["password"].as_str().unwrap().to_string();
    let ok = sipp(&pbx, "register.xml", "1002", &pw2, "acme.example");
    assert_eq!(ok.code, 0, "sipp register 1002: {}", ok.all());
    pbx.ctl(&["extension", "remove", "acme", "1002"]).ok();
    let gone = sipp(&pbx, "register_fail.xml", "1002", &pw2, "acme.example");
    assert_eq!(
        gone.code,
        0,
        "a removed extension must get 403: {}",
        gone.all()
    );

    // A suspended organisation refuses at once (403 before any challenge).
    pbx.ctl(&["tenant", "suspend", "acme"]).ok();
    let suspended = sipp(&pbx, "register.xml", "1001", &new_pw, "acme.example");
    assert_ne!(
        suspended.code,
        0,
        "a suspended organisation must refuse: {}",
        suspended.all()
    );
}

/// A minimal UAC over UDP for what SIPp 3.6 cannot do.
struct Uac {
    sock: UdpSocket,
    server: String,
    cseq: u32,
}

impl Uac {
    fn new(port: u16) -> Uac {
        Uac::on("127.0.0.1:0", format!("127.0.0.1:{port}"))
    }

    fn on(bind: &str, server: String) -> Uac {
        let sock = UdpSocket::bind(bind).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Uac {
            sock,
            server,
            cseq: 0,
        }
    }

    fn local(&self) -> String {
        self.sock.local_addr().unwrap().to_string()
    }

    fn register(&mut self, branch: &str, expires: u32, auth: Option<&str>) -> String {
        self.cseq += 1;
        let msg = format!(
            "REGISTER sip:acme.example SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch={branch};rport\r\nFrom: <sip:1001@acme.example>;tag=uac1\r\nTo: <sip:1001@acme.example>\r\nCall-ID: uac-call-1\r\nCSeq: {c} REGISTER\r\nContact: <sip:1001@{l}>\r\nMax-Forwards: 70\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
            l = self.local(),
            c = self.cseq,
            auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default(),
        );
        self.send_raw(&msg)
    }

    fn send_raw(&self, msg: &str) -> String {
        self.sock.send_to(msg.as_bytes(), &self.server).unwrap();
        let mut buf = [0u8; 65_536];
        let (n, _) = self.sock.recv_from(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn status(resp: &str) -> u16 {
    resp.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The `WWW-Authenticate` challenges in order: (algorithm, realm, nonce).
fn challenges(resp: &str) -> Vec<(String, String, String)> {
    resp.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .map(|l| {
            let param = |name: &str| {
                let i = l.find(&format!("{name}=")).unwrap() + name.len() + 1;
                let rest = &l[i..];
                if let Some(r) = rest.strip_prefix('"') {
                    r[..r.find('"').unwrap()].to_string()
                } else {
                    rest.split([',', ' ', '\r']).next().unwrap().to_string()
                }
            };
            (param("algorithm"), param("realm"), param("nonce"))
        })
        .collect()
}

fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn authorization_sha256(realm: &str, nonce: &str, password: &str, nc: u32) -> String {
    let ha1 = sha256(&format!("1001:{realm}:{password}"));
    let ha2 = sha256("REGISTER:sip:acme.example");
    let cnonce = "0a4f113b";
    let nc = format!("{nc:08x}");
    let response = sha256(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!("Digest username=\"1001\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"sip:acme.example\", response=\"{response}\", algorithm=SHA-256, cnonce=\"{cnonce}\", qop=auth, nc={nc}")
}

#[test]
fn sha256_digest_interval_retransmission_and_unregister() {
    let (pbx, pw) = start();
    let mut uac = Uac::new(pbx.sip_port);
    let first = uac.register("z9hG4bK-a1", 600, None);
    assert_eq!(status(&first), 401, "{first}");
    let ch = challenges(&first);
    // The order follows [sip] digest of this pbxd.toml: MD5 first, then SHA-256, one nonce.
    assert_eq!(
        ch.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["MD5", "SHA-256"],
        "{first}"
    );
    let (_, realm, nonce) = ch[1].clone();
    assert_eq!(realm, "acme.example");

    // Too short a lifetime: 423 with Min-Expires, nothing bound.
    let brief = uac.register(
        "z9hG4bK-a2",
        30,
        Some(&authorization_sha256(&realm, &nonce, &pw, 1)),
    );
    assert_eq!(status(&brief), 423, "{brief}");
    assert!(brief.contains("Min-Expires: 60"), "{brief}");

    // SHA-256 with the right password: 200 with the binding.
    let auth = authorization_sha256(&realm, &nonce, &pw, 2);
    let ok = uac.register("z9hG4bK-a3", 600, Some(&auth));
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(
        ok.contains(&format!("<sip:1001@{}>;expires=600", uac.local())),
        "{ok}"
    );

    // The very same request again (a UDP retransmission, same branch and CSeq) is answered by
    // the transaction layer with the same response, not processed twice (which would be 500).
    uac.cseq -= 1;
    let again = uac.register("z9hG4bK-a3", 600, Some(&auth));
    assert_eq!(status(&again), 200, "{again}");

    // Replaying the nonce count in a new request is refused.
    let replay = uac.register("z9hG4bK-a4", 600, Some(&auth));
    assert_eq!(status(&replay), 403, "{replay}");

    // Wrong password with SHA-256: the same 403.
    let bad = uac.register(
        "z9hG4bK-a5",
        600,
        Some(&authorization_sha256(&realm, &nonce, "fout", 3)),
    );
    assert_eq!(status(&bad), 403, "{bad}");
    assert_eq!(
        pbx.ctl_json(&["registrations"]).as_array().map(Vec::len),
        Some(1)
    );

    // Registrations and keep-alives are not traced (they would push calls out of the bounded
    // buffer); other requests are, with credentials redacted.
    pbx.ctl(&["trace", "uac-call-1"]).code(66);
    let traced = uac.send_raw(&format!(
        "NEWMETHOD sip:acme.example SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-t1\r\nFrom: <sip:1001@acme.example>;tag=t\r\nTo: <sip:1001@acme.example>\r\nCall-ID: traced-1\r\nCSeq: 1 NEWMETHOD\r\nAuthorization: {auth}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        l = uac.local()
    ));
    assert_eq!(status(&traced), 501, "{traced}");
    let trace = pbx.ctl(&["trace", "traced-1"]);
    trace.ok();
    assert!(
        trace.stdout.contains("NEWMETHOD")
            && trace.stdout.contains("501 Not Implemented")
            && trace.stdout.contains('▶'),
        "{}",
        trace.stdout
    );
    let response_hex = auth
        .split("response=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        !trace.stdout.contains(response_hex),
        "digest response leaked into the trace"
    );
    assert!(trace.stdout.contains("response=\"…\""), "{}", trace.stdout);
    let st = pbx.ctl_json(&["status"]);
    assert!(st["sip"]["registered"].as_u64().unwrap_or(0) >= 1, "{st}");
    assert!(st["sip"]["auth_failed"].as_u64().unwrap_or(0) >= 1, "{st}");

    // un-REGISTER.
    let gone = uac.register(
        "z9hG4bK-a6",
        0,
        Some(&authorization_sha256(&realm, &nonce, &pw, 4)),
    );
    assert_eq!(status(&gone), 200, "{gone}");
    assert_eq!(
        pbx.ctl_json(&["registrations"]).as_array().map(Vec::len),
        Some(0)
    );

    // Garbage and an unknown method get the RFC answers, and pbxd stays up.
    uac.sock
        .send_to(b"\x00\xffgarbage\r\n\r\n", &uac.server)
        .unwrap();
    let unknown = uac.send_raw(&format!(
        "NEWMETHOD sip:acme.example SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-n1\r\nFrom: <sip:1001@acme.example>;tag=x\r\nTo: <sip:1001@acme.example>\r\nCall-ID: n1\r\nCSeq: 1 NEWMETHOD\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        l = uac.local()
    ));
    assert_eq!(status(&unknown), 501, "{unknown}");
    let options = uac.send_raw(&format!(
        "OPTIONS sip:acme.example SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bK-o1\r\nFrom: <sip:1001@acme.example>;tag=x\r\nTo: <sip:acme.example>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        l = uac.local()
    ));
    assert_eq!(status(&options), 200, "{options}");
}

#[test]
fn sipp_registers_over_tcp() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    drop(tcp);
    let pbx = Pbx::start(Opts {
        extra_toml: format!("[sip]\ndigest = [\"MD5\", \"SHA-256\"]\n\n[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n"),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let pw = pbx.ctl_json(&["extension", "add", "acme", "1001"])["password"]
        .as_str()
        .unwrap()
        .to_string();
    let ok = sipp_on(
        &pbx,
        port,
        &["-t", "t1"],
        "register.xml",
        "1001",
        &pw,
        "acme.example",
    );
    assert_eq!(ok.code, 0, "sipp register over tcp: {}", ok.all());
    let regs = pbx.ctl_json(&["registrations"]);
    assert!(
        regs[0]["source"]
            .as_str()
            .unwrap_or("")
            .starts_with("tcp:127.0.0.1:"),
        "{regs}"
    );
}

#[test]
fn registers_over_ipv6() {
    let v6 = UdpSocket::bind("[::1]:0").expect("::1 is needed for the IPv6 test");
    let port = v6.local_addr().unwrap().port();
    drop(v6);
    let pbx = Pbx::start(Opts {
        extra_toml: format!("[[listen]]\ntransport = \"udp\"\naddress = \"[::1]:{port}\"\n"),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let pw = pbx.ctl_json(&["extension", "add", "acme", "1001"])["password"]
        .as_str()
        .unwrap()
        .to_string();
    let mut uac = Uac::on("[::1]:0", format!("[::1]:{port}"));
    let first = uac.register("z9hG4bK-v6a", 600, None);
    assert_eq!(status(&first), 401, "{first}");
    // Default order of pbxd.toml: SHA-256 first.
    let (alg, realm, nonce) = challenges(&first)[0].clone();
    assert_eq!(alg, "SHA-256");
    let ok = uac.register(
        "z9hG4bK-v6b",
        600,
        Some(&authorization_sha256(&realm, &nonce, &pw, 1)),
    );
    assert_eq!(status(&ok), 200, "{ok}");
    assert!(ok.contains(&format!("<sip:1001@{}>", uac.local())), "{ok}");
    let regs = pbx.ctl_json(&["registrations"]);
    assert!(
        regs[0]["source"]
            .as_str()
            .unwrap_or("")
            .starts_with("udp:[::1]:"),
        "{regs}"
    );
}
