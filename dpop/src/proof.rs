//! Checking one DPoP proof against the request it came with (RFC 9449 §4.3).

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{Map, Value};

/// The proof algorithms accepted, as the `algs` of a `WWW-Authenticate: DPoP` challenge and
/// `dpop_signing_alg_values_supported` in discovery. The SPA signs with ES256 (WebCrypto's
/// ECDSA P-256); nothing symmetric, nothing `none`.
pub const ALGS: &str = "ES256";

/// What the proof must match: the request as the client addressed it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The URL the client addressed (scheme, host, port, path); query and fragment are ignored.
    pub url: &'a str,
    /// The access token the request carries, whose hash `ath` must be (resource requests);
    /// `None` at the token endpoint, where a proof has no `ath`.
    pub access_token: Option<&'a str>,
    /// The server nonce the client was given, when the server demands one.
    pub nonce: Option<&'a str>,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// How far a proof's `iat` may lie from the server's clock.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A proof older than this is stale. It also bounds how long a `jti` must be remembered.
    pub max_age_secs: u64,
    /// A proof from a client clock at most this far ahead is still accepted.
    pub max_future_secs: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_age_secs: 300,
            max_future_secs: 60,
        }
    }
}

impl Rules {
    /// How long a `jti` stays in a replay cache: as long as its proof could be accepted.
    pub fn jti_lifetime_secs(&self) -> u64 {
        self.max_age_secs + self.max_future_secs
    }
}

/// A proof that passed every check but replay: the caller checks `jti` against its
/// [`crate::ReplayCache`] (the API may share one between instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key: compared with `cnf.jkt` / `dpop_jkt`.
    pub jkt: String,
    pub jti: String,
    pub iat: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Not three base64url parts of JSON, or a claim of the wrong type.
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    Type,
    /// `alg` is not in [`ALGS`] (this includes `none` and every HMAC).
    Algorithm(String),
    /// `jwk` missing, not a P-256 public key, or carrying a private part.
    Key(&'static str),
    Signature,
    Method,
    Url,
    /// `iat` missing, older than the window or too far in the future.
    IssuedAt(&'static str),
    /// `ath` missing or not the hash of the access token sent with it.
    AccessTokenHash,
    /// The server demands a nonce and the proof has none, or another one.
    Nonce,
}

impl ProofError {
    /// The OAuth error code: `use_dpop_nonce` tells the client to retry with the nonce the
    /// server sends in `DPoP-Nonce`; everything else is `invalid_dpop_proof`.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::Nonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

impl std::fmt::Display for ProofError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProofError::Malformed(why) => write!(f, "the DPoP proof is malformed: {why}"),
            ProofError::Type => f.write_str("the DPoP proof's typ is not dpop+jwt"),
            ProofError::Algorithm(alg) => {
                write!(
                    f,
                    "the DPoP proof's alg {alg:?} is not allowed (allowed: {ALGS})"
                )
            }
            ProofError::Key(why) => write!(f, "the DPoP proof's jwk {why}"),
            ProofError::Signature => f.write_str("the DPoP proof's signature does not verify"),
            ProofError::Method => f.write_str("the DPoP proof is for another HTTP method (htm)"),
            ProofError::Url => f.write_str("the DPoP proof is for another URL (htu)"),
            ProofError::IssuedAt(why) => write!(f, "the DPoP proof's iat {why}"),
            ProofError::AccessTokenHash => {
                f.write_str("the DPoP proof's ath is missing or not the access token's hash")
            }
            ProofError::Nonce => f.write_str("a DPoP nonce is required: retry with DPoP-Nonce"),
        }
    }
}

impl std::error::Error for ProofError {}

/// `ath`: base64url of the SHA-256 of the access token (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    B64.encode(digest(&SHA256, access_token.as_bytes()))
}

/// The RFC 7638 thumbprint of a P-256 public key given by its base64url coordinates: the
/// SHA-256 of the required members in lexicographic order, without whitespace.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    B64.encode(digest(&SHA256, canonical.as_bytes()))
}

