//! The `venn` command; everything lives in the `venn-cli` crate.

fn main() -> std::process::ExitCode {
    venn_cli::main()
}
