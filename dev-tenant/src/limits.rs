//! What keeps the tenant usable when someone floods it or guesses passwords: the client
//! address of a request, bounded tables that evict instead of refusing, length limits on
//! parameters, and the failed-login throttle.
//!
//! - **Addresses.** A request's client address is the TCP peer ([`ClientAddr`]);
//!   `X-Forwarded-For` is not trusted. IPv6 addresses count per /64, the block one host
//!   usually holds; an IPv4-mapped IPv6 address counts as its IPv4 address.
//! - **Tables** ([`Bounded`]): pending sign-ins, sessions, authorization codes and refresh
//!   token families are capped per address and in total. A new entry is never refused:
//!   the oldest entry of the same address goes first (one not yet signed in, when there
//!   is one), and when the whole table is full, the oldest of the address holding the
//!   most entries. A flood from one address only turns over its own entries.
//! - **Password guessing** ([`LoginThrottle`]): after [`MAX_FAILURES`] failed logins for
//!   one username from one address within [`FAILURE_WINDOW`], that pair is answered 429
//!   with `Retry-After` until the oldest of those failures is a window old. Other users
//!   and other addresses are unaffected. An address that has failed for
//!   [`MAX_USERNAMES_PER_ADDR`] different usernames within the window is throttled for
//!   every further username too (password spraying).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// Longest accepted query string of `/authorize` and the logout endpoints, in bytes.
pub const MAX_QUERY: usize = 16 * 1024;
/// Longest `redirect_uri`, `post_logout_redirect_uri` or `returnTo`.
pub const MAX_URL: usize = 2048;
/// Longest `client_id`.
pub const MAX_CLIENT_ID: usize = 256;
/// Longest `state` (it is echoed back, so a longer one gets the error page).
pub const MAX_STATE: usize = 2048;
/// Longest `nonce`.
pub const MAX_NONCE: usize = 512;
/// Longest `scope`.
pub const MAX_SCOPE: usize = 1024;
/// Longest `audience`.
pub const MAX_AUDIENCE: usize = 512;
/// Longest `response_type`, `response_mode` or `prompt`.
pub const MAX_KEYWORD: usize = 64;
/// Longest `logout_hint`.
pub const MAX_LOGOUT_HINT: usize = 256;
/// Longest `id_token_hint`.
pub const MAX_ID_TOKEN_HINT: usize = 8192;
/// Longest username (an email address) at the login form.
pub const MAX_USERNAME: usize = 320;
/// Longest password at the login form.
pub const MAX_PASSWORD: usize = 1024;

/// Failed logins for one username from one address that are allowed within
/// [`FAILURE_WINDOW`]; the next attempt is answered 429.
pub const MAX_FAILURES: usize = 5;
/// The window [`MAX_FAILURES`] counts in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Different usernames one address may fail for within [`FAILURE_WINDOW`] before every
/// username is throttled for it.
pub const MAX_USERNAMES_PER_ADDR: usize = 100;
/// Username/address pairs the throttle remembers at most.
const MAX_THROTTLE_ENTRIES: usize = 10_000;

/// The key a client address counts under: IPv4 as is, IPv6 by its /64.
pub fn addr_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client address of a request ([`addr_key`] applied): the TCP peer, from
/// [`ConnectInfo`]. A router served without connect info (see [`crate::serve`]) counts
/// every request under `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientAddr(addr_key(ip)))
    }
}

/// Entries that should outlive others of their address when one must go.
pub(crate) trait Evictable {
    /// True for entries worth more than a fresh one (a sign-in past its password).
    fn keep_longer(&self) -> bool {
        false
    }
}

struct Entry<V> {
    value: V,
    addr: IpAddr,
    created: Instant,
}

/// A map by random id, with entries expiring after `lifetime`, at most `per_addr` per
/// client address and `total` in all; inserting never fails (see the module docs).
pub(crate) struct Bounded<V> {
    entries: HashMap<String, Entry<V>>,
    /// Each address's ids, oldest first.
    by_addr: HashMap<IpAddr, VecDeque<String>>,
    lifetime: Duration,
    per_addr: usize,
    total: usize,
}

