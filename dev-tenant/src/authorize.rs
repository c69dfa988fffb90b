//! `GET /authorize`, the login form (`/u/login`) and the consent page (`/u/consent`).
//!
//! Requests that cannot be trusted to redirect (unknown client, missing or unregistered
//! `redirect_uri`) get an HTML error page; every other error goes back to the
//! `redirect_uri`, as Auth0 does: in the fragment for the implicit grant, in the query for
//! `response_type=code` (or where `response_mode` says).
//!
//! # Response types
//!
//! - `id_token token`, `id_token`, `token`: the implicit grant. Tokens come back in the
//!   fragment (`response_mode=fragment` is the only mode accepted); `nonce` is required
//!   with `id_token`. The client needs the `implicit` grant type.
//! - `code`: the authorization code flow with PKCE. `code_challenge` (43 base64url
//!   characters) and `code_challenge_method=S256` are required (a missing challenge,
//!   `plain` or no method is `invalid_request`); `nonce` is optional and ends up in the ID
//!   token. The answer is `?code=…&state=…` (`response_mode=query`, the default, or
//!   `fragment`); the code is redeemed at `/oauth/token` (see [`crate::oauth`],
//!   [`crate::code`]). The client needs the `authorization_code` grant type. With
//!   `offline_access` in `scope`, an `audience` whose API has `allow_offline_access`,
//!   and the client's `refresh_token` grant type, the sign-in also gets a refresh token
//!   (`offline_access` is then granted, and listed on the consent page); otherwise
//!   `offline_access` is dropped. An optional `dpop_jkt` (RFC 9449 §10, a JWK SHA-256
//!   thumbprint: 43 base64url characters) binds the code to a DPoP key: the token request
//!   that redeems it needs a proof made with that key (see [`crate::oauth`]). A malformed
//!   `dpop_jkt`, or one with the implicit grant, is `invalid_request`.
//!
//! A response type the client's `grant_types` lack is `unauthorized_client`, on the
//! redirect URI with `state`.
//!
//! # Sessions, consent and `prompt`
//!
//! Signing in at the login form starts a tenant session (cookie `dev_tenant_session`,
//! `HttpOnly; SameSite=None; Secure`, see [`crate::session`]). Accepting the consent page records, in memory, the scopes
//! granted to that client for that user (OIDC scopes, and API scopes per audience);
//! consent is never withdrawn, not even by logout. Then:
//!
//! - `prompt=none` (silent authentication, e.g. token renewal in a hidden iframe) never
//!   shows a page: without a live session it redirects with `#error=login_required`;
//!   with one but without recorded consent for every scope that would be granted, with
//!   `#error=consent_required`; otherwise with tokens, exactly as a consent accept does
//!   (the new request's `nonce`, `at_hash` of the new access token, `state`), or with a
//!   fresh code for `response_type=code`; the errors go in the query for the code flow.
//!   `prompt=none` combined with another value is `invalid_request`.
//! - Without `prompt`, a request that comes with a live session skips the login form,
//!   and also the consent page when consent is on record (302 with tokens); otherwise
//!   it goes to the consent page (303).
//! - `prompt=login` ignores the session and shows the login form; `prompt=consent`
//!   always shows the consent page.
//! - A sign-in at the login form is always followed by the consent page, so a fresh
//!   browser sees the login form, then consent. (Auth0 would skip consent on record
//!   there too.)
//! - Logout (`/v2/logout`, `/oidc/logout`) ends the session: `prompt=none` answers
//!   `login_required` again.
//!
//! # Login CSRF and floods
//!
//! Every response of `/authorize` that starts a transaction (the login form, or the
//! redirect to the consent page) sets the browser cookie `dev_tenant_browser`
//! (`HttpOnly; SameSite=Lax; Path=/`, `Secure` on an https issuer; one random id per
//! browser, kept while the browser runs, so several tabs can sign in at once). The
//! transaction remembers it, and its pages (`GET` and `POST` of `/u/login` and
//! `/u/consent`) answer 403 to a request without it: a sign-in started in one browser
//! cannot be finished in another. The consent page also needs the session that signed
//! in for the transaction (its cookie), so consent is given only by that session.
//!
//! Pending transactions are capped per client address and in total; a new one evicts
//! the oldest rather than being refused (see [`crate::limits`]). Over-long parameters
//! get the error page (`client_id`, `redirect_uri`, `state`, the whole query) or
//! `#error=invalid_request` (the others). After [`crate::limits::MAX_FAILURES`] failed
//! logins for one username from one address within a minute, the login form answers
//! 429 with `Retry-After` to that pair.
//!
//! Redirects carry no `X-Frame-Options` and no Content-Security-Policy, so a hidden
//! iframe on the application's origin can follow them to its callback; HTML pages keep
//! `frame-ancestors 'none'` and `X-Frame-Options: DENY`.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::code::AuthCode;
use crate::config::{User, OIDC_SCOPES};
use crate::faults::{Fault, WRONG_STATE};
use crate::limits::{self, Bounded, ClientAddr, Evictable, Verdict};
use crate::pages::{consent_page, error_page, login_page};
use crate::tokens::{granted_scopes, Grant};
use crate::{lock, parse_form, session, QueryParams, Shared};

