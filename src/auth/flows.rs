use std::time::Duration;

use crate::weburl::Url;

use super::Tenant;
use crate::browser::silent::{self, SilentError};
use crate::browser::{self, crypto, location, storage};
use crate::oidc::authorize::{safe_return_path, AuthorizeRequest, Transaction};
use crate::oidc::claims::IdTokenClaims;
use crate::oidc::fragment::{self, AuthorizationResponse};
use crate::oidc::session::{self, CallbackContext, Session, VerifiedIdToken};
use crate::oidc::{at_hash, jwt, logout, OidcError};

/// How long silent renewal waits for the tenant's answer.
const SILENT_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Why silent renewal did not give a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalError {
    /// The tenant's answer, or a check of it, failed: `login_required` when the tenant's
    /// session has ended, `consent_required`, `interaction_required`, or any callback check.
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
            Self::Timeout => "The tenant did not answer the background renewal in time. Browsers that block third-party cookies prevent it.".into(),
            Self::Browser(why) => format!("The browser could not renew the session: {why}."),
        }
    }
}

/// Starts a sign-in: a fresh transaction in sessionStorage, then off to the tenant.
/// `prompt=login` makes the tenant ask for credentials even if it has a session, so that
/// the user chooses who signs in.
pub(super) fn login(
    tenant: &Tenant,
    return_to: Option<&str>,
    prompt: Option<&str>,
) -> Result<(), LoginError> {
    let transaction = new_transaction(tenant, return_to)?;
    storage::remember_jwks_uri(tenant.metadata.jwks_uri.as_str());
    let url = authorize_url(tenant, &transaction, &tenant.config.redirect_uri, prompt);
    location::leave_for(&url).map_err(LoginError::Browser)
}

/// Renews `current` without leaving the page: the same request with `prompt=none` in a
/// hidden iframe, whose answer passes every check a normal callback does, and must be for
/// the same user.
pub(super) async fn renew(tenant: &Tenant, current: &Session) -> Result<Session, RenewalError> {
    let transaction = new_transaction(tenant, None)
        .map_err(|LoginError::Browser(why)| RenewalError::Browser(why))?;
    let landing = &tenant.config.silent_redirect_uri;
    let url = authorize_url(tenant, &transaction, landing, Some("none"));
    let fragment = silent::authorize_in_iframe(&url, landing, SILENT_TIMEOUT)
        .await
        .map_err(|error| {
            // The transaction will never be answered.
            storage::take_transaction(&transaction.state);
            match error {
                SilentError::Timeout => RenewalError::Timeout,
                SilentError::Browser(why) => RenewalError::Browser(why),
            }
        })?;
    let (renewed, _) = complete_callback(tenant, &fragment)
        .await
        .map_err(RenewalError::Rejected)?;
    if current.is_same_user(&renewed) {
        Ok(renewed)
    } else {
        Err(RenewalError::OtherUser)
    }
}

/// Forgets everything this app holds, then lets the tenant end its own session and
/// send the browser back to `logout_return_to`.
pub(super) fn logout(tenant: &Tenant, sid: Option<&str>) -> Result<(), String> {
    storage::clear_session();
    storage::discard_transactions(|_| true);
    let config = &tenant.config;
    location::leave_for(&logout::logout_url(
        &tenant.metadata,
        &config.client_id,
        &config.logout_return_to,
        sid,
    ))
}

fn new_transaction(tenant: &Tenant, return_to: Option<&str>) -> Result<Transaction, LoginError> {
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
    Ok(transaction)
}

fn authorize_url(
    tenant: &Tenant,
    transaction: &Transaction,
    redirect_uri: &Url,
    prompt: Option<&str>,
) -> Url {
    let config = &tenant.config;
    AuthorizeRequest {
        authorization_endpoint: &tenant.metadata.authorization_endpoint,
        client_id: &config.client_id,
        redirect_uri,
        audience: &config.audience,
        scope: &config.scope,
        prompt,
        transaction,
    }
    .url()
}

/// Checks a callback fragment. The transaction its `state` names is consumed whatever
/// the outcome, so the same response can never be used twice. Nothing the response says is
/// read, let alone shown, before its `state` has matched. Returns the session and the path
/// to go on to; nothing is stored here.
pub(super) async fn complete_callback(
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
    let tokens = match response.read()? {
        AuthorizationResponse::Error {
            code, description, ..
        } => return Err(OidcError::AuthorizationServer { code, description }),
        AuthorizationResponse::Tokens(tokens) => tokens,
    };
    let verified = match (
        transaction.response_type.wants_id_token(),
        tokens.id_token.as_deref(),
    ) {
        (false, _) => None,
        (true, None) => return Err(OidcError::MissingIdToken),
        (true, Some(id_token)) => {
            let claims = verify_signature(tenant, id_token).await?;
            let digest = crypto::sha256(tokens.access_token.as_bytes())
                .await
                .map_err(|e| {
                    OidcError::MalformedResponse(format!(
                        "the access token could not be hashed: {e}"
                    ))
                })?;
            Some((claims, at_hash::from_sha256(&digest)))
        }
    };
    let config = &tenant.config;
    let session = session::establish(
        tokens,
        verified.as_ref().map(|(claims, at_hash)| VerifiedIdToken {
            claims,
            access_token_at_hash: at_hash,
        }),
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

/// The ID token's signature: RS256 only, with a key the tenant publishes in its JWKS,
/// checked by WebCrypto. Returns the claims, not yet validated.
async fn verify_signature(tenant: &Tenant, id_token: &str) -> Result<IdTokenClaims, OidcError> {
    let decoded = jwt::decode::<IdTokenClaims>(id_token).map_err(OidcError::MalformedIdToken)?;
    if decoded.header.alg != "RS256" {
        return Err(OidcError::UnsupportedAlgorithm(decoded.header.alg));
    }
    let key = tenant
        .keys
        .key_for(&tenant.metadata.jwks_uri, decoded.header.kid.as_deref())
        .await?;
    let key = crypto::import_rs256_key(&key).await.map_err(|e| {
        OidcError::KeysUnavailable(format!("the tenant's key could not be imported: {e}"))
    })?;
    let valid = crypto::verify_rs256(&key, &decoded.signature, decoded.signing_input.as_bytes())
        .await
        .map_err(|_| OidcError::BadSignature)?;
    if valid {
        Ok(decoded.claims)
    } else {
        Err(OidcError::BadSignature)
    }
}
