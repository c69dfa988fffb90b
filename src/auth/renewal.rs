//! Renewing a session before it expires: with a refresh token at the token endpoint (no
//! iframe, no third-party cookie), else with `prompt=none` in a hidden iframe. Either answer
//! goes through the one validator, and must be for the same user.

use std::time::Duration;

use super::sign_in::{self, LoginError};
use super::tabs;
use super::token_client;
use super::validator;
use super::Tenant;
use crate::browser::silent::{self, SilentError};
use crate::browser::{self, locks, storage};
use crate::config::TokenStorage;
use crate::oidc::session::{Grant, Session};
use crate::oidc::token::TokenRequest;
use crate::oidc::OidcError;

/// How long silent renewal waits for the tenant's answer.
const SILENT_TIMEOUT: Duration = Duration::from_secs(10);
/// One tab at a time uses the refresh token: a rotated token used twice would make the
/// tenant revoke the whole family (reuse detection).
const REFRESH_LOCK: &str = "appointments.auth.refresh";
/// How long a tab waits for another tab to say it has rotated the token already.
const PEER_WAIT: Duration = Duration::from_millis(300);

/// Why renewal did not give a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalError {
    /// The tenant's answer, or a check of it, failed: `login_required` when the tenant's
    /// session has ended, `consent_required`, `interaction_required`, `invalid_grant` for a
    /// refresh token that expired, was revoked or was reused, or any callback check.
    Rejected(OidcError),
    /// The answer passed every check, but for another user: someone else has signed in at
    /// the tenant in this browser since. Adopting it would quietly make the app theirs.
    OtherUser,
    /// The tenant did not answer in time.
    Timeout,
    Browser(String),
}

impl RenewalError {
    pub fn code(&self) -> String {
        match self {
            Self::Rejected(error) => error.code().to_string(),
            Self::OtherUser => "renewal_other_user".into(),
            Self::Timeout => "renewal_timeout".into(),
            Self::Browser(_) => "renewal_browser_error".into(),
        }
    }

    pub fn explanation(&self) -> String {
        match self {
            Self::Rejected(error) => error.explanation(),
            Self::OtherUser => "Someone else has signed in at the tenant in this browser, so the background renewal answered for their account. This app signed you out instead of switching to it: sign in again and choose the account.".into(),
            Self::Timeout => "The tenant did not answer the background renewal in time. Browsers that block third-party cookies prevent it; the authorization code flow with refresh tokens does not need them.".into(),
            Self::Browser(why) => format!("The browser could not renew the session: {why}."),
        }
    }

    /// Whether the stored session can never renew again (its refresh token is dead).
    pub fn ends_the_session(&self) -> bool {
        matches!(self, Self::Rejected(OidcError::TokenEndpoint { code, .. }) if code == "invalid_grant")
    }
}

/// A new session for the user of `current`, stored before it is returned.
pub(super) async fn renew(tenant: &Tenant, current: &Session) -> Result<Session, RenewalError> {
    match &current.refresh_token {
        Some(refresh_token) => refresh(tenant, current, refresh_token).await,
        None => {
            let renewed = silently(tenant, current).await?;
            same_user(current, renewed)
        }
    }
}

async fn refresh(
    tenant: &Tenant,
    current: &Session,
    refresh_token: &str,
) -> Result<Session, RenewalError> {
    let mode = tenant.config.token_storage;
    let lock = locks::acquire(REFRESH_LOCK).await;
    // Another tab sharing this session may have refreshed while this one waited: its
    // result is taken instead of using a token that has been rotated away.
    let newer_in_storage = || {
        storage::load_session(mode).filter(|stored| {
            stored.refresh_token.is_some()
                && stored.refresh_token != current.refresh_token
                && stored.issued_at >= current.issued_at
                && !stored.is_expired(browser::now_ms())
        })
    };
    if let Some(stored) = newer_in_storage() {
        return same_user(current, stored);
    }
    let id = tabs::token_id(refresh_token).await;
    // Storage may not show it yet. A duplicated tab's sessionStorage holds a copy of the
    // token; and a localStorage write reaches other tabs' processes asynchronously (Firefox
    // passes it on at the end of the writing task), so a tab handed the lock straight
    // after a refresh can still read the old token. The tab that rotated it answers.
    let ask_other_tabs = match mode {
        TokenStorage::Session => true,
        TokenStorage::Local => lock.as_ref().is_some_and(|lock| lock.waited),
        TokenStorage::Memory => false,
    };
    if let (true, Some(id)) = (ask_other_tabs, &id) {
        if let Some(newer) = tabs::ask_for_newer(id, PEER_WAIT).await {
            let newer = same_user(current, newer)?;
            tabs::remember_rotation(id.clone(), &newer);
            storage::save_session(mode, &newer);
            return Ok(newer);
        }
        // No answer (the tab that refreshed may have closed since): storage has had the
        // wait to catch up.
        if let Some(stored) = newer_in_storage() {
            return same_user(current, stored);
        }
    }
    let tokens = token_client::request(
        tenant,
        TokenRequest::RefreshToken {
            refresh_token,
            client_id: &tenant.config.client_id,
        },
        current.dpop_key_id.as_deref(),
    )
    .await
    .map_err(RenewalError::Rejected)?;
    let renewed = validator::validate(tenant, tokens, Grant::Refresh(current))
        .await
        .map_err(RenewalError::Rejected)?;
    let renewed = same_user(current, renewed)?;
    // Still under the lock: the next tab finds the new token, in storage or by message.
    storage::save_session(mode, &renewed);
    if let Some(id) = id {
        if renewed.refresh_token.as_deref() != Some(refresh_token) {
            tabs::announce_rotation(id, &renewed);
        }
    }
    Ok(renewed)
}

/// The same request as sign-in, with `prompt=none`, in a hidden iframe landing on
/// `silent-callback.html`; a code is exchanged as at sign-in.
async fn silently(tenant: &Tenant, current: &Session) -> Result<Session, RenewalError> {
    let landing = &tenant.config.silent_redirect_uri;
    let request = sign_in::new_request(tenant, None, landing, Some("none"), Some(current))
        .await
        .map_err(|LoginError::Browser(why)| RenewalError::Browser(why))?;
    let answer = silent::authorize_in_iframe(&request.url, landing, SILENT_TIMEOUT)
        .await
        .map_err(|error| {
            // The transaction will never be answered.
            storage::take_transaction(&request.state);
            match error {
                SilentError::Timeout => RenewalError::Timeout,
                SilentError::Browser(why) => RenewalError::Browser(why),
            }
        })?;
    sign_in::complete(tenant, &answer, landing)
        .await
        .map(|(session, _)| session)
        .map_err(RenewalError::Rejected)
}

fn same_user(current: &Session, renewed: Session) -> Result<Session, RenewalError> {
    if current.is_same_user(&renewed) {
        Ok(renewed)
    } else {
        Err(RenewalError::OtherUser)
    }
}