/// How long a pending authorization request lives.
pub const TRANSACTION_LIFETIME: Duration = Duration::from_secs(600);
/// Pending transactions kept at most, in all and per client address.
const MAX_TRANSACTIONS: usize = 10_000;
const MAX_TRANSACTIONS_PER_ADDR: usize = 1_000;

/// Where the answer goes on the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    /// `<redirect_uri>?k=v`: the code flow's default.
    Query,
    /// `<redirect_uri>#k=v`: the implicit grant's (and its only) mode.
    Fragment,
}

/// A validated authorization request waiting for login and consent.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub grant: Grant,
    pub mode: ResponseMode,
    /// `response_type=code`: the PKCE `code_challenge` (S256). `None`: the implicit grant.
    pub code_challenge: Option<String>,
    /// `response_type=code`: the `dpop_jkt` asked for (RFC 9449 §10), the thumbprint of the
    /// DPoP key whose proof must come with the code at the token endpoint.
    pub dpop_jkt: Option<String>,
}

/// Who signed in for a transaction, and in which tenant session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedIn {
    pub sub: String,
    /// The session's `sid`.
    pub sid: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub request: AuthRequest,
    /// The browser that started it: its `dev_tenant_browser` cookie.
    browser: String,
    /// Set once the user has signed in for this transaction.
    pub signed_in: Option<SignedIn>,
}

impl Evictable for Transaction {
    fn keep_longer(&self) -> bool {
        self.signed_in.is_some()
    }
}

/// Pending transactions by id; single-use, expiring after [`TRANSACTION_LIFETIME`],
/// bounded per client address and in total.
pub struct Transactions(Mutex<Bounded<Transaction>>);

impl Default for Transactions {
    fn default() -> Self {
        Transactions(Mutex::new(Bounded::new(
            TRANSACTION_LIFETIME,
            MAX_TRANSACTIONS_PER_ADDR,
            MAX_TRANSACTIONS,
        )))
    }
}

impl Transactions {
    fn insert(&self, addr: IpAddr, t: Transaction) -> Option<String> {
        let id = crate::random_id()?;
        lock(&self.0).insert(id.clone(), addr, t, Instant::now());
        Some(id)
    }

    fn get(&self, id: &str) -> Option<Transaction> {
        lock(&self.0).get(id, Instant::now()).cloned()
    }

    fn authenticate(&self, id: &str, signed_in: SignedIn) -> bool {
        match lock(&self.0).get_mut(id, Instant::now()) {
            Some(t) => {
                t.signed_in = Some(signed_in);
                true
            }
            None => false,
        }
    }

