use url::Url;

use super::Tenant;
use crate::browser::{self, location, storage};
use crate::oidc::authorize::{safe_return_path, AuthorizeRequest, Transaction};
use crate::oidc::fragment::{self, AuthorizationResponse};
use crate::oidc::session::{self, CallbackContext, Session};
use crate::oidc::OidcError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// `crypto.getRandomValues`, sessionStorage or navigation failed.
    Browser(String),
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Browser(why) => write!(f, "the browser could not start the sign-in: {why}"),
        }
    }
}

/// Starts a sign-in: a fresh transaction in sessionStorage, then off to the tenant.
pub(super) fn login(tenant: &Tenant, return_to: Option<&str>) -> Result<(), LoginError> {
    let now = browser::now_ms();
    storage::discard_transactions(|tx| tx.is_expired(now));
    let random = || {
        browser::random_token().map_err(|_| LoginError::Browser("no secure random numbers".into()))
    };
    let response_type = tenant.config.response_type;
    let transaction = Transaction {
        state: random()?,
        nonce: if response_type.wants_id_token() {
            Some(random()?)
        } else {
            None
        },
        response_type,
        return_to: safe_return_path(return_to),
        created_at: now,
    };
    storage::save_transaction(&transaction).map_err(LoginError::Browser)?;
    location::leave_for(&authorize_url(tenant, &transaction)).map_err(LoginError::Browser)
}

fn authorize_url(tenant: &Tenant, transaction: &Transaction) -> Url {
    let config = &tenant.config;
    AuthorizeRequest {
        authorization_endpoint: &tenant.metadata.authorization_endpoint,
        client_id: &config.client_id,
        redirect_uri: &config.redirect_uri,
        audience: &config.audience,
        scope: &config.scope,
        transaction,
    }
    .url()
}

/// Checks a callback fragment. The transaction its `state` names is consumed whatever
/// the outcome, so the same response can never be used twice. Returns the session and the
/// path to go on to; nothing is stored here.
pub(super) fn complete_callback(
    tenant: &Tenant,
    fragment: &str,
) -> Result<(Session, String), OidcError> {
    let now = browser::now_ms();
    let response = fragment::parse(fragment)?;
    let state = response.state().ok_or(OidcError::StateMissing)?;
    let transaction = storage::take_transaction(state).ok_or(OidcError::StateMismatch)?;
    if transaction.is_expired(now) {
        return Err(OidcError::TransactionExpired);
    }
    let tokens = match response {
        AuthorizationResponse::Error {
            code, description, ..
        } => return Err(OidcError::AuthorizationServer { code, description }),
        AuthorizationResponse::Tokens(tokens) => tokens,
    };
    let config = &tenant.config;
    let session = session::establish(
        tokens,
        &transaction,
        &CallbackContext {
            issuer: &tenant.metadata.issuer,
            client_id: &config.client_id,
            requested_scope: &config.scope,
            now_ms: now,
            leeway_secs: config.leeway_secs,
        },
    )?;
    Ok((session, transaction.return_to))
}
