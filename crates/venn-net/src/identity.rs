//! Long-lived party identities: a private key and a self-signed certificate
//! on disk, recognised by their [`Fingerprint`].
//!
//! There is no certificate authority: each party pins the other's
//! fingerprint, exchanged out of band (as with SSH host keys).

use std::{
    fs,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{Fingerprint, NetError};

/// File name of the private key inside an identity directory.
pub const KEY_FILE: &str = "key.pem";
/// File name of the certificate inside an identity directory.
pub const CERT_FILE: &str = "cert.pem";

/// A private key and its self-signed certificate.
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    fingerprint: Fingerprint,
}

impl Identity {
    /// Generates a fresh Ed25519 identity (key from the OS CSPRNG).
    pub fn generate() -> Result<Self, NetError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(NetError::KeyGeneration)?;
        let params = rcgen::CertificateParams::new(vec!["venn-peer".to_owned()]).map_err(NetError::KeyGeneration)?;
        let cert = params.self_signed(&key).map_err(NetError::KeyGeneration)?;
        Self::from_der(cert.der().clone(), PrivatePkcs8KeyDer::from(key.serialize_der()))
    }

    fn from_der(cert: CertificateDer<'static>, key: PrivatePkcs8KeyDer<'static>) -> Result<Self, NetError> {
        let fingerprint = Fingerprint::of_certificate(&cert)?;
        Ok(Self { cert, key, fingerprint })
    }

    /// Writes `key.pem` (mode 0600) and `cert.pem` into `dir`, creating it
    /// (mode 0700). Refuses to overwrite an existing key.
    pub fn save(&self, dir: &Path) -> Result<(), NetError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NetError::IdentityIo { path, source }
        };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        let key_path = dir.join(KEY_FILE);
        let mut key_file =
            fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key_path).map_err(|source| {
                match source.kind() {
                    std::io::ErrorKind::AlreadyExists => NetError::IdentityExists { path: key_path.clone() },
                    _ => NetError::IdentityIo { path: key_path.clone(), source },
                }
            })?;
        key_file.write_all(pem("PRIVATE KEY", self.key.secret_pkcs8_der()).as_bytes()).map_err(io(&key_path))?;
        let cert_path = dir.join(CERT_FILE);
        fs::write(&cert_path, pem("CERTIFICATE", &self.cert)).map_err(io(&cert_path))?;
        Ok(())
    }

    /// Loads an identity written by [`save`](Self::save). A key file that
    /// group or others may read is refused.
    pub fn load(dir: &Path) -> Result<Self, NetError> {
        let key_path = dir.join(KEY_FILE);
        let meta = fs::metadata(&key_path).map_err(|source| NetError::IdentityIo { path: key_path.clone(), source })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(NetError::KeyFileTooOpen { path: key_path, mode });
        }
        let key = match PrivateKeyDer::from_pem_file(&key_path) {
            Ok(PrivateKeyDer::Pkcs8(key)) => key,
            _ => return Err(NetError::BadIdentityFile { path: key_path }),
        };
        let cert_path = dir.join(CERT_FILE);
        let cert = CertificateDer::from_pem_file(&cert_path)
            .map_err(|_| NetError::BadIdentityFile { path: cert_path.clone() })?;
        Self::from_der(cert, key)
    }

    /// Loads the identity in `dir`, or generates and saves one if the
    /// directory holds none.
    pub fn load_or_generate(dir: &Path) -> Result<Self, NetError> {
        if dir.join(KEY_FILE).exists() {
            Self::load(dir)
        } else {
            let identity = Self::generate()?;
            identity.save(dir)?;
            Ok(identity)
        }
    }

    /// This identity's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    pub(crate) fn cert(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// Paths of the two files of an identity directory.
    pub fn files(dir: &Path) -> (PathBuf, PathBuf) {
        (dir.join(KEY_FILE), dir.join(CERT_FILE))
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.fingerprint.short())
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_with_private_key_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::generate().unwrap();
        id.save(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = Identity::load(dir.path()).unwrap();
        assert_eq!(loaded.fingerprint(), id.fingerprint());
    }

    #[test]
    fn refuses_key_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        Identity::generate().unwrap().save(dir.path()).unwrap();
        let key = dir.path().join(KEY_FILE);
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(Identity::load(dir.path()), Err(NetError::KeyFileTooOpen { mode: 0o644, .. })));
    }

    #[test]
    fn refuses_to_overwrite_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        Identity::generate().unwrap().save(dir.path()).unwrap();
        assert!(matches!(Identity::generate().unwrap().save(dir.path()), Err(NetError::IdentityExists { .. })));
    }

    #[test]
    fn refuses_garbage_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(KEY_FILE);
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key).unwrap().write_all(b"nope").unwrap();
        assert!(matches!(Identity::load(dir.path()), Err(NetError::BadIdentityFile { .. })));
    }

    #[test]
    fn missing_identity_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Identity::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("key.pem"), "{err}");
    }

    #[test]
    fn identities_differ() {
        assert_ne!(Identity::generate().unwrap().fingerprint(), Identity::generate().unwrap().fingerprint());
    }
}