impl<V: Evictable> Bounded<V> {
    pub(crate) fn new(lifetime: Duration, per_addr: usize, total: usize) -> Self {
        Bounded {
            entries: HashMap::new(),
            by_addr: HashMap::new(),
            lifetime,
            per_addr: per_addr.max(1),
            total: total.max(1),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Inserts `value` under `id` for a client at `addr`, evicting as needed.
    pub(crate) fn insert(&mut self, id: String, addr: IpAddr, value: V, now: Instant) {
        let addr = addr_key(addr);
        self.remove(&id);
        self.purge_expired_of(addr, now);
        while self.by_addr.get(&addr).map_or(0, VecDeque::len) >= self.per_addr {
            self.evict_one_of(addr);
        }
        if self.entries.len() >= self.total {
            let addrs: Vec<IpAddr> = self.by_addr.keys().copied().collect();
            for a in addrs {
                self.purge_expired_of(a, now);
            }
        }
        while self.entries.len() >= self.total {
            let Some(fullest) = self
                .by_addr
                .iter()
                .max_by_key(|(_, ids)| ids.len())
                .map(|(a, _)| *a)
            else {
                break;
            };
            self.evict_one_of(fullest);
        }
        self.by_addr.entry(addr).or_default().push_back(id.clone());
        self.entries.insert(
            id,
            Entry {
                value,
                addr,
                created: now,
            },
        );
    }

    fn alive(&self, e: &Entry<V>, now: Instant) -> bool {
        now.saturating_duration_since(e.created) < self.lifetime
    }

    /// The live entry `id`.
    pub(crate) fn get(&self, id: &str, now: Instant) -> Option<&V> {
        self.entries
            .get(id)
            .filter(|e| self.alive(e, now))
            .map(|e| &e.value)
    }

    /// The live entry `id`, to change.
    pub(crate) fn get_mut(&mut self, id: &str, now: Instant) -> Option<&mut V> {
        let lifetime = self.lifetime;
        self.entries
            .get_mut(id)
            .filter(|e| now.saturating_duration_since(e.created) < lifetime)
            .map(|e| &mut e.value)
    }

    /// Removes `id`; returns it if it was live.
    pub(crate) fn take(&mut self, id: &str, now: Instant) -> Option<V> {
        let live = self.entries.get(id).is_some_and(|e| self.alive(e, now));
        let value = self.remove(id)?;
        live.then_some(value)
    }

    fn remove(&mut self, id: &str) -> Option<V> {
        let entry = self.entries.remove(id)?;
        if let Some(ids) = self.by_addr.get_mut(&entry.addr) {
            if let Some(i) = ids.iter().position(|x| x == id) {
                ids.remove(i);
            }
            if ids.is_empty() {
                self.by_addr.remove(&entry.addr);
            }
        }
        Some(entry.value)
    }

    /// Drops the expired entries at the front of `addr`'s list (they are oldest first).
    fn purge_expired_of(&mut self, addr: IpAddr, now: Instant) {
        let Some(ids) = self.by_addr.get_mut(&addr) else {
            return;
        };
        while let Some(id) = ids.front() {
            match self.entries.get(id) {
                Some(e) if now.saturating_duration_since(e.created) < self.lifetime => break,
                _ => {
                    if let Some(id) = ids.pop_front() {
                        self.entries.remove(&id);
                    }
                }
            }
        }
        if ids.is_empty() {
            self.by_addr.remove(&addr);
        }
    }

    /// Removes the oldest entry of `addr` that is not [`Evictable::keep_longer`], or the
    /// oldest of all its entries when each is.
    fn evict_one_of(&mut self, addr: IpAddr) {
        let Some(ids) = self.by_addr.get(&addr) else {
            return;
        };
        let victim = ids
            .iter()
            .find(|id| self.entries.get(*id).is_none_or(|e| !e.value.keep_longer()))
            .or_else(|| ids.front())
            .cloned();
        match victim {
            Some(id) => {
                if self.remove(&id).is_none() {
                    // An id without an entry: drop it from the list directly.
                    if let Some(ids) = self.by_addr.get_mut(&addr) {
                        ids.retain(|x| *x != id);
                        if ids.is_empty() {
                            self.by_addr.remove(&addr);
                        }
                    }
                }
            }
            None => {
                self.by_addr.remove(&addr);
            }
        }
    }
}

/// Whether a login attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Answer 429; the pair may try again after this many seconds.
    RetryAfter(u64),
}

/// Failed logins per (username, address) within [`FAILURE_WINDOW`].
#[derive(Default)]
pub(crate) struct LoginThrottle {
    /// (lower-cased username, address) → times of the latest failures, oldest first.
    failures: HashMap<(String, IpAddr), VecDeque<Instant>>,
    /// Per address, how many usernames it has entries for.
    per_addr: HashMap<IpAddr, usize>,
}

fn throttle_key(username: &str, addr: IpAddr) -> (String, IpAddr) {
    (username.trim().to_lowercase(), addr_key(addr))
}

impl LoginThrottle {
    /// Whether `username` may try to log in from `addr` now.
    pub(crate) fn check(&mut self, username: &str, addr: IpAddr, now: Instant) -> Verdict {
        self.purge(now);
        let key = throttle_key(username, addr);
        if let Some(times) = self.failures.get(&key) {
            if times.len() >= MAX_FAILURES {
                return retry_after(times.front().copied(), now);
            }
            return Verdict::Allowed;
        }
        if self.per_addr.get(&key.1).copied().unwrap_or(0) >= MAX_USERNAMES_PER_ADDR {
            // Spraying: the address has failed for many usernames; it may try a new one
            // once its oldest failure has left the window.
            let oldest = self
                .failures
                .iter()
                .filter(|((_, a), _)| *a == key.1)
                .filter_map(|(_, t)| t.back().copied())
                .min();
            return retry_after(oldest, now);
        }
        Verdict::Allowed
    }

