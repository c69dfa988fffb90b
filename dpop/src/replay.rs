//! The `jti`s seen within the acceptance window, so that a proof is used once (RFC 9449 §11.1).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// A bounded in-memory set of `jti`s, each kept until its proof could no longer be accepted.
/// At capacity the oldest entries are dropped first: a flood of proofs can cost memory up to
/// the bound, never more, and what it evicts was the likeliest to have expired anyway.
pub struct ReplayCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    expiry: HashMap<String, u64>,
    order: VecDeque<(u64, String)>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// Records `key` (a `jti`, qualified by whatever the caller scopes it to, such as the
    /// key's thumbprint) until `expires_at`, and says whether it was new. `false`: a replay.
    pub fn first_use(&self, key: &str, now: u64, expires_at: u64) -> bool {
        let mut entries = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((at, _)) = entries.order.front() {
            if *at > now && entries.order.len() < self.capacity {
                break;
            }
            if let Some((at, old)) = entries.order.pop_front() {
                if entries.expiry.get(&old) == Some(&at) {
                    entries.expiry.remove(&old);
                }
            }
        }
        if entries.expiry.get(key).is_some_and(|at| *at > now) {
            return false;
        }
        entries.expiry.insert(key.to_string(), expires_at);
        entries.order.push_back((expires_at, key.to_string()));
        true
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .expiry
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
