//! The token endpoint, as a public client: the code exchange, the refresh, and revocation.

use super::Tenant;
use crate::browser::http;
use crate::oidc::response::TokenSet;
use crate::oidc::token::{self, TokenRequest};
use crate::oidc::OidcError;

/// Sends `request` to the tenant's token endpoint. Secrets go in the body; the answer's
/// errors are told apart by their OAuth `error`.
pub(super) async fn request(
    tenant: &Tenant,
    request: TokenRequest<'_>,
) -> Result<TokenSet, OidcError> {
    let endpoint = tenant.metadata.token_endpoint.as_ref().ok_or_else(|| {
        OidcError::TokenEndpointMalformed(
            "the tenant's discovery document names no `token_endpoint`".into(),
        )
    })?;
    let answer = http::post_form(endpoint.as_str(), request.form_body())
        .await
        .map_err(|_| OidcError::TokenEndpointUnreachable {
            url: endpoint.to_string(),
        })?;
    token::parse_response(answer.status, &answer.body)
}

/// Asks the tenant to revoke `refresh_token` (RFC 7009). Whatever happens, logout goes on:
/// the answer is not waited for longer than `timeout`, and failures are not reported.
pub(super) async fn revoke(tenant: &Tenant, refresh_token: &str, timeout: std::time::Duration) {
    let Some(endpoint) = &tenant.metadata.revocation_endpoint else {
        return;
    };
    let body = token::revocation_body(refresh_token, &tenant.config.client_id);
    let revocation = http::post_form(endpoint.as_str(), body);
    let deadline = gloo_timers::future::sleep(timeout);
    futures::pin_mut!(revocation);
    futures::pin_mut!(deadline);
    let _ = futures::future::select(revocation, deadline).await;
}