    /// Records a failed login.
    pub(crate) fn fail(&mut self, username: &str, addr: IpAddr, now: Instant) {
        self.purge(now);
        let key = throttle_key(username, addr);
        if !self.failures.contains_key(&key) {
            if self.failures.len() >= MAX_THROTTLE_ENTRIES {
                // Forget the pair whose latest failure is oldest.
                let stalest = self
                    .failures
                    .iter()
                    .min_by_key(|(_, t)| t.back().copied())
                    .map(|(k, _)| k.clone());
                if let Some(k) = stalest {
                    self.forget(&k);
                }
            }
            *self.per_addr.entry(key.1).or_default() += 1;
        }
        let times = self.failures.entry(key).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// Forgets the failures of a pair (after a successful login).
    pub(crate) fn succeed(&mut self, username: &str, addr: IpAddr) {
        self.forget(&throttle_key(username, addr));
    }

    fn forget(&mut self, key: &(String, IpAddr)) {
        if self.failures.remove(key).is_some() {
            if let Some(n) = self.per_addr.get_mut(&key.1) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_addr.remove(&key.1);
                }
            }
        }
    }

    /// Drops failures older than the window, and pairs left without any.
    fn purge(&mut self, now: Instant) {
        let mut emptied = Vec::new();
        for (key, times) in self.failures.iter_mut() {
            while times
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= FAILURE_WINDOW)
            {
                times.pop_front();
            }
            if times.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in emptied {
            self.forget(&key);
        }
    }
}

