//! Test-only fault injection: make the next authorization response carry a bad token,
//! so a client's negative tests can check that it refuses it.
//!
//! Off by default: nothing changes unless a test sets a fault.
//!
//! - In-process, keep a clone of [`Settings::faults`](crate::Settings::faults) (a
//!   [`FaultSwitch`]) before handing the settings to [`serve`](crate::serve), and call
//!   [`FaultSwitch::set_next`]:
//!
//!   ```no_run
//!   # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!   use dev_tenant::faults::Fault;
//!   let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!   let settings = dev_tenant::Settings::demo(&format!("http://{}/", listener.local_addr()?))?;
//!   let faults = settings.faults.clone();
//!   tokio::spawn(dev_tenant::serve(listener, settings));
//!   faults.set_next(Fault::Expired);
//!   // ... the next sign-in's id_token has expired ...
//!   # Ok(()) }
//!   ```
//!
//! - Over HTTP, only when the binary runs with `--enable-fault-injection`
//!   ([`Settings::fault_injection_endpoint`](crate::Settings::fault_injection_endpoint)):
//!   `POST /test/next-fault` with the JSON body `{"fault":"expired"}` answers 204
//!   (`{"fault":null}` clears a pending fault); an unknown fault name or a bad body
//!   answers 400 with a JSON error naming the known faults. Without the flag the path
//!   answers 404. The endpoint answers CORS requests from any origin, so a test running
//!   in a browser can call it too.
//!
//! A fault applies to the next successful authorization response only (tokens issued
//! after consent, or silently for `prompt=none`, or by `/oauth/token` for a code or a
//! refresh token), whatever it contains, and is consumed by it; the response after that
//! is clean again. In the code flow, `wrong_state` is taken by the redirect that carries
//! the code and every other fault waits for the token response (`missing_at_hash` then
//! changes nothing: those ID tokens have no `at_hash`). Setting a fault replaces a pending
//! one. Unless a fault says otherwise, it changes the ID token only; the access token
//! stays valid. See [`Fault`] for each one.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tower_http::cors::{Any, CorsLayer};

use crate::keys::SigningKey;
use crate::tokens::{at_hash, TokenError};
use crate::{lock, Shared};

/// The issuer put in the ID token by [`Fault::WrongIss`].
pub const OTHER_ISSUER: &str = "https://evil.example/";
/// The audience put in the ID token by [`Fault::WrongAud`], and the second audience of
/// [`Fault::MultipleAudNoAzp`].
pub const OTHER_CLIENT: &str = "another-client";
/// The string whose hash [`Fault::WrongAtHash`] puts in `at_hash`.
pub const OTHER_AT_HASH_INPUT: &str = "not-the-access-token";
/// The prefix [`Fault::WrongNonce`] adds to the request's nonce.
pub const WRONG_NONCE_PREFIX: &str = "wrong-";
/// The `state` of the redirect under [`Fault::WrongState`].
pub const WRONG_STATE: &str = "not-the-state-you-sent";

/// One way to break the next authorization response. Serde names are snake_case
/// (`"bad_signature"`, `"hs256_public_key"`, ...), as [`Fault::name`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// A valid ID token whose signature has one byte altered (the decoded signature's
    /// first byte flipped, then re-encoded).
    BadSignature,
    /// An ID token signed (RS256) by a freshly generated key whose `kid` is never published.
    UnknownKey,
    /// An ID token with the header `{"alg":"none"}` and an empty signature (`header.payload.`).
    AlgNone,
    /// An ID token with the header `alg` `HS256` and the tenant's `kid`, its HMAC-SHA256
    /// keyed with the tenant's public key PEM text ([`SigningKey::public_key_pem`]): the
    /// algorithm-confusion attack.
    Hs256PublicKey,
    /// The ID token's `iss` is [`OTHER_ISSUER`].
    WrongIss,
    /// The ID token's `aud` is [`OTHER_CLIENT`].
    WrongAud,
    /// The ID token's `aud` is `[client_id, OTHER_CLIENT]`, without `azp`.
    MultipleAudNoAzp,
    /// The ID token has no `sub`.
    MissingSub,
    /// The ID token has no `iat`.
    MissingIat,
    /// The ID token's `exp` is one hour in the past, its `iat` two hours.
    Expired,
    /// The ID token's `nonce` is the request's with [`WRONG_NONCE_PREFIX`] before it.
    WrongNonce,
    /// The ID token has no `at_hash` (though an access token is issued with it).
    MissingAtHash,
    /// The ID token's `at_hash` is that of [`OTHER_AT_HASH_INPUT`].
    WrongAtHash,
    /// The redirect's `state` is [`WRONG_STATE`] (tokens valid).
    WrongState,
    /// The tenant generates a new signing key and signs this response's ID token and
    /// access token with it, under a new `kid`, and every later token too. The JWKS
    /// publishes the new key (after the old ones) only from the second JWKS request
    /// after this response onward: a client whose first fetch misses the `kid`
    /// succeeds after one re-fetch.
    RotatedKey,
    /// The ID token's header has no `kid` (the JWKS holds one key, unless a
    /// [`Fault::RotatedKey`] happened before).
    NoKid,
}

