//! Running the built `venn` binary from the end-to-end tests: one copy of
//! the launchers every such test binary needs.
//!
//! Tests synchronise on what `venn` prints, never on sleeps: a listening
//! party is started on port 0 and [`Running::bound_addr`] waits for the line
//! that names the address it bound, and [`Lines::wait_for`] waits for any
//! other line. Every output stream of a [`Running`] party is drained by a
//! thread from the start, so the child never blocks on a full pipe and all
//! it printed stays available for assertions.
#![allow(dead_code, reason = "each test binary that includes this module uses a different part of it")]

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Read},
    net::{SocketAddr, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// The binary under test.
pub const VENN: &str = env!("CARGO_BIN_EXE_venn");

/// How long a party may take to print that it listens: reading a small
/// input and binding, on a loaded two-core machine. Only a guard against a
/// hang, never a measurement.
pub const STARTUP: Duration = Duration::from_secs(120);

/// Runs `venn` to completion.
pub fn venn(args: &[&str]) -> Output {
    Command::new(VENN).args(args).output().expect("venn runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `venn keygen --out dir`, returning the printed fingerprint.
pub fn keygen(dir: &Path) -> String {
    let out = venn(&["keygen", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Fingerprint:"))
        .expect("fingerprint printed")
        .trim()
        .to_owned()
}

/// `venn gen` into `dir`: `brand.csv` (messy plain emails) and
/// `platform.csv` (SHA-256 of normalized emails), with a known overlap.
/// Returns what `venn gen` printed.
pub fn generate_pair(dir: &Path, rows_a: usize, rows_b: usize, overlap: usize, seed: u64) -> String {
    let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    generate_lists([&p("brand.csv"), &p("platform.csv")], [rows_a, rows_b, overlap], seed, &[])
}

/// `venn gen` of the brand's list (messy plain emails) into `out_a` and
/// the platform's (SHA-256 of normalized emails) into `out_b`, with
/// `rows_a`, `rows_b` and `overlap` people and more `venn gen` arguments
/// (`--format`, ...). Returns what `venn gen` printed.
pub fn generate_lists(
    [out_a, out_b]: [&str; 2],
    [rows_a, rows_b, overlap]: [usize; 3],
    seed: u64,
    extra: &[&str],
) -> String {
    let (rows_a, rows_b, overlap, seed) =
        (rows_a.to_string(), rows_b.to_string(), overlap.to_string(), seed.to_string());
    let mut args = vec![
        "gen",
        "--rows-a",
        &rows_a,
        "--rows-b",
        &rows_b,
        "--overlap",
        &overlap,
        "--seed",
        &seed,
        "--out-a",
        out_a,
        "--out-b",
        out_b,
        "--format-a",
        "messy",
        "--format-b",
        "sha256",
    ];
    args.extend_from_slice(extra);
    let out = venn(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Two parties' identities, `brand-id/` and `platform-id/`, in a temporary
/// directory that also holds the test's files: where most end-to-end tests
/// start.
pub struct Parties {
    /// The directory (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The brand's fingerprint.
    pub brand_fp: String,
    /// The platform's fingerprint.
    pub platform_fp: String,
}

impl Parties {
    /// Both identities, made with `venn keygen`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let brand_fp = keygen(&dir.path().join("brand-id"));
        let platform_fp = keygen(&dir.path().join("platform-id"));
        Self { dir, brand_fp, platform_fp }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The same, as a string for an argument.
    pub fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// `venn connect` of the brand with `--input input` (and `extra`
    /// flags) that fails on its input before dialing: its exit code and its
    /// error, which must be one line.
    pub fn input_error(&self, input: &Path, extra: &[&str]) -> (Option<i32>, String) {
        let (identity, input) = (self.p("brand-id"), input.to_str().unwrap());
        let mut args = vec!["connect", "--quiet", "--peer", "127.0.0.1:9", "--identity", &identity];
        args.extend(["--peer-fingerprint", &self.platform_fp, "--input", input]);
        args.extend_from_slice(extra);
        let out = venn(&args);
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        (out.status.code(), err)
    }
}

/// A UDP port on loopback that is bound and never answers, for as long as
/// the socket is kept: a dial to it can only time out. (A port bound and
/// released could be taken by anything before the test uses it.)
pub fn silent_port() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    let addr = socket.local_addr().expect("its address");
    (socket, addr)
}

/// The socket address in a line such as `venn: listening on 127.0.0.1:40312
/// as …` (one session) or `venn: serving up to 4 sessions at once on
/// 127.0.0.1:40312 as …` (`--max-sessions`).
pub fn bound_addr_in(line: &str) -> Option<SocketAddr> {
    if !(line.contains("listening on") || line.contains("serving up to")) {
        return None;
    }
    line.split_whitespace().find_map(|word| word.trim_end_matches([',', ';', ')']).parse().ok())
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    lines: Vec<String>,
    ended: bool,
}

/// Everything a stream carries, read line by line in a thread.
pub struct Lines {
    shared: Arc<(Mutex<Captured>, Condvar)>,
    reader: Option<JoinHandle<()>>,
}

impl Lines {
    /// Starts reading `stream` to its end.
    pub fn follow<R: Read + Send + 'static>(stream: R) -> Self {
        let shared = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        let state = shared.clone();
        let reader = std::thread::spawn(move || {
            let mut stream = BufReader::new(stream);
            loop {
                let mut line = Vec::new();
                let read = stream.read_until(b'\n', &mut line).unwrap_or(0);
                let (lock, changed) = &*state;
                let mut captured = lock.lock().unwrap();
                if read == 0 {
                    captured.ended = true;
                    changed.notify_all();
                    return;
                }
                captured.bytes.extend_from_slice(&line);
                captured.lines.push(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned());
                changed.notify_all();
            }
        });
        Self { shared, reader: Some(reader) }
    }

    /// The first line, from the start of the stream, for which `found`
    /// returns a value, waiting for it as long as the stream is open. Panics
    /// with everything read so far if the stream ends first or `limit`
    /// passes (a guard against a hang only).
    pub fn wait_for<T>(&self, what: &str, limit: Duration, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        let (lock, changed) = &*self.shared;
        let mut captured = lock.lock().unwrap();
        let mut seen = 0;
        loop {
            if let Some(value) = captured.lines[seen..].iter().find_map(|l| found(l)) {
                return value;
            }
            seen = captured.lines.len();
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!captured.ended, "the stream ended before {what}:\n{}", text(&captured.bytes));
            assert!(!left.is_zero(), "no {what} within {limit:?}:\n{}", text(&captured.bytes));
            captured = changed.wait_timeout(captured, left).unwrap().0;
        }
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn wait_for_line(&self, needle: &str, limit: Duration) -> String {
        self.wait_for(&format!("a line with {needle:?}"), limit, |l| l.contains(needle).then(|| l.to_owned()))
    }

    /// What was read so far, as text.
    pub fn text(&self) -> String {
        text(&self.shared.0.lock().unwrap().bytes)
    }

    /// Waits for the end of the stream (the child has exited, so it comes
    /// at once) and returns all of it.
    pub fn finish(&mut self) -> Vec<u8> {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the reader thread does not panic");
        }
        self.shared.0.lock().unwrap().bytes.clone()
    }
}

/// A `venn` process whose stdout and stderr are read as they come. Killed
/// if dropped while it runs (a failing test leaves no server behind).
pub struct Running {
    child: Option<Child>,
    /// What it printed on stdout.
    pub stdout: Lines,
    /// What it printed on stderr.
    pub stderr: Lines,
}

impl Running {
    /// Starts `venn` with these arguments.
    pub fn start<S: AsRef<OsStr>>(args: &[S]) -> Self {
        Self::start_command(Command::new(VENN).args(args))
    }

    /// Starts a prepared `venn` command (environment, arguments).
    pub fn start_command(command: &mut Command) -> Self {
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("venn starts");
        let stdout = Lines::follow(child.stdout.take().expect("stdout is piped"));
        let stderr = Lines::follow(child.stderr.take().expect("stderr is piped"));
        Self { child: Some(child), stdout, stderr }
    }

    /// The address a listening party bound, once it says so (`venn serve`
    /// prints it after reading its input).
    pub fn bound_addr(&self) -> SocketAddr {
        self.stderr.wait_for("the \"listening on ADDRESS\" line", STARTUP, bound_addr_in)
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([format!("-{name}"), self.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Kills it at once (SIGKILL: no goodbye to its peer) and reaps it.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("the child can be killed");
        child.wait().expect("the child can be reaped");
    }

    /// Waits for it to exit, with a deadline against a hang: past `limit`
    /// it is killed and the test fails with what it printed. Returns all its
    /// output and how long the wait took.
    pub fn wait(mut self, limit: Duration) -> (Output, Duration) {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        let status: ExitStatus = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("venn did not exit within {limit:?}:\n{}", text(&self.stderr.finish()));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let waited = start.elapsed();
        (Output { status, stdout: self.stdout.finish(), stderr: self.stderr.finish() }, waited)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The text of the element with `id="overlap"` in an HTML page.
pub fn overlap_text(html: &str) -> &str {
    let at = html.find("id=\"overlap\"").expect("the page has an element with id=\"overlap\"");
    let rest = &html[at..];
    let open = rest.find('>').expect("the element's start tag ends") + 1;
    let close = rest[open..].find('<').expect("the element's content ends") + open;
    rest[open..close].trim()
}

/// Checks that an HTML report loads nothing: no script, no external
/// resource, a policy that forbids every fetch.
pub fn assert_self_contained(html: &str) {
    for needle in ["http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "src=", "href="] {
        assert!(!html.contains(needle), "the page contains {needle:?}");
    }
    assert_eq!(html.matches("url(").count(), html.matches("url(#").count(), "only in-page url(#…) references");
    assert!(html.contains("default-src 'none'"), "the page has a Content-Security-Policy forbidding fetches");
}
