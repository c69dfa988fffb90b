//! `GET /userinfo` (and `POST`): the signed-in user's profile for a Bearer access token.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, Validation};
use tower_http::cors::{Any, CorsLayer};

use crate::tokens::{AccessClaims, Profile};
use crate::Shared;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/userinfo", get(userinfo).post(userinfo))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        )
}

fn unauthorized(description: &str) -> Response {
    let challenge = format!(
        "Bearer error=\"invalid_token\", error_description=\"{}\"",
        description.replace(['"', '\\'], "'")
    );
    let challenge = HeaderValue::from_str(&challenge)
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"invalid_token\""));
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        Json(serde_json::json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response()
}

/// The subject of a valid access token: a JWT signed by this tenant for `<issuer>userinfo`,
/// or a live opaque token.
fn subject(st: &Shared, token: &str) -> Result<String, String> {
    if !token.contains('.') {
        return st
            .opaque_tokens
            .subject(token)
            .ok_or_else(|| "The access token is unknown or expired".to_string());
    }
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&st.issuer]);
    v.set_audience(&[st.url("userinfo")]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    crate::keys::decode_with::<AccessClaims>(&st.keys, token, &v)
        .map(|d| d.claims.sub)
        .map_err(|e| format!("The access token is not valid: {e}"))
}

async fn userinfo(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return unauthorized("A Bearer access token is required");
    };
    let sub = match subject(&st, token) {
        Ok(s) => s,
        Err(e) => return unauthorized(&e),
    };
    match st.tenant.user_by_sub(&sub) {
        Some(user) => Json(Profile::of(user, &st.issuer)).into_response(),
        None => unauthorized("The user of this token no longer exists"),
    }
}
