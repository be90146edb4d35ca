//! Command-line flags, parsed into plain values. Nothing here does I/O.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use clap::{Args, Parser, Subcommand};
use venn_ids::{EmailProfile, IdType};
use venn_net::{Fingerprint, NetConfig};

const ABOUT: &str =
    "Private audience matching: two parties learn how large the overlap of their lists is, and nothing else.";

/// The port `venn serve` listens on and `venn connect` dials when none is given.
pub const DEFAULT_PORT: u16 = 7447;

const AFTER_HELP: &str = "\
Examples:
  venn demo                                # two parties on this machine, generated data
  venn keygen --out ~/.venn/brand          # once per party; share the printed fingerprint
  venn fingerprint ~/.venn/brand           # print it again later

  # the platform
  venn serve --listen 0.0.0.0:7447 --identity ~/.venn/platform \\
    --peer-fingerprint BRAND_FINGERPRINT \\
    --input users.csv --id-column email_sha256 --id-type email-sha256

  # the brand
  venn connect --peer platform.example.com:7447 --identity ~/.venn/brand \\
    --peer-fingerprint PLATFORM_FINGERPRINT \\
    --input customers.csv --id-column email --id-type email

Exit codes: 0 success, 1 other, 2 usage, 3 bad input, 4 policy refusal,
5 peer authentication failure, 6 peer protocol violation, 7 network failure.";

/// The `venn` command.
#[derive(Debug, Parser)]
#[command(name = "venn", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace). Logs never
    /// contain identifiers.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Global options")]
    pub verbose: u8,
    /// No progress bars.
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole match on this machine: two generated audiences, two
    /// parties over loopback QUIC with throwaway identities, one report.
    #[command(after_help = "Example:\n  venn demo --rows-a 100000 --rows-b 80000 --overlap 30000")]
    Demo(DemoArgs),
    /// Wait for the peer and run one match with it.
    #[command(
        after_help = "Examples:\n  venn serve --listen 0.0.0.0:7447 --identity ~/.venn/platform \\\n    --peer-fingerprint BRAND_FINGERPRINT \\\n    --input users.csv --id-column email_sha256 --id-type email-sha256 --report overlap.json\n\n  # a service for many brands; stop it with SIGTERM or Ctrl-C\n  venn serve --max-sessions 4 --peers-file brands.txt --report-dir reports/ \\\n    --identity ~/.venn/platform --input users.csv --id-column email_sha256 --id-type email-sha256\n\n  # index mode: serve a built index (venn index build) to many brands\n  venn serve --index index/ --identity ~/.venn/platform --listen 0.0.0.0:7447 \\\n    --max-sessions 8 --peers-file brands.txt --report-dir reports/ \\\n    --max-sessions-per-brand 10 --max-queries-per-brand 50000000"
    )]
    Serve(ServeArgs),
    /// Dial the peer and run one match with it.
    #[command(
        after_help = "Example:\n  venn connect --peer platform.example.com:7447 --identity ~/.venn/brand \\\n    --peer-fingerprint PLATFORM_FINGERPRINT \\\n    --input customers.csv --id-column email --id-type email --report overlap.json\n\nAgainst a platform that serves an index (venn serve --index), the same command\ndownloads the index into --cache (once per epoch) and runs an index session."
    )]
    Connect(ConnectArgs),
    /// Write two synthetic audiences with a known overlap.
    #[command(
        after_help = "Example:\n  venn gen --rows-a 100000 --rows-b 100000 --overlap 25000 --seed 7 \\\n    --out-a customers.csv --out-b users.csv --format-a messy --format-b sha256"
    )]
    Gen(GenArgs),
    /// Measure end-to-end throughput against the curve-arithmetic floor:
    /// both parties in this process over loopback QUIC, on generated lists.
    #[command(after_help = "Example:\n  venn bench --rows 100000\n  venn bench --rows 1000000 --overlap 0.25 --json")]
    Bench(BenchArgs),
    /// Write a commented agreement template for a segment match.
    #[command(subcommand)]
    Agreement(AgreementCommand),
    /// Create this party's identity (private key and certificate) and print
    /// its fingerprint.
    #[command(after_help = "Example:\n  venn keygen --out ~/.venn/brand")]
    Keygen(KeygenArgs),
    /// Print the fingerprint of an identity made by `venn keygen`, to send
    /// to the peer again.
    #[command(after_help = "Example:\n  venn fingerprint ~/.venn/brand")]
    Fingerprint(FingerprintArgs),
    /// Index mode, the platform's offline step: build this epoch's index of
    /// the audience (whole, or one shard per machine), then publish it.
    #[command(subcommand)]
    Index(IndexCommand),
}

