//! `GET /userinfo` (and `POST`): the signed-in user's profile for an access token.
//!
//! - `Authorization: Bearer <token>`: a token issued without a DPoP proof. A DPoP-bound
//!   token (`cnf.jkt`, or an opaque one issued for a proof) sent this way is refused
//!   (RFC 9449 §7.2).
//! - `Authorization: DPoP <token>` with one `DPoP` header (RFC 9449 §7): a proof for this
//!   request's method and `<issuer>userinfo`, whose `ath` is the token's hash, by the key
//!   the token is bound to. Checks, replay and nonces as at the token endpoint (see
//!   [`crate::dpop`]); with `--require-dpop-nonce` every answer to a request with a proof
//!   carries the current nonce in `DPoP-Nonce`.
//!
//! Refusals are 401 with a JSON body `{"error", "error_description"}` and challenges per
//! RFC 9449 §7.1 and §7.2: the scheme the token came with carries the error
//! (`Bearer error="invalid_token", …` or `DPoP error="…", …, algs="ES256"`), followed by a
//! second `WWW-Authenticate` field offering the other scheme without error information.
//! Without a token, the Bearer challenge says `invalid_token` as before. Errors of the DPoP
//! scheme: `invalid_dpop_proof` (no proof, several, or one failing a check or replayed),
//! `use_dpop_nonce` (with `DPoP-Nonce`), `invalid_token` (the token fails, is not bound,
//! or is bound to another key).
//!
//! CORS: any origin; request headers `Authorization`, `Content-Type` and `DPoP`; the
//! answers expose `WWW-Authenticate` and `DPoP-Nonce`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, Validation};
use tower_http::cors::{Any, CorsLayer};

use crate::dpop::{ProofRefused, ALGS, DPOP, DPOP_NONCE};
use crate::tokens::{AccessClaims, Profile};
use crate::Shared;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/userinfo", get(userinfo).post(userinfo))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, DPOP])
                .expose_headers([header::WWW_AUTHENTICATE, DPOP_NONCE]),
        )
}

/// How the access token was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// A refused request: the scheme whose challenge carries the error, the error code and a
/// description (never quoting a token or proof).
struct Refusal {
    scheme: Scheme,
    error: &'static str,
    description: String,
}

fn refuse(scheme: Scheme, error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        scheme,
        error,
        description: description.into(),
    }
}

fn invalid_token(scheme: Scheme, description: impl Into<String>) -> Refusal {
    refuse(scheme, "invalid_token", description)
}

impl From<ProofRefused> for Refusal {
    fn from(refused: ProofRefused) -> Self {
        refuse(Scheme::Dpop, refused.code, refused.description)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let description = self.description.replace(['"', '\\'], "'");
        let (with_error, other) = match self.scheme {
            Scheme::Bearer => (
                format!(
                    "Bearer error=\"{}\", error_description=\"{description}\"",
                    self.error
                ),
                format!("DPoP algs=\"{ALGS}\""),
            ),
            Scheme::Dpop => (
                format!(
                    "DPoP error=\"{}\", error_description=\"{description}\", algs=\"{ALGS}\"",
                    self.error
                ),
                "Bearer".to_string(),
            ),
        };
        let with_error = HeaderValue::from_str(&with_error).unwrap_or_else(|_| match self.scheme {
            Scheme::Bearer => HeaderValue::from_static("Bearer error=\"invalid_token\""),
            Scheme::Dpop => HeaderValue::from_static("DPoP error=\"invalid_token\""),
        });
        let mut resp = (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let h = resp.headers_mut();
        h.append(header::WWW_AUTHENTICATE, with_error);
        if let Ok(other) = HeaderValue::from_str(&other) {
            h.append(header::WWW_AUTHENTICATE, other);
        }
        resp
    }
}

/// What a valid access token says: its subject, and the DPoP key it is bound to.
struct TokenInfo {
    sub: String,
    jkt: Option<String>,
}

/// A valid access token: a JWT signed by this tenant for `<issuer>userinfo`, or a live
/// opaque token.
fn token_info(st: &Shared, token: &str) -> Result<TokenInfo, String> {
    if !token.contains('.') {
        return st
            .opaque_tokens
            .get(token)
            .map(|t| TokenInfo {
                sub: t.sub,
                jkt: t.jkt,
            })
            .ok_or_else(|| "The access token is unknown or expired".to_string());
    }
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&st.issuer]);
    v.set_audience(&[st.url("userinfo")]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    crate::keys::decode_with::<AccessClaims>(&st.keys, token, &v)
        .map(|d| TokenInfo {
            sub: d.claims.sub,
            jkt: d.claims.cnf.map(|c| c.jkt),
        })
        .map_err(|e| format!("The access token is not valid: {e}"))
}

/// The scheme and token of the `Authorization` header, if it has a known scheme and a token.
fn credentials(headers: &HeaderMap) -> Option<(Scheme, &str)> {
    let (scheme, token) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((Scheme::Dpop, token))
    } else {
        None
    }
}

async fn userinfo(State(st): State<Shared>, method: Method, headers: HeaderMap) -> Response {
    let now = st.clock.unix_now();
    let mut resp = match answer(&st, &method, &headers, now) {
        Ok(resp) => resp,
        Err(refusal) => refusal.into_response(),
    };
    if headers.contains_key(DPOP) {
        if let Some(nonce) = st.dpop.current_nonce(now) {
            crate::dpop::set_nonce(resp.headers_mut(), &nonce);
        }
    }
    resp
}

fn answer(
    st: &Shared,
    method: &Method,
    headers: &HeaderMap,
    now: u64,
) -> Result<Response, Refusal> {
    let Some((scheme, token)) = credentials(headers) else {
        return Err(invalid_token(
            Scheme::Bearer,
            "An access token is required (Authorization: Bearer, or DPoP with a DPoP proof)",
        ));
    };
    let info = match scheme {
        Scheme::Bearer => {
            let info = token_info(st, token).map_err(|e| invalid_token(Scheme::Bearer, e))?;
            if info.jkt.is_some() {
                // RFC 9449 §7.2: a bound token sent as a bearer token is refused.
                return Err(invalid_token(
                    Scheme::Bearer,
                    "The access token is bound to a DPoP key: send it as Authorization: DPoP \
                     with a DPoP proof",
                ));
            }
            info
        }
        Scheme::Dpop => {
            let Some(proof) = crate::dpop::proof_header(headers)? else {
                return Err(refuse(
                    Scheme::Dpop,
                    crate::dpop::INVALID_DPOP_PROOF,
                    "The DPoP scheme needs a DPoP proof (the DPoP header)",
                ));
            };
            let proven = st.dpop.verify(
                proof,
                method.as_str(),
                &st.url("userinfo"),
                Some(token),
                now,
            )?;
            let info = token_info(st, token).map_err(|e| invalid_token(Scheme::Dpop, e))?;
            match &info.jkt {
                None => {
                    return Err(invalid_token(
                        Scheme::Dpop,
                        "The access token is not bound to a DPoP key: send it as Bearer",
                    ))
                }
                Some(jkt) if *jkt != proven.jkt => {
                    return Err(invalid_token(Scheme::Dpop, "Invalid DPoP key binding"))
                }
                Some(_) => {}
            }
            info
        }
    };
    match st.tenant.user_by_sub(&info.sub) {
        Some(user) => Ok(Json(Profile::of(user, &st.issuer)).into_response()),
        None => Err(invalid_token(
            scheme,
            "The user of this token no longer exists",
        )),
    }
}
