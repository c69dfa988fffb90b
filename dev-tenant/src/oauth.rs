//! `POST /oauth/token` (authorization code with PKCE, refresh token with rotation) and
//! `POST /oauth/revoke`, as Auth0 answers them.
//!
//! Both take `application/x-www-form-urlencoded` or `application/json` bodies (any other
//! content type is read as a form). Every client is public: no client secret is checked,
//! and PKCE (S256) is required for codes.
//!
//! # `/oauth/token`
//!
//! - `grant_type=authorization_code`: `code`, `code_verifier` (43 to 128 characters of
//!   `A-Z a-z 0-9 - . _ ~`), `redirect_uri`, `client_id`. The code must be live and unused,
//!   issued to `client_id` for that `redirect_uri`, and `BASE64URL(SHA-256(code_verifier))`
//!   must be its `code_challenge`. See [`crate::code`] for single use and replays.
//! - `grant_type=refresh_token`: `refresh_token`, `client_id`, optional `scope` (a subset
//!   of the scopes granted at sign-in; the access token then has only those). See
//!   [`crate::refresh`] for rotation, reuse detection and lifetimes.
//!
//! The answer is `{access_token, id_token, scope, expires_in, token_type: "Bearer"}`, plus
//! `refresh_token` when the sign-in may have one (`token_type: "DPoP"` with a proof, see
//! below). The ID token (when `openid` was granted)
//! has the usual claims, `sid`, and the authorization request's `nonce` (none after a
//! refresh); no `at_hash`, as Auth0 leaves it out of token endpoint answers.
//!
//! Errors are JSON `{"error", "error_description"}`, with Auth0's statuses:
//! `invalid_request` and `unsupported_grant_type` 400, `invalid_scope` 400,
//! `invalid_client` 401, `invalid_grant` and `unauthorized_client` 403, `access_denied`
//! 403 (an origin the client does not allow), `server_error` 500. Every answer has
//! `Cache-Control: no-store`.
//!
//! # DPoP (RFC 9449)
//!
//! A token request may carry one `DPoP` header: a proof for `POST` to the token endpoint
//! as discovery publishes it (`<issuer>oauth/token`), checked before the code or refresh
//! token is looked at (so a refused proof spends neither, and the nonce retry works); see
//! [`crate::dpop`] for the checks, replay and nonces. A refused proof is 400
//! `invalid_dpop_proof`, or 400 `use_dpop_nonce` with a `DPoP-Nonce` header when the tenant
//! requires nonces (`--require-dpop-nonce`) and the proof lacks the current one (§5, §8).
//! With a valid proof:
//!
//! - the access token is bound to the proof's key: `cnf.jkt` in the JWT (an opaque token
//!   remembers it), `token_type: "DPoP"` in the answer;
//! - a refresh token issued is bound to the key (every client here is public), and so are
//!   the tokens rotation issues after it (see [`crate::refresh`]);
//! - with `--require-dpop-nonce`, the answer (any answer to a request with a proof, in fact)
//!   carries the current nonce in `DPoP-Nonce`.
//!
//! Without a `DPoP` header the answers are as above (`Bearer`), except that a code whose
//! authorization request had `dpop_jkt` (RFC 9449 §10) and a bound refresh token both
//! require a proof. The error codes for those bindings are not named by RFC 9449 (§10 says
//! only "MUST reject", §5 "MUST present a DPoP proof for the same key"); as
//! node-oidc-provider does, the tenant answers `invalid_grant` (403, as for every
//! `invalid_grant` here): the proof is valid, it is the grant that belongs to another key.
//! So: a code with `dpop_jkt` redeemed without a proof, or with a proof by another key, is
//! `invalid_grant` (and the code is spent, as by any request naming it); a bound refresh
//! token used without a proof or with a proof by another key is `invalid_grant` (and the
//! token stays usable by its holder).
//!
//! # `/oauth/revoke`
//!
//! `token`, `client_id`: revokes the refresh token's family when the token is one of this
//! client's; 200 with an empty body whatever the token was (RFC 7009). An unknown client
//! is `invalid_client` (401), a missing `token` `invalid_request`.
//!
//! # CORS
//!
//! A request with an `Origin` header is answered only when the origin is one of the
//! client's `web_origins` (Auth0's Allowed Web Origins), with
//! `Access-Control-Allow-Origin: <origin>` (no credentials: these endpoints use no
//! cookies). From another origin the request is not processed (a code is not spent, a
//! refresh token not rotated): 403 `access_denied` without CORS headers, so the page
//! cannot read it. When the client is unknown or not named, the origin of any client is
//! enough to read the error. A preflight (`OPTIONS`) is answered 204 for the origins of
//! any client (the body, and so the client, is not known yet), allowing `POST` and the
//! headers `Content-Type`, `Auth0-Client` and `DPoP`; 403 for other origins. Allowed
//! answers expose `DPoP-Nonce` (`Access-Control-Expose-Headers`). Requests without
//! `Origin` (servers, scripts) are answered without CORS headers.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use crate::code::{self, Redemption};
use crate::config::Client;
use crate::dpop::{ProofRefused, Proven};
use crate::limits::{self, ClientAddr};
use crate::refresh::{Refused, MAX_REFRESH_TOKEN};
use crate::tokens::{self, Grant};
use crate::{parse_form, Shared};

