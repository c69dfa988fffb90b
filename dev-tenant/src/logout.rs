//! `GET /v2/logout` (Auth0) and `/oidc/logout` (OIDC RP-initiated logout, as Auth0
//! tenants created since November 2023 answer it).
//!
//! Both check the client and the return URL first: an unknown `client_id`, or a URL
//! not in the client's Allowed Logout URLs (of any client, without `client_id`), gets an
//! error page, never a redirect. Both redirect only to such a URL.
//!
//! - `GET /v2/logout` (`client_id`, `returnTo`) ends the tenant session (server-side and
//!   cookie) at once and redirects to `returnTo`, or shows "You are signed out".
//! - `GET /oidc/logout` (`client_id`, `post_logout_redirect_uri`, `state`, `logout_hint`,
//!   `id_token_hint`) ends the session at once when it can tell the request comes from
//!   the session's own application: `logout_hint` equals the session's `sid` (the ID
//!   token's `sid` claim), or `id_token_hint` is an ID token of this tenant (expired is
//!   fine) whose `sid` is the session's. It then redirects to
//!   `post_logout_redirect_uri` with `state` added to its query (without one, to the
//!   client's first Allowed Logout URL), or shows "You are signed out" when there is no
//!   client either. Without a live session there is nothing to end or confirm: it redirects
//!   at once. Otherwise it shows "Log out of <tenant>?": **Log out** posts the form back
//!   (`POST /oidc/logout`, with a token bound to the session cookie, checked against it)
//!   and ends the session, then redirects; **Cancel** keeps the session and returns to
//!   the same URL (or shows "You are still signed in"). A malformed or foreign
//!   `id_token_hint`, or one whose `aud` is not `client_id` or whose `sid` is not
//!   `logout_hint`, is an error page.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use jsonwebtoken::{Algorithm, Validation};

use crate::authorize::redirect;
use crate::limits;
use crate::pages::{error_page, logout_confirm_page, signed_out_page, still_signed_in_page};
use crate::session::Session;
use crate::{parse_form, session, QueryParams, Shared};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2/logout", get(v2_logout))
        .route("/oidc/logout", get(oidc_logout).post(oidc_logout_confirmed))
}

/// Ends the session and answers with `then`, expiring the cookie.
fn end_session(st: &Shared, headers: &HeaderMap, mut then: Response) -> Response {
    if let Some(id) = session::session_id(headers) {
        st.sessions.remove(&id);
    }
    then.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
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

/// What an `id_token_hint` says: its client (`aud`) and tenant session (`sid`).
struct Hint {
    client_id: Option<String>,
    sid: Option<String>,
}

/// Reads an `id_token_hint` signed by this tenant (expired tokens are fine).
fn read_hint(st: &Shared, hint: &str) -> Option<Hint> {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&st.issuer]);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "aud"]);
    let data = crate::keys::decode_with::<serde_json::Value>(&st.keys, hint, &v).ok()?;
    let text = |name: &str| {
        data.claims
            .get(name)
            .and_then(|a| a.as_str())
            .map(str::to_string)
    };
    Some(Hint {
        client_id: text("aud"),
        sid: text("sid"),
    })
}

fn invalid(message: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, "Invalid request", message)
}

/// The first parameter of `names` longer than its limit, as an error page.
fn check_lengths(
    get: impl Fn(&str) -> Option<String>,
    limits: &[(&str, usize)],
) -> Option<Response> {
    limits.iter().find_map(|(name, max)| {
        get(name)
            .filter(|v| v.len() > *max)
            .map(|_| invalid(&format!("{name} is too long (at most {max} bytes)")))
    })
}

/// Checks the client and the return URL; `Ok` holds where to send the browser
/// afterwards: the URL with `state` added, or `None` for the signed-out page. Without a
/// URL, a known client's first Allowed Logout URL is used, as at Auth0.
fn logout_target(
    st: &Shared,
    client_id: Option<&str>,
    url: Option<&str>,
    state: Option<&str>,
) -> Result<Option<String>, Box<Response>> {
    let client = match client_id {
        Some(id) => match st.tenant.client(id) {
            Some(c) => Some(c),
            None => return Err(Box::new(unknown_client(id))),
        },
        None => None,
    };
    let url = match url {
        Some(url) => {
            match allowed(st, client_id, url) {
                Ok(true) => {}
                Ok(false) => return Err(Box::new(not_allowed(url))),
                Err(id) => return Err(Box::new(unknown_client(id))),
            }
            url
        }
        None => match client.and_then(|c| c.logout_urls.first()) {
            Some(first) => first.as_str(),
            None => return Ok(None),
        },
    };
    let mut location = url.to_string();
    if let Some(state) = state {
        location.push(if location.contains('?') { '&' } else { '?' });
        location.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("state", state)
                .finish(),
        );
    }
    Ok(Some(location))
}

/// The answer once logout is decided: a redirect (`status`) to `target`, or `otherwise`.
fn go(status: StatusCode, target: Option<&str>, otherwise: fn() -> Response) -> Response {
    match target {
        Some(location) => redirect(status, location),
        None => otherwise(),
    }
}

