//! One party of one match: `venn serve`, `venn connect`, and both sides of
//! `venn demo` and `venn bench`.

use std::{future::Future, net::SocketAddr, path::Path, time::Instant};

use anyhow::Context;
use venn_ids::{LabelScheme, Region};
use venn_net::{connect, run_machine, Fingerprint, Mode, NetConfig, NetError, PeerConnection, PeerPins, Server};
use venn_protocol::{
    Event, Incompatibility, Machine, Policy, ProtocolError, Role, SegmentConfig, SegmentOutcome, SegmentSession,
    Session, SessionConfig, Side, MAX_SEGMENT_LABELS,
};

use crate::{
    agreement::Agreement,
    exit::{Unreachable, UsageError},
    flags::{InputArgs, SessionArgs},
    input::{load, Input, InputSpec},
    ledger::{default_path, BudgetExceeded, Ledger},
    policy_file::{describe, PolicySettings},
    progress::Bars,
    report::{Report, SegmentsReport, ValueCount},
};

/// How this party reaches its peer.
pub enum Reach {
    /// Listen and accept one peer.
    Serve(SocketAddr),
    /// Dial the peer; if it serves an index, use this cache and plan.
    Connect(String, crate::index_session::BrandPlan),
}

/// What a session needs besides the input and the connection.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Our guardrails.
    pub policy: Policy,
    /// Points per message.
    pub batch_size: usize,
    /// Timeouts.
    pub net: NetConfig,
    /// A brand's download cache and choices, for a peer that turns out to
    /// serve an index; `None` refuses such a peer.
    pub index: Option<crate::index_session::BrandPlan>,
}

/// A segment match as the agreement defines it for us.
#[derive(Debug, Clone)]
pub struct SegmentPlan {
    /// Our role.
    pub role: Role,
    /// Our segment columns.
    pub own: LabelScheme,
    /// The peer's segment columns (to name the table's other axis).
    pub peer: LabelScheme,
    /// SHA-256 of the agreement.
    pub agreement: [u8; 32],
    /// What the agreement says the match is for.
    pub purpose: String,
    /// The aggregator's label groups travel unpadded.
    pub reveal: bool,
    /// Where ε spent is recorded, and the budget per peer.
    pub ledger: Option<LedgerPlan>,
}

/// The privacy ledger and the budget it enforces.
#[derive(Debug, Clone)]
pub struct LedgerPlan {
    /// The ledger.
    pub ledger: Ledger,
    /// Most ε with one peer within the window.
    pub budget: f64,
    /// The window in days.
    pub window_days: u64,
    /// The peer the budget is for.
    pub peer: Fingerprint,
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
    let path = args
        .input
        .as_ref()
        .ok_or_else(|| UsageError("--input PATH is required: the CSV file of identifiers to match".into()))?;
    Ok(InputSpec::new(path, &args.id_column, args.id_type).with(delimiter, args.email_profile, region, args.strict))
}

