//! The token endpoint, as a public client: the code exchange, the refresh, and revocation.

use super::dpop::{self, Credentials};
use super::Tenant;
use crate::browser::http::Body;
use crate::oidc::response::TokenSet;
use crate::oidc::token::{self, TokenRequest};
use crate::oidc::OidcError;

/// Sends `request` to the tenant's token endpoint, with a proof of the key named `dpop_key`
/// when the tokens are to be bound to it (DPoP). Secrets go in the body; the answer's errors
/// are told apart by their OAuth `error`.
pub(super) async fn request(
    tenant: &Tenant,
    request: TokenRequest<'_>,
    dpop_key: Option<&str>,
) -> Result<TokenSet, OidcError> {
    let endpoint = tenant.metadata.token_endpoint.as_ref().ok_or_else(|| {
        OidcError::TokenEndpointMalformed(
            "the tenant's discovery document names no `token_endpoint`".into(),
        )
    })?;
    let key = match dpop_key {
        Some(id) => Some(
            dpop::load(id)
                .await
                .map_err(OidcError::DpopKeyUnavailable)?,
        ),
        None => None,
    };
    let credentials = match &key {
        Some(key) => Credentials::Proof(key),
        None => Credentials::None,
    };
    let body = request.form_body();
    let answer = dpop::send("POST", endpoint.as_str(), credentials, || {
        Some(Body::Form(body.clone()))
    })
    .await
    .map_err(|error| match error {
        dpop::SendError::NoAnswer => OidcError::TokenEndpointUnreachable {
            url: endpoint.to_string(),
        },
        dpop::SendError::Proof(why) => OidcError::DpopKeyUnavailable(why),
    })?;
    token::parse_response(answer.status, &answer.body, key.is_some())
}

/// Asks the tenant to revoke `refresh_token` (RFC 7009). Whatever happens, logout goes on:
/// the answer is not waited for longer than `timeout`, and failures are not reported.
pub(super) async fn revoke(tenant: &Tenant, refresh_token: &str, timeout: std::time::Duration) {
    let Some(endpoint) = &tenant.metadata.revocation_endpoint else {
        return;
    };
    let body = token::revocation_body(refresh_token, &tenant.config.client_id);
    let revocation = dpop::send("POST", endpoint.as_str(), Credentials::None, || {
        Some(Body::Form(body.clone()))
    });
    let deadline = gloo_timers::future::sleep(timeout);
    futures::pin_mut!(revocation);
    futures::pin_mut!(deadline);
    let _ = futures::future::select(revocation, deadline).await;
}
