//! `venn demo`: a whole match on one machine.
//!
//! A brand with plain, messily formatted emails and an ad platform that only
//! keeps SHA-256 hashes of normalized emails: the two lists still match,
//! because Venn hashes plain emails the way upload tools do before blinding.

use anyhow::Context;
use venn_ids::{
    synthetic::{generate, true_overlap, SideFormat, SyntheticSpec},
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
    report::group,
};

/// Runs the demo and prints the brand's report.
pub async fn run(args: &DemoArgs, quiet: bool) -> anyhow::Result<()> {
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
    let (brand_plan, platform_plan) = if args.no_segments {
        (None, None)
    } else {
        let text = template(Some(&brand_fp), Some(&platform_fp));
        let path = dir.path().join("agreement.toml");
        std::fs::write(&path, text)?;
        let agreement = Agreement::load(&path)?;
        policy = agreement.policy.overlay(policy)?;
        if !args.exact {
            policy = PolicySettings { epsilon: Some(args.epsilon), ..Default::default() }.apply(policy)?;
        }
        let plan = |role, own: &LabelScheme, peer: &LabelScheme| SegmentPlan {
            role,
            own: own.clone(),
            peer: peer.clone(),
            agreement: agreement.sha256,
            purpose: agreement.purpose.clone(),
            reveal: false,
            ledger: None,
        };
        let (r, a) = (&agreement.receiver.segments, &agreement.aggregator.segments);
        (Some(plan(Role::Receiver, r, a)), Some(plan(Role::Aggregator, a, r)))
    };
    let params = SessionParams { policy, batch_size: venn_protocol::DEFAULT_BATCH_SIZE, net };
    let server = Server::bind("127.0.0.1:0".parse()?, platform_id, PeerPins::new([brand_fp]), net)?;
    let addr = server.local_addr()?;

    let platform_spec = InputSpec::new(&platform_csv, "email_sha256", IdType::EmailSha256);
    let platform = tokio::spawn(async move {
        let accept = || async move { Ok(server.accept().await?) };
        match_with("platform", platform_fp, platform_spec, params, platform_plan, quiet, accept, |_| {}).await
    });
    let brand_spec = InputSpec::new(&brand_csv, "email", IdType::Email);
    let dial = || async move { Ok(connect(addr, &brand_id, PeerPins::new([platform_fp]), net).await?) };
    let brand = match_with("brand", brand_fp, brand_spec, params, brand_plan, quiet, dial, |_| {})
        .await
        .context("the brand's side failed")?;
    let platform = platform.await.context("the platform's side panicked")?.context("the platform's side failed")?;

    println!("Brand's report");
    println!("--------------");
    publish(&brand, args.report.as_deref(), Some(&args.report_html))?;
    println!();
    println!(
        "The platform's report shows the same overlap ({}) and session {}.",
        group(platform.overlap),
        &platform.session_id[..16]
    );
    // The aggregator's count is exact even with noise; the receiver's is the
    // sum of its (possibly noisy) cells.
    let noisy = policy.epsilon_micros.is_some() && !args.no_segments;
    anyhow::ensure!(
        platform.overlap == truth && (noisy || brand.overlap == truth),
        "the match found {} but the generator put {} people on both lists",
        platform.overlap,
        truth
    );
    println!("The generator put {} people on both lists: the match is exact.", group(truth));
    Ok(())
}