/// Longest authorization code accepted (they are 43 characters).
const MAX_CODE: usize = 256;
/// Longest `token` accepted at `/oauth/revoke` (a JWT access token may be sent).
const MAX_REVOKE_TOKEN: usize = 8192;
/// `code_verifier` length bounds (RFC 7636 §4.1).
const VERIFIER_LENGTHS: std::ops::RangeInclusive<usize> = 43..=128;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/oauth/token", post(token).options(preflight))
        .route("/oauth/revoke", post(revoke).options(preflight))
}

/// An OAuth error answer.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn fail(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError {
        status,
        error,
        description: description.into(),
    }
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    fail(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: impl Into<String>) -> OAuthError {
    fail(StatusCode::FORBIDDEN, "invalid_grant", description)
}

/// A refused DPoP proof: 400 with its RFC 9449 code (§5, §8).
fn dpop_refused(refused: ProofRefused) -> OAuthError {
    fail(StatusCode::BAD_REQUEST, refused.code, refused.description)
}

fn server_error(description: impl Into<String>) -> OAuthError {
    fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        description,
    )
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// The parameters of a token or revocation request: a form, or a JSON object of strings.
/// Empty values count as absent.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Ok(Params(parse_form(body)));
        }
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(invalid_request("The body is not a JSON object"));
        };
        let mut out = HashMap::new();
        for (k, v) in map {
            match v {
                Value::String(s) => {
                    out.insert(k, s);
                }
                Value::Null => {}
                _ => return Err(invalid_request(format!("{k} must be a string"))),
            }
        }
        Ok(Params(out))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| invalid_request(format!("Missing required parameter: {name}")))
    }

    /// The first parameter longer than its limit, as an error.
    fn check_lengths(&self, lengths: &[(&str, usize)]) -> Result<(), OAuthError> {
        for (name, max) in lengths {
            if self.get(name).is_some_and(|v| v.len() > *max) {
                return Err(invalid_request(format!(
                    "{name} is too long (at most {max} bytes)"
                )));
            }
        }
        Ok(())
    }
}

/// What CORS allows for a request.
enum Cors {
    /// No `Origin`: no CORS headers.
    NoOrigin,
    /// Answer with `Access-Control-Allow-Origin: <origin>`.
    Allow(HeaderValue),
    /// An origin the client does not allow: refuse, without CORS headers.
    Refuse(String),
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Whether any client allows `origin`.
fn any_client_allows(st: &Shared, origin: &str) -> bool {
    st.tenant.clients.iter().any(|c| c.allows_origin(origin))
}

fn cors(st: &Shared, headers: &HeaderMap, client: Option<&Client>) -> Cors {
    let Some(o) = origin(headers) else {
        return if headers.contains_key(header::ORIGIN) {
            Cors::Refuse("(not readable)".into())
        } else {
            Cors::NoOrigin
        };
    };
    let allowed = match client {
        Some(c) => c.allows_origin(o),
        None => any_client_allows(st, o),
    };
    match HeaderValue::from_str(o) {
        Ok(value) if allowed => Cors::Allow(value),
        _ => Cors::Refuse(o.to_string()),
    }
}

/// Adds the CORS headers (when allowed), `Vary: Origin`, and `Cache-Control: no-store`.
fn finish(mut resp: Response, cors: &Cors) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Cors::Allow(origin) = cors {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("DPoP-Nonce"),
        );
    }
    resp
}

/// Runs `handle` unless CORS refuses the request; the answer gets the common headers.
fn guarded(
    st: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    handle: impl FnOnce(&Params, Option<&Client>) -> Result<Response, OAuthError>,
) -> Response {
    let params = Params::parse(headers, body);
    let client = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("client_id"))
        .and_then(|id| st.tenant.client(id));
    let cors = cors(st, headers, client);
    let resp = match (&cors, params) {
        (Cors::Refuse(o), _) => fail(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Origin {o} is not in the Allowed Web Origins of the client"),
        )
        .into_response(),
        (_, Err(e)) => e.into_response(),
        (_, Ok(params)) => handle(&params, client).unwrap_or_else(IntoResponse::into_response),
    };
    finish(resp, &cors)
}

