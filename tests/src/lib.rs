//! End-to-end harness: the real `pbxd`, `pbxctl` and `pbxtop` binaries, each test with its own
//! temporary folder (config, state, logs, control socket), so tests run in parallel.
//!
//! The binaries are taken from the cargo target folder of the test executable
//! (`target/<profile>/{pbxd,pbxctl,pbxtop}`); build them first with `cargo build --workspace`.
//!
//! Everything binds loopback only. Helpers never `unwrap`: a failure panics with the context
//! (the command, its exit code, its output, pbxd's stderr) needed to see what went wrong.

use serde_json::Value;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long pbxd may take to open its socket.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one pbxctl/pbxtop/pbxd --check run may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

// ---- binaries ----------------------------------------------------------------------------------

/// `target/<profile>/` of the running test executable (`…/target/debug/deps/x-hash` → `…/target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let mut dir = exe
        .parent()
        .expect("folder of the test executable")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Path of one of the programs; panics with what to do when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let p = profile_dir().join(name);
    if !p.is_file() {
        panic!(
            "{} ontbreekt / is missing: build the programs first with `cargo build --workspace` \
             (then `cargo test -p pbx-tests`; the README's test command does both)",
            p.display()
        );
    }
    p
}

/// A command for one of the programs with a clean, predictable environment: no language
/// variables (so messages are Dutch, the default), no socket or config from the caller's shell,
/// no systemd notify socket.
pub fn command(name: &str) -> Command {
    let mut c = Command::new(bin(name));
    for v in [
        "LANG",
        "LC_ALL",
        "LC_MESSAGES",
        "LANGUAGE",
        "PBXCTL_SOCKET",
        "PBXD_CONFIG",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "PBXD_LOG",
    ] {
        c.env_remove(v);
    }
    c
}

/// The result of running a program to completion.
#[derive(Clone)]
pub struct Run {
    /// What was run (for messages).
    pub what: String,
    /// Exit code; -1 when killed by a signal, [`TIMED_OUT`] when killed by [`run_for`].
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }

    /// Asserts an exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "expected exit code {code}: {self:?}");
        self
    }

    /// Standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Standard output and standard error together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs a command to completion (with [`RUN_TIMEOUT`]), feeding `stdin` when given; panics when
/// it does not finish in time.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    let r = run_for(cmd, stdin, RUN_TIMEOUT);
    if r.code == TIMED_OUT {
        panic!("did not finish within {RUN_TIMEOUT:?}: {r:?}");
    }
    r
}

/// The exit code [`run_for`] reports for a program it had to kill.
pub const TIMED_OUT: i32 = -2;

/// Runs a command, feeding `stdin` when given; kills it after `timeout` and then reports exit
/// code [`TIMED_OUT`].
pub fn run_for(cmd: &mut Command, stdin: Option<&[u8]>, timeout: Duration) -> Run {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out = child.stdout.take().map(reader_thread);
    let err = child.stderr.take().map(reader_thread);
    let deadline = Instant::now() + timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code().unwrap_or(-1),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break TIMED_OUT;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Run {
        what,
        code,
        stdout: join(out),
        stderr: join(err),
    }
}

fn reader_thread(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// `pbxctl ARGS` against `socket`.
pub fn pbxctl(socket: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut c = command("pbxctl");
    c.arg("--socket").arg(socket).args(args);
    run(&mut c, stdin)
}

// ---- users and rights ----------------------------------------------------------------------

/// Panics with a clear message when the tests do not run as root (the rights tests need to run
/// pbxctl as other uids). Not a skip: CI runs as root, and a skipped rights test proves nothing.
#[track_caller]
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!(
            "this test must run as root (uid 0): it runs pbxctl as other uids (nobody, 65533) to check the \
             rights on the control socket; run `cargo test -p pbx-tests` as root, as CI does"
        );
    }
}

/// The uid of this test process.
pub fn my_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The user `nobody`: (uid, primary gid, name of that group — `nogroup` on Debian).
pub fn nobody() -> (u32, u32, String) {
    let u = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("user nobody exists in /etc/passwd");
    let g = nix::unistd::Group::from_gid(u.gid)
        .ok()
        .flatten()
        .expect("primary group of nobody exists in /etc/group");
    (u.uid.as_raw(), u.gid.as_raw(), g.name)
}