/// How much of the machine the curve work may use.
#[derive(Debug, Clone, Args)]
pub struct CurveArgs {
    /// Threads for the curve work (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl CurveArgs {
    /// Sizes rayon's global pool, which all curve work runs on.
    pub fn apply(&self) -> anyhow::Result<()> {
        if let Some(threads) = self.threads {
            rayon::ThreadPoolBuilder::new().num_threads(threads as usize).build_global()?;
        }
        Ok(())
    }
}

/// `--listen`: `HOST:PORT`, or a bare port to listen on every interface.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    value.parse().map_err(|_| {
        format!("expected ADDRESS:PORT such as 0.0.0.0:{DEFAULT_PORT} or [::]:{DEFAULT_PORT}, or a bare port such as {DEFAULT_PORT}")
    })
}

/// `--peer`: `HOST:PORT`, `HOST` (port 7447), `[IPv6]:PORT` or a bare IPv6
/// address. Returns `HOST:PORT`, ready to resolve.
pub fn parse_peer(value: &str) -> Result<String, String> {
    let expected =
        || format!("expected HOST:PORT such as platform.example.com:{DEFAULT_PORT} or 203.0.113.7:{DEFAULT_PORT}");
    let value = value.trim();
    if value.is_empty() {
        return Err(expected());
    }
    if value.parse::<SocketAddr>().is_ok() {
        return Ok(value.to_owned());
    }
    if let Ok(ip) = value.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT).to_string());
    }
    match value.rsplit_once(':') {
        None => Ok(format!("{value}:{DEFAULT_PORT}")),
        Some((host, port)) if !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(value.to_owned())
        }
        Some(_) => Err(expected()),
    }
}

/// Where the identifiers come from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// The list (required, except by `venn serve --index`, which serves a
    /// built index instead): CSV with a header row, plain, gzip or zstd, or
    /// Parquet (told by the first bytes); a file, a directory of part files
    /// or a quoted pattern such as 'data/part-*.csv.gz', read in path order;
    /// objects in a store, s3://bucket/prefix/ (gs://, az://, https:// too;
    /// credentials from the cloud's usual chain, AWS_ENDPOINT_URL for an
    /// S3-compatible store); or - for standard input.
    #[arg(long, value_name = "PATH|URL")]
    pub input: Option<PathBuf>,
    /// Name of the column holding the identifiers.
    #[arg(long, default_value = "email", value_name = "NAME")]
    pub id_column: String,
    /// What the column holds: email, email-sha256, phone, phone-sha256, maid, raw.
    #[arg(long, default_value = "email", value_name = "TYPE")]
    pub id_type: IdType,
    /// Field separator (one ASCII character).
    #[arg(long, default_value = ",", value_name = "CHAR")]
    pub delimiter: char,
    /// `gmail` folds dots and +tags of gmail.com addresses (both sides must agree).
    #[arg(long, default_value = "standard", value_name = "PROFILE")]
    pub email_profile: EmailProfile,
    /// Country assumed for phone numbers without a +country code.
    #[arg(long, default_value = "US", value_name = "REGION")]
    pub default_region: String,
    /// Stop at the first invalid row instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
}