/// Runs one party of `venn serve` or `venn connect`.
pub async fn run(reach: Reach, input: &InputArgs, session: &SessionArgs, quiet: bool) -> anyhow::Result<Report> {
    let spec = input_spec(input)?;
    let identity = crate::keygen::load(&session.identity)?;
    let own = identity.fingerprint();
    // Without an agreement, our file and flags set our policy. With one, the
    // agreement sets it and our file and flags can only tighten it.
    let agreement = session.agreement.as_deref().map(Agreement::load).transpose()?;
    let local = match &session.policy_file {
        Some(path) => PolicySettings::load(path)?,
        None => PolicySettings::default(),
    };
    let mut policy = Policy::default();
    match &agreement {
        None => {
            policy = local.overlay(policy)?;
            policy = session.size_settings().overlay(policy)?;
        }
        Some(a) => {
            policy = a.policy.overlay(policy)?;
            policy = local.apply(policy)?;
            policy = session.size_settings().apply(policy)?;
        }
    }
    let (peer_fp, plan) = match &agreement {
        None => {
            let peer = session.single_peer()?.context("--peer-fingerprint is required without --agreement")?;
            (peer, None)
        }
        Some(agreement) => {
            let (role, mine, theirs) = agreement.role_of(&own)?;
            if let Some(pinned) = session.single_peer()? {
                anyhow::ensure!(
                    pinned == theirs.fingerprint,
                    "--peer-fingerprint {} is not the {} named in the agreement ({})",
                    pinned.short(),
                    if role == Role::Receiver { "aggregator" } else { "receiver" },
                    theirs.fingerprint.short()
                );
            }
            let ledger_plan = match policy.epsilon() {
                None => None,
                Some(_) => {
                    let budget = local.max_epsilon_per_peer.or(agreement.policy.max_epsilon_per_peer);
                    let window = local.epsilon_window_days.or(agreement.policy.epsilon_window_days).unwrap_or(30);
                    let path = session.ledger.clone().unwrap_or_else(default_path);
                    let peer = theirs.fingerprint;
                    budget.map(|budget| {
                        Ledger::open(&path).map(|ledger| LedgerPlan { ledger, budget, window_days: window, peer })
                    })
                }
            }
            .transpose()?;
            let plan = SegmentPlan {
                role,
                own: mine.segments.clone(),
                peer: theirs.segments.clone(),
                agreement: agreement.sha256,
                purpose: agreement.purpose.clone(),
                reveal: session.reveal_segment_sizes,
                ledger: ledger_plan,
            };
            (theirs.fingerprint, Some(plan))
        }
    };
    refuse_own_fingerprint(&[peer_fp], own)?;
    let pins = PeerPins::new([peer_fp]);
    let index = match &reach {
        Reach::Connect(_, plan) => Some(plan.clone()),
        Reach::Serve(_) => None,
    };
    let params = SessionParams { policy, batch_size: session.batch_size, net: session.net(), index };
    let net = params.net;
    match reach {
        Reach::Serve(addr) => {
            let reach = || async move {
                let server = Server::bind(addr, identity, pins, net)?;
                eprintln!(
                    "venn: listening on {} as {own} (short {}); waiting for {}",
                    server.local_addr()?,
                    own.short(),
                    peer_fp.short()
                );
                Ok(server.accept().await?)
            };
            match_with("serve", own, spec, params, plan, quiet, reach, |_| {}).await
        }
        Reach::Connect(peer, _) => {
            let reach = || async move {
                let addr = resolve(&peer).await?;
                let resolved = if peer == addr.to_string() { String::new() } else { format!(" ({addr})") };
                eprintln!(
                    "venn: dialing {peer}{resolved} for peer {}; giving up after {} s (--connect-timeout)",
                    peer_fp.short(),
                    net.handshake_timeout.as_secs()
                );
                connect(addr, &identity, pins, net).await.map_err(|e| explain_dial_failure(e, &peer, addr))
            };
            match_with("connect", own, spec, params, plan, quiet, reach, |_| {}).await
        }
    }
}

/// Refuses to pin this party's own fingerprint as a peer's: a copy-paste
/// slip that would otherwise end in an authentication failure on both sides.
pub fn refuse_own_fingerprint(peers: &[Fingerprint], own: Fingerprint) -> anyhow::Result<()> {
    if peers.contains(&own) {
        return Err(UsageError(format!(
            "--peer-fingerprint {} is this party's own fingerprint (of --identity): pin the other party's, \
             which they print with `venn fingerprint DIR`",
            own.short()
        ))
        .into());
    }
    Ok(())
}

/// The first address `peer` (HOST:PORT) resolves to.
async fn resolve(peer: &str) -> anyhow::Result<SocketAddr> {
    let unreachable = |why: String| {
        Unreachable(format!("cannot resolve the peer's address {peer}: {why}; check the host name (and DNS)"))
    };
    tokio::net::lookup_host(peer)
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .next()
        .ok_or_else(|| unreachable("it resolves to no address".to_owned()).into())
}

/// A dial that got no answer says what to check.
fn explain_dial_failure(error: NetError, peer: &str, addr: SocketAddr) -> anyhow::Error {
    let silent = matches!(&error, NetError::Timeout { .. })
        || matches!(&error, NetError::Connect(why) if why.contains("timed out"));
    let hint = if silent {
        format!(
            "no answer from {peer}: check that `venn serve` is running there, that UDP port {} is open \
             in its firewall, and that the address is right (or raise --connect-timeout)",
            addr.port()
        )
    } else {
        format!("cannot connect to {peer} ({addr})")
    };
    anyhow::Error::new(error).context(hint)
}

