//! The HTML report in a real browser: headless Chromium loads the page from
//! disk, and the DOM it builds and the screenshot it takes are checked.
//!
//! Needs Chromium (Debian's `chromium` package); `.ci/run` installs it. A
//! machine without it fails this test rather than skipping it. Set
//! `VENN_HTML_PREVIEW_DIR` to a directory to keep the page and its
//! screenshot there for a look.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use venn_cli::{html, report::group};

/// Chromium must finish well within this, or the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn browser() -> PathBuf {
    let candidates = ["chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"];
    for candidate in candidates {
        let found = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "no headless browser found (tried {candidates:?}); install Debian's `chromium` package: \
         `apt-get install chromium` (.ci/run does this in CI)"
    );
}

/// Runs the browser headless on `page` with `extra` flags, killing it if it
/// hangs.
fn chromium(profile: &Path, page: &Path, extra: &[String]) -> Output {
    let mut child = Command::new(browser())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("the browser can be waited on").is_some() {
            return child.wait_with_output().expect("the browser's output is readable");
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("the browser's output is readable");
            panic!("the browser ran past {BROWSER_TIMEOUT:?}; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The text inside the element with `id="overlap"` in a serialized DOM.
fn overlap_text(dom: &str) -> &str {
    let at = dom.find("id=\"overlap\"").expect("the DOM has an element with id=\"overlap\"");
    let rest = &dom[at..];
    let open = rest.find('>').expect("the element's start tag ends") + 1;
    let close = rest[open..].find('<').expect("the element's content ends") + open;
    rest[open..close].trim()
}

#[test]
fn chromium_renders_the_report() {
    let report = html::example_report();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    html::write(&report, &page).unwrap();
    let page = page.canonicalize().unwrap();

    let out = chromium(&dir.path().join("profile-dom"), &page, &["--dump-dom".to_owned()]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(overlap_text(&dom), group(report.overlap), "the overlap as the browser shows it");
    assert!(dom.contains("Venn overlap report"));
    assert!(dom.contains("class=\"crosstab\""), "the segment table is in the page");

    let png = dir.path().join("page.png");
    let out = chromium(
        &dir.path().join("profile-shot"),
        &page,
        &[format!("--screenshot={}", png.display()), "--window-size=1200,1600".to_owned()],
    );
    assert!(out.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is a PNG");
    assert!(bytes.len() > 20 * 1024, "the screenshot is {} bytes: a blank page?", bytes.len());

    if let Some(keep) = std::env::var_os("VENN_HTML_PREVIEW_DIR") {
        let keep = Path::new(&keep);
        std::fs::copy(&page, keep.join("report.html")).unwrap();
        std::fs::copy(&png, keep.join("report.png")).unwrap();
    }
}
