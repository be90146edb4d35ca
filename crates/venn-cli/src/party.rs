//! `venn serve` and `venn connect`: one party of one match.

use std::{future::Future, net::SocketAddr, path::Path, time::Instant};

use anyhow::Context;
use venn_ids::Region;
use venn_net::{connect, run_session, Fingerprint, Identity, NetConfig, PeerConnection, PeerPins, Server};
use venn_protocol::{Event, Policy, SessionConfig};

use crate::{
    flags::{InputArgs, SessionArgs},
    input::{load, InputSpec},
    progress::Bars,
    report::Report,
};

/// How this party reaches its peer.
pub enum Role {
    /// Listen and accept one peer.
    Serve(SocketAddr),
    /// Dial the peer.
    Connect(String),
}

/// Turns the input flags into a read specification.
pub fn input_spec(args: &InputArgs) -> anyhow::Result<InputSpec> {
    let delimiter = u8::try_from(args.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .with_context(|| format!("--delimiter must be one ASCII character, got {:?}", args.delimiter))?;
    let region: Region =
        args.default_region.to_ascii_uppercase().parse().map_err(|_| {
            anyhow::anyhow!("--default-region {:?} is not a two-letter country code", args.default_region)
        })?;
    Ok(InputSpec::new(&args.input, &args.id_column, args.id_type).with(
        delimiter,
        args.email_profile,
        region,
        args.strict,
    ))
}

/// What a session needs besides the input and the connection.
#[derive(Debug, Clone, Copy)]
pub struct SessionParams {
    /// Our guardrails.
    pub policy: Policy,
    /// Points per message.
    pub batch_size: usize,
    /// Timeouts.
    pub net: NetConfig,
}

impl From<&SessionArgs> for SessionParams {
    fn from(args: &SessionArgs) -> Self {
        Self { policy: args.policy(), batch_size: args.batch_size, net: args.net() }
    }
}

/// Runs one party of `venn serve` or `venn connect`.
pub async fn run(role: Role, input: &InputArgs, session: &SessionArgs, quiet: bool) -> anyhow::Result<Report> {
    let spec = input_spec(input)?;
    let identity = Identity::load(&session.identity).context("cannot load this party's identity")?;
    let own = identity.fingerprint();
    let pins = PeerPins::new([session.peer_fingerprint]);
    let params = SessionParams::from(session);
    let net = params.net;
    let peer_short = session.peer_fingerprint.short();
    match role {
        Role::Serve(addr) => {
            let reach = || async move {
                let server = Server::bind(addr, identity, pins, net)?;
                eprintln!(
                    "venn: listening on {} as {own} (short {}); waiting for {peer_short}",
                    server.local_addr()?,
                    own.short()
                );
                Ok(server.accept().await?)
            };
            match_with("serve", own, spec, params, quiet, reach, |_| {}).await
        }
        Role::Connect(peer) => {
            let reach = || async move {
                let addr = tokio::net::lookup_host(peer.as_str())
                    .await
                    .with_context(|| format!("cannot resolve peer address {peer}"))?
                    .next()
                    .with_context(|| format!("peer address {peer} resolves to nothing"))?;
                Ok(connect(addr, &identity, pins, net).await?)
            };
            match_with("connect", own, spec, params, quiet, reach, |_| {}).await
        }
    }
}

/// Reads the input, then reaches the peer with `reach`, then matches.
/// Reading comes first so that a bad file fails before the peer is bothered.
///
/// `observe` sees every protocol event after the progress bars do.
pub async fn match_with<F, Fut, O>(
    role: &'static str,
    own: Fingerprint,
    spec: InputSpec,
    params: SessionParams,
    quiet: bool,
    reach: F,
    mut observe: O,
) -> anyhow::Result<Report>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<PeerConnection>>,
    O: FnMut(&Event) + Send,
{
    let started = Instant::now();
    let bars = Bars::new(role, quiet);
    let reading = bars.spinner(&format!("reading {}", spec.path.display()));
    let (set, stats) = tokio::task::spawn_blocking(move || load(&spec)).await.context("reading the input failed")??;
    reading.finish_and_clear();
    tracing::info!(distinct = stats.distinct, skipped = stats.skipped.values().sum::<u64>(), "input read");

    let conn = reach().await?;
    tracing::info!(peer = %conn.peer(), addr = %conn.remote_address(), "peer authenticated");
    let config = SessionConfig { batch_size: params.batch_size, ..SessionConfig::new(params.policy, vec![]) };
    let result = run_session(conn, config, set, &params.net, |event| {
        bars.observe(event);
        observe(event);
    })
    .await;
    bars.finish();
    let session = result?;
    Ok(Report::new(role, own.to_hex(), stats, &session, started.elapsed()))
}

/// Prints the report and, on request, writes it.
pub fn publish(report: &Report, path: Option<&Path>) -> anyhow::Result<()> {
    print!("{}", report.human());
    if let Some(path) = path {
        report.write_json(path)?;
        eprintln!("venn: report written to {}", path.display());
    }
    Ok(())
}