/// Who the peer is and how the session runs.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Directory with this party's key.pem and cert.pem (see `venn keygen`).
    #[arg(long, value_name = "DIR")]
    pub identity: PathBuf,
    /// The peer's fingerprint (64 hex digits), exchanged out of band. With
    /// --agreement it defaults to the other party named there. `serve
    /// --max-sessions` takes it repeatedly, once per allowed peer.
    #[arg(long, value_name = "FP")]
    pub peer_fingerprint: Vec<Fingerprint>,
    /// Write the result as JSON here (atomically, only on success).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Also write the result as one self-contained HTML page.
    #[arg(long, value_name = "PATH")]
    pub report_html: Option<PathBuf>,
    /// Segment match: the agreement file both parties hold (see `venn agreement init`).
    /// Our role and segment columns come from it.
    #[arg(long, value_name = "PATH")]
    pub agreement: Option<PathBuf>,
    /// Our own policy file (TOML, the keys of the agreement's [policy]:
    /// min_set_size, max_set_size, min_cell, max_labels, epsilon,
    /// max_epsilon_per_peer, epsilon_window_days); it can only make the
    /// session stricter.
    #[arg(long = "policy", value_name = "PATH")]
    pub policy_file: Option<PathBuf>,
    /// Privacy ledger recording the ε spent with each peer
    /// (default: $XDG_DATA_HOME/venn/ledger.json). With `epsilon` and
    /// `max_epsilon_per_peer` set (agreement or --policy), a session that
    /// would pass the budget within `epsilon_window_days` (30) is refused and
    /// the peer is told why.
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// Segment match: the aggregator's label groups travel without dummy
    /// padding (fewer points on the wire; the receiver then learns the
    /// aggregator's segment sizes exactly instead of to within an eighth).
    /// Both parties must pass it.
    #[arg(long)]
    pub reveal_segment_sizes: bool,
    /// Refuse sessions where either list has fewer distinct identifiers.
    /// (By default 1,000, or the agreement's.)
    #[arg(long, value_name = "N")]
    pub min_set_size: Option<u64>,
    /// Refuse sessions where either list has more distinct identifiers.
    /// (By default 100,000,000, or the agreement's.)
    #[arg(long, value_name = "N")]
    pub max_set_size: Option<u64>,
    /// Points per message (1 to 65536).
    #[arg(long, default_value_t = venn_protocol::DEFAULT_BATCH_SIZE, value_name = "N")]
    pub batch_size: usize,
    /// Seconds without any packet from the peer before giving up.
    #[arg(long, default_value_t = NetConfig::default().idle_timeout.as_secs(), value_name = "SECS")]
    pub idle_timeout: u64,
    /// Seconds without protocol progress (connection alive) before giving up.
    #[arg(long, default_value_t = NetConfig::default().stall_timeout.as_secs(), value_name = "SECS")]
    pub stall_timeout: u64,
    /// Seconds to wait for the peer to answer and the handshake to finish
    /// (`venn connect` gives up dialing after this long).
    #[arg(
        long,
        visible_alias = "connect-timeout",
        default_value_t = NetConfig::default().handshake_timeout.as_secs(),
        value_name = "SECS"
    )]
    pub handshake_timeout: u64,
}

impl SessionArgs {
    /// The one pinned peer of a one-session match, if given.
    pub fn single_peer(&self) -> anyhow::Result<Option<Fingerprint>> {
        match self.peer_fingerprint.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => anyhow::bail!("one session has one peer: several --peer-fingerprint need `venn serve --max-sessions`"),
        }
    }

    /// The set-size bounds these flags give, as policy settings.
    pub fn size_settings(&self) -> crate::policy_file::PolicySettings {
        crate::policy_file::PolicySettings {
            min_set_size: self.min_set_size,
            max_set_size: self.max_set_size,
            ..Default::default()
        }
    }

    /// The transport settings these flags describe.
    pub fn net(&self) -> NetConfig {
        let idle = Duration::from_secs(self.idle_timeout.max(1));
        NetConfig {
            idle_timeout: idle,
            keep_alive: NetConfig::default().keep_alive.min(idle / 3),
            stall_timeout: Duration::from_secs(self.stall_timeout.max(1)),
            handshake_timeout: Duration::from_secs(self.handshake_timeout.max(1)),
        }
    }
}