    fn take(&self, id: &str) -> Option<Transaction> {
        lock(&self.0).take(id, Instant::now())
    }
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/u/login", get(login_form).post(login))
        .route("/u/consent", get(consent_form).post(consent))
}

/// A 302 to `location`, not cached.
pub(crate) fn redirect(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(loc) => (
            status,
            [
                (header::LOCATION, loc),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "Bad redirect",
            "The redirect URL is not valid.",
        ),
    }
}

/// `redirect_uri#k=v&...` or `redirect_uri?k=v&...` (`&k=v` after a query the URI
/// already has) with form-urlencoded values.
fn answer_redirect(redirect_uri: &str, mode: ResponseMode, pairs: &[(&str, &str)]) -> Response {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let separator = match mode {
        ResponseMode::Fragment => "#",
        ResponseMode::Query if !redirect_uri.contains('?') => "?",
        ResponseMode::Query if redirect_uri.ends_with(['?', '&']) => "",
        ResponseMode::Query => "&",
    };
    redirect(
        StatusCode::FOUND,
        &format!("{redirect_uri}{separator}{}", ser.finish()),
    )
}

fn error_redirect(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    answer_redirect(redirect_uri, mode, &pairs)
}

/// Whether `value` is a PKCE S256 `code_challenge`: 43 base64url characters.
fn is_s256_challenge(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn unavailable() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        "The tenant cannot start a new sign-in right now.",
    )
}

fn unknown_tx() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in request is unknown, expired or already used. Go back to the application and sign in again.",
    )
}

/// The answer to a transaction's page requested without its browser cookie.
fn wrong_browser() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Sign-in not started in this browser",
        "This sign-in was started in another browser, or this browser did not keep the \
         tenant's cookie. Go back to the application and sign in again (and allow cookies \
         for this site).",
    )
}

/// The answer to a consent request without the session that signed in for it.
fn wrong_session() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Not signed in here",
        "Consent can only be given by the session that signed in for this request. Go back \
         to the application and sign in again.",
    )
}

/// Whether the request carries the browser cookie the transaction was started with.
fn same_browser(headers: &HeaderMap, t: &Transaction) -> bool {
    session::browser_id(headers).is_some_and(|b| {
        aws_lc_rs::constant_time::verify_slices_are_equal(b.as_bytes(), t.browser.as_bytes())
            .is_ok()
    })
}

/// Whether the request carries the live session that signed in for the transaction.
fn same_session(st: &Shared, headers: &HeaderMap, signed_in: &SignedIn) -> bool {
    session::session_id(headers)
        .and_then(|id| st.sessions.get(&id))
        .is_some_and(|s| s.sid == signed_in.sid && s.sub == signed_in.sub)
}

/// `"<name> is too long (at most <max> bytes)"`.
fn too_long(name: &str, max: usize) -> String {
    format!("{name} is too long (at most {max} bytes)")
}

