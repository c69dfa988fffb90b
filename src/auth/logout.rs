//! Logout: forget the session here, tell the other tabs, revoke the refresh token, and let
//! the tenant end its own session.

use std::time::Duration;

use super::dpop;
use super::sign_in;
use super::tabs;
use super::token_client;
use super::Tenant;
use crate::browser::{location, storage};
use crate::oidc::logout;
use crate::oidc::session::Session;

/// Revocation is a courtesy to the tenant: logout does not wait longer for it.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Forgets everything this app holds, then revokes the refresh token (whether or not the
/// tenant answers) and lets the tenant end its own session and send the browser back to
/// `logout_return_to`.
pub(super) async fn logout(tenant: &Tenant, session: Option<&Session>) -> Result<(), String> {
    end_session(session);
    sign_in::discard_transactions(|_| true);
    if let Some(session) = session {
        tabs::announce_sign_out(session);
    }
    if let Some(refresh_token) = session.and_then(|s| s.refresh_token.as_deref()) {
        token_client::revoke(tenant, refresh_token, REVOKE_TIMEOUT).await;
    }
    let config = &tenant.config;
    location::leave_for(&logout::logout_url(
        &tenant.metadata,
        &config.client_id,
        &config.logout_return_to,
        session.and_then(|s| s.sid.as_deref()),
    ))
}

/// The session has ended: nothing of it stays in storage, and its DPoP key is deleted (the
/// tokens bound to it become useless wherever they are).
pub(super) fn end_session(session: Option<&Session>) {
    storage::clear_session();
    if let Some(id) = session.and_then(|s| s.dpop_key_id.as_deref()) {
        dpop::forget(id);
    }
}