/// The named client, which must exist.
fn known_client<'a>(params: &Params, client: Option<&'a Client>) -> Result<&'a Client, OAuthError> {
    let id = params.required("client_id")?;
    if id.len() > limits::MAX_CLIENT_ID {
        return Err(invalid_request(format!(
            "client_id is too long (at most {} bytes)",
            limits::MAX_CLIENT_ID
        )));
    }
    client.ok_or_else(|| {
        fail(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client.",
        )
    })
}

async fn preflight(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let allowed = origin(&headers)
        .filter(|o| any_client_allows(&st, o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let mut resp = match allowed {
        Some(origin) => (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
                (
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("POST"),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("Content-Type, Auth0-Client, DPoP"),
                ),
                (
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("600"),
                ),
            ],
        )
            .into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    };
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

async fn token(
    State(st): State<Shared>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = st.clock.unix_now();
    let mut resp = guarded(&st, &headers, &body, |params, client| {
        params.check_lengths(&[
            ("grant_type", limits::MAX_KEYWORD),
            ("redirect_uri", limits::MAX_URL),
            ("scope", limits::MAX_SCOPE),
            ("code", MAX_CODE),
            ("refresh_token", MAX_REFRESH_TOKEN),
            ("code_verifier", *VERIFIER_LENGTHS.end()),
        ])?;
        let grant_type = params.required("grant_type")?;
        if grant_type != "authorization_code" && grant_type != "refresh_token" {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("Unsupported grant type: {grant_type}"),
            ));
        }
        let client = known_client(params, client)?;
        if !client.allows(grant_type) {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "unauthorized_client",
                format!("Grant type '{grant_type}' not allowed for the client."),
            ));
        }
        // Before the grant is looked at: a refused proof spends no code and rotates no
        // refresh token, so the client can retry (with the nonce it was given).
        let proof = token_proof(&st, &headers, now)?;
        if grant_type == "authorization_code" {
            redeem_code(&st, addr, params, client, proof.as_ref())
        } else {
            use_refresh_token(&st, params, client, proof.as_ref())
        }
    });
    // Every answer to a request with a proof carries the nonce to use next (RFC 9449 §8,
    // §8.2): the retry of a use_dpop_nonce, and the next request after a success.
    if headers.contains_key(crate::dpop::DPOP) {
        if let Some(nonce) = st.dpop.current_nonce(now) {
            crate::dpop::set_nonce(resp.headers_mut(), &nonce);
        }
    }
    resp
}

/// The request's DPoP proof, checked for `POST` to the token endpoint at `now`: `None`
/// without a `DPoP` header.
fn token_proof(st: &Shared, headers: &HeaderMap, now: u64) -> Result<Option<Proven>, OAuthError> {
    let Some(proof) = crate::dpop::proof_header(headers).map_err(dpop_refused)? else {
        return Ok(None);
    };
    st.dpop
        .verify(proof, "POST", &st.url("oauth/token"), None, now)
        .map(Some)
        .map_err(dpop_refused)
}

/// Whether `verifier` is a well-formed PKCE `code_verifier`.
fn is_verifier(verifier: &str) -> bool {
    VERIFIER_LENGTHS.contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `BASE64URL(SHA-256(verifier)) == challenge`, in constant time.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
        .is_ok()
}

/// Revokes what a code's first redemption issued.
fn revoke_issued(st: &Shared, issued: &code::Issued) {
    let now = st.clock.now();
    if let Some(family) = &issued.family {
        st.refresh_tokens.revoke_family(family, now);
    }
    if let Some(token) = &issued.opaque_access_token {
        st.opaque_tokens.revoke(token);
    }
}

