//! Authorization codes (`response_type=code`): random, single-use, short-lived
//! ([`crate::Settings::code_lifetime`], 60 s by default), each bound to what the
//! authorization request asked for and who signed in.
//!
//! A code is consumed by the first token request that names it, whether that request
//! succeeds or not (a wrong verifier, another client or another `redirect_uri` burns it
//! too). A redeemed code stays in the table until it expires, so that a second use is
//! recognised: it is answered `invalid_grant` and, as RFC 6749 §4.1.2 suggests, the
//! refresh token family the first use started is revoked (and an opaque access token it
//! issued; JWT access tokens cannot be recalled). The table is bounded per client
//! address and in total like the others (see [`crate::limits`]): a flood evicts the
//! oldest codes of its own address, and a new code is never refused.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::authorize::AuthRequest;
use crate::limits::{Bounded, Evictable};
use crate::lock;

/// Codes kept at most, in all and per client address.
const MAX_CODES: usize = 10_000;
const MAX_CODES_PER_ADDR: usize = 1_000;

/// What a code stands for.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    /// The authorization request, with its `redirect_uri`, PKCE challenge and grant.
    pub request: AuthRequest,
    /// The user who signed in.
    pub sub: String,
    /// The tenant session it was issued in.
    pub sid: String,
}

/// What the first redemption of a code issued, to revoke on a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Issued {
    /// The refresh token family, if one was started.
    pub family: Option<String>,
    /// The opaque access token (issued without an audience), if any.
    pub opaque_access_token: Option<String>,
}

#[derive(Debug)]
struct Entry {
    code: AuthCode,
    /// `Some` once a token request has named the code.
    redeemed: Option<Issued>,
    /// Set when the code is named again after its first redemption.
    replayed: bool,
}

impl Evictable for Entry {}

/// The answer to a token request naming a code.
#[derive(Debug)]
pub(crate) enum Redemption {
    /// First use: the code's contents; it is now consumed.
    First(Box<AuthCode>),
    /// Already used: what the first use issued, to revoke.
    Replayed(Issued),
    /// Unknown or expired.
    Invalid,
}

/// Live codes by value.
pub struct Codes(Mutex<Bounded<Entry>>);

impl Codes {
    pub(crate) fn new(lifetime: Duration) -> Self {
        Codes(Mutex::new(Bounded::new(
            lifetime,
            MAX_CODES_PER_ADDR,
            MAX_CODES,
        )))
    }

    /// Stores a new code for a client at `addr`; `None` if no random id can be had.
    pub(crate) fn insert(&self, addr: IpAddr, code: AuthCode, now: Instant) -> Option<String> {
        let id = crate::random_id()?;
        let entry = Entry {
            code,
            redeemed: None,
            replayed: false,
        };
        lock(&self.0).insert(id.clone(), addr, entry, now);
        Some(id)
    }

    /// Consumes `code`: its contents on first use.
    pub(crate) fn redeem(&self, code: &str, now: Instant) -> Redemption {
        let mut table = lock(&self.0);
        let Some(entry) = table.get_mut(code, now) else {
            return Redemption::Invalid;
        };
        if entry.redeemed.is_some() {
            entry.replayed = true;
            // Hand over what the first use issued, once: a later replay finds it revoked.
            let issued = entry
                .redeemed
                .replace(Issued::default())
                .unwrap_or_default();
            return Redemption::Replayed(issued);
        }
        entry.redeemed = Some(Issued::default());
        Redemption::First(Box::new(entry.code.clone()))
    }

    /// Records what the first redemption of `code` issued. `false` when the code was
    /// replayed meanwhile: the caller must revoke `issued` itself and answer
    /// `invalid_grant`.
    pub(crate) fn record(&self, code: &str, issued: Issued, now: Instant) -> bool {
        let mut table = lock(&self.0);
        match table.get_mut(code, now) {
            Some(entry) if entry.replayed => false,
            Some(entry) => {
                entry.redeemed = Some(issued);
                true
            }
            // Expired or evicted since: nothing can replay it any more.
            None => true,
        }
    }
}
