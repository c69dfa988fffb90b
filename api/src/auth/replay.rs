//! The DPoP proofs already used (RFC 9449 §11.1), behind one interface so that several
//! instances can share a store: [`MemoryJtiCache`] keeps them in the process's memory (one
//! instance, the SQLite store), `store::postgres::PgReplayCache` in the shared database.

use std::future::Future;
use std::pin::Pin;

/// Proofs remembered in memory at most: at capacity the oldest are forgotten first (see
/// [`dpop::ReplayCache`]). An entry is at most a few hundred bytes (`jti` is capped at 256).
pub const MEMORY_CAPACITY: usize = 100_000;

/// The answer of [`JtiCache::first_use`]: `Ok(true)` for a first use, `Ok(false)` for a
/// replay.
pub type FirstUse<'a> = Pin<Box<dyn Future<Output = Result<bool, JtiCacheError>> + Send + 'a>>;

/// The cache could not answer (a shared store out of reach): the request gets 503. The
/// cache logs the outage (once), not the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JtiCacheError(pub String);

impl std::fmt::Display for JtiCacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JtiCacheError {}

/// The `jti`s of the proofs accepted, per key.
pub trait JtiCache: Send + Sync {
    /// Records the proof `jti` made with the key whose thumbprint is `jkt`, to be kept until
    /// `expires_at` (seconds since the epoch, as `now`), and says whether it was new.
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: u64,
        expires_at: u64,
    ) -> FirstUse<'a>;
}

/// The in-process cache: a bounded [`dpop::ReplayCache`].
pub struct MemoryJtiCache(dpop::ReplayCache);

impl MemoryJtiCache {
    pub fn new(capacity: usize) -> MemoryJtiCache {
        MemoryJtiCache(dpop::ReplayCache::new(capacity))
    }
}

impl JtiCache for MemoryJtiCache {
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: u64,
        expires_at: u64,
    ) -> FirstUse<'a> {
        // A thumbprint is base64url and never holds a space: the key is unambiguous.
        let first = self.0.first_use(&format!("{jkt} {jti}"), now, expires_at);
        Box::pin(std::future::ready(Ok(first)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_jti_is_new_once_per_key_until_it_expires() {
        let cache: Box<dyn JtiCache> = Box::new(MemoryJtiCache::new(10));
        assert_eq!(cache.first_use("key-a", "j1", 100, 200).await, Ok(true));
        assert_eq!(cache.first_use("key-a", "j1", 150, 250).await, Ok(false));
        assert_eq!(cache.first_use("key-b", "j1", 150, 250).await, Ok(true));
        assert_eq!(cache.first_use("key-a", "j1", 200, 300).await, Ok(true));
    }
}
