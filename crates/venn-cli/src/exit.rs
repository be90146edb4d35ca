//! Exit codes, one per kind of failure, so scripts can tell them apart.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | other failure |
//! | 2 | usage error (bad flags) |
//! | 3 | bad input: unreadable file or stored object, missing column, a file or stored part that changed while read, bad identity or peers files, an epoch key or index part that cannot be used |
//! | 4 | policy refusal (ours or the peer's), index budget spent or index epoch expired (told by the peer) |
//! | 5 | peer authentication failure (fingerprint mismatch either way) |
//! | 6 | peer protocol violation, bad data from the peer (an index header of another platform, expired or malformed; a part that fails verification twice) |
//! | 7 | network failure: unreachable, timed out, peer went away, peer cancelled or turned the session away (busy, shutting down) |

use std::process::ExitCode;

use venn_ids::IdsError;
use venn_net::{fetch::FetchError, NetError};
use venn_protocol::{AbortReason, Incompatibility, ProtocolError};

/// A flag value that parses but cannot be used, found after parsing (exit
/// code 2, like clap's own usage errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The peer could not be reached at all: its name does not resolve, or
/// nothing answered at its address (exit code 7).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// Kinds of failure with their exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Anything not classified below.
    Other = 1,
    /// Bad flags (clap exits with this itself).
    Usage = 2,
    /// Bad local input.
    BadInput = 3,
    /// A policy refused the session.
    Policy = 4,
    /// Authentication failed.
    Authentication = 5,
    /// The peer broke the protocol.
    ProtocolViolation = 6,
    /// The network failed or the peer disappeared.
    Network = 7,
}

impl Failure {
    /// Classifies an error by the first typed cause in its chain.
    pub fn of(error: &anyhow::Error) -> Self {
        for cause in error.chain() {
            if let Some(e) = cause.downcast_ref::<NetError>() {
                return Self::of_net(e);
            }
            if let Some(e) = cause.downcast_ref::<ProtocolError>() {
                return Self::of_protocol(e);
            }
            if let Some(e) = cause.downcast_ref::<FetchError>() {
                return Self::of_fetch(e);
            }
            if cause.downcast_ref::<IdsError>().is_some()
                || cause.downcast_ref::<crate::stable::InputChanged>().is_some()
            {
                return Self::BadInput;
            }
            if cause.downcast_ref::<crate::ledger::BudgetExceeded>().is_some() {
                return Self::Policy;
            }
            if cause.downcast_ref::<UsageError>().is_some() {
                return Self::Usage;
            }
            if cause.downcast_ref::<Unreachable>().is_some() {
                return Self::Network;
            }
            if cause.downcast_ref::<crate::index_session::ServeIndexError>().is_some() {
                return Self::BadInput;
            }
            if let Some(failure) = crate::index_build::failure_of(cause) {
                return failure;
            }
        }
        Self::Other
    }

    fn of_net(e: &NetError) -> Self {
        match e {
            NetError::PeerNotPinned { .. } | NetError::PeerRefusedUs { .. } => Self::Authentication,
            NetError::Protocol(p) => Self::of_protocol(p),
            NetError::PeerGone { .. }
            | NetError::Stalled(_)
            | NetError::Connect(_)
            | NetError::Timeout { .. }
            | NetError::SessionRefused { .. } => Self::Network,
            NetError::Bind { .. } => Self::Network,
            NetError::IdentityIo { .. }
            | NetError::IdentityExists { .. }
            | NetError::KeyFileTooOpen { .. }
            | NetError::BadIdentityFile { .. }
            | NetError::BadCertificate
            | NetError::BadFingerprint(_)
            | NetError::BadTimeout(_) => Self::BadInput,
            NetError::KeyGeneration(_) | NetError::TlsSetup(_) => Self::Other,
        }
    }

    fn of_protocol(e: &ProtocolError) -> Self {
        match e {
            ProtocolError::PolicyRefused(_)
            | ProtocolError::Incompatible(Incompatibility::AgreementMismatch { .. })
            | ProtocolError::Incompatible(Incompatibility::SameRole(_))
            | ProtocolError::Incompatible(Incompatibility::RevealMismatch)
            | ProtocolError::Incompatible(Incompatibility::TooManyLabels { .. })
            | ProtocolError::Refused(_)
            | ProtocolError::PeerAborted(
                AbortReason::PolicyRefused
                | AbortReason::AgreementMismatch
                | AbortReason::PrivacyBudgetSpent
                | AbortReason::IndexBudgetSpent
                | AbortReason::IndexExpired,
            ) => Self::Policy,
            ProtocolError::Cancelled => Self::Other,
            // The peer stopped (a user interrupt, a server shutting down):
            // like a peer that went away, not a violation.
            ProtocolError::PeerAborted(AbortReason::Cancelled) => Self::Network,
            _ => Self::ProtocolViolation,
        }
    }

    fn of_fetch(e: &FetchError) -> Self {
        match e {
            FetchError::PeerAborted(reason) => Self::of_protocol(&ProtocolError::PeerAborted(*reason)),
            e if e.is_peer_violation() => Self::ProtocolViolation,
            e if e.is_network() => Self::Network,
            FetchError::LocalPart { .. } => Self::BadInput,
            _ => Self::Other,
        }
    }

    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}
