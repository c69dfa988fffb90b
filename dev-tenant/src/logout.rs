//! `GET /v2/logout` (Auth0) and `GET /oidc/logout` (OIDC RP-initiated logout).
//!
//! Both end the tenant session (server-side and cookie) and redirect only to a URL in
//! the client's Allowed Logout URLs.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use jsonwebtoken::{Algorithm, Validation};

use crate::authorize::redirect;
use crate::pages::{error_page, signed_out_page};
use crate::{session, QueryParams, Shared};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/logout", get(v2_logout))
        .route("/oidc/logout", get(oidc_logout))
}

/// Ends the session and answers with `then`, expiring the cookie.
fn end_session(st: &Shared, headers: &HeaderMap, mut then: Response) -> Response {
    if let Some(id) = session::session_id(headers) {
        st.sessions.remove(&id);
    }
    then.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(st.secure()));
    then
}

/// Whether `url` is an allowed logout URL of `client_id` (of any client when `None`).
/// `Err` holds the unknown client id.
fn allowed<'a>(st: &Shared, client_id: Option<&'a str>, url: &str) -> Result<bool, &'a str> {
    match client_id {
        Some(id) => match st.tenant.client(id) {
            Some(c) => Ok(c.logout_urls.iter().any(|u| u == url)),
            None => Err(id),
        },
        None => Ok(st
            .tenant
            .clients
            .iter()
            .any(|c| c.logout_urls.iter().any(|u| u == url))),
    }
}

fn unknown_client(id: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Unknown client",
        &format!("Unknown client: {id}"),
    )
}

fn not_allowed(url: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Logout URL not allowed",
        &format!(
            "The returnTo URL {url} is not in the Allowed Logout URLs of the application. \
             Add it to the client's logout_urls."
        ),
    )
}

async fn v2_logout(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let params = QueryParams::parse(q);
    let param = |k: &str| params.get(k);
    let Some(return_to) = param("returnTo") else {
        return end_session(&st, &headers, signed_out_page());
    };
    match allowed(&st, param("client_id"), return_to) {
        Ok(true) => end_session(&st, &headers, redirect(StatusCode::FOUND, return_to)),
        Ok(false) => not_allowed(return_to),
        Err(id) => unknown_client(id),
    }
}

/// The client of an `id_token_hint` signed by this tenant (expired tokens are fine).
fn hinted_client(st: &Shared, hint: &str) -> Option<String> {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&st.issuer]);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "aud"]);
    let data = crate::keys::decode_with::<serde_json::Value>(&st.keys, hint, &v).ok()?;
    data.claims
        .get("aud")
        .and_then(|a| a.as_str())
        .map(str::to_string)
}

async fn oidc_logout(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let params = QueryParams::parse(q);
    let param = |k: &str| params.get(k);
    let hinted = match param("id_token_hint") {
        Some(hint) => match hinted_client(&st, hint) {
            Some(c) => Some(c),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid request",
                    "The id_token_hint is not an ID token issued by this tenant.",
                )
            }
        },
        None => None,
    };
    let client_id = hinted.as_deref().or(param("client_id"));
    let Some(target) = param("post_logout_redirect_uri") else {
        return end_session(&st, &headers, signed_out_page());
    };
    match allowed(&st, client_id, target) {
        Ok(true) => {
            let location = match param("state") {
                Some(state) => {
                    let mut url = target.to_string();
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(
                        &url::form_urlencoded::Serializer::new(String::new())
                            .append_pair("state", state)
                            .finish(),
                    );
                    url
                }
                None => target.to_string(),
            };
            end_session(&st, &headers, redirect(StatusCode::FOUND, &location))
        }
        Ok(false) => not_allowed(target),
        Err(id) => unknown_client(id),
    }
}
