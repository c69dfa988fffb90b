//! `/.well-known/openid-configuration` and `/.well-known/jwks.json` (CORS `*`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::cors::{Any, CorsLayer};

use crate::config::OIDC_SCOPES;
use crate::Shared;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/.well-known/jwks.json", get(jwks))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any),
        )
}

async fn openid_configuration(State(st): State<Shared>) -> Response {
    let mut scopes: Vec<String> = OIDC_SCOPES.iter().map(|(s, _)| s.to_string()).collect();
    scopes.push(crate::tokens::OFFLINE_ACCESS.to_string());
    for api in &st.tenant.apis {
        scopes.extend(api.scopes.iter().map(|s| s.value.clone()));
    }
    Json(serde_json::json!({
        "issuer": st.issuer,
        "authorization_endpoint": st.url("authorize"),
        "token_endpoint": st.url("oauth/token"),
        "revocation_endpoint": st.url("oauth/revoke"),
        "jwks_uri": st.url(".well-known/jwks.json"),
        "userinfo_endpoint": st.url("userinfo"),
        "end_session_endpoint": st.url("oidc/logout"),
        "response_types_supported": ["code", "token", "id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "claims_supported": [
            "aud", "email", "email_verified", "exp", "iat", "iss", "name", "nickname",
            "picture", "sub", "nonce", "at_hash", "sid"
        ],
        "request_parameter_supported": false,
        "dpop_signing_alg_values_supported": crate::dpop::algs(),
    }))
    .into_response()
}

async fn jwks(State(st): State<Shared>) -> Response {
    Json(st.keys.jwks()).into_response()
}