/// `venn serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (UDP): ADDRESS:PORT, or a bare port for every
    /// interface. Port 0 takes any free port; the address is printed once bound.
    #[arg(long, default_value = "0.0.0.0:7447", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Keep serving, up to N sessions at once, each with any allowed peer,
    /// until SIGTERM or Ctrl-C. Without it, `serve` runs one session and
    /// exits with its result.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..),
        requires = "report_dir",
        conflicts_with_all = ["report", "report_html", "agreement"]
    )]
    pub max_sessions: Option<u32>,
    /// With --max-sessions: a file of allowed peer fingerprints, one per
    /// line; `#` starts a comment. (Not to be confused with `connect
    /// --peer`, an address.)
    #[arg(long, alias = "peers", value_name = "PATH", requires = "max_sessions")]
    pub peers_file: Option<PathBuf>,
    /// With --max-sessions: the directory for one JSON report per session,
    /// named <peer short form>-<session id>.json.
    #[arg(long, value_name = "DIR", requires = "max_sessions")]
    pub report_dir: Option<PathBuf>,
    /// With --max-sessions: seconds the sessions in flight get to finish
    /// after SIGTERM or Ctrl-C before they are cancelled.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub grace_period: u64,
    /// Index mode: serve this index directory (`venn index build --out`)
    /// instead of an --input list. Each brand downloads the index over the
    /// connection (once per epoch) and runs a session that costs its own
    /// list, not the audience. The index must be this identity's, its epoch
    /// key must be beside the identity, and its epoch must not be over.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["input", "agreement"])]
    pub index: Option<PathBuf>,
    /// Index mode: most sessions one brand may run per index epoch; one
    /// more is refused before anything is downloaded, and the brand is told.
    #[arg(long, default_value_t = 10, value_name = "N", requires = "index")]
    pub max_sessions_per_brand: u64,
    /// Index mode: most identifiers one brand may query per index epoch,
    /// over all its sessions; a session that would pass it is refused at
    /// the handshake, before any is evaluated, and the brand is told.
    #[arg(long, default_value_t = 50_000_000, value_name = "N", requires = "index")]
    pub max_queries_per_brand: u64,
    /// Index mode: the ledger of sessions and queried identifiers per brand
    /// and epoch (default: $XDG_DATA_HOME/venn/index-ledger.json), updated
    /// under a file lock, so several `venn serve` processes may share it.
    #[arg(long, value_name = "PATH", requires = "index")]
    pub index_ledger: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub session: SessionArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub curve: CurveArgs,
}

/// `venn connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The peer's address, HOST:PORT (the port defaults to 7447).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer)]
    pub peer: String,
    /// Index mode (when the peer serves an index): where downloaded indexes
    /// are kept, one directory per platform and epoch, so that a later
    /// session in the same epoch downloads nothing (default:
    /// $XDG_CACHE_HOME/venn/index, else ~/.cache/venn/index).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Index mode: send the overlap we find to the platform at the end (its
    /// report then shows it, marked as reported by us). Off by default: the
    /// platform learns only our list size.
    #[arg(long)]
    pub share_result: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub session: SessionArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub curve: CurveArgs,
}

/// `venn gen`.
#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// Rows of the first file.
    #[arg(long, value_name = "N")]
    pub rows_a: usize,
    /// Rows of the second file.
    #[arg(long, value_name = "N")]
    pub rows_b: usize,
    /// People in both files.
    #[arg(long, value_name = "K")]
    pub overlap: usize,
    /// Seed: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First output file.
    #[arg(long, value_name = "PATH")]
    pub out_a: PathBuf,
    /// Second output file.
    #[arg(long, value_name = "PATH")]
    pub out_b: PathBuf,
    /// How the first file writes identifiers: plain, messy or sha256.
    #[arg(long, default_value = "plain", value_name = "FORMAT")]
    pub format_a: String,
    /// How the second file writes identifiers: plain, messy or sha256.
    #[arg(long, default_value = "plain", value_name = "FORMAT")]
    pub format_b: String,
    /// File format of both outputs: csv, csv.gz (gzip, as a CRM export
    /// writes it) or parquet (Utf8 columns, snappy); `--input` reads each,
    /// told by its first bytes.
    #[arg(long, default_value = "csv", value_name = "FILE_FORMAT", value_parser = ["csv", "csv.gz", "parquet"])]
    pub format: String,
    /// With --format parquet: rows per row group (a file of more rows has
    /// several).
    #[arg(long, default_value_t = 131_072, value_name = "N")]
    pub row_group_rows: usize,
}

