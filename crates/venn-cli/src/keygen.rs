//! `venn keygen` and `venn fingerprint`, and loading the identity they make.

use std::path::Path;

use anyhow::Context;
use venn_net::{Identity, NetError};

use crate::flags::{FingerprintArgs, KeygenArgs};

/// Creates and saves an identity, then prints how to share it.
pub fn run(args: &KeygenArgs) -> anyhow::Result<()> {
    let identity = Identity::generate()?;
    identity.save(&args.out).context("cannot save the identity")?;
    println!("Identity written to {} (key.pem is readable by you alone).", args.out.display());
    print_shareable(&identity);
    println!("Send the fingerprint to your peer over a channel you trust; read the short form back to each other.");
    Ok(())
}

/// Prints the fingerprint of an existing identity.
pub fn print_fingerprint(args: &FingerprintArgs) -> anyhow::Result<()> {
    print_shareable(&load(&args.identity)?);
    Ok(())
}

fn print_shareable(identity: &Identity) {
    let fp = identity.fingerprint();
    println!("Fingerprint: {fp}");
    println!("Short form:  {}", fp.short());
}

/// Loads this party's identity; a directory that holds none gets the
/// command that makes one.
pub fn load(dir: &Path) -> anyhow::Result<Identity> {
    Identity::load(dir).map_err(|e| {
        let missing =
            matches!(&e, NetError::IdentityIo { source, .. } if source.kind() == std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(e);
        if missing {
            e.context(format!(
                "no identity in {dir}: create one with `venn keygen --out {dir}` and send its fingerprint to your peer",
                dir = dir.display()
            ))
        } else {
            e.context(format!("cannot load this party's identity from {}", dir.display()))
        }
    })
}
