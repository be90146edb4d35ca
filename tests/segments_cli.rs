//! End to end in segment mode: two `venn` processes holding one agreement.

mod cli_support;

use std::{path::Path, process::Output, time::Duration};

use cli_support::{generate_lists, text, venn, Parties, Running};

/// How long one party may take: a guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// What this file's tests do with both identities ([`Parties`]).
impl Parties {
    /// Identities, data (brand: messy emails; platform: SHA-256), and an
    /// agreement with the brand as receiver, edited by `edit`.
    fn with_agreement(rows: usize, overlap: usize, edit: impl Fn(String) -> String) -> Self {
        let parties = Parties::new();
        generate_lists([&parties.p("brand.csv"), &parties.p("platform.csv")], [rows, rows, overlap], 1, &[]);
        let out = venn(&[
            "agreement",
            "init",
            "--out",
            &parties.p("template.toml"),
            "--receiver",
            &parties.brand_fp,
            "--aggregator",
            &parties.platform_fp,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let template = std::fs::read_to_string(parties.path("template.toml")).unwrap();
        std::fs::write(parties.path("agreement.toml"), edit(template)).unwrap();
        parties
    }

    /// The arguments of `who` (`platform` serves, `brand` connects) with
    /// `address` to listen on or to dial.
    fn args(&self, who: &str, address: &str, extra: &[&str]) -> Vec<String> {
        let agreement = match extra.iter().position(|a| *a == "--agreement") {
            Some(i) => extra[i + 1].to_owned(),
            None => self.p("agreement.toml"),
        };
        let extra: Vec<&str> = match extra.iter().position(|a| *a == "--agreement") {
            Some(i) => extra.iter().enumerate().filter(|(j, _)| *j != i && *j != i + 1).map(|(_, a)| *a).collect(),
            None => extra.to_vec(),
        };
        let mut args: Vec<String> = match who {
            "platform" => vec!["serve", "--listen"],
            _ => vec!["connect", "--peer"],
        }
        .into_iter()
        .map(String::from)
        .collect();
        args.push(address.to_owned());
        let (column, id_type) = if who == "platform" { ("email_sha256", "email-sha256") } else { ("email", "email") };
        for (flag, value) in [
            ("--identity", self.p(&format!("{who}-id"))),
            ("--input", self.p(&format!("{who}.csv"))),
            ("--id-column", column.to_owned()),
            ("--id-type", id_type.to_owned()),
            ("--agreement", agreement),
            ("--report", self.p(&format!("{who}.json"))),
            ("--report-html", self.p(&format!("{who}.html"))),
            ("--ledger", self.p(&format!("{who}-ledger.json"))),
        ] {
            args.push(flag.to_owned());
            args.push(value);
        }
        args.push("--quiet".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Runs both parties, the brand once the platform listens; returns
    /// (brand, platform) outputs.
    fn run(&self, brand_extra: &[&str], platform_extra: &[&str]) -> (Output, Output) {
        let platform = Running::start(&self.args("platform", "127.0.0.1:0", platform_extra));
        let addr = platform.bound_addr().to_string();
        let brand = Running::start(&self.args("brand", &addr, brand_extra));
        (brand.wait(LIMIT).0, platform.wait(LIMIT).0)
    }

    /// Runs the brand alone, dialing a port where nothing listens: for
    /// refusals that come before dialing.
    fn brand_alone(&self) -> Output {
        Running::start(&self.args("brand", "127.0.0.1:9", &[])).wait(LIMIT).0
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).unwrap()
}

fn exact(template: String) -> String {
    template.replace("min_cell = 50", "min_cell = 0")
}

#[test]
fn two_processes_release_the_same_cross_tab_that_sums_to_the_true_overlap() {
    let s = Parties::with_agreement(2_000, 900, exact);
    let (brand, platform) = s.run(&[], &[]);
    assert!(brand.status.success(), "brand: {}", text(&brand.stderr));
    assert!(platform.status.success(), "platform: {}", text(&platform.stderr));
    for out in [&brand, &platform] {
        assert!(text(&out.stderr).contains("session policy (stricter of both parties)"), "{}", text(&out.stderr));
    }
    let (b, p) = (json(&s.path("brand.json")), json(&s.path("platform.json")));
    let (bs, ps) = (&b["segments"], &p["segments"]);
    assert_eq!(bs["role"], "receiver");
    assert_eq!(ps["role"], "aggregator");
    assert_eq!(bs["cells"], ps["cells"], "both hold the same release");
    assert_eq!(bs["agreement_sha256"], ps["agreement_sha256"]);
    let cells: i64 =
        bs["cells"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|c| c.as_i64().unwrap()).sum();
    assert_eq!(cells, 900);
    assert_eq!(bs["total"], 900);
    assert_eq!(p["overlap"], 900);
    let exact: u64 = ps["aggregator_exact_totals"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(exact, 900);
    assert!(bs.get("aggregator_exact_totals").is_none(), "the receiver never sees the aggregator's exact marginal");
    assert_eq!(bs["receiver_labels"].as_array().unwrap().len(), 15);
    assert_eq!(bs["aggregator_labels"].as_array().unwrap().len(), 4);
    let html = std::fs::read_to_string(s.path("brand.html")).unwrap();
    assert!(html.contains("900"));
    assert!(text(&brand.stdout).contains("Cross-tab"));
}

#[test]
fn different_agreements_are_refused_showing_both_hashes() {
    let s = Parties::with_agreement(1_500, 100, exact);
    // The platform's copy differs by one byte.
    let other = s.path("other.toml");
    std::fs::write(&other, format!("{}\n", std::fs::read_to_string(s.path("agreement.toml")).unwrap())).unwrap();
    let (brand, platform) = s.run(&[], &["--agreement", other.to_str().unwrap()]);
    // A policy refusal on both sides: each compares the hashes itself.
    assert_eq!(brand.status.code(), Some(4), "{}", text(&brand.stderr));
    assert_eq!(platform.status.code(), Some(4), "{}", text(&platform.stderr));
    let err = text(&brand.stderr);
    assert!(err.contains("agreement mismatch"), "{err}");
    for file in [s.path("agreement.toml"), other.clone()] {
        use sha2::Digest;
        let hash: String =
            sha2::Sha256::digest(std::fs::read(file).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
        assert!(err.contains(&hash), "both hashes shown: {err}");
    }
    assert!(!s.path("brand.json").exists() && !s.path("platform.json").exists());
}

#[test]
fn too_many_label_combinations_are_refused_before_connecting() {
    let s = Parties::with_agreement(1_500, 100, |t| t.replace("max_labels = 64", "max_labels = 8"));
    let out = s.brand_alone();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("15 label combinations") && err.contains("limit of 8"), "{err}");
}

#[test]
fn privacy_ledger_refuses_a_session_over_budget() {
    let s = Parties::with_agreement(1_500, 600, |t| exact(t).replace("# epsilon = 1.0", "epsilon = 1.0"));
    // The brand's own policy file caps ε with the platform at 1.5.
    std::fs::write(s.path("brand-policy.toml"), "max_epsilon_per_peer = 1.5\n").unwrap();
    let policy = s.path("brand-policy.toml");
    let brand_flags = ["--policy", policy.to_str().unwrap()];
    let (brand, platform) = s.run(&brand_flags, &[]);
    assert!(brand.status.success() && platform.status.success(), "{}", text(&brand.stderr));
    let ledger = std::fs::read_to_string(s.path("brand-ledger.json")).unwrap();
    assert!(ledger.contains(&s.platform_fp), "the spend is recorded against the peer");
    // A second session would spend 1.0 more: 2.0 > 1.5. The brand refuses,
    // and the platform is told why instead of waiting for a timeout.
    std::fs::remove_file(s.path("brand.json")).unwrap();
    std::fs::remove_file(s.path("platform.json")).unwrap();
    let (brand, platform) = s.run(&brand_flags, &[]);
    assert_eq!(brand.status.code(), Some(4), "{}", text(&brand.stderr));
    assert!(text(&brand.stderr).contains("privacy budget exceeded"), "{}", text(&brand.stderr));
    assert!(text(&brand.stderr).contains("told the peer"), "{}", text(&brand.stderr));
    assert_eq!(platform.status.code(), Some(4), "{}", text(&platform.stderr));
    let said = text(&platform.stderr);
    assert!(said.contains("peer aborted because its privacy budget (ε) for sessions with us is spent"), "{said}");
    assert!(!s.path("brand.json").exists() && !s.path("platform.json").exists());
    // With nobody to tell, the refusal is still a policy refusal.
    let out = Running::start(&{
        let mut args = s.args("brand", "127.0.0.1:9", &brand_flags);
        args.extend(["--connect-timeout".to_owned(), "1".to_owned()]);
        args
    })
    .wait(LIMIT)
    .0;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("privacy budget exceeded"), "{}", text(&out.stderr));
    let _ = &s.brand_fp;
}
