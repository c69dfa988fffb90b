//! Tabs that share one session talk over a `BroadcastChannel`: a sign-out in one ends the
//! others, and a refresh in one reaches the others, so that none of them uses a refresh
//! token that has been rotated away (the tenant would take it for theft and revoke the
//! whole family). With `local` storage the tabs share the token anyway; with `session`
//! storage a duplicated tab holds a copy of it, which only these messages keep current.
//! Messages carry a session only to tabs of this origin, which could read it from storage.

use std::cell::RefCell;
use std::time::Duration;

use futures::channel::oneshot;

use crate::browser::{channel, crypto};
use crate::oidc::base64url;
use crate::oidc::session::Session;

const SIGNED_OUT: &str = "signed-out ";
const ROTATED: &str = "rotated ";
const WHO_HAS: &str = "who-has ";
const NEWER: &str = "newer ";
/// How many rotated-away tokens a tab remembers, to answer a tab that slept through them.
const RETIRED_KEPT: usize = 32;

thread_local! {
    /// Ids of refresh tokens this tab has seen rotated away, and the newest session.
    static ROTATIONS: RefCell<(Vec<String>, Option<Session>)> = const { RefCell::new((Vec::new(), None)) };
}

/// Which tabs share a session: those of the same tenant session (`sid`), or without one,
/// of the same user.
pub(super) fn session_key(session: &Session) -> Option<String> {
    session.sid.clone().or_else(|| {
        session
            .profile
            .as_ref()
            .map(|p| format!("{} {}", p.iss, p.sub))
    })
}

/// A refresh token's name in messages: its SHA-256, not the token.
pub(super) async fn token_id(refresh_token: &str) -> Option<String> {
    crypto::sha256(refresh_token.as_bytes())
        .await
        .ok()
        .map(|digest| base64url::encode(&digest))
}

pub(super) fn announce_sign_out(session: &Session) {
    if let Some(key) = session_key(session) {
        channel::broadcast(&format!("{SIGNED_OUT}{key}"));
    }
}

/// After this tab rotated `old_id` into `newest`: remembered, and told to the other tabs.
pub(super) fn announce_rotation(old_id: String, newest: &Session) {
    if let Ok(json) = crate::json::to_string(newest) {
        channel::broadcast(&format!("{ROTATED}{old_id} {json}"));
    }
    remember_rotation(old_id, newest);
}

/// `old_id` is rotated away and `newest` replaces it, here too: this tab can now answer a
/// tab that asks about `old_id`.
pub(super) fn remember_rotation(old_id: String, newest: &Session) {
    ROTATIONS.with(|cell| {
        let (retired, latest) = &mut *cell.borrow_mut();
        retired.push(old_id);
        if retired.len() > RETIRED_KEPT {
            retired.remove(0);
        }
        *latest = Some(newest.clone());
    });
}

/// Asks the other tabs whether one of them has rotated the token `id` away, and waits up
/// to `wait` for the newer session.
pub(super) async fn ask_for_newer(id: &str, wait: Duration) -> Option<Session> {
    let (sender, receiver) = oneshot::channel::<Session>();
    let sender = RefCell::new(Some(sender));
    let expected = format!("{NEWER}{id} ");
    let _listener = channel::Listener::new(move |message| {
        // A message that does not read as a session leaves the wait on.
        let newer = message
            .strip_prefix(&expected)
            .map(crate::json::from_str::<Session>);
        if let Some(Ok(session)) = newer {
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(session);
            }
        }
    })?;
    channel::broadcast(&format!("{WHO_HAS}{id}"));
    let timeout = gloo_timers::future::sleep(wait);
    futures::pin_mut!(timeout);
    match futures::future::select(receiver, timeout).await {
        futures::future::Either::Left((Ok(session), _)) => Some(session),
        _ => None,
    }
}

/// What another tab said, for the auth provider to act on.
pub(super) enum Heard {
    /// A tab of the session with this key signed out.
    SignedOut(String),
    /// A tab rotated the token with this id into this session.
    Rotated(String, Box<Session>),
}

/// Reads a message; answers `who-has` itself when this tab knows the newer session.
pub(super) fn hear(message: &str) -> Option<Heard> {
    if let Some(key) = message.strip_prefix(SIGNED_OUT) {
        return Some(Heard::SignedOut(key.to_string()));
    }
    if let Some(rest) = message.strip_prefix(ROTATED) {
        let (id, json) = rest.split_once(' ')?;
        let session = crate::json::from_str::<Session>(json).ok()?;
        return Some(Heard::Rotated(id.to_string(), Box::new(session)));
    }
    if let Some(id) = message.strip_prefix(WHO_HAS) {
        let newest = ROTATIONS.with(|cell| {
            let (retired, latest) = &*cell.borrow();
            retired
                .iter()
                .any(|r| r == id)
                .then(|| latest.clone())
                .flatten()
        });
        if let Some(json) = newest.and_then(|s| crate::json::to_string(&s).ok()) {
            channel::broadcast(&format!("{NEWER}{id} {json}"));
        }
    }
    None
}
