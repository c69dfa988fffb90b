//! Sign-in: the authorization request (with PKCE for the code flow) and the callback, whose
//! answer (the implicit grant's tokens, or a code to exchange) goes through the one
//! validator.

use crate::weburl::Url;

use super::dpop;
use super::token_client;
use super::validator;
use super::Tenant;
use crate::browser::{self, crypto, location, storage};
use crate::config::TokenStorage;
use crate::oidc::authorize::{safe_return_path, AuthorizeRequest, ResponseType, Transaction};
use crate::oidc::response::{self, AuthorizationResponse};
use crate::oidc::session::{Grant, Session};
use crate::oidc::token::TokenRequest;
use crate::oidc::{pkce, OidcError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// `crypto.getRandomValues`, WebCrypto, sessionStorage or navigation failed.
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
/// `prompt=login` makes the tenant ask for credentials even if it has a session, so that
/// the user chooses who signs in.
pub(super) async fn login(
    tenant: &Tenant,
    return_to: Option<&str>,
    prompt: Option<&str>,
) -> Result<(), LoginError> {
    let redirect_uri = &tenant.config.redirect_uri;
    let request = new_request(tenant, return_to, redirect_uri, prompt, None).await?;
    storage::remember_jwks_uri(tenant.metadata.jwks_uri.as_str());
    location::leave_for(&request.url).map_err(LoginError::Browser)
}

/// A started authorization request: its transaction is in sessionStorage.
pub(super) struct StartedRequest {
    pub url: Url,
    pub state: String,
}

/// A new transaction (state, nonce, and for the code flow a PKCE verifier) saved in
/// sessionStorage, and the `/authorize` URL for it. With DPoP, the code is bound to a key:
/// a new one for a sign-in, the session's own when `renewing` it.
pub(super) async fn new_request(
    tenant: &Tenant,
    return_to: Option<&str>,
    redirect_uri: &Url,
    prompt: Option<&str>,
    renewing: Option<&Session>,
) -> Result<StartedRequest, LoginError> {
    let now = browser::now_ms();
    discard_transactions(|tx| tx.is_expired(now));
    let no_random = |_| LoginError::Browser("no secure random numbers".into());
    let response_type = tenant.config.response_type;
    let code_verifier = match response_type {
        ResponseType::Code => Some(pkce::verifier_from(
            &browser::random_bytes().map_err(no_random)?,
        )),
        _ => None,
    };
    let code_challenge = match &code_verifier {
        Some(verifier) => Some(pkce::challenge_from_sha256(
            &crypto::sha256(verifier.as_bytes())
                .await
                .map_err(LoginError::Browser)?,
        )),
        None => None,
    };
    let dpop_key = match (
        tenant.config.dpop,
        renewing.and_then(|s| s.dpop_key_id.as_deref()),
    ) {
        (false, _) => None,
        (true, Some(id)) => Some((dpop::load(id).await.map_err(LoginError::Browser)?, false)),
        (true, None) => Some((dpop::create().await.map_err(LoginError::Browser)?, true)),
    };
    let transaction = Transaction {
        state: browser::random_token().map_err(no_random)?,
        nonce: if response_type.wants_id_token() {
            Some(browser::random_token().map_err(no_random)?)
        } else {
            None
        },
        response_type,
        code_verifier,
        dpop_key_id: dpop_key.as_ref().map(|(key, _)| key.id.clone()),
        dpop_key_is_new: dpop_key.as_ref().is_some_and(|(_, new)| *new),
        return_to: safe_return_path(return_to),
        created_at: now,
    };
    storage::save_transaction(&transaction).map_err(LoginError::Browser)?;
    let config = &tenant.config;
    let url = AuthorizeRequest {
        authorization_endpoint: &tenant.metadata.authorization_endpoint,
        client_id: &config.client_id,
        redirect_uri,
        audience: &config.audience,
        scope: &config.scope,
        prompt,
        code_challenge: code_challenge.as_deref(),
        dpop_jkt: dpop_key.as_ref().map(|(key, _)| key.jkt.as_str()),
        transaction: &transaction,
    }
    .url();
    Ok(StartedRequest {
        url,
        state: transaction.state,
    })
}

/// Drops the transactions `is_stale` picks, and the DPoP keys they created.
pub(super) fn discard_transactions(is_stale: impl Fn(&Transaction) -> bool) {
    for transaction in storage::discard_transactions(is_stale) {
        if let (true, Some(id)) = (transaction.dpop_key_is_new, &transaction.dpop_key_id) {
            dpop::forget(id);
        }
    }
}

/// Checks an authorization response (a fragment or the code flow's query). The
/// transaction its `state` names is consumed whatever the outcome, so the same response can
/// never be used twice, and nothing the response says is read, let alone shown, before its
/// `state` has matched. A code is exchanged only then, with the transaction's verifier and
/// the `redirect_uri` it was sent with. Returns the session and the path to go on to;
/// nothing is stored here.
pub(super) async fn complete(
    tenant: &Tenant,
    answer: &str,
    redirect_uri: &Url,
) -> Result<(Session, String), OidcError> {
    let now = browser::now_ms();
    let response = response::parse(answer)?;
    let state = response.state().ok_or(OidcError::StateMissing)?;
    let transaction = storage::take_transaction(state).ok_or(OidcError::StateMismatch)?;
    let result = exchange_and_validate(tenant, response, &transaction, redirect_uri, now).await;
    if let (Err(_), true, Some(id)) = (
        &result,
        transaction.dpop_key_is_new,
        &transaction.dpop_key_id,
    ) {
        // A failed sign-in leaves no key behind; a failed renewal keeps the session's.
        dpop::forget(id);
    }
    let session = result?;
    if let (TokenStorage::Memory, true, Some(id)) = (
        tenant.config.token_storage,
        transaction.dpop_key_is_new,
        &session.dpop_key_id,
    ) {
        dpop::keep_in_memory_only(id).await;
    }
    Ok((session, transaction.return_to))
}

async fn exchange_and_validate(
    tenant: &Tenant,
    response: response::UncheckedResponse,
    transaction: &Transaction,
    redirect_uri: &Url,
    now: f64,
) -> Result<Session, OidcError> {
    if transaction.is_expired(now) {
        return Err(OidcError::TransactionExpired);
    }
    let tokens = match (response.read()?, &transaction.code_verifier) {
        (AuthorizationResponse::Error { code, description }, _) => {
            return Err(OidcError::AuthorizationServer { code, description })
        }
        (AuthorizationResponse::Tokens(tokens), None) => tokens,
        (AuthorizationResponse::Code(code), Some(code_verifier)) => {
            token_client::request(
                tenant,
                TokenRequest::AuthorizationCode {
                    code: &code.0,
                    code_verifier,
                    redirect_uri: redirect_uri.as_str(),
                    client_id: &tenant.config.client_id,
                },
                transaction.dpop_key_id.as_deref(),
            )
            .await?
        }
        _ => return Err(OidcError::ResponseTypeMismatch),
    };
    validator::validate(tenant, tokens, Grant::SignIn(transaction)).await
}
