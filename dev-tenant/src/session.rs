//! The tenant's own sign-in session: a random id in an `HttpOnly; SameSite=None; Secure`
//! cookie, as Auth0's `auth0` cookie is, mapped to a user in memory; and the consent users
//! have given to clients.
//!
//! `SameSite=None` lets the browser send the session cookie on cross-site requests too
//! (silent renewal's hidden iframe on an application of another site), so what reaches
//! the tenant is the browser's decision (third-party cookie blocking, storage
//! partitioning), not the tenant's. `SameSite=None` requires `Secure`; browsers accept
//! `Secure` cookies from `http://localhost` and `http://127.0.0.1` (Chromium and Firefox
//! treat loopback origins as secure), so the tenant sets it on http issuers too. A
//! cross-site request can now carry the session, so the state-changing forms keep their
//! own defences: the logout confirmation checks a token bound to the session, and login
//! and consent need the browser cookie, which stays `SameSite=Lax`.
//!
//! Each session also has a `sid`, a second random id that ID tokens carry (Auth0's `sid`
//! claim) and `/oidc/logout` accepts as `logout_hint`: the cookie value is a bearer secret
//! and never leaves the cookie. The table is bounded per client address and in total
//! (see [`crate::limits`]): a new sign-in evicts the oldest session rather than failing.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};

use crate::limits::{Bounded, Evictable};
use crate::lock;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "dev_tenant_session";
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Sessions kept at most, in all and per client address.
const MAX_SESSIONS: usize = 10_000;
const MAX_SESSIONS_PER_ADDR: usize = 1_000;

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The user.
    pub sub: String,
    /// The session's public id: the ID token's `sid` claim.
    pub sid: String,
    /// The token the logout confirmation form must carry (bound to this session).
    pub logout_csrf: String,
}

impl Evictable for Session {}

/// Sessions by cookie value.
pub struct Sessions(Mutex<Bounded<Session>>);

impl Default for Sessions {
    fn default() -> Self {
        Sessions(Mutex::new(Bounded::new(
            SESSION_LIFETIME,
            MAX_SESSIONS_PER_ADDR,
            MAX_SESSIONS,
        )))
    }
}

impl Sessions {
    /// Starts a session for `sub`, signed in from `addr`; returns its cookie value and
    /// the session, or `None` if no random ids can be had.
    pub(crate) fn create(&self, sub: &str, addr: IpAddr) -> Option<(String, Session)> {
        let id = crate::random_id()?;
        let session = Session {
            sub: sub.to_string(),
            sid: crate::random_id()?,
            logout_csrf: crate::random_id()?,
        };
        lock(&self.0).insert(id.clone(), addr, session.clone(), Instant::now());
        Some((id, session))
    }

    /// The live session of a cookie value.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        lock(&self.0).get(id, Instant::now()).cloned()
    }

    pub(crate) fn remove(&self, id: &str) {
        lock(&self.0).take(id, Instant::now());
    }
}

/// Consent on record: per (user `sub`, client id), the (resource, scope) pairs granted,
/// the resource being `""` for OIDC scopes and the API identifier for API scopes.
/// Bounded by the configured users, clients and scopes.
#[derive(Default)]
pub struct Consents(Mutex<HashMap<UserClient, HashSet<ConsentItem>>>);

/// (user `sub`, client id).
type UserClient = (String, String);
/// (resource, scope).
type ConsentItem = (String, String);

impl Consents {
    /// Adds `items` to the consent of `sub` for `client_id`.
    pub(crate) fn record(
        &self,
        sub: &str,
        client_id: &str,
        items: impl IntoIterator<Item = (String, String)>,
    ) {
        lock(&self.0)
            .entry((sub.to_string(), client_id.to_string()))
            .or_default()
            .extend(items);
    }

    /// Whether `sub` has consented for `client_id` before, to all of `items`.
    pub(crate) fn covers(&self, sub: &str, client_id: &str, items: &[(String, String)]) -> bool {
        lock(&self.0)
            .get(&(sub.to_string(), client_id.to_string()))
            .is_some_and(|granted| items.iter().all(|i| granted.contains(i)))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, if any and not empty.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The session id from the request's `Cookie` headers, if any.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE_NAME)
}

/// Name of the cookie that binds sign-in transactions to the browser that started them
/// (login CSRF): a random id, set by `/authorize` with each login or consent page.
pub const BROWSER_COOKIE: &str = "dev_tenant_browser";

/// The browser id from the request's cookies, if it has the form of one this tenant
/// makes (43 base64url characters).
pub fn browser_id(headers: &HeaderMap) -> Option<String> {
    cookie(headers, BROWSER_COOKIE).filter(|v| {
        v.len() == 43
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `Set-Cookie` value of the browser id: `HttpOnly; SameSite=Lax; Path=/`, `Secure` on an
/// https issuer, kept until the browser closes.
pub fn set_browser_cookie(id: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BROWSER_COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/{secure}"
    ))
    .ok()
}

/// `Set-Cookie` value that starts a session: `HttpOnly; SameSite=None; Secure; Path=/`,
/// for [`SESSION_LIFETIME`] (`Secure` whatever the issuer's scheme, see the module docs).
pub fn set_cookie(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=None; Secure; Path=/; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    ))
    .ok()
}

/// `Set-Cookie` value that expires the session cookie (with the same attributes, which a
/// browser needs to accept it).
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "dev_tenant_session=; HttpOnly; SameSite=None; Secure; Path=/; Max-Age=0",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; dev_tenant_session=abc; b=2"),
        );
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        assert_eq!(browser_id(&h), None);
        let id = "a".repeat(43);
        h.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("{BROWSER_COOKIE}={id}")).unwrap(),
        );
        assert_eq!(browser_id(&h), Some(id));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static(
                "dev_tenant_browser=not/one/of/ours/but/43/characters/long/xyz1",
            ),
        );
        assert_eq!(browser_id(&h), None);
        let s = Sessions::default();
        let addr = IpAddr::from([127, 0, 0, 1]);
        let (id, session) = s.create("auth0|x", addr).unwrap();
        assert_eq!(s.get(&id).map(|s| s.sub).as_deref(), Some("auth0|x"));
        assert_eq!(s.get(&id).as_ref(), Some(&session));
        assert_ne!(session.sid, id, "the sid is not the cookie value");
        assert_ne!(session.logout_csrf, id);
        let (other, again) = s.create("auth0|x", addr).unwrap();
        assert_ne!(again.sid, session.sid, "each session has its own sid");
        s.remove(&id);
        assert_eq!(s.get(&id), None);
        assert!(s.get(&other).is_some());
    }

    #[test]
    fn consents() {
        let c = Consents::default();
        let item = |r: &str, s: &str| (r.to_string(), s.to_string());
        assert!(!c.covers("u", "app", &[]), "no consent on record at all");
        c.record("u", "app", [item("", "openid"), item("api", "read")]);
        assert!(c.covers("u", "app", &[]));
        assert!(c.covers("u", "app", &[item("", "openid"), item("api", "read")]));
        assert!(!c.covers("u", "app", &[item("other-api", "read")]));
        assert!(!c.covers("u", "other-app", &[item("", "openid")]));
        assert!(!c.covers("v", "app", &[item("", "openid")]));
        c.record("u", "app", [item("api", "write")]);
        assert!(c.covers("u", "app", &[item("api", "read"), item("api", "write")]));
    }
}
