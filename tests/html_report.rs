//! The HTML report, checked twice: as the file `venn` writes (always), and
//! in a real browser (when one is installed): headless Chromium loads the
//! page from disk, and the DOM it builds and the screenshot it takes are
//! checked.
//!
//! The file checks need nothing but the page: the overlap in
//! `id="overlap"`, the title, the segment table, well-nested main elements,
//! and that the page is self-contained (no script, no external resource).
//!
//! The browser check needs Chromium (Debian's `chromium` package). Without
//! one it is skipped and says so loudly on stderr (past the test harness's
//! capture, so it shows in `cargo test`'s output): `cargo test --workspace`
//! passes on a fresh machine with only a Rust toolchain. With
//! `VENN_REQUIRE_BROWSER=1` a missing browser is a failure: `.ci/run`
//! installs Chromium and sets it, so CI always runs the browser check. Set
//! `VENN_HTML_PREVIEW_DIR` to a directory to keep the page and its
//! screenshot there for a look.

mod cli_support;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use cli_support::{assert_self_contained, overlap_text};
use venn_cli::{html, report::group};

/// Chromium must finish well within this, or the test fails.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Where we look for a browser.
const CANDIDATES: [&str; 4] = ["chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"];

/// Set to `1` to make a missing browser a failure instead of a skip.
const REQUIRE: &str = "VENN_REQUIRE_BROWSER";

/// The first candidate that runs, if any.
fn browser() -> Option<PathBuf> {
    CANDIDATES.into_iter().map(PathBuf::from).find(|candidate| {
        Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The browser, or `None` after saying loudly that the browser check is
/// skipped; with `VENN_REQUIRE_BROWSER=1`, no browser fails the test.
fn browser_or_skip() -> Option<PathBuf> {
    if let Some(found) = browser() {
        return Some(found);
    }
    let advice = format!(
        "no headless browser found (tried {CANDIDATES:?}); install Debian's `chromium` package \
         (`apt-get install chromium`, as .ci/run does) to run it"
    );
    assert!(std::env::var_os(REQUIRE).is_none_or(|v| v != "1"), "{REQUIRE}=1 but {advice}");
    // Straight to the process's stderr: the test harness captures
    // `eprintln!` of a passing test, and this must be seen.
    let banner = "*".repeat(72);
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n{banner}\nSKIPPED: the HTML report's browser check (tests/html_report.rs):\n{advice}.\n\
         The page itself was still checked without a browser.\n\
         Set {REQUIRE}=1 to make a missing browser a failure.\n{banner}"
    );
    None
}

/// The example report's page, written as `venn` writes it.
fn written_page(dir: &Path) -> (venn_cli::report::Report, PathBuf) {
    let report = html::example_report();
    let page = dir.join("report.html");
    html::write(&report, &page).unwrap();
    (report, page.canonicalize().unwrap())
}

/// Opening and closing tags of `tag` balance.
fn assert_balanced(page: &str, tag: &str) {
    let opened = page.matches(&format!("<{tag}>")).count() + page.matches(&format!("<{tag} ")).count();
    let closed = page.matches(&format!("</{tag}>")).count();
    assert!(opened > 0, "no <{tag}> in the page");
    assert_eq!(opened, closed, "<{tag}> opened {opened} times, closed {closed} times");
}

#[test]
fn the_written_page_holds_the_report_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (report, path) = written_page(dir.path());
    let page = std::fs::read_to_string(&path).expect("the page is UTF-8");
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..page.len().min(80)]);
    assert_eq!(overlap_text(&page), group(report.overlap), "the overlap as the page shows it");
    assert_eq!(page.matches("id=\"overlap\"").count(), 1, "one overlap element");
    assert!(page.contains("<title>Venn overlap report</title>"));
    assert!(page.contains("class=\"crosstab\""), "the segment table is in the page");
    for tag in ["html", "head", "body", "main", "table", "svg", "style", "footer"] {
        assert_balanced(&page, tag);
    }
    assert_self_contained(&page);
    // Every label of the cross-tab is on the page.
    let segments = report.segments.as_ref().expect("the example is a segment report");
    for label in segments.receiver_labels.iter().chain(&segments.aggregator_labels) {
        assert!(page.contains(label.as_str()), "label {label:?} missing");
    }
}

/// Runs the browser headless on `page` with `extra` flags, killing it if it
/// hangs.
fn chromium(browser: &Path, profile: &Path, page: &Path, extra: &[String]) -> Output {
    let mut child = Command::new(browser)
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

#[test]
fn chromium_renders_the_report() {
    let Some(browser) = browser_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (report, page) = written_page(dir.path());

    let out = chromium(&browser, &dir.path().join("profile-dom"), &page, &["--dump-dom".to_owned()]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(overlap_text(&dom), group(report.overlap), "the overlap as the browser shows it");
    assert!(dom.contains("Venn overlap report"));
    assert!(dom.contains("class=\"crosstab\""), "the segment table is in the page");

    let png = dir.path().join("page.png");
    let out = chromium(
        &browser,
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
