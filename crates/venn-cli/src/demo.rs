//! `venn demo`: a whole match on one machine.
//!
//! A brand with plain, messily formatted emails and an ad platform that only
//! keeps SHA-256 hashes of normalized emails: the two lists still match,
//! because Venn hashes plain emails the way upload tools do before blinding.

use anyhow::Context;
use venn_ids::{
    synthetic::{generate, true_overlap, SideFormat, SyntheticSpec},
    IdType,
};
use venn_net::{connect, Identity, NetConfig, PeerPins, Server};
use venn_protocol::Policy;

use crate::{
    flags::DemoArgs,
    gen::write_side,
    input::InputSpec,
    party::{match_with, publish, SessionParams},
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
    let params = SessionParams { policy: Policy::default(), batch_size: venn_protocol::DEFAULT_BATCH_SIZE, net };
    let server = Server::bind("127.0.0.1:0".parse()?, platform_id, PeerPins::new([brand_fp]), net)?;
    let addr = server.local_addr()?;

    let platform_spec = InputSpec::new(&platform_csv, "email_sha256", IdType::EmailSha256);
    let platform = tokio::spawn(async move {
        let accept = || async move { Ok(server.accept().await?) };
        match_with("platform", platform_fp, platform_spec, params, quiet, accept, |_| {}).await
    });
    let brand_spec = InputSpec::new(&brand_csv, "email", IdType::Email);
    let dial = || async move { Ok(connect(addr, &brand_id, PeerPins::new([platform_fp]), net).await?) };
    let brand = match_with("brand", brand_fp, brand_spec, params, quiet, dial, |_| {})
        .await
        .context("the brand's side failed")?;
    let platform = platform.await.context("the platform's side panicked")?.context("the platform's side failed")?;

    println!("Brand's report");
    println!("--------------");
    publish(&brand, args.report.as_deref())?;
    println!();
    println!(
        "The platform's report shows the same overlap ({}) and session {}.",
        group(platform.overlap),
        &platform.session_id[..16]
    );
    anyhow::ensure!(
        brand.overlap == truth && platform.overlap == truth,
        "the match found {} but the generator put {} people on both lists",
        brand.overlap,
        truth
    );
    println!("The generator put {} people on both lists: the match is exact.", group(truth));
    Ok(())
}