fn redeem_code(
    st: &Shared,
    addr: IpAddr,
    params: &Params,
    client: &Client,
    proof: Option<&Proven>,
) -> Result<Response, OAuthError> {
    let code = params.required("code")?;
    let verifier = params.required("code_verifier")?;
    let redirect_uri = params.required("redirect_uri")?;
    if !is_verifier(verifier) {
        return Err(invalid_request(
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, -, ., _ and ~",
        ));
    }
    let found = match st.codes.redeem(code, st.clock.now()) {
        Redemption::First(found) => found,
        Redemption::Replayed(issued) => {
            revoke_issued(st, &issued);
            return Err(invalid_grant("Invalid authorization code"));
        }
        Redemption::Invalid => return Err(invalid_grant("Invalid authorization code")),
    };
    let req = &found.request;
    if req.grant.client_id != client.client_id {
        return Err(invalid_grant("Invalid authorization code"));
    }
    if req.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri is not the one the code was issued for",
        ));
    }
    if !req
        .code_challenge
        .as_deref()
        .is_some_and(|c| pkce_matches(verifier, c))
    {
        return Err(invalid_grant("Failed to verify code verifier"));
    }
    // RFC 9449 §10: a code asked for with dpop_jkt is redeemed by a proof of that key only.
    if let Some(bound) = &req.dpop_jkt {
        match proof {
            None => {
                return Err(invalid_grant(
                    "This authorization code is bound to a DPoP key (dpop_jkt): a DPoP proof \
                     by that key is required",
                ))
            }
            Some(p) if p.jkt != *bound => {
                return Err(invalid_grant(
                    "The DPoP proof's key is not the one dpop_jkt named in the authorization \
                     request",
                ))
            }
            Some(_) => {}
        }
    }
    let jkt = proof.map(|p| p.jkt.as_str());
    let Some(user) = st.tenant.user_by_sub(&found.sub) else {
        return Err(invalid_grant("Invalid authorization code"));
    };
    let grant = Grant {
        want_token: true,
        want_id_token: req.grant.scopes.iter().any(|s| s == "openid"),
        ..req.grant.clone()
    };
    let issued =
        tokens::issue(st, &grant, user, &found.sid, false, jkt).map_err(|e| server_error(e.0))?;
    let mut first_use = code::Issued::default();
    if grant.audience.is_none() {
        first_use.opaque_access_token = issued.access_token.clone();
    }
    let refresh_token = if grant.offline {
        let granted: Vec<String> = issued.scope.split(' ').map(str::to_string).collect();
        let (family, token) = st
            .refresh_tokens
            .start(
                addr,
                grant.clone(),
                granted,
                &found.sub,
                &found.sid,
                jkt,
                st.clock.now(),
            )
            .ok_or_else(|| server_error("No refresh token could be made"))?;
        first_use.family = Some(family);
        Some(token)
    } else {
        None
    };
    if !st.codes.record(code, first_use.clone(), st.clock.now()) {
        // Replayed while these tokens were being made.
        revoke_issued(st, &first_use);
        return Err(invalid_grant("Invalid authorization code"));
    }
    Ok(token_response(issued, refresh_token, jkt.is_some()))
}

fn use_refresh_token(
    st: &Shared,
    params: &Params,
    client: &Client,
    proof: Option<&Proven>,
) -> Result<Response, OAuthError> {
    let jkt = proof.map(|p| p.jkt.as_str());
    let token = params.required("refresh_token")?;
    let requested: Option<Vec<String>> = params
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect());
    let (family, next) = st
        .refresh_tokens
        .rotate(
            token,
            &client.client_id,
            requested.as_deref(),
            jkt,
            st.clock.now(),
        )
        .map_err(|refused| match refused {
            Refused::Invalid | Refused::Reused => {
                invalid_grant("Unknown or invalid refresh token.")
            }
            Refused::Scope(extra) => fail(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("The scope {extra} was not granted at sign-in"),
            ),
            Refused::Binding if jkt.is_none() => invalid_grant(
                "This refresh token is bound to a DPoP key: a DPoP proof by that key is required",
            ),
            Refused::Binding => {
                invalid_grant("This refresh token is bound to another DPoP key than the proof's")
            }
        })?;
    let scopes = requested.unwrap_or_else(|| family.grant.scopes.clone());
    let Some(user) = st.tenant.user_by_sub(&family.sub) else {
        return Err(invalid_grant("Unknown or invalid refresh token."));
    };
    let grant = Grant {
        want_token: true,
        want_id_token: scopes.iter().any(|s| s == "openid"),
        scopes,
        nonce: None,
        ..family.grant.clone()
    };
    let issued =
        tokens::issue(st, &grant, user, &family.sid, false, jkt).map_err(|e| server_error(e.0))?;
    Ok(token_response(issued, Some(next), jkt.is_some()))
}

/// The token endpoint's answer; `bound`: the access token is bound to a DPoP key.
fn token_response(issued: tokens::Issued, refresh_token: Option<String>, bound: bool) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": if bound { "DPoP" } else { "Bearer" },
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    if let Some(id_token) = issued.id_token {
        body["id_token"] = id_token.into();
    }
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = refresh_token.into();
    }
    Json(body).into_response()
}

async fn revoke(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    guarded(&st, &headers, &body, |params, client| {
        let client = known_client(params, client)?;
        let token = params.required("token")?;
        if token.len() <= MAX_REVOKE_TOKEN {
            st.refresh_tokens
                .revoke(token, &client.client_id, st.clock.now());
        }
        Ok(StatusCode::OK.into_response())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_verifier(verifier));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(challenge, challenge));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(is_verifier(&"a~._-".repeat(26)[..128]));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(42))));
    }
}
