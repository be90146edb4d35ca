//! `venn demo`: a whole match on one machine.
//!
//! A brand with plain, messily formatted emails and an ad platform that only
//! keeps SHA-256 hashes of normalized emails: the two lists still match,
//! because Venn hashes plain emails the way upload tools do before blinding.

use anyhow::Context;
use venn_ids::{
    synthetic::{generate, true_overlap, Person, SideFormat, SyntheticSpec},
    IdType, LabelScheme,
};
use venn_net::{connect, Identity, NetConfig, PeerPins, Server};
use venn_protocol::{Policy, Role};

use crate::{
    agreement::{template, Agreement},
    flags::DemoArgs,
    gen::write_side,
    input::InputSpec,
    party::{match_with, publish, SegmentPlan, SessionParams},
    policy_file::PolicySettings,
    report::{group, Report},
};

/// Runs the demo and prints the brand's report.
pub async fn run(args: &DemoArgs, quiet: bool) -> anyhow::Result<()> {
    let Played { brand, platform, truth, .. } = play(args, quiet).await?;
    println!("Brand's report");
    println!("--------------");
    publish(&brand, args.report.as_deref(), Some(&args.report_html))?;
    println!();
    println!(
        "The platform's report shows the same overlap ({}) and session {}.",
        group(platform.overlap),
        &platform.session_id[..16]
    );
    anyhow::ensure!(brand.overlap == platform.overlap, "the two reports disagree on the overlap");
    // With noise the headline is the released (noisy) total; the platform
    // still counted the exact overlap itself, per own segment.
    let counted = match platform.segments.as_ref().and_then(|s| s.aggregator_exact_totals.as_ref()) {
        Some(per_label) => per_label.iter().sum(),
        None => platform.overlap,
    };
    anyhow::ensure!(
        counted == truth && (!brand.overlap_exact || brand.overlap == truth),
        "the match found {} but the generator put {} people on both lists",
        group(counted),
        group(truth)
    );
    if brand.overlap_exact {
        println!("The generator put {} people on both lists: the match is exact.", group(truth));
    } else {
        println!(
            "The generator put {} people on both lists; the platform counted exactly that, and both reports show \
             the noisy total {} (each party's figures carry noise the other drew).",
            group(truth),
            group(brand.overlap)
        );
    }
    Ok(())
}

/// Both parties' reports of a demo match, with what the generator made.
struct Played {
    brand: Report,
    platform: Report,
    /// People on both lists.
    truth: u64,
    #[cfg_attr(not(test), allow(dead_code, reason = "the release test recomputes the cross-tab from them"))]
    people: (Vec<Person>, Vec<Person>),
    #[cfg_attr(not(test), allow(dead_code, reason = "the release test reads the labels from it"))]
    agreement: Option<Agreement>,
}

