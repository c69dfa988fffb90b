//! Refresh tokens with rotation, as Auth0's "Refresh Token Rotation" (reuse interval 0).
//!
//! A sign-in that may have one (code flow, `offline_access` asked for, the API's
//! `allow_offline_access` on, the client's `refresh_token` grant) starts a **family**.
//! Each use of the family's newest refresh token answers a new one and retires the one
//! used. Presenting a retired token again (a reuse, as when a stolen token and the
//! legitimate one are both used) revokes the whole family: every token descended from
//! that sign-in stops working, the newest included.
//!
//! A family expires [`crate::Settings::refresh_token_lifetime`] after the sign-in, however
//! often it is used (absolute lifetime), and a token unused for
//! [`crate::Settings::refresh_token_idle`] expires (idle lifetime; each rotation starts it
//! again). `/oauth/revoke` with any token of the family revokes the family. Families are
//! independent of the tenant session: logging out does not revoke them (as at Auth0).
//!
//! **DPoP** (RFC 9449 §5): every client of this tenant is public, so a refresh token
//! issued in answer to a token request with a valid DPoP proof is bound to the proof's key
//! (the family records its thumbprint). Using a bound token needs a proof by the same key;
//! without one, or with another key, it is refused (`invalid_grant`) and stays usable
//! by its holder: a token presented by someone without the key revokes nothing. Rotation
//! keeps the binding. A family that started unbound becomes bound by its first refresh
//! with a proof (that answer's refresh token was issued for a proof too).
//!
//! A token is `<family id>.<generation>.<MAC>`: the family's random id, the count of
//! rotations before it, and an HMAC-SHA256 of both under a key made at start. So the
//! table holds one entry per family, not per token, and still tells a retired token of a
//! family (valid MAC, older generation) from a made-up one. Clients must treat the value
//! as opaque. The table is bounded per client address and in total (see
//! [`crate::limits`]): a new family is never refused; the oldest of the same address goes.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::Engine;

use crate::limits::{Bounded, Evictable};
use crate::lock;
use crate::tokens::Grant;

/// Families kept at most, in all and per client address.
const MAX_FAMILIES: usize = 10_000;
const MAX_FAMILIES_PER_ADDR: usize = 1_000;
/// Longest refresh token accepted at the endpoints.
pub const MAX_REFRESH_TOKEN: usize = 256;

/// One sign-in's refresh tokens.
#[derive(Debug, Clone)]
pub(crate) struct Family {
    /// What was granted at sign-in: client, audience, scopes (requested), `offline`.
    pub grant: Grant,
    /// The scopes granted at sign-in; a refresh may ask for a subset.
    pub granted: Vec<String>,
    pub sub: String,
    pub sid: String,
    /// The thumbprint of the DPoP key the family is bound to, if any.
    pub jkt: Option<String>,
    /// The generation of the newest token.
    generation: u64,
    /// When the newest token was issued (its idle lifetime starts there).
    last_used: Instant,
}

impl Evictable for Family {}

/// Why a refresh token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not ours, revoked, expired, or of another client.
    Invalid,
    /// A retired token of a live family: the family is now revoked.
    Reused,
    /// A scope asked for that was not granted at sign-in (the token stays usable).
    Scope(String),
    /// The family is bound to a DPoP key and the request has no proof, or one by another
    /// key (the token stays usable).
    Binding,
}

/// Refresh token families by id.
pub struct RefreshTokens {
    families: Mutex<Bounded<Family>>,
    idle: Duration,
    /// `None` only if no randomness could be had at start: no refresh tokens then.
    key: Option<hmac::Key>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl RefreshTokens {
    pub(crate) fn new(lifetime: Duration, idle: Duration) -> Self {
        let mut secret = [0u8; 32];
        let key = aws_lc_rs::rand::fill(&mut secret)
            .ok()
            .map(|()| hmac::Key::new(hmac::HMAC_SHA256, &secret));
        RefreshTokens {
            families: Mutex::new(Bounded::new(lifetime, MAX_FAMILIES_PER_ADDR, MAX_FAMILIES)),
            idle,
            key,
        }
    }

    fn token(&self, family: &str, generation: u64) -> Option<String> {
        let body = format!("{family}.{generation}");
        let tag = hmac::sign(self.key.as_ref()?, body.as_bytes());
        Some(format!("{body}.{}", b64(tag.as_ref())))
    }

    /// The family id and generation of a token this tenant made.
    fn parse<'a>(&self, token: &'a str) -> Option<(&'a str, u64)> {
        if token.len() > MAX_REFRESH_TOKEN {
            return None;
        }
        let (body, tag) = token.rsplit_once('.')?;
        let (family, generation) = body.split_once('.')?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .ok()?;
        hmac::verify(self.key.as_ref()?, body.as_bytes(), &tag).ok()?;
        Some((family, generation.parse().ok()?))
    }