// ---- ports -------------------------------------------------------------------------------------

/// A free UDP port on 127.0.0.1, outside the default RTP range (10000–19999) and above 1024.
pub fn free_udp_port() -> u16 {
    for _ in 0..100 {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        if port > 1024 && !(10_000..=19_999).contains(&port) {
            return port;
        }
    }
    panic!("no free UDP port outside the RTP range");
}

/// A base port for SIPp's media (`-mp`): SIPp binds it and the next three (audio RTP/RTCP,
/// video RTP/RTCP). Chosen at random below the kernel's ephemeral range (32768–60999) and above
/// pbxd's default RTP range, with all four free at the time of asking, so that parallel tests
/// and the sockets the kernel hands out do not take the neighbours.
pub fn free_media_ports() -> u16 {
    // Never the same base twice in one test process: two SIPps started close together (by one
    // test or by tests running in parallel) could otherwise both be told a base that neither
    // had bound yet ("Unable to bind audio RTP socket").
    static HANDED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..200 {
        let base = 20_000 + 4 * (rand::random::<u16>() % 3_000);
        let mut handed = HANDED.lock().unwrap_or_else(|p| p.into_inner());
        if handed.contains(&base) {
            continue;
        }
        let held: Vec<_> = (0..4)
            .map_while(|i| std::net::UdpSocket::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == 4 {
            if handed.len() >= 2_500 {
                handed.clear();
            }
            handed.push(base);
            return base;
        }
    }
    panic!("no four free UDP ports for SIPp's media");
}

// ---- pbxd --------------------------------------------------------------------------------------

/// How to set up a pbxd.
#[derive(Clone, Debug, Default)]
pub struct Opts {
    /// Extra lines inside `[control]`, e.g. `group = "nogroup"`.
    pub control: Vec<String>,
    /// TOML appended to the generated pbxd.toml, e.g. a `[control.tenant_users]` table.
    pub extra_toml: String,
    /// Tenant files written to `conf/tenants/`: (file name, contents).
    pub tenants: Vec<(String, String)>,
    /// Copy every `*.toml` of this folder to `conf/tenants/` (e.g. the shipped `conf.d/tenants`).
    pub tenants_from: Option<PathBuf>,
    /// Extra environment for pbxd.
    pub env: Vec<(String, String)>,
}

impl Opts {
    /// One tenant file.
    pub fn tenant(mut self, file: &str, text: &str) -> Opts {
        self.tenants.push((file.to_string(), text.to_string()));
        self
    }
}

/// A pbxd in a temporary folder:
///
/// ```text
/// ROOT/conf/pbxd.toml          generated (socket, state and log below ROOT, stderr logging off)
/// ROOT/conf/tenants/*.toml     from Opts
/// ROOT/control.sock
/// ROOT/state/                  sled, secret.key, snapshots
/// ROOT/log/pbxd.log
/// ROOT/pbxd.stderr             stdout and stderr of every start, appended
/// ```
pub struct Pbx {
    _tmp: tempfile::TempDir,
    /// The temporary folder.
    pub root: PathBuf,
    /// The config folder (`--config`).
    pub conf: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// The state folder.
    pub state: PathBuf,
    /// The log folder.
    pub log_dir: PathBuf,
    /// pbxd's captured stdout and stderr.
    pub stderr_file: PathBuf,
    /// The UDP port of the SIP listener (127.0.0.1).
    pub sip_port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Pbx {
    /// Writes the configuration, starts pbxd and waits until its socket accepts connections.
    pub fn start(opts: Opts) -> Pbx {
        let mut p = Pbx::prepare(opts);
        p.spawn();
        p.wait_ready();
        p
    }

    /// Writes the configuration only (start with [`Pbx::spawn`] / [`Pbx::restart`]).
    pub fn prepare(opts: Opts) -> Pbx {
        let tmp = tempfile::Builder::new()
            .prefix("pbx-e2e-")
            .tempdir()
            .expect("temporary folder");
        let root = tmp.path().to_path_buf();
        // Other uids (nobody) must be able to reach the socket inside; the state folder pbxd
        // creates itself with mode 0700.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp folder");
        let conf = root.join("conf");
        let tenants = conf.join("tenants");
        std::fs::create_dir_all(&tenants).expect("create conf/tenants");
        let socket = root.join("control.sock");
        let state = root.join("state");
        let log_dir = root.join("log");
        let port = free_udp_port();
        let control = opts.control.join("\n");
        let toml = format!(
            r#"# pbxd.toml generated by pbx-tests: loopback only, everything below {root}
language = "nl"

[[listen]]
transport = "udp"
address = "127.0.0.1:{port}"

[control]
socket = "{socket}"
{control}

[state]
dir = "{state}"

[log]
dir = "{log}"
rotation = "never"
level = "info"
stderr = false
{extra}
"#,
            root = root.display(),
            socket = socket.display(),
            state = state.display(),
            log = log_dir.display(),
            extra = opts.extra_toml,
        );
        std::fs::write(conf.join("pbxd.toml"), toml).expect("write pbxd.toml");
        if let Some(from) = &opts.tenants_from {
            for e in std::fs::read_dir(from)
                .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
                .flatten()
            {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    std::fs::copy(&p, tenants.join(e.file_name())).expect("copy tenant file");
                }
            }
        }
        for (name, text) in &opts.tenants {
            std::fs::write(tenants.join(name), text).expect("write tenant file");
        }
        Pbx {
            _tmp: tmp,
            stderr_file: root.join("pbxd.stderr"),
            root,
            conf,
            socket,
            state,
            log_dir,
            sip_port: port,
            env: opts.env,
            child: None,
        }
    }

    /// Sets an environment variable for the next start of pbxd.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Starts pbxd (without waiting for the socket).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "pbxd is already running");
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_file)
            .expect("open pbxd.stderr");
        let out = err.try_clone().expect("clone pbxd.stderr");
        let mut c = command("pbxd");
        c.arg("--config")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        self.child = Some(
            c.spawn()
                .unwrap_or_else(|e| panic!("cannot start pbxd: {e}")),
        );
    }

    /// Waits (max. [`START_TIMEOUT`]) until the control socket accepts connections; panics with
    /// pbxd's stderr when it exits or does not get there.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "pbxd exited during start ({status}); its output:\n{}",
                    self.stderr_text()
                );
            }
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "pbxd did not open {} within {START_TIMEOUT:?}; its output:\n{}",
                    self.socket.display(),
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts pbxd and waits for it to exit by itself (a start that must be refused).
    pub fn start_expect_exit(&mut self, timeout: Duration) -> ExitStatus {
        let before = self.stderr_text().len();
        self.spawn();
        match self.wait_exit(timeout) {
            Some(s) => s,
            None => {
                let text = self.stderr_text();
                self.kill9();
                panic!(
                    "pbxd kept running (expected it to refuse to start); its output:\n{}",
                    &text[before.min(text.len())..]
                );
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child
            .as_ref()
            .map(|c| c.id() as i32)
            .expect("pbxd is not running")
    }

    /// Is pbxd still running?
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            None => false,
            Some(c) => matches!(c.try_wait(), Ok(None)),
        }
    }

    /// Waits for pbxd to exit; `None` when it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.child.as_mut()?;
            if let Ok(Some(s)) = c.try_wait() {
                self.child = None;
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends a signal.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig)
            .unwrap_or_else(|e| panic!("kill -{sig}: {e}"));
    }

    /// `kill -9` and wait until the process is gone (its file locks released).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits (max. 10 s) for the exit.
    pub fn sigterm(&mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| {
            panic!(
                "pbxd did not stop within 10 s after SIGTERM; its output:\n{}",
                self.stderr_text()
            )
        })
    }

    /// SIGHUP (reload).
    pub fn sighup(&self) {
        self.signal(nix::sys::signal::Signal::SIGHUP);
    }

    /// Stops pbxd (SIGTERM) when it runs, starts it again on the same config and state folder.
    pub fn restart(&mut self) {
        if self.is_running() {
            self.sigterm();
        }
        self.child = None;
        self.spawn();
        self.wait_ready();
    }

    /// pbxd's captured stdout and stderr, all starts together.
    pub fn stderr_text(&self) -> String {
        std::fs::read(&self.stderr_file)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Every log file of the log folder, concatenated.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(rd) = std::fs::read_dir(&self.log_dir) {
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for f in files {
                if let Ok(b) = std::fs::read(&f) {
                    s.push_str(&String::from_utf8_lossy(&b));
                }
            }
        }
        s
    }

    /// Waits (max. `timeout`) until `pred` holds for the log; returns the log.
    pub fn wait_log(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.log_text();
            if pred(&t) {
                return Some(t);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // ---- clients

    /// `pbxctl --socket SOCKET ARGS`.
    pub fn ctl(&self, args: &[&str]) -> Run {
        pbxctl(&self.socket, args, None)
    }

    /// `pbxctl --socket SOCKET ARGS` with standard input.
    pub fn ctl_in(&self, args: &[&str], stdin: &[u8]) -> Run {
        pbxctl(&self.socket, args, Some(stdin))
    }

    /// `pbxctl --socket SOCKET ARGS --json`, which must succeed; its output as JSON.
    #[track_caller]
    pub fn ctl_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let r = self.ctl(&a);
        r.ok();
        r.json()
    }

    /// `pbxctl` as another uid and gid (supplementary groups dropped).
    pub fn ctl_as(&self, uid: u32, gid: u32, args: &[&str]) -> Run {
        let mut c = command("pbxctl");
        c.arg("--socket")
            .arg(&self.socket)
            .args(args)
            .uid(uid)
            .gid(gid);
        run(&mut c, None)
    }

    /// `pbxtop ARGS` against this pbxd.
    pub fn top(&self, args: &[&str]) -> Run {
        let mut c = command("pbxtop");
        c.arg("--socket").arg(&self.socket).args(args);
        run(&mut c, None)
    }

    // ---- raw HTTP on the socket

    /// Sends raw bytes and reads until the server closes (or `timeout`); everything read.
    pub fn raw_bytes(&self, request: &[u8], timeout: Duration) -> Vec<u8> {
        raw_bytes(&self.socket, request, timeout)
    }

    /// Sends raw bytes and parses the answer; panics when there is no HTTP answer.
    #[track_caller]
    pub fn raw(&self, request: &[u8]) -> RawResponse {
        let bytes = self.raw_bytes(request, Duration::from_secs(15));
        RawResponse::parse(&bytes)
            .unwrap_or_else(|| panic!("no HTTP answer; got {:?}", String::from_utf8_lossy(&bytes)))
    }

    /// A well-formed request (`Connection: close`) with a body.
    #[track_caller]
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> RawResponse {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: pbxd\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        req.extend_from_slice(body);
        self.raw(&req)
    }

    /// Opens `GET /v1/events`.
    pub fn events(&self) -> EventStream {
        EventStream::open(&self.socket)
    }

    /// Is pbxd alive and answering? (`GET /v1/status` over the raw socket.)
    pub fn answers(&self) -> bool {
        let b = raw_bytes(
            &self.socket,
            b"GET /v1/status HTTP/1.1\r\nHost: pbxd\r\nConnection: close\r\n\r\n",
            Duration::from_secs(10),
        );
        RawResponse::parse(&b).is_some_and(|r| r.status == 200)
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends raw bytes on a Unix socket (in a thread, so a server that stops reading cannot block
/// us) and reads until the server closes or `timeout` passes.
pub fn raw_bytes(socket: &Path, request: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s =
        UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    let mut w = s.try_clone().expect("clone socket");
    let req = request.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&req);
        let _ = w.flush();
    });
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    out
}