/// `venn keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Directory to create key.pem (mode 0600) and cert.pem in.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `venn fingerprint`.
#[derive(Debug, Clone, Args)]
pub struct FingerprintArgs {
    /// The identity directory (`venn keygen --out DIR`).
    #[arg(value_name = "DIR")]
    pub identity: PathBuf,
}

/// `venn agreement ...`.
#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// Write a commented template: purpose, both fingerprints and roles,
    /// each side's segment columns and values, the policy.
    #[command(
        after_help = "Example:\n  venn agreement init --out agreement.toml \\\n    --receiver BRAND_FINGERPRINT --aggregator PLATFORM_FINGERPRINT"
    )]
    Init(AgreementInitArgs),
}

/// `venn agreement init`.
#[derive(Debug, Clone, Args)]
pub struct AgreementInitArgs {
    /// Where to write the template.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// The receiver's fingerprint (learns the cross-tab).
    #[arg(long, value_name = "FP")]
    pub receiver: Option<Fingerprint>,
    /// The aggregator's fingerprint (matches and adds up).
    #[arg(long, value_name = "FP")]
    pub aggregator: Option<Fingerprint>,
}

/// The epoch length `venn index` uses unless told otherwise, in days.
pub const DEFAULT_EPOCH_DAYS: u32 = 30;

/// `venn index ...`.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build this epoch's index: tag every distinct identifier under the
    /// epoch key (created beside the identity on first use) into a filter
    /// part. Without --shard it builds the whole index and publishes it;
    /// with --shard i/N it builds part i only (run `venn index publish` once
    /// all N are in --out).
    #[command(
        after_help = "Examples:\n  # one machine: build and publish this epoch's index\n  venn index build --identity ~/.venn/platform --input users.csv \\\n    --id-column email_sha256 --id-type email-sha256 --out index/\n\n  # four machines (or a Kubernetes Indexed Job, see docs/deploy.md): one shard each, then publish\n  venn index build --identity ~/.venn/platform --input users.csv \\\n    --id-column email_sha256 --id-type email-sha256 --out index/ --shard 0/4\n  venn index publish --identity ~/.venn/platform --out index/"
    )]
    Build(IndexBuildArgs),
    /// Write the index header once every part built with --shard i/N is in
    /// --out: checks that all N are there and built for one epoch and key.
    #[command(after_help = "Example:\n  venn index publish --identity ~/.venn/platform --out index/")]
    Publish(IndexPublishArgs),
}

/// `venn index build`.
#[derive(Debug, Clone, Args)]
pub struct IndexBuildArgs {
    /// The platform's identity directory (`venn keygen`); the epoch key
    /// `epoch-<id>.key` is kept there (mode 0600).
    #[arg(long, value_name = "DIR")]
    pub identity: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
    /// The index directory: the part, its build record and (without
    /// --shard) header.bin are written there.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Build only slice i of N (0-based, like JOB_COMPLETION_INDEX): the
    /// identifiers whose digest falls in slice i, into part-i-of-N.vidx.
    #[arg(long, value_name = "i/N", value_parser = crate::index_build::parse_shard)]
    pub shard: Option<crate::index_build::Shard>,
    /// Epoch length in days: epochs start every D days since 1970-01-01 UTC
    /// and the index expires when its epoch ends.
    #[arg(
        long,
        default_value_t = DEFAULT_EPOCH_DAYS,
        value_name = "D",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::index_build::MAX_EPOCH_DAYS))
    )]
    pub epoch_days: u32,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub curve: CurveArgs,
}

/// `venn index publish`.
#[derive(Debug, Clone, Args)]
pub struct IndexPublishArgs {
    /// The platform's identity directory, the one the shards used.
    #[arg(long, value_name = "DIR")]
    pub identity: PathBuf,
    /// The index directory holding every part-i-of-N.vidx with its build record.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Epoch length in days; by default the one the parts were built with
    /// (a different value is refused).
    #[arg(
        long,
        value_name = "D",
        value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::index_build::MAX_EPOCH_DAYS))
    )]
    pub epoch_days: Option<u32>,
}

