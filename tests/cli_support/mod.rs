//! Running the built `venn` binary from the end-to-end tests: one copy of
//! the launchers every such test binary needs.
#![allow(dead_code, reason = "each test binary that includes this module uses a different part of it")]

use std::{
    ffi::OsStr,
    net::UdpSocket,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// The binary under test.
pub const VENN: &str = env!("CARGO_BIN_EXE_venn");

/// Runs `venn` to completion.
pub fn venn(args: &[&str]) -> Output {
    Command::new(VENN).args(args).output().expect("venn runs")
}

/// Starts `venn` with its output captured.
pub fn spawn<S: AsRef<OsStr>>(args: &[S]) -> Child {
    Command::new(VENN).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("venn starts")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A free UDP port on loopback (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

/// Waits for a child with a deadline; kills it if the deadline passes.
pub fn wait(mut child: Child, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("venn did not exit within {limit:?}: {}", text(&child.wait_with_output().unwrap().stderr));
}