/// Reads the input, then reaches the peer with `reach`, then matches. A
/// plain count without `plan`, a segment match with it. Reading comes first
/// so that a bad file fails before the peer is bothered; the label cap and
/// the privacy budget are checked before that.
///
/// `observe` sees every protocol event after the progress bars do.
#[allow(clippy::too_many_arguments)]
pub async fn match_with<F, Fut, O>(
    role: &'static str,
    own: Fingerprint,
    mut spec: InputSpec,
    params: SessionParams,
    plan: Option<SegmentPlan>,
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
    spec.options.segments = plan.as_ref().map(|p| p.own.clone()).unwrap_or_default();
    let labels = plan.as_ref().map(|plan| check_labels(plan, &params.policy)).transpose()?;
    // The privacy spend is reserved, under the ledger's lock, before any
    // data can leave. A refusal still reaches the peer, which is told why
    // instead of waiting for a timeout.
    let mut budget_refusal = None;
    if let (Some(l), Some(epsilon)) = (plan.as_ref().and_then(|p| p.ledger.clone()), params.policy.epsilon()) {
        let mut ledger = l.ledger;
        let note = format!("reserved before connecting, by process {}", std::process::id());
        match ledger.reserve(&l.peer, epsilon, l.budget, l.window_days, note) {
            Err(e) if e.downcast_ref::<BudgetExceeded>().is_some() => budget_refusal = Some(e),
            other => other?,
        }
    }
    let refused = budget_refusal.is_some();
    let bars = Bars::new(role, quiet);
    let reading = bars.spinner(&format!("reading {}", spec.path.display()));
    let (input, stats) =
        tokio::task::spawn_blocking(move || load(&spec)).await.context("reading the input failed")??;
    reading.finish_and_clear();
    tracing::info!(distinct = stats.distinct, skipped = stats.skipped.values().sum::<u64>(), "input read");

    // A list outside our own bounds is refused before the peer is bothered.
    let own_size = match &input {
        Input::Count(set) => set.len(),
        Input::Segments(set) => set.len(),
    };
    params.policy.check(Side::Own, own_size as u64).map_err(ProtocolError::from)?;
    let conn = match (reach().await, budget_refusal) {
        (Ok(conn), refusal) => {
            budget_refusal = refusal;
            conn
        }
        // The refusal is the answer even with nobody to tell.
        (Err(e), Some(refusal)) => {
            return Err(refusal.context(format!("refused the session; the peer could not be told ({e:#})")))
        }
        (Err(e), None) => return Err(e),
    };
    let peer = conn.peer();
    tracing::info!(peer = %peer, addr = %conn.remote_address(), "peer authenticated");
    let config = SessionConfig { batch_size: params.batch_size, ..SessionConfig::new(params.policy, vec![]) };
    let watch = |event: &Event| {
        bars.observe(event);
        if let Event::HandshakeComplete { policy, .. } = event {
            // Both parties announce the merged policy before any point leaves;
            // bench and quiet demos, which play both parties, stay silent.
            if !quiet || matches!(role, "serve" | "connect") {
                bars.suspend(|| eprintln!("venn: session policy (stricter of both parties): {}", describe(policy)));
            }
        }
        observe(event);
    };
    if conn.mode() == Mode::Index {
        let Some(index_plan) = &params.index else {
            anyhow::bail!("the peer serves an index (index mode), which only `venn connect` can use");
        };
        let Input::Count(set) = input else {
            return Err(UsageError(
                "the peer serves an index (index mode): a segment match (--agreement) runs against a `venn serve` \
                 with --input and --agreement; drop --agreement to match against the index"
                    .into(),
            )
            .into());
        };
        if let Some(refusal) = budget_refusal {
            return Err(refusal.context("refused the session before connecting"));
        }
        let result =
            crate::index_session::brand_session(conn, own, set, stats, &params, index_plan, started, watch).await;
        bars.finish();
        return result;
    }
    let result = match (input, &plan, labels) {
        (Input::Count(set), None, _) => {
            let start = |binding| {
                Session::new(SessionConfig { channel_binding: binding, ..config }, set).map(|m| refuse_if(m, refused))
            };
            run_machine(conn, start, &params.net, watch).await
        }
        (Input::Segments(set), Some(plan), Some(labels)) => {
            let start = |binding| {
                let session = SessionConfig { channel_binding: binding, ..config };
                let config = SegmentConfig {
                    session,
                    role: plan.role,
                    labels,
                    agreement: plan.agreement,
                    reveal_segment_sizes: plan.reveal,
                };
                SegmentSession::new(config, set).map(|m| refuse_if(m, refused))
            };
            run_machine(conn, start, &params.net, watch).await
        }
        _ => anyhow::bail!("internal error: input and plan disagree"),
    };
    bars.finish();
    if let Some(refusal) = budget_refusal {
        return Err(refusal.context("refused the session and told the peer"));
    }
    let session = result?;
    let mut report = Report::new(role, own.to_hex(), stats, &session, started.elapsed());
    if let (Some(plan), Some(outcome)) = (&plan, &session.outcome.segments) {
        report.segments = Some(segments_report(plan, outcome, &session.outcome.policy));
    }
    Ok(report)
}

