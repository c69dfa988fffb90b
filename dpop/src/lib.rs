//! DPoP (RFC 9449) for the two servers: the appointments API checks proofs on resource
//! requests, the dev tenant on token requests. Both run the same checks, so they live here,
//! once:
//!
//! - [`check`]: one proof against one request (§4.3), returning the key's thumbprint;
//! - [`thumbprint`]: the RFC 7638 thumbprint that `cnf.jkt` and `dpop_jkt` carry;
//! - [`ReplayCache`]: `jti`s seen within the acceptance window, bounded;
//! - [`Signer`]: an ES256 key that makes proofs, for tests and the bench (the SPA signs its
//!   own with WebCrypto).

mod proof;
mod replay;
mod signer;

pub use proof::{ath, check, thumbprint, CheckedProof, ProofError, Request, Rules, ALGS};
pub use replay::ReplayCache;
pub use signer::Signer;

/// Seconds since the Unix epoch, as `iat` counts them.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