/// An HTTP answer as read from the socket.
#[derive(Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding undone).
    pub body: Vec<u8>,
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {:?}\n{}",
            self.status,
            self.headers,
            String::from_utf8_lossy(&self.body)
        )
    }
}

impl RawResponse {
    /// Parses a complete answer; `None` when there is no status line.
    pub fn parse(bytes: &[u8]) -> Option<RawResponse> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        let mut parts = status_line.splitn(3, ' ');
        if !parts.next()?.starts_with("HTTP/1.") {
            return None;
        }
        let status: u16 = parts.next()?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &bytes[end + 4..];
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(rest)
        } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            rest[..n.min(rest.len())].to_vec()
        } else {
            rest.to_vec()
        };
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    /// `error.code` of an error body.
    #[track_caller]
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.code: {self:?}"))
            .to_string()
    }

    /// `error.message` of an error body.
    #[track_caller]
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error.message: {self:?}"))
            .to_string()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        b = &b[eol + 2..];
        if size == 0 || b.len() < size {
            out.extend_from_slice(&b[..size.min(b.len())]);
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// `GET /v1/events` on the raw socket: one JSON object per line, chunked.
pub struct EventStream {
    r: BufReader<UnixStream>,
    /// Status of the answer.
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    pending: Vec<u8>,
    chunked: bool,
}

impl EventStream {
    /// Connects and reads the answer's head.
    pub fn open(socket: &Path) -> EventStream {
        let mut s = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
        s.write_all(
            b"GET /v1/events HTTP/1.1\r\nHost: pbxd\r\nAccept: application/x-ndjson\r\n\r\n",
        )
        .expect("send GET /v1/events");
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut r = BufReader::new(s);
        let mut status_line = String::new();
        r.read_line(&mut status_line)
            .expect("status line of /v1/events");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).expect("header line of /v1/events");
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        EventStream {
            r,
            status,
            headers,
            pending: Vec::new(),
            chunked,
        }
    }

    /// The next event of `kind` (skipping pings and others), within `timeout`.
    pub fn next_of(&mut self, kind: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let e = self.next(left)?;
            if e["type"] == kind {
                return Some(e);
            }
        }
        None
    }

    /// The next event (a JSON line), waiting at most `timeout`; `None` on timeout or end.
    pub fn next(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!(
                        "event is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(&line)
                    )
                }));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = self.r.get_ref().set_read_timeout(Some(left));
            if self.chunked {
                let mut size_line = String::new();
                match self.r.read_line(&mut size_line) {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
                let size =
                    usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                        .ok()?;
                if size == 0 {
                    return None;
                }
                let mut data = vec![0u8; size + 2];
                self.r.read_exact(&mut data).ok()?;
                data.truncate(size);
                self.pending.extend_from_slice(&data);
            } else {
                let mut buf = [0u8; 4096];
                match self.r.read(&mut buf) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                }
            }
        }
    }
}