/// The request's live session, with its cookie value.
fn current_session(st: &Shared, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = session::session_id(headers)?;
    let s = st.sessions.get(&id)?;
    Some((id, s))
}

fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The tenant's name on the confirmation page: the issuer's host and port.
fn tenant_name(st: &Shared) -> String {
    url::Url::parse(&st.issuer)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| st.issuer.clone())
}

const OIDC_LIMITS: [(&str, usize); 5] = [
    ("client_id", limits::MAX_CLIENT_ID),
    ("post_logout_redirect_uri", limits::MAX_URL),
    ("state", limits::MAX_STATE),
    ("logout_hint", limits::MAX_LOGOUT_HINT),
    ("id_token_hint", limits::MAX_ID_TOKEN_HINT),
];

async fn oidc_logout(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if q.as_ref().is_some_and(|q| q.len() > limits::MAX_QUERY) {
        return invalid(&format!(
            "The query is too long (at most {} bytes)",
            limits::MAX_QUERY
        ));
    }
    let params = QueryParams::parse(q);
    let param = |k: &str| params.get(k);
    if let Some(resp) = check_lengths(|k| param(k).map(str::to_string), &OIDC_LIMITS) {
        return resp;
    }
    let hint = match param("id_token_hint") {
        Some(token) => match read_hint(&st, token) {
            Some(h) => Some(h),
            None => return invalid("The id_token_hint is not an ID token issued by this tenant."),
        },
        None => None,
    };
    // Redundant parameters must agree, as at Auth0.
    let hinted_client = hint.as_ref().and_then(|h| h.client_id.as_deref());
    if let (Some(hinted), Some(given)) = (hinted_client, param("client_id")) {
        if hinted != given {
            return invalid("The client_id is not the audience of the id_token_hint.");
        }
    }
    let hinted_sid = hint.as_ref().and_then(|h| h.sid.as_deref());
    if let (Some(hinted), Some(given)) = (hinted_sid, param("logout_hint")) {
        if !same(hinted, given) {
            return invalid("The logout_hint is not the sid of the id_token_hint.");
        }
    }
    let client_id = hinted_client.or(param("client_id"));
    let target = match logout_target(
        &st,
        client_id,
        param("post_logout_redirect_uri"),
        param("state"),
    ) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    let done = |st: &Shared| {
        end_session(
            st,
            &headers,
            go(StatusCode::FOUND, target.as_deref(), signed_out_page),
        )
    };
    let Some((_, session)) = current_session(&st, &headers) else {
        // No session: nothing to end, nothing to confirm.
        return done(&st);
    };
    if [param("logout_hint"), hinted_sid]
        .into_iter()
        .flatten()
        .any(|sid| same(sid, &session.sid))
    {
        return done(&st);
    }
    let user = st
        .tenant
        .user_by_sub(&session.sub)
        .map(|u| u.email.clone())
        .unwrap_or_default();
    let app = client_id
        .and_then(|id| st.tenant.client(id))
        .map(|c| c.name.as_str());
    let mut fields = vec![("csrf", session.logout_csrf.as_str())];
    for (name, value) in [
        ("client_id", client_id),
        (
            "post_logout_redirect_uri",
            param("post_logout_redirect_uri"),
        ),
        ("state", param("state")),
    ] {
        if let Some(v) = value {
            fields.push((name, v));
        }
    }
    logout_confirm_page(&tenant_name(&st), app, &user, &fields)
}

/// `POST /oidc/logout`: the confirmation page's answer.
async fn oidc_logout_confirmed(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = parse_form(&body);
    let field = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut lengths = OIDC_LIMITS.to_vec();
    lengths.push(("csrf", 64));
    lengths.push(("decision", limits::MAX_KEYWORD));
    if let Some(resp) = check_lengths(|k| field(k).map(str::to_string), &lengths) {
        return resp;
    }
    let target = match logout_target(
        &st,
        field("client_id"),
        field("post_logout_redirect_uri"),
        field("state"),
    ) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    let log_out = match field("decision") {
        Some("logout") => true,
        Some("cancel") => false,
        _ => return invalid("The decision must be logout or cancel."),
    };
    let target = target.as_deref();
    let Some((_, session)) = current_session(&st, &headers) else {
        // Ended meanwhile (another tab, or it expired): nothing left to decide.
        return end_session(
            &st,
            &headers,
            go(StatusCode::SEE_OTHER, target, signed_out_page),
        );
    };
    if !field("csrf").is_some_and(|c| same(c, &session.logout_csrf)) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Logout not confirmed",
            "This confirmation does not belong to your session. Go back to the application \
             and log out again.",
        );
    }
    if log_out {
        end_session(
            &st,
            &headers,
            go(StatusCode::SEE_OTHER, target, signed_out_page),
        )
    } else {
        go(StatusCode::SEE_OTHER, target, still_signed_in_page)
    }
}