/// A session that our privacy ledger refused: it sends its Hello and an
/// Abort that says why, and nothing else.
fn refuse_if<M: Machine>(mut machine: M, refused: bool) -> M {
    if refused {
        machine.refuse(venn_protocol::Refusal::PrivacyBudgetSpent);
    }
    machine
}

/// Our number of labels, or a clear refusal when the agreed columns have
/// too many combinations.
fn check_labels(plan: &SegmentPlan, policy: &Policy) -> anyhow::Result<u16> {
    let max = policy.max_labels.min(MAX_SEGMENT_LABELS);
    let count = plan.own.count();
    if count > max as u64 {
        let columns: Vec<String> =
            plan.own.columns().iter().map(|c| format!("{} ({}+other)", c.name, c.values.len())).collect();
        let refusal =
            Incompatibility::TooManyLabels { side: Side::Own, labels: count.min(u16::MAX as u64) as u16, max };
        return Err(anyhow::Error::new(ProtocolError::Incompatible(refusal)).context(format!(
            "our segments {} make {count} label combinations, above the limit of {max}; \
             drop a column or merge values in the agreement",
            columns.join(" × ")
        )));
    }
    Ok(count as u16)
}

fn segments_report(plan: &SegmentPlan, outcome: &SegmentOutcome, policy: &Policy) -> SegmentsReport {
    let (receiver, aggregator) = match plan.role {
        Role::Receiver => (&plan.own, &plan.peer),
        Role::Aggregator => (&plan.peer, &plan.own),
    };
    let names = |s: &LabelScheme| (0..s.count()).map(|l| s.name_of(l)).collect::<Vec<_>>();
    let r = &outcome.released;
    let mut per_value = Vec::new();
    for (side, scheme, totals) in [("receiver", receiver, &r.row_totals), ("aggregator", aggregator, &r.col_totals)] {
        for (ci, column) in scheme.columns().iter().enumerate() {
            let values = column.values.iter().map(String::as_str).chain([venn_ids::OTHER]);
            for value in values {
                // The overlap of a value sums the labels that carry it; one
                // suppressed label makes the sum unreleasable.
                let sum: Option<i64> = (0..scheme.count())
                    .filter(|&l| scheme.values_of(l)[ci].1 == value)
                    .map(|l| totals.get(l as usize).copied().flatten())
                    .sum();
                per_value.push(ValueCount {
                    side: side.to_owned(),
                    column: column.name.clone(),
                    value: value.to_owned(),
                    overlap: sum,
                });
            }
        }
    }
    SegmentsReport {
        role: plan.role.to_string(),
        agreement_sha256: hex::encode(plan.agreement),
        purpose: plan.purpose.clone(),
        receiver_labels: names(receiver),
        aggregator_labels: names(aggregator),
        cells: r.cells.clone(),
        receiver_totals: r.row_totals.clone(),
        aggregator_totals: r.col_totals.clone(),
        total: r.total,
        per_value,
        min_cell: policy.min_cell,
        epsilon: policy.epsilon(),
        reveal_segment_sizes: plan.reveal,
        aggregator_exact_totals: outcome.aggregator_marginal.clone(),
    }
}

/// Prints the report and, on request, writes it.
pub fn publish(report: &Report, json: Option<&Path>, html: Option<&Path>) -> anyhow::Result<()> {
    print!("{}", report.human());
    if let Some(path) = json {
        report.write_json(path)?;
        eprintln!("venn: report written to {}", path.display());
    }
    if let Some(path) = html {
        crate::html::write(report, path)?;
        eprintln!("venn: HTML report written to {}", path.display());
    }
    Ok(())
}