/// Generates both lists and runs the match between the brand (receiver)
/// and the platform (aggregator) over loopback QUIC, with throwaway
/// identities.
async fn play(args: &DemoArgs, quiet: bool) -> anyhow::Result<Played> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let spec = SyntheticSpec { rows_a: args.rows_a, rows_b: args.rows_b, overlap: args.overlap, seed: args.seed };
    let (brand_people, platform_people) = generate(&spec)?;
    let truth = true_overlap(&brand_people, &platform_people) as u64;
    let (brand_csv, platform_csv) = (dir.path().join("brand.csv"), dir.path().join("platform.csv"));
    write_side(&brand_people, SideFormat::Messy, &brand_csv)?;
    write_side(&platform_people, SideFormat::Sha256, &platform_csv)?;
    eprintln!(
        "venn demo: brand has {} customers (plain emails), platform has {} users (SHA-256 of emails), {} in common",
        group(args.rows_a as u64),
        group(args.rows_b as u64),
        group(truth)
    );

    // Throwaway identities, each pinning the other, as two companies would
    // after exchanging fingerprints.
    let (brand_id, platform_id) = (Identity::generate()?, Identity::generate()?);
    let (brand_fp, platform_fp) = (brand_id.fingerprint(), platform_id.fingerprint());
    let net = NetConfig::default();
    let mut policy = Policy::default();
    // Both parties hold the same agreement: the brand receives the cross-tab
    // of its loyalty tiers and recent buyers by the platform's campaigns.
    let agreement = if args.no_segments {
        None
    } else {
        let path = dir.path().join("agreement.toml");
        std::fs::write(&path, template(Some(&brand_fp), Some(&platform_fp)))?;
        let agreement = Agreement::load(&path)?;
        policy = agreement.policy.overlay(policy)?;
        if !args.exact {
            policy = PolicySettings { epsilon: Some(args.epsilon), ..Default::default() }.apply(policy)?;
        }
        Some(agreement)
    };
    let plan = |role, own: &LabelScheme, peer: &LabelScheme, agreement: &Agreement| SegmentPlan {
        role,
        own: own.clone(),
        peer: peer.clone(),
        agreement: agreement.sha256,
        purpose: agreement.purpose.clone(),
        reveal: false,
        ledger: None,
    };
    let (brand_plan, platform_plan) = match &agreement {
        None => (None, None),
        Some(a) => {
            let (r, g) = (&a.receiver.segments, &a.aggregator.segments);
            (Some(plan(Role::Receiver, r, g, a)), Some(plan(Role::Aggregator, g, r, a)))
        }
    };
    let params = SessionParams { policy, batch_size: venn_protocol::DEFAULT_BATCH_SIZE, net, index: None };
    let server = Server::bind("127.0.0.1:0".parse()?, platform_id, PeerPins::new([brand_fp]), net)?;
    let addr = server.local_addr()?;

    let platform_spec = InputSpec::new(&platform_csv, "email_sha256", IdType::EmailSha256);
    let platform_params = params.clone();
    let platform = tokio::spawn(async move {
        let accept = || async move { Ok(server.accept().await?) };
        match_with("platform", platform_fp, platform_spec, platform_params, platform_plan, quiet, accept, |_| {}).await
    });
    let brand_spec = InputSpec::new(&brand_csv, "email", IdType::Email);
    let dial = || async move { Ok(connect(addr, &brand_id, PeerPins::new([platform_fp]), net).await?) };
    let brand = match_with("brand", brand_fp, brand_spec, params, brand_plan, quiet, dial, |_| {})
        .await
        .context("the brand's side failed")?;
    let platform = platform.await.context("the platform's side panicked")?.context("the platform's side failed")?;
    Ok(Played { brand, platform, truth, people: (brand_people, platform_people), agreement })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The true cross-tab of the generated lists under the agreement's
    /// labels: receiver labels from the brand's rows, aggregator labels from
    /// the platform's.
    fn true_cells(played: &Played) -> Vec<Vec<i64>> {
        let agreement = played.agreement.as_ref().unwrap();
        let (receiver, aggregator) = (&agreement.receiver.segments, &agreement.aggregator.segments);
        let field = |p: &Person, column: &str| -> Vec<u8> {
            match column {
                "loyalty_tier" => p.loyalty_tier,
                "recent_buyer" => p.recent_buyer,
                "age_band" => p.age_band,
                "campaign" => p.campaign,
                other => panic!("the template names an unknown column {other}"),
            }
            .as_bytes()
            .to_vec()
        };
        let label = |scheme: &LabelScheme, p: &Person| {
            let fields: Vec<Vec<u8>> = scheme.columns().iter().map(|c| field(p, &c.name)).collect();
            scheme.label_of(&fields.iter().map(|f| Some(f.as_slice())).collect::<Vec<_>>()) as usize
        };
        let platform: HashMap<&str, usize> =
            played.people.1.iter().map(|p| (p.email.as_str(), label(aggregator, p))).collect();
        let mut cells = vec![vec![0i64; aggregator.count() as usize]; receiver.count() as usize];
        for p in &played.people.0 {
            if let Some(&a) = platform.get(p.email.as_str()) {
                cells[label(receiver, p)][a] += 1;
            }
        }
        cells
    }

    /// Issue 10's acceptance: a segment match on fresh data (the brand as
    /// receiver, the platform as aggregator, the default template, exact
    /// counts) releases every unsuppressed cell exactly, suppresses every
    /// cell under `min_cell` (a structural zero, a label nobody on its side
    /// has, is known to both and released as 0), and loses at most 10 % of
    /// the cells whose true value is at least 2 × `min_cell`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exact_demo_match_releases_big_cells_exactly_and_suppresses_small_ones() {
        let args = DemoArgs {
            rows_a: 9_000,
            rows_b: 8_500,
            overlap: 8_000,
            seed: 11,
            report: None,
            report_html: "unused.html".into(),
            no_segments: false,
            epsilon: 1.0,
            exact: true,
            curve: crate::flags::CurveArgs { threads: None },
        };
        let played = play(&args, true).await.unwrap();
        let truth = true_cells(&played);
        let segments = played.brand.segments.as_ref().unwrap();
        assert_eq!(segments.cells, played.platform.segments.as_ref().unwrap().cells, "one table");
        assert_eq!(played.brand.overlap, 8_000);
        assert!(played.brand.overlap_exact);
        let min_cell = segments.min_cell as i64;
        let structural_row = |r: usize| truth[r].iter().all(|&c| c == 0);
        let structural_col = |a: usize| truth.iter().all(|row| row[a] == 0);
        let (mut big, mut big_lost) = (0, 0);
        for (r, row) in segments.cells.iter().enumerate() {
            for (a, cell) in row.iter().enumerate() {
                let t = truth[r][a];
                match cell {
                    Some(v) => {
                        assert_eq!(*v, t, "cell ({r}, {a}) released exactly");
                        let known_zero = t == 0 && (structural_row(r) || structural_col(a));
                        assert!(t >= min_cell || known_zero, "cell ({r}, {a}) = {t} under {min_cell} was released");
                    }
                    None => assert!(t > 0 || !(structural_row(r) || structural_col(a)), "a structural zero hidden"),
                }
                if t >= 2 * min_cell {
                    big += 1;
                    big_lost += cell.is_none() as usize;
                }
            }
        }
        assert!(big >= 10, "the data has enough big cells to judge ({big})");
        assert!(big_lost * 10 <= big, "{big_lost} of {big} cells of at least {} were suppressed", 2 * min_cell);
    }
}