impl Fault {
    /// Every fault, in declaration order.
    pub const ALL: [Fault; 16] = [
        Fault::BadSignature,
        Fault::UnknownKey,
        Fault::AlgNone,
        Fault::Hs256PublicKey,
        Fault::WrongIss,
        Fault::WrongAud,
        Fault::MultipleAudNoAzp,
        Fault::MissingSub,
        Fault::MissingIat,
        Fault::Expired,
        Fault::WrongNonce,
        Fault::MissingAtHash,
        Fault::WrongAtHash,
        Fault::WrongState,
        Fault::RotatedKey,
        Fault::NoKid,
    ];

    /// The snake_case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Fault::BadSignature => "bad_signature",
            Fault::UnknownKey => "unknown_key",
            Fault::AlgNone => "alg_none",
            Fault::Hs256PublicKey => "hs256_public_key",
            Fault::WrongIss => "wrong_iss",
            Fault::WrongAud => "wrong_aud",
            Fault::MultipleAudNoAzp => "multiple_aud_no_azp",
            Fault::MissingSub => "missing_sub",
            Fault::MissingIat => "missing_iat",
            Fault::Expired => "expired",
            Fault::WrongNonce => "wrong_nonce",
            Fault::MissingAtHash => "missing_at_hash",
            Fault::WrongAtHash => "wrong_at_hash",
            Fault::WrongState => "wrong_state",
            Fault::RotatedKey => "rotated_key",
            Fault::NoKid => "no_kid",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Fault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFault(pub String);

impl fmt::Display for UnknownFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        write!(
            f,
            "unknown fault {:?}; known faults: {}",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownFault {}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault(s.to_string()))
    }
}

/// A shared, cheap-to-clone handle on the fault for the next authorization response.
/// Every clone controls the same tenant.
#[derive(Clone, Default)]
pub struct FaultSwitch(Arc<Mutex<Option<Fault>>>);

impl FaultSwitch {
    /// Makes the next successful authorization response carry `fault` (replacing any
    /// pending fault).
    pub fn set_next(&self, fault: Fault) {
        *lock(&self.0) = Some(fault);
    }

    /// Removes a pending fault.
    pub fn clear(&self) {
        *lock(&self.0) = None;
    }

    /// The pending fault, if any (not consumed).
    pub fn pending(&self) -> Option<Fault> {
        *lock(&self.0)
    }

    /// Takes the pending fault: called once per successful authorization response.
    pub(crate) fn take(&self) -> Option<Fault> {
        lock(&self.0).take()
    }

    /// Takes the pending fault only if it is `fault`.
    pub(crate) fn take_if(&self, fault: Fault) -> bool {
        let mut pending = lock(&self.0);
        if *pending == Some(fault) {
            *pending = None;
            true
        } else {
            false
        }
    }
}

impl fmt::Debug for FaultSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FaultSwitch").field(&self.pending()).finish()
    }
}