    /// Starts a family for a sign-in by a client at `addr`, bound to DPoP key `jkt` if
    /// given; returns its id and first token, or `None` without randomness.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        &self,
        addr: IpAddr,
        grant: Grant,
        granted: Vec<String>,
        sub: &str,
        sid: &str,
        jkt: Option<&str>,
        now: Instant,
    ) -> Option<(String, String)> {
        let id = crate::random_id()?;
        let token = self.token(&id, 0)?;
        let family = Family {
            grant,
            granted,
            sub: sub.to_string(),
            sid: sid.to_string(),
            jkt: jkt.map(str::to_string),
            generation: 0,
            last_used: now,
        };
        lock(&self.families).insert(id.clone(), addr, family, now);
        Some((id, token))
    }

    /// Uses `token` for `client_id`, asking for `scopes` (a subset of those granted at
    /// sign-in; `None`: all of them), with a DPoP proof by key `jkt` if the request has
    /// one: the family (as it was granted, with its binding) and the token that replaces
    /// the one used.
    pub(crate) fn rotate(
        &self,
        token: &str,
        client_id: &str,
        scopes: Option<&[String]>,
        jkt: Option<&str>,
        now: Instant,
    ) -> Result<(Family, String), Refused> {
        let (id, generation) = self.parse(token).ok_or(Refused::Invalid)?;
        let mut families = lock(&self.families);
        let family = families.get_mut(id, now).ok_or(Refused::Invalid)?;
        if family.grant.client_id != client_id {
            return Err(Refused::Invalid);
        }
        // Before reuse detection: whoever lacks the key cannot revoke the family either.
        if family.jkt.is_some() && family.jkt.as_deref() != jkt {
            return Err(Refused::Binding);
        }
        if generation < family.generation {
            families.take(id, now);
            return Err(Refused::Reused);
        }
        if generation != family.generation
            || now.saturating_duration_since(family.last_used) >= self.idle
        {
            families.take(id, now);
            return Err(Refused::Invalid);
        }
        if let Some(extra) = scopes
            .unwrap_or_default()
            .iter()
            .find(|s| !family.granted.contains(s))
        {
            return Err(Refused::Scope(extra.clone()));
        }
        let next = self
            .token(id, family.generation + 1)
            .ok_or(Refused::Invalid)?;
        family.generation += 1;
        family.last_used = now;
        if family.jkt.is_none() {
            family.jkt = jkt.map(str::to_string);
        }
        Ok((family.clone(), next))
    }

    /// Revokes the family of `token` if it is a token of this tenant issued to
    /// `client_id` (any generation); otherwise nothing happens.
    pub(crate) fn revoke(&self, token: &str, client_id: &str, now: Instant) {
        let Some((id, _)) = self.parse(token) else {
            return;
        };
        let mut families = lock(&self.families);
        if families
            .get(id, now)
            .is_some_and(|f| f.grant.client_id == client_id)
        {
            families.take(id, now);
        }
    }

    /// Revokes family `id` (a replayed code's).
    pub(crate) fn revoke_family(&self, id: &str, now: Instant) {
        lock(&self.families).take(id, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client: &str) -> Grant {
        Grant {
            client_id: client.into(),
            want_token: true,
            want_id_token: true,
            scopes: vec!["openid".into(), "offline_access".into()],
            audience: Some("api".into()),
            nonce: None,
            offline: true,
        }
    }

    #[test]
    fn rotation_reuse_and_expiry() {
        let t = RefreshTokens::new(Duration::from_secs(50), Duration::from_secs(10));
        let addr = IpAddr::from([127, 0, 0, 1]);
        let now = Instant::now();
        let granted = vec!["openid".to_string()];
        let (_, first) = t
            .start(addr, grant("a"), granted, "u", "s", None, now)
            .unwrap();
        assert_eq!(
            t.rotate(&first, "b", None, None, now).err(),
            Some(Refused::Invalid)
        );
        let wider = ["openid".to_string(), "email".to_string()];
        assert_eq!(
            t.rotate(&first, "a", Some(&wider), None, now).err(),
            Some(Refused::Scope("email".into())),
            "refused before rotating"
        );
        let (family, second) = t.rotate(&first, "a", None, None, now).unwrap();
        assert_eq!(family.sub, "u");
        assert_ne!(first, second);
        // A forged generation or MAC is not ours.
        let (body, _) = second.rsplit_once('.').unwrap();
        let forged = format!("{}.{}", body, b64(&[0u8; 32]));
        assert_eq!(
            t.rotate(&forged, "a", None, None, now).err(),
            Some(Refused::Invalid)
        );
        assert_eq!(
            t.rotate("a.b", "a", None, None, now).err(),
            Some(Refused::Invalid)
        );
        // The retired first token again: the family is revoked, second included.
        assert_eq!(
            t.rotate(&first, "a", None, None, now).err(),
            Some(Refused::Reused)
        );
        assert_eq!(
            t.rotate(&second, "a", None, None, now).err(),
            Some(Refused::Invalid)
        );

        // Idle: each rotation restarts it; the absolute lifetime does not move.
        let (_, mut token) = t
            .start(addr, grant("a"), vec![], "u", "s", None, now)
            .unwrap();
        for step in 1..=5 {
            let at = now + Duration::from_secs(9 * step);
            (_, token) = t.rotate(&token, "a", None, None, at).unwrap();
        }
        let at = now + Duration::from_secs(50);
        assert_eq!(
            t.rotate(&token, "a", None, None, at).err(),
            Some(Refused::Invalid)
        );
        let (_, token) = t
            .start(addr, grant("a"), vec![], "u", "s", None, now)
            .unwrap();
        let at = now + Duration::from_secs(10);
        assert_eq!(
            t.rotate(&token, "a", None, None, at).err(),
            Some(Refused::Invalid)
        );

        // Revocation needs the right client; any generation revokes the family.
        let (_, first) = t
            .start(addr, grant("a"), vec![], "u", "s", None, now)
            .unwrap();
        let (_, second) = t.rotate(&first, "a", None, None, now).unwrap();
        t.revoke(&first, "b", now);
        let (_, third) = t.rotate(&second, "a", None, None, now).unwrap();
        t.revoke(&first, "a", now);
        assert_eq!(
            t.rotate(&third, "a", None, None, now).err(),
            Some(Refused::Invalid)
        );
    }

    #[test]
    fn dpop_binding_is_checked_before_reuse_and_kept() {
        let t = RefreshTokens::new(Duration::from_secs(50), Duration::from_secs(10));
        let addr = IpAddr::from([127, 0, 0, 1]);
        let now = Instant::now();
        let (_, first) = t
            .start(addr, grant("a"), vec![], "u", "s", Some("k1"), now)
            .unwrap();
        for other in [None, Some("k2")] {
            assert_eq!(
                t.rotate(&first, "a", None, other, now).err(),
                Some(Refused::Binding)
            );
        }
        let (family, second) = t.rotate(&first, "a", None, Some("k1"), now).unwrap();
        assert_eq!(family.jkt.as_deref(), Some("k1"));
        // A retired token with the wrong key: refused for the key, the family lives on.
        assert_eq!(
            t.rotate(&first, "a", None, Some("k2"), now).err(),
            Some(Refused::Binding)
        );
        let (family, _) = t.rotate(&second, "a", None, Some("k1"), now).unwrap();
        assert_eq!(family.jkt.as_deref(), Some("k1"));

        // An unbound family is bound by its first refresh with a proof.
        let (_, first) = t
            .start(addr, grant("a"), vec![], "u", "s", None, now)
            .unwrap();
        let (family, second) = t.rotate(&first, "a", None, Some("k3"), now).unwrap();
        assert_eq!(family.jkt.as_deref(), Some("k3"));
        assert_eq!(
            t.rotate(&second, "a", None, None, now).err(),
            Some(Refused::Binding)
        );
    }
}
