//! The `venn` command line. Flags are parsed into plain values
//! ([`flags`]), each subcommand is a module, and every failure maps to a
//! distinct exit code ([`exit`]).

#![forbid(unsafe_code)]

mod agreement;
mod bench;
mod bench_index;
mod bench_intake;
mod demo;
mod epoch_key;
pub mod exit;
pub mod flags;
mod gen;
pub mod html;
mod index_build;
mod index_session;
mod input;
mod keygen;
mod ledger;
mod party;
mod policy_file;
mod progress;
pub mod report;
mod serve_many;
mod stable;
mod sysinfo;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use exit::Failure;
use flags::{AgreementCommand, Cli, Command, IndexCommand};
use tracing_subscriber::EnvFilter;

/// Runs `venn` with the process arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Failure::Usage.code() } else { ExitCode::SUCCESS };
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("venn: error: {}", one_line(&e));
            Failure::of(&e).code()
        }
    }
}

/// The error chain on one line, each cause once: typed errors often repeat
/// their cause in their own message, so a cause already said is skipped.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("VENN_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    // Colour codes only for a person at a terminal, never into a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Fingerprint(args) => keygen::print_fingerprint(args),
        Command::Gen(args) => gen::run(args),
        Command::Agreement(AgreementCommand::Init(args)) => {
            anyhow::ensure!(!args.out.exists(), "{} exists; choose another path", args.out.display());
            std::fs::write(&args.out, agreement::template(args.receiver.as_ref(), args.aggregator.as_ref()))
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!(
                "Agreement template written to {}. Fill it in, then give both parties the same file.",
                args.out.display()
            );
            Ok(())
        }
        Command::Index(IndexCommand::Build(args)) => {
            args.curve.apply()?;
            index_build::build(args, cli.quiet, index_build::unix_now()?)
        }
        Command::Index(IndexCommand::Publish(args)) => index_build::publish(args, index_build::unix_now()?),
        Command::Demo(args) => {
            args.curve.apply()?;
            runtime()?.block_on(demo::run(args, cli.quiet))
        }
        Command::Bench(args) => {
            args.curve.apply()?;
            runtime()?.block_on(bench::run(args))
        }
        Command::Serve(args) if args.max_sessions.is_some() => {
            args.curve.apply()?;
            let max = args.max_sessions.unwrap_or(1) as usize;
            runtime()?.block_on(serve_many::run(args, max))
        }
        Command::Serve(args) if args.index.is_some() => {
            args.curve.apply()?;
            let report = runtime()?.block_on(serve_many::serve_index_once(args))?;
            party::publish(&report, args.session.report.as_deref(), args.session.report_html.as_deref())
        }
        Command::Serve(args) => {
            args.curve.apply()?;
            let reach = party::Reach::Serve(args.listen);
            let report = runtime()?.block_on(party::run(reach, &args.input, &args.session, cli.quiet))?;
            party::publish(&report, args.session.report.as_deref(), args.session.report_html.as_deref())
        }
        Command::Connect(args) => {
            args.curve.apply()?;
            let plan = index_session::BrandPlan {
                cache: args.cache.clone().unwrap_or_else(index_session::default_cache),
                share_result: args.share_result,
            };
            let reach = party::Reach::Connect(args.peer.clone(), plan);
            let report = runtime()?.block_on(party::run(reach, &args.input, &args.session, cli.quiet))?;
            party::publish(&report, args.session.report.as_deref(), args.session.report_html.as_deref())
        }
    }
}

/// Two runtime workers: one can block on curve work while the other keeps
/// the network moving. The curve work itself runs on rayon's pool.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}