// ---- small helpers -----------------------------------------------------------------------------

/// The workspace root (`tests/..`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The shipped configuration folder `conf.d`.
pub fn shipped_conf() -> PathBuf {
    workspace_root().join("conf.d")
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for e in std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
        .flatten()
    {
        let p = e.path();
        let target = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", p.display(), target.display()));
        }
    }
}

/// Does the text look Dutch? (One of a few common Dutch words, and none of their English
/// counterparts as whole message.) Used to check that messages are Dutch by default.
pub fn looks_dutch(s: &str) -> bool {
    let lower = s.to_lowercase();
    [
        " de ",
        " het ",
        " een ",
        " niet",
        " van ",
        " met ",
        " voor ",
        " naar ",
        " kan ",
        "organisatie",
        "bestaat",
        "geen ",
        " al ",
        "fout",
        "ongeldig",
        "onbekend",
        "verzoek",
        "mag ",
        "toegang",
        "draait",
        "wachtwoord",
        "gebruik",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Values of `key` in an array of objects, as strings.
pub fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The members of a JSON object's keys, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// A SIPp command against the pbxd listening on 127.0.0.1:`target_port`: the scenario from
/// `tests/sipp/`, extension `user` with `password` for digest, one call (`-m 1`, override by
/// adding `-m N`), local SIP port `local_port`, a free media port, and a 20 s timeout that counts
/// as a failure. Panics with the install hint when SIPp is missing.
pub fn sipp_command(
    pbx: &Pbx,
    target_port: u16,
    scenario: &str,
    user: &str,
    password: &str,
    local_port: u16,
) -> Command {
    assert!(
        Command::new("sipp").arg("-v").output().is_ok(),
        "sipp ontbreekt: installeer het Debian-pakket sip-tester (scripts/test.sh doet dat)"
    );
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sipp")
        .join(scenario);
    let mut cmd = Command::new("sipp");
    cmd.current_dir(&pbx.root)
        .arg(format!("127.0.0.1:{target_port}"))
        .arg("-sf")
        .arg(file);
    cmd.args([
        "-s",
        user,
        "-au",
        user,
        "-ap",
        password,
        "-m",
        "1",
        "-i",
        "127.0.0.1",
    ]);
    cmd.args([
        "-p",
        &local_port.to_string(),
        "-mp",
        &free_media_ports().to_string(),
    ]);
    cmd.args(["-timeout", "20s", "-timeout_error", "-nostdin"]);
    cmd
}

/// Adds extension `number` to `tenant` with a generated password; gives the password.
pub fn add_extension(pbx: &Pbx, tenant: &str, number: &str) -> String {
    pbx.ctl_json(&["extension", "add", tenant, number])["password"]
        .as_str()
        .expect("pbxctl extension add shows the generated password")
        .to_string()
}

/// Registers extension `ext` of `domain` from local `port` with SIPp (register.xml); a phone
/// then runs its scenario on that port.
pub fn register_phone(pbx: &Pbx, ext: &str, password: &str, domain: &str, port: u16) {
    let mut reg = sipp_command(pbx, pbx.sip_port, "register.xml", ext, password, port);
    reg.args(["-set", "domain", domain, "-auth_uri", domain]);
    let reg = run_for(&mut reg, None, Duration::from_secs(30));
    assert_eq!(reg.code, 0, "register {ext}: {}", reg.all());
}

/// pbxd with `extra_toml`, organisation acme (acme.example) and extensions 1001 (Jan) and 1002
/// (Piet); gives their passwords.
pub fn two_extensions(extra_toml: &str) -> (Pbx, String, String) {
    let pbx = Pbx::start(Opts {
        extra_toml: extra_toml.to_string(),
        ..Opts::default()
    });
    pbx.ctl(&["tenant", "add", "acme", "--domain", "acme.example"])
        .ok();
    let password = |number: &str, name: &str| {
        pbx.ctl_json(&["extension", "add", "acme", number, "--name", name])["password"]
            .as_str()
            .expect("pbxctl extension add shows the generated password")
            .to_string()
    };
    let (a, b) = (password("1001", "Jan"), password("1002", "Piet"));
    (pbx, a, b)
}

// ---- media calls with an impairing socket (quality, alarms, metrics) ----------------------------

/// What the impairing relay does with each packet from pbxd.
#[derive(Clone, Copy, Debug)]
pub struct Impair {
    /// Echo at all (false: 1001 is silent).
    pub echo: bool,
    /// Drop every n-th packet.
    pub drop_every: u32,
    /// Hold every n-th packet back this long (the packets behind it queue up).
    pub delay_every: u32,
    pub delay: Duration,
}

/// Receives pbxd's RTP for 1001 and sends it back impaired; gives (received, echoed).
pub fn impairing_relay(
    sock: UdpSocket,
    stop: Arc<AtomicBool>,
    imp: Impair,
) -> std::thread::JoinHandle<(u32, u32)> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("loopback");
    std::thread::spawn(move || {
        let (mut got, mut sent) = (0u32, 0u32);
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(40);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            // RTCP goes to the other port; here only RTP (version 2, PT < 128 after the marker).
            if n < 12 || buf[0] >> 6 != 2 {
                continue;
            }
            got += 1;
            if !imp.echo || (imp.drop_every > 0 && got % imp.drop_every == 0) {
                continue;
            }
            if imp.delay_every > 0 && got % imp.delay_every == 0 {
                std::thread::sleep(imp.delay);
            }
            // As 1001's own stream: PCMU (payload type 0, its only codec), its own SSRC.
            buf[1] &= 0x80;
            buf[8..12].copy_from_slice(&0x1001_1001u32.to_be_bytes());
            let _ = sock.send_to(&buf[..n], from);
            sent += 1;
        }
        (got, sent)
    })
}