/// Adds the browser cookie to a response that starts a transaction.
fn with_browser_cookie(st: &Shared, browser: &str, mut resp: Response) -> Response {
    if let Some(cookie) = session::set_browser_cookie(browser, st.secure()) {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

async fn authorize(
    State(st): State<Shared>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if q.as_ref().is_some_and(|q| q.len() > limits::MAX_QUERY) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            &too_long("The query", limits::MAX_QUERY),
        );
    }
    let params = QueryParams::parse(q);
    let param = |k: &str| params.get(k);
    for (name, max) in [
        ("client_id", limits::MAX_CLIENT_ID),
        ("redirect_uri", limits::MAX_URL),
    ] {
        if param(name).is_some_and(|v| v.len() > max) {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                &too_long(name, max),
            );
        }
    }

    let Some(client_id) = param("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "Missing required parameter: client_id",
        );
    };
    let Some(client) = st.tenant.client(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            &format!(
                "Unknown client: {client_id}. No application with this client_id is registered."
            ),
        );
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "Missing required parameter: redirect_uri",
        );
    };
    if !client.callbacks.iter().any(|c| c == redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Callback URL mismatch",
            &format!(
                "Callback URL mismatch. The redirect_uri {redirect_uri} is not in the list of Allowed Callback URLs of the application {}.",
                client.name
            ),
        );
    }
    if param("state").is_some_and(|v| v.len() > limits::MAX_STATE) {
        // Not echoed back, so not sent back either.
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            &too_long("state", limits::MAX_STATE),
        );
    }
    let state = param("state");
    // The code flow answers in the query by default, the implicit grant in the fragment.
    let code_flow = param("response_type").is_some_and(|r| r.split_whitespace().eq(["code"]));
    let default_mode = if code_flow {
        ResponseMode::Query
    } else {
        ResponseMode::Fragment
    };
    let error = |mode, error: &str, description: &str| {
        error_redirect(redirect_uri, mode, state, error, description)
    };
    for (name, max) in [
        ("response_type", limits::MAX_KEYWORD),
        ("response_mode", limits::MAX_KEYWORD),
        ("prompt", limits::MAX_KEYWORD),
        ("scope", limits::MAX_SCOPE),
        ("audience", limits::MAX_AUDIENCE),
        ("nonce", limits::MAX_NONCE),
        ("code_challenge", limits::MAX_KEYWORD),
        ("code_challenge_method", limits::MAX_KEYWORD),
        ("dpop_jkt", limits::MAX_KEYWORD),
    ] {
        if param(name).is_some_and(|v| v.len() > max) {
            return error(default_mode, "invalid_request", &too_long(name, max));
        }
    }

    let mode = match param("response_mode") {
        None => default_mode,
        Some("fragment") => ResponseMode::Fragment,
        Some("query") if code_flow => ResponseMode::Query,
        Some(mode) if code_flow => {
            return error(
                default_mode,
                "invalid_request",
                &format!("Unsupported response_mode: {mode} (use query or fragment)"),
            )
        }
        Some(mode) => {
            return error(
                default_mode,
                "invalid_request",
                &format!(
                    "Unsupported response_mode: {mode} (this tenant answers in the fragment only)"
                ),
            )
        }
    };
    let Some(response_type) = param("response_type") else {
        return error(
            mode,
            "invalid_request",
            "Missing required parameter: response_type",
        );
    };
    let words: Vec<&str> = response_type.split_whitespace().collect();
    let want_token = code_flow || words.contains(&"token");
    let want_id_token = words.contains(&"id_token");
    let valid = code_flow
        || (!words.is_empty()
            && words.len() <= 2
            && words.iter().all(|w| *w == "token" || *w == "id_token")
            && words.len() == usize::from(want_token) + usize::from(want_id_token));
    if !valid {
        return error(
            mode,
            "unsupported_response_type",
            &format!("Unsupported response type: {response_type}"),
        );
    }
    let grant_type = if code_flow {
        "authorization_code"
    } else {
        "implicit"
    };
    if !client.allows(grant_type) {
        return error(
            mode,
            "unauthorized_client",
            &format!("Grant type '{grant_type}' not allowed for the client."),
        );
    }
    let nonce = param("nonce");
    if want_id_token && nonce.is_none() {
        return error(
            mode,
            "invalid_request",
            "nonce is required when response_type includes id_token",
        );
    }
    let code_challenge = if code_flow {
        // PKCE is required: every client of this tenant is public.
        let Some(challenge) = param("code_challenge") else {
            return error(
                mode,
                "invalid_request",
                "Missing required parameter: code_challenge (PKCE is required)",
            );
        };
        if param("code_challenge_method") != Some("S256") {
            return error(
                mode,
                "invalid_request",
                "code_challenge_method must be S256",
            );
        }
        if !is_s256_challenge(challenge) {
            return error(
                mode,
                "invalid_request",
                "code_challenge must be 43 base64url characters (an S256 challenge)",
            );
        }
        Some(challenge.to_string())
    } else {
        None
    };
    let dpop_jkt = match param("dpop_jkt") {
        None => None,
        Some(_) if !code_flow => {
            return error(
                mode,
                "invalid_request",
                "dpop_jkt applies to response_type=code only (a token from the authorization \
                 endpoint cannot be bound to a DPoP key)",
            )
        }
        Some(jkt) if !crate::dpop::is_thumbprint(jkt) => {
            return error(
                mode,
                "invalid_request",
                "dpop_jkt must be a JWK SHA-256 thumbprint: 43 base64url characters",
            )
        }
        Some(jkt) => Some(jkt.to_string()),
    };
    let audience = param("audience");
    let api = match audience {
        Some(a) => match st.tenant.api(a) {
            Some(api) => Some(api),
            None => return error(mode, "access_denied", &format!("Service not found: {a}")),
        },
        None => None,
    };
    let prompt = param("prompt").unwrap_or("");
    let prompts: Vec<&str> = prompt.split_whitespace().collect();
    let silent = prompts.contains(&"none");
    if silent && prompts.len() > 1 {
        return error(
            mode,
            "invalid_request",
            "prompt=none cannot be combined with other prompt values",
        );
    }

    let scopes: Vec<String> = param("scope")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let offline = code_flow
        && scopes.iter().any(|s| s == crate::tokens::OFFLINE_ACCESS)
        && api.is_some_and(|a| a.allow_offline_access)
        && client.allows("refresh_token");
    let request = AuthRequest {
        redirect_uri: redirect_uri.to_string(),
        state: state.map(str::to_string),
        grant: Grant {
            client_id: client.client_id.clone(),
            want_token,
            want_id_token,
            scopes,
            audience: audience.map(str::to_string),
            nonce: nonce.map(str::to_string),
            offline,
        },
        mode,
        code_challenge,
        dpop_jkt,
    };

    let session_user = if prompts.contains(&"login") {
        None
    } else {
        session::session_id(&headers)
            .and_then(|id| st.sessions.get(&id))
            .and_then(|s| st.tenant.user_by_sub(&s.sub).map(|u| (u, s.sid)))
    };

    if silent {
        // Silent authentication: never a page, always a redirect to the callback.
        let Some((user, sid)) = session_user else {
            return error(mode, "login_required", "Login required");
        };
        if !consented(&st, &request.grant, user) {
            return error(mode, "consent_required", "Consent required");
        }
        return success_redirect(&st, addr, &request, user, &sid);
    }

    if let Some((user, sid)) = &session_user {
        // Signed in and consent on record: answer at once, as Auth0 does for a
        // first-party application.
        if !prompts.contains(&"consent") && consented(&st, &request.grant, user) {
            return success_redirect(&st, addr, &request, user, sid);
        }
    }
    let Some(browser) = session::browser_id(&headers).or_else(crate::random_id) else {
        return unavailable();
    };
    let signed_in = session_user.map(|(user, sid)| SignedIn {
        sub: user.sub.clone(),
        sid,
    });
    let first_page = signed_in.is_none();
    let t = Transaction {
        request,
        browser: browser.clone(),
        signed_in,
    };
    let Some(tx) = st.transactions.insert(addr, t) else {
        return unavailable();
    };
    let resp = if first_page {
        login_page(StatusCode::OK, &tx, &client.name, "", None)
    } else {
        redirect(StatusCode::SEE_OTHER, &format!("/u/consent?tx={tx}"))
    };
    with_browser_cookie(&st, &browser, resp)
}

