//! The tenant's own sign-in session: a random id in an `HttpOnly; SameSite=Lax` cookie,
//! mapped to a user in memory; and the consent users have given to clients.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};

use crate::lock;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "dev_tenant_session";
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const MAX_SESSIONS: usize = 10_000;

struct Session {
    sub: String,
    created: Instant,
}

/// Sessions by id.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// Starts a session for `sub`; returns its id, or `None` if none can be made.
    pub(crate) fn create(&self, sub: &str) -> Option<String> {
        let id = crate::random_id()?;
        let mut map = lock(&self.0);
        map.retain(|_, s| s.created.elapsed() < SESSION_LIFETIME);
        if map.len() >= MAX_SESSIONS {
            return None;
        }
        map.insert(
            id.clone(),
            Session {
                sub: sub.to_string(),
                created: Instant::now(),
            },
        );
        Some(id)
    }

    /// The user of a live session.
    pub(crate) fn user(&self, id: &str) -> Option<String> {
        let map = lock(&self.0);
        map.get(id)
            .filter(|s| s.created.elapsed() < SESSION_LIFETIME)
            .map(|s| s.sub.clone())
    }

    pub(crate) fn remove(&self, id: &str) {
        lock(&self.0).remove(id);
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

/// The session id from the request's `Cookie` headers, if any.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` value that starts a session.
pub fn set_cookie(id: &str, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        SESSION_LIFETIME.as_secs()
    ))
    .ok()
}

/// `Set-Cookie` value that expires the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "dev_tenant_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("dev_tenant_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    }
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
        let s = Sessions::default();
        let id = s.create("auth0|x").unwrap();
        assert_eq!(s.user(&id).as_deref(), Some("auth0|x"));
        s.remove(&id);
        assert_eq!(s.user(&id), None);
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