/// Changes the ID token claims for `fault`. `now` is the issue time.
pub(crate) fn tamper_claims(fault: Option<Fault>, claims: &mut Map<String, Value>, now: u64) {
    let Some(fault) = fault else { return };
    match fault {
        Fault::WrongIss => {
            claims.insert("iss".into(), OTHER_ISSUER.into());
        }
        Fault::WrongAud => {
            claims.insert("aud".into(), OTHER_CLIENT.into());
        }
        Fault::MultipleAudNoAzp => {
            let client = claims.get("aud").cloned().unwrap_or(Value::Null);
            claims.insert(
                "aud".into(),
                Value::Array(vec![client, OTHER_CLIENT.into()]),
            );
            claims.remove("azp");
        }
        Fault::MissingSub => {
            claims.remove("sub");
        }
        Fault::MissingIat => {
            claims.remove("iat");
        }
        Fault::Expired => {
            claims.insert("iat".into(), now.saturating_sub(2 * 3600).into());
            claims.insert("exp".into(), now.saturating_sub(3600).into());
        }
        Fault::WrongNonce => {
            let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
            let wrong = format!("{WRONG_NONCE_PREFIX}{nonce}");
            claims.insert("nonce".into(), wrong.into());
        }
        Fault::MissingAtHash => {
            claims.remove("at_hash");
        }
        Fault::WrongAtHash => {
            claims.insert("at_hash".into(), at_hash(OTHER_AT_HASH_INPUT).into());
        }
        Fault::BadSignature
        | Fault::UnknownKey
        | Fault::AlgNone
        | Fault::Hs256PublicKey
        | Fault::WrongState
        | Fault::RotatedKey
        | Fault::NoKid => {}
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_failed(e: impl fmt::Display) -> TokenError {
    TokenError(format!("signing failed: {e}"))
}

/// RS256 with `key`, header `typ` JWT and `kid` (unless `with_kid` is false).
pub(crate) fn sign_rs256(
    key: &SigningKey,
    claims: &impl Serialize,
    with_kid: bool,
) -> Result<String, TokenError> {
    let mut header = Header::new(Algorithm::RS256);
    if with_kid {
        header.kid = Some(key.kid().to_string());
    }
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, claims, key.encoding_key()).map_err(signing_failed)
}

/// Signs the ID token `claims` with `key` (the tenant's current key), broken as `fault`
/// says.
pub(crate) fn sign_id_token(
    fault: Option<Fault>,
    key: &SigningKey,
    claims: &Map<String, Value>,
) -> Result<String, TokenError> {
    match fault {
        Some(Fault::BadSignature) => {
            let token = sign_rs256(key, claims, true)?;
            let (signed, signature) = token
                .rsplit_once('.')
                .ok_or_else(|| TokenError("signing failed: not a JWS".into()))?;
            let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(signing_failed)?;
            if let Some(first) = bytes.first_mut() {
                *first ^= 0x01;
            }
            Ok(format!("{signed}.{}", b64(&bytes)))
        }
        Some(Fault::UnknownKey) => {
            let stranger = SigningKey::generate().map_err(signing_failed)?;
            sign_rs256(&stranger, claims, true)
        }
        Some(Fault::AlgNone) => {
            let payload = serde_json::to_vec(claims).map_err(signing_failed)?;
            Ok(format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(&payload)))
        }
        Some(Fault::Hs256PublicKey) => {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(key.kid().to_string());
            header.typ = Some("JWT".into());
            let secret = EncodingKey::from_secret(key.public_key_pem().as_bytes());
            jsonwebtoken::encode(&header, claims, &secret).map_err(signing_failed)
        }
        Some(Fault::NoKid) => sign_rs256(key, claims, false),
        _ => sign_rs256(key, claims, true),
    }
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/test/next-fault", post(next_fault))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        )
}

fn bad_request(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({
            "error": "invalid_request",
            "error_description": description,
        })),
    )
        .into_response()
}

/// `POST /test/next-fault` with `{"fault":"<name>"}` (or `null` to clear).
async fn next_fault(State(st): State<Shared>, body: Bytes) -> Response {
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    match request.as_ref().and_then(|r| r.get("fault")) {
        Some(Value::Null) => st.faults.clear(),
        Some(Value::String(name)) => match name.parse::<Fault>() {
            Ok(fault) => st.faults.set_next(fault),
            Err(e) => return bad_request(&e.to_string()),
        },
        _ => {
            let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
            return bad_request(&format!(
                "the body must be a JSON object like {{\"fault\":\"expired\"}} \
                 (or {{\"fault\":null}} to clear); known faults: {}",
                known.join(", ")
            ));
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_and_parse_back() {
        for f in Fault::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
            assert_eq!(f.name().parse::<Fault>().unwrap(), f);
        }
        let err = "nope".parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains("\"nope\"") && err.contains("hs256_public_key"));
        let distinct: std::collections::HashSet<_> = Fault::ALL.iter().collect();
        assert_eq!(distinct.len(), Fault::ALL.len());
    }

    #[test]
    fn switch_is_shared_and_consumed_once() {
        let a = FaultSwitch::default();
        let b = a.clone();
        assert_eq!(a.take(), None);
        b.set_next(Fault::Expired);
        assert_eq!(a.pending(), Some(Fault::Expired));
        assert_eq!(a.take(), Some(Fault::Expired));
        assert_eq!(b.take(), None);
        a.set_next(Fault::NoKid);
        b.clear();
        assert_eq!(a.take(), None);
    }
}