/// What consent for `grant` covers: (resource, scope) for each scope that would be
/// granted, the resource being `""` for OIDC scopes and the audience for API scopes.
fn consent_items(st: &Shared, grant: &Grant, user: &User) -> Vec<(String, String)> {
    let audience = grant.audience.as_deref();
    granted_scopes(&st.tenant, &grant.scopes, audience, user, grant.offline)
        .into_iter()
        .map(|(scope, _)| {
            let resource = if OIDC_SCOPES.iter().any(|(o, _)| *o == scope) {
                ""
            } else {
                audience.unwrap_or("")
            };
            (resource.to_string(), scope)
        })
        .collect()
}

/// Whether `user` has consented to everything `grant` would grant.
fn consented(st: &Shared, grant: &Grant, user: &User) -> bool {
    st.consents
        .covers(&user.sub, &grant.client_id, &consent_items(st, grant, user))
}

fn client_name(st: &Shared, t: &Transaction) -> String {
    st.tenant
        .client(&t.request.grant.client_id)
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

async fn login_form(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let p = parse_form(q.unwrap_or_default().as_bytes());
    let tx = p.get("tx").cloned().unwrap_or_default();
    match st.transactions.get(&tx) {
        Some(t) if !same_browser(&headers, &t) => wrong_browser(),
        Some(t) => login_page(StatusCode::OK, &tx, &client_name(&st, &t), "", None),
        None => unknown_tx(),
    }
}

async fn login(
    State(st): State<Shared>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = parse_form(&body);
    let tx = f.get("tx").cloned().unwrap_or_default();
    let username = f.get("username").map(String::as_str).unwrap_or("");
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let Some(t) = st.transactions.get(&tx) else {
        return unknown_tx();
    };
    if !same_browser(&headers, &t) {
        return wrong_browser();
    }
    let app = client_name(&st, &t);
    if username.len() > limits::MAX_USERNAME || password.len() > limits::MAX_PASSWORD {
        return login_page(
            StatusCode::BAD_REQUEST,
            &tx,
            &app,
            "",
            Some("The email address or the password is too long."),
        );
    }
    if let Verdict::RetryAfter(secs) = lock(&st.throttle).check(username, addr, Instant::now()) {
        let mut resp = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &tx,
            &app,
            username,
            Some(&format!(
                "Too many failed attempts for this account. Try again in {secs} seconds."
            )),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return resp;
    }
    let user = st.tenant.user_by_email(username).filter(|u| {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            u.password.as_bytes(),
            password.as_bytes(),
        )
        .is_ok()
    });
    let Some(user) = user else {
        lock(&st.throttle).fail(username, addr, Instant::now());
        return login_page(
            StatusCode::UNAUTHORIZED,
            &tx,
            &app,
            username,
            Some("Wrong email or password."),
        );
    };
    lock(&st.throttle).succeed(username, addr);
    // A new sign-in replaces this browser's earlier session.
    if let Some(old) = session::session_id(&headers) {
        st.sessions.remove(&old);
    }
    let Some((cookie_value, s)) = st.sessions.create(&user.sub, addr) else {
        return unavailable();
    };
    let signed_in = SignedIn {
        sub: user.sub.clone(),
        sid: s.sid,
    };
    if !st.transactions.authenticate(&tx, signed_in) {
        return unknown_tx();
    }
    let mut resp = redirect(StatusCode::SEE_OTHER, &format!("/u/consent?tx={tx}"));
    if let Some(cookie) = session::set_cookie(&cookie_value) {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp
}

async fn consent_form(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let p = parse_form(q.unwrap_or_default().as_bytes());
    let tx = p.get("tx").cloned().unwrap_or_default();
    let Some(t) = st.transactions.get(&tx) else {
        return unknown_tx();
    };
    if !same_browser(&headers, &t) {
        return wrong_browser();
    }
    let Some(signed_in) = &t.signed_in else {
        return login_page(StatusCode::OK, &tx, &client_name(&st, &t), "", None);
    };
    if !same_session(&st, &headers, signed_in) {
        return wrong_session();
    }
    let Some(user) = st.tenant.user_by_sub(&signed_in.sub) else {
        return unknown_tx();
    };
    let grant = &t.request.grant;
    let scopes = granted_scopes(
        &st.tenant,
        &grant.scopes,
        grant.audience.as_deref(),
        user,
        grant.offline,
    );
    consent_page(
        &tx,
        &client_name(&st, &t),
        &user.email,
        grant.audience.as_deref(),
        &scopes,
    )
}

async fn consent(
    State(st): State<Shared>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = parse_form(&body);
    let tx = f.get("tx").cloned().unwrap_or_default();
    let accept = match f.get("decision").map(String::as_str) {
        Some("accept") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The decision must be accept or deny.",
            )
        }
    };
    let Some(t) = st.transactions.get(&tx) else {
        return unknown_tx();
    };
    if !same_browser(&headers, &t) {
        return wrong_browser();
    }
    let Some(signed_in) = t.signed_in else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Not signed in",
            "Sign in before giving consent.",
        );
    };
    if !same_session(&st, &headers, &signed_in) {
        return wrong_session();
    }
    // Single use: of two concurrent answers, only one finds it still there.
    let Some(t) = st.transactions.take(&tx) else {
        return unknown_tx();
    };
    let Some(user) = st.tenant.user_by_sub(&signed_in.sub) else {
        return unknown_tx();
    };
    let req = &t.request;
    let state = req.state.as_deref();
    if !accept {
        return error_redirect(
            &req.redirect_uri,
            req.mode,
            state,
            "access_denied",
            "User did not authorize the request",
        );
    }
    st.consents.record(
        &user.sub,
        &req.grant.client_id,
        consent_items(&st, &req.grant, user),
    );
    success_redirect(&st, addr, req, user, &signed_in.sid)
}