/// Checks `proof` (the `DPoP` header's value) against `request`: syntax, `typ`, `alg`, the
/// embedded key, the signature, `htm`, `htu`, `iat`, `ath` and the nonce, in that order.
pub fn check(
    proof: &str,
    request: &Request<'_>,
    rules: &Rules,
) -> Result<CheckedProof, ProofError> {
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed("not a JWS in compact form"));
    };
    let header = json_object(header_b64, "the header is not base64url JSON")?;
    let claims = json_object(claims_b64, "the claims are not base64url JSON")?;
    let signature = B64
        .decode(signature_b64)
        .map_err(|_| ProofError::Malformed("the signature is not base64url"))?;

    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(ProofError::Type);
    }
    match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => {}
        Some(other) => return Err(ProofError::Algorithm(other.to_string())),
        None => return Err(ProofError::Algorithm(String::new())),
    }
    let (x, y) = public_key(header.get("jwk"))?;

    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&coordinate(x)?);
    point.extend_from_slice(&coordinate(y)?);
    let signed = &proof[..header_b64.len() + 1 + claims_b64.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| ProofError::Signature)?;

    let string = |name: &'static str, why: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or(ProofError::Malformed(why))
    };
    let htm = string("htm", "htm is missing")?;
    let htu = string("htu", "htu is missing")?;
    let jti = string("jti", "jti is missing")?;
    if jti.is_empty() || jti.len() > 256 {
        return Err(ProofError::Malformed(
            "jti is empty or longer than 256 characters",
        ));
    }
    if htm != request.method {
        return Err(ProofError::Method);
    }
    if !same_target(htu, request.url) {
        return Err(ProofError::Url);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(ProofError::IssuedAt(
            "is missing or not a number of seconds",
        ))?;
    if iat.saturating_add(rules.max_age_secs) < request.now {
        return Err(ProofError::IssuedAt("is too old"));
    }
    if iat > request.now.saturating_add(rules.max_future_secs) {
        return Err(ProofError::IssuedAt("is in the future"));
    }
    if let Some(token) = request.access_token {
        if claims.get("ath").and_then(Value::as_str) != Some(ath(token).as_str()) {
            return Err(ProofError::AccessTokenHash);
        }
    }
    if let Some(nonce) = request.nonce {
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(ProofError::Nonce);
        }
    }
    Ok(CheckedProof {
        jkt: thumbprint(x, y),
        jti: jti.to_string(),
        iat,
    })
}

fn json_object(part: &str, why: &'static str) -> Result<Map<String, Value>, ProofError> {
    let bytes = B64.decode(part).map_err(|_| ProofError::Malformed(why))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ProofError::Malformed(why)),
    }
}

/// The header's `jwk`: an EC P-256 public key, and nothing private.
fn public_key(jwk: Option<&Value>) -> Result<(&str, &str), ProofError> {
    let jwk = jwk
        .and_then(Value::as_object)
        .ok_or(ProofError::Key("is missing"))?;
    if jwk.contains_key("d") {
        return Err(ProofError::Key("contains a private key"));
    }
    let member = |name| jwk.get(name).and_then(Value::as_str);
    if member("kty") != Some("EC") || member("crv") != Some("P-256") {
        return Err(ProofError::Key("is not an EC P-256 key, as ES256 requires"));
    }
    match (member("x"), member("y")) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(ProofError::Key("lacks x or y")),
    }
}

fn coordinate(text: &str) -> Result<Vec<u8>, ProofError> {
    match B64.decode(text) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(ProofError::Key(
            "has a coordinate that is not 32 bytes of base64url",
        )),
    }
}

/// `htu` and the request's URL name the same resource: scheme, host, port and path after
/// RFC 3986 normalisation (case of scheme and host, default ports, percent-encoding), query
/// and fragment ignored (RFC 9449 §4.3).
fn same_target(htu: &str, request_url: &str) -> bool {
    let target = |text: &str| {
        url::Url::parse(text).ok().map(|url| {
            (
                url.scheme().to_string(),
                url.host_str().map(str::to_string),
                url.port_or_known_default(),
                url.path().to_string(),
            )
        })
    };
    match (target(htu), target(request_url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
