//! `venn keygen`.

use anyhow::Context;
use venn_net::Identity;

use crate::flags::KeygenArgs;

/// Creates and saves an identity, then prints how to share it.
pub fn run(args: &KeygenArgs) -> anyhow::Result<()> {
    let identity = Identity::generate()?;
    identity.save(&args.out).context("cannot save the identity")?;
    let fp = identity.fingerprint();
    println!("Identity written to {} (key.pem is readable by you alone).", args.out.display());
    println!("Fingerprint: {fp}");
    println!("Short form:  {}", fp.short());
    println!("Send the fingerprint to your peer over a channel you trust; read the short form back to each other.");
    Ok(())
}