/// 429 until `since` (a failure) is [`FAILURE_WINDOW`] old: whole seconds, at least 1.
fn retry_after(since: Option<Instant>, now: Instant) -> Verdict {
    let elapsed = since.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
    let left = FAILURE_WINDOW.saturating_sub(elapsed);
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Verdict::RetryAfter(secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Tx(&'static str, bool);

    impl Evictable for Tx {
        fn keep_longer(&self) -> bool {
            self.1
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_count_per_ipv4_and_ipv6_64() {
        assert_eq!(addr_key(ip("10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(addr_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(addr_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(addr_key(ip("::1")), ip("::"));
    }

    #[test]
    fn a_full_address_evicts_its_oldest_entry_not_yet_signed_in() {
        let now = Instant::now();
        let mut t = Bounded::new(Duration::from_secs(600), 3, 100);
        let a = ip("10.0.0.1");
        t.insert("signed-in".into(), a, Tx("signed-in", true), now);
        t.insert("old".into(), a, Tx("old", false), now);
        t.insert("mid".into(), a, Tx("mid", false), now);
        t.insert("b".into(), ip("10.0.0.2"), Tx("b", false), now);
        t.insert("new".into(), a, Tx("new", false), now);
        assert!(t.get("old", now).is_none(), "the oldest not signed in goes");
        for id in ["signed-in", "mid", "new", "b"] {
            assert!(t.get(id, now).is_some(), "{id}");
        }
        t.insert("newer".into(), a, Tx("newer", false), now);
        assert!(t.get("mid", now).is_none());
        assert!(t.get("signed-in", now).is_some());
        assert_eq!(t.len(), 4);
        // All signed in: the oldest goes after all.
        let mut t = Bounded::new(Duration::from_secs(600), 2, 100);
        t.insert("1".into(), a, Tx("1", true), now);
        t.insert("2".into(), a, Tx("2", true), now);
        t.insert("3".into(), a, Tx("3", true), now);
        assert!(t.get("1", now).is_none());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_full_table_evicts_from_the_fullest_address() {
        let now = Instant::now();
        let mut t = Bounded::new(Duration::from_secs(600), 4, 6);
        let (a, b, c) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"));
        t.insert("user".into(), c, Tx("user", false), now);
        for i in 0..4 {
            t.insert(format!("a{i}"), a, Tx("a", false), now);
        }
        t.insert("b0".into(), b, Tx("b", false), now);
        assert_eq!(t.len(), 6);
        t.insert("b1".into(), b, Tx("b", false), now);
        assert_eq!(t.len(), 6, "never more than the total");
        assert!(
            t.get("a0", now).is_none(),
            "the fullest address loses its oldest"
        );
        assert!(t.get("user", now).is_some());
        assert!(t.get("b0", now).is_some() && t.get("b1", now).is_some());
    }

    #[test]
    fn entries_expire_and_are_taken_once() {
        let now = Instant::now();
        let mut t = Bounded::new(Duration::from_secs(10), 5, 5);
        let a = ip("10.0.0.1");
        t.insert("x".into(), a, Tx("x", false), now);
        t.insert("y".into(), a, Tx("y", false), now);
        assert!(t.get("x", now + Duration::from_secs(10)).is_none());
        assert!(t.get_mut("x", now + Duration::from_secs(9)).is_some());
        assert_eq!(t.take("y", now), Some(Tx("y", false)));
        assert_eq!(t.take("y", now), None);
        assert_eq!(t.take("x", now + Duration::from_secs(11)), None, "expired");
        assert_eq!(t.len(), 0);
        // Expired entries make room before anything live is evicted.
        for i in 0..5 {
            t.insert(format!("old{i}"), ip("10.0.0.9"), Tx("o", false), now);
        }
        let later = now + Duration::from_secs(11);
        t.insert("fresh".into(), a, Tx("fresh", false), later);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn five_failures_throttle_the_pair_only() {
        let now = Instant::now();
        let mut t = LoginThrottle::default();
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for i in 0..MAX_FAILURES {
            assert_eq!(
                t.check("Alice@example.com", a, now),
                Verdict::Allowed,
                "{i}"
            );
            t.fail(" alice@EXAMPLE.com", a, now + Duration::from_secs(i as u64));
        }
        let later = now + Duration::from_secs(10);
        assert_eq!(
            t.check("alice@example.com", a, later),
            Verdict::RetryAfter(50)
        );
        assert_eq!(t.check("alice@example.com", b, later), Verdict::Allowed);
        assert_eq!(t.check("bob@example.com", a, later), Verdict::Allowed);
        // The oldest failure leaves the window: one more try.
        let after = now + FAILURE_WINDOW;
        assert_eq!(t.check("alice@example.com", a, after), Verdict::Allowed);
        t.fail("alice@example.com", a, after);
        assert!(matches!(
            t.check("alice@example.com", a, after),
            Verdict::RetryAfter(1)
        ));
        // A success forgets the pair.
        t.succeed("alice@example.com", a);
        assert_eq!(t.check("alice@example.com", a, after), Verdict::Allowed);
    }

    #[test]
    fn spraying_many_usernames_throttles_the_address() {
        let now = Instant::now();
        let mut t = LoginThrottle::default();
        let a = ip("10.0.0.1");
        for i in 0..MAX_USERNAMES_PER_ADDR {
            t.fail(&format!("user{i}@example.com"), a, now);
        }
        assert!(matches!(
            t.check("someone-new@example.com", a, now),
            Verdict::RetryAfter(60)
        ));
        assert_eq!(t.check("user0@example.com", a, now), Verdict::Allowed);
        assert_eq!(
            t.check("someone-new@example.com", ip("10.0.0.2"), now),
            Verdict::Allowed
        );
        let later = now + FAILURE_WINDOW;
        assert_eq!(
            t.check("someone-new@example.com", a, later),
            Verdict::Allowed
        );
        assert!(t.failures.is_empty() && t.per_addr.is_empty(), "all purged");
    }
}