/// The successful answer for a request from a client at `addr`, in session `sid`: a
/// code, or tokens.
fn success_redirect(
    st: &Shared,
    addr: IpAddr,
    req: &AuthRequest,
    user: &User,
    sid: &str,
) -> Response {
    if req.code_challenge.is_some() {
        code_redirect(st, addr, req, user, sid)
    } else {
        tokens_redirect(st, req, user, sid)
    }
}

/// The code flow's answer: a fresh authorization code and `state`.
fn code_redirect(st: &Shared, addr: IpAddr, req: &AuthRequest, user: &User, sid: &str) -> Response {
    let mut state = req.state.as_deref();
    if st.faults.take_if(Fault::WrongState) {
        state = Some(WRONG_STATE);
    }
    let code = AuthCode {
        request: req.clone(),
        sub: user.sub.clone(),
        sid: sid.to_string(),
    };
    let Some(code) = st.codes.insert(addr, code, st.clock.now()) else {
        return error_redirect(
            &req.redirect_uri,
            req.mode,
            state,
            "server_error",
            "No authorization code could be made",
        );
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    answer_redirect(&req.redirect_uri, req.mode, &pairs)
}

/// The implicit grant's answer: tokens in the callback's fragment, issued in session `sid`.
fn tokens_redirect(st: &Shared, req: &AuthRequest, user: &User, sid: &str) -> Response {
    let mut state = req.state.as_deref();
    let issued = match crate::tokens::issue(st, &req.grant, user, sid, true, None) {
        Ok(i) => i,
        Err(e) => {
            return error_redirect(
                &req.redirect_uri,
                req.mode,
                state,
                "server_error",
                &e.to_string(),
            )
        }
    };
    if issued.fault == Some(Fault::WrongState) {
        state = Some(WRONG_STATE);
    }
    let expires_in = issued.expires_in.to_string();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(at) = &issued.access_token {
        pairs.push(("access_token", at));
    }
    if let Some(id) = &issued.id_token {
        pairs.push(("id_token", id));
    }
    if issued.access_token.is_some() {
        pairs.push(("token_type", "Bearer"));
    }
    pairs.push(("expires_in", &expires_in));
    if issued.access_token.is_some() && !issued.scope.is_empty() {
        pairs.push(("scope", &issued.scope));
    }
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    answer_redirect(&req.redirect_uri, req.mode, &pairs)
}