/// `venn bench`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  # counting mode, 100,000 records per side\n  venn bench --rows 100000\n\n  # intake: rows per second reading 1,000,000 SHA-256 identifiers from a .csv.gz\n  venn bench --intake csv.gz --rows 1000000\n\n  # index mode: build a 1,000,000 platform's index, then a 100,000 brand's first and cached sessions,\n  # with counting mode at the same sizes beside it\n  venn bench --index --rows 100000 --platform-rows 1000000"
)]
pub struct BenchArgs {
    /// Records in each list; with --platform-rows (or --index), the brand's list.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub rows: usize,
    /// Records in the platform's list (by default as many as --rows).
    #[arg(long, value_name = "M")]
    pub platform_rows: Option<usize>,
    /// Fraction of the brand's list that is in both.
    #[arg(long, default_value_t = 0.25, value_name = "F")]
    pub overlap: f64,
    /// Index mode: build the platform's index (`venn index build`), then run
    /// `venn serve --index` and `venn connect` as child processes, a first
    /// session that downloads the index and cached ones, each measured
    /// against the curve floor; counting mode at the same sizes beside it.
    #[arg(long)]
    pub index: bool,
    /// With --index: cached sessions after the first (their median is reported).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "index")]
    pub cached_sessions: usize,
    /// With --index: skip counting mode.
    #[arg(long, requires = "index")]
    pub no_counting: bool,
    /// With --index: run counting mode with this many platform records
    /// instead of --platform-rows (and report its linear extrapolation to
    /// --platform-rows), when counting at full size takes too long.
    #[arg(long, value_name = "M", requires = "index", conflicts_with = "no_counting")]
    pub counting_platform_rows: Option<usize>,
    /// Intake only, no match: write --rows SHA-256 identifiers as FORMAT
    /// (csv, csv.gz or parquet) with `venn gen`, then time reading and
    /// normalizing them as `--input` does (rows per second).
    #[arg(long, value_name = "FORMAT", value_parser = ["csv", "csv.gz", "parquet"], conflicts_with = "index")]
    pub intake: Option<String>,
    /// With --intake: threads reading a compressed file, 2 (decompression
    /// on its own thread, beside parsing and normalizing) or 1 (all on one).
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        requires = "intake",
        value_parser = clap::value_parser!(u8).range(1..=2)
    )]
    pub intake_threads: u8,
    /// With --intake: timed reads of the file (their median is reported).
    #[arg(long, default_value_t = 3, value_name = "N", requires = "intake")]
    pub intake_runs: usize,
    /// Points per message.
    #[arg(long, default_value_t = venn_protocol::DEFAULT_BATCH_SIZE, value_name = "N")]
    pub batch_size: usize,
    /// Seed of the generated lists.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Segment match with this many receiver labels (2 to 5: loyalty tiers
    /// and `other`); the aggregator has 4 (campaign exposure and `other`).
    #[arg(long, value_name = "L", value_parser = clap::value_parser!(u16).range(2..=5))]
    pub segments: Option<u16>,
    /// With --segments: the aggregator's label groups travel unpadded.
    #[arg(long)]
    pub reveal_segment_sizes: bool,
    /// Floor samples taken before the match, and as many after it; the
    /// ratios use their median and report their range.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub floor_samples: usize,
    /// Records blinded and re-blinded per floor sample (at most both lists'
    /// records, so a small run stays small).
    #[arg(long, default_value_t = 16_384, value_name = "N")]
    pub floor_records: usize,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub curve: CurveArgs,
}