/// A UDP socket on 127.0.0.1 and its port.
pub fn bind_udp() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("loopback");
    let port = s.local_addr().expect("loopback").port();
    (s, port)
}

/// A call 1001 → 1002 of organisation acme (acme.example) with media: 1002 (SIPp, registered
/// from a fresh port) answers and plays SIPp's A-law recording; 1001 calls with `uac` (a
/// `call_1001_pcmu_socket*.xml`), its media at `mport`, a socket of the test.
/// 1001's RTCP goes to a socket nobody reads. Returns while the call runs; the handle ends with
/// the call.
pub fn media_call(
    pbx: &Pbx,
    pw: &(String, String),
    uac: &str,
    mport: u16,
) -> std::thread::JoinHandle<(Run, Run)> {
    media_call_with_rtcp(pbx, pw, uac, mport, bind_udp())
}

/// [`media_call`] with 1001's RTCP at the given socket (`a=rtcp`).
pub fn media_call_with_rtcp(
    pbx: &Pbx,
    pw: &(String, String),
    uac: &str,
    mport: u16,
    rtcp: (UdpSocket, u16),
) -> std::thread::JoinHandle<(Run, Run)> {
    let port = free_udp_port();
    register_phone(pbx, "1002", &pw.1, "acme.example", port);
    let mut server = sipp_command(
        pbx,
        pbx.sip_port,
        "uas_1002_pcma_play.xml",
        "1002",
        &pw.1,
        port,
    );
    let (_rtcp, rtcpport) = rtcp;
    let mut client = sipp_command(pbx, pbx.sip_port, uac, "1001", &pw.0, free_udp_port());
    client.args([
        "-set",
        "domain",
        "acme.example",
        "-set",
        "callee",
        "1002",
        "-auth_uri",
        "1002@acme.example",
        "-set",
        "mport",
        &mport.to_string(),
        "-set",
        "rtcpport",
        &rtcpport.to_string(),
    ]);
    std::thread::spawn(move || {
        let _keep = _rtcp;
        let server =
            std::thread::spawn(move || run_for(&mut server, None, Duration::from_secs(40)));
        std::thread::sleep(Duration::from_millis(500));
        let client = run_for(&mut client, None, Duration::from_secs(40));
        (client, server.join().expect("SIPp thread"))
    })
}