/// `venn demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Rows of the brand's list.
    #[arg(long, default_value_t = 25_000, value_name = "N")]
    pub rows_a: usize,
    /// Rows of the platform's list.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub rows_b: usize,
    /// People on both lists.
    #[arg(long, default_value_t = 8_000, value_name = "K")]
    pub overlap: usize,
    /// Seed of the generated lists.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the brand's report as JSON here.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write the brand's report as an HTML page here.
    #[arg(long, default_value = "venn-demo.html", value_name = "PATH")]
    pub report_html: PathBuf,
    /// A plain count, without segments.
    #[arg(long)]
    pub no_segments: bool,
    /// Noise: ε of the discrete Laplace noise each party adds to every cell
    /// the other receives. With noise, small cells are still suppressed but
    /// totals need no complementary suppression; without it (--exact),
    /// whatever would reveal a small cell by subtraction is suppressed too.
    #[arg(long, default_value_t = 1.0, value_name = "EPSILON")]
    pub epsilon: f64,
    /// Exact counts: no noise, complementary suppression instead.
    #[arg(long)]
    pub exact: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub curve: CurveArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use venn_protocol::Policy;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_parses_with_defaults() {
        let fp = "ab".repeat(32);
        let cli =
            Cli::try_parse_from(["venn", "serve", "--identity", "me", "--peer-fingerprint", &fp, "--input", "x.csv"])
                .unwrap();
        let Command::Serve(s) = cli.command else { panic!("not serve") };
        assert_eq!(s.input.id_column, "email");
        assert_eq!(s.input.id_type, IdType::Email);
        assert_eq!(s.session.size_settings().overlay(Policy::default()).unwrap(), Policy::default());
        assert_eq!(s.listen.port(), 7447);
    }

    #[test]
    fn peer_address_forms() {
        assert_eq!(parse_peer("platform.example.com:9000").unwrap(), "platform.example.com:9000");
        assert_eq!(parse_peer("platform.example.com").unwrap(), "platform.example.com:7447");
        assert_eq!(parse_peer("127.0.0.1").unwrap(), "127.0.0.1:7447");
        assert_eq!(parse_peer("127.0.0.1:7000").unwrap(), "127.0.0.1:7000");
        assert_eq!(parse_peer("::1").unwrap(), "[::1]:7447");
        assert_eq!(parse_peer("[::1]").unwrap(), "[::1]:7447");
        assert_eq!(parse_peer("[::1]:9").unwrap(), "[::1]:9");
        for bad in ["", "host:", "host:port", "host:0", "host:70000", ":7447", "a:b:c"] {
            let err = parse_peer(bad).unwrap_err();
            assert!(err.contains("expected HOST:PORT such as platform.example.com:7447"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn listen_address_forms() {
        assert_eq!(parse_listen("7447").unwrap(), "0.0.0.0:7447".parse().unwrap());
        assert_eq!(parse_listen("0").unwrap().port(), 0);
        assert_eq!(parse_listen("127.0.0.1:9").unwrap(), "127.0.0.1:9".parse().unwrap());
        assert_eq!(parse_listen("[::]:7447").unwrap(), "[::]:7447".parse().unwrap());
        for bad in ["", "localhost:7447", "7447x", "0.0.0.0"] {
            assert!(parse_listen(bad).unwrap_err().contains("or a bare port such as 7447"), "{bad:?}");
        }
    }

    #[test]
    fn a_peer_without_port_and_a_bare_listen_port_parse() {
        let cli = Cli::try_parse_from([
            "venn",
            "connect",
            "--peer",
            "10.0.0.5",
            "--identity",
            "me",
            "--peer-fingerprint",
            &"ab".repeat(32),
            "--input",
            "x",
            "--connect-timeout",
            "5",
            "--threads",
            "1",
        ])
        .unwrap();
        let Command::Connect(c) = cli.command else { panic!("not connect") };
        assert_eq!(c.peer, "10.0.0.5:7447");
        assert_eq!(c.session.net().handshake_timeout, Duration::from_secs(5));
        assert_eq!(c.curve.threads, Some(1));
        let err = Cli::try_parse_from(["venn", "keygen", "--out", "d", "--threads", "2"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "--threads only where curve work runs");
    }

    #[test]
    fn peers_file_keeps_its_old_name() {
        for flag in ["--peers-file", "--peers"] {
            let cli = Cli::try_parse_from([
                "venn",
                "serve",
                "--listen",
                "7447",
                "--max-sessions",
                "2",
                flag,
                "brands.txt",
                "--report-dir",
                "r",
                "--identity",
                "me",
                "--input",
                "x",
            ])
            .unwrap();
            let Command::Serve(s) = cli.command else { panic!("not serve") };
            assert_eq!(s.peers_file, Some(PathBuf::from("brands.txt")), "{flag}");
            assert_eq!(s.listen, "0.0.0.0:7447".parse().unwrap());
        }
    }

    #[test]
    fn bad_fingerprint_is_a_usage_error() {
        let err = Cli::try_parse_from([
            "venn",
            "connect",
            "--peer",
            "h:1",
            "--identity",
            "me",
            "--peer-fingerprint",
            "xyz",
            "--input",
            "x",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }
}