// ---- SIPp as a provider ---------------------------------------------------------------------------

/// A SIPp provider (UAS, tests/sipp/provider_*.xml) on `ip:port` with `-set` variables, until
/// dropped; ready (holding its port) when `start` returns. Its `<log>` lines and errors are in
/// [`Provider::log`].
pub struct Provider {
    child: Child,
    log: std::path::PathBuf,
}

impl Provider {
    pub fn start(
        pbx: &Pbx,
        scenario: &str,
        ip: &str,
        port: u16,
        sets: &[(&str, &str)],
    ) -> Provider {
        Provider::start_over(pbx, scenario, ip, port, sets, false)
    }

    /// [`Provider::start`], over TCP (`-t t1`) when `tcp`.
    pub fn start_over(
        pbx: &Pbx,
        scenario: &str,
        ip: &str,
        port: u16,
        sets: &[(&str, &str)],
        tcp: bool,
    ) -> Provider {
        let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("sipp")
            .join(scenario);
        let log = pbx.root.join(format!("{scenario}.{ip}.{port}.log"));
        let mut cmd = Command::new("sipp");
        cmd.current_dir(&pbx.root)
            .arg("-sf")
            .arg(file)
            .args(["-i", ip, "-p", &port.to_string()])
            .args(["-mp", &free_media_ports().to_string()])
            .args(["-nostdin", "-trace_logs", "-log_file"])
            .arg(&log)
            .args(["-trace_err", "-error_file"])
            .arg(log.with_extension("err"));
        for (k, v) in sets {
            cmd.args(["-set", k, v]);
        }
        if tcp {
            cmd.args(["-t", "t1"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp starten");
        // Ready once SIPp holds its port.
        let deadline = Instant::now() + Duration::from_secs(10);
        let free = |ip: &str| {
            if tcp {
                std::net::TcpListener::bind((ip, port)).is_ok()
            } else {
                std::net::UdpSocket::bind((ip, port)).is_ok()
            }
        };
        while free(ip) {
            assert!(
                Instant::now() < deadline,
                "sipp {scenario} niet gestart op {ip}:{port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Provider { child, log }
    }

    /// The scenario's log lines, then its errors.
    pub fn log(&self) -> String {
        let err = std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default();
        std::fs::read_to_string(&self.log).unwrap_or_default() + &err
    }

    /// The logged `INVITE …` lines.
    pub fn invites(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.starts_with("INVITE "))
            .map(String::from)
            .collect()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
