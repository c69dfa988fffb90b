//! Bearer token extraction (RFC 6750), the JWKS cache, RS256 JWT validation,
//! scope checks and the RFC 6750 error responses.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use crate::config::Settings;

/// The realm in every `WWW-Authenticate` challenge.
pub const REALM: &str = "appointments";
/// Scope for `GET /api/appointments`.
pub const READ_SCOPE: &str = "read:appointments";
/// Scope for `POST /api/appointments`.
pub const CREATE_SCOPE: &str = "create:appointments";

/// Everything that can go wrong authenticating a request; renders itself as an
/// RFC 6750 response (status, `WWW-Authenticate`, JSON body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all: 401 with a bare challenge.
    MissingToken,
    /// Malformed `Authorization` header, token in the URL or sent more than one way: 400.
    InvalidRequest(String),
    /// The token failed a check (format, alg, key, signature, claims): 401.
    InvalidToken(String),
    /// A valid token without the endpoint's scope: 403.
    InsufficientScope { scope: &'static str },
    /// The issuer's keys could not be fetched: 503 (the token is not at fault).
    KeysUnavailable,
}

impl AuthError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingToken | AuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            AuthError::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` code of the JSON body (and of the challenge, where there is one).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "unauthorized",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::KeysUnavailable => "temporarily_unavailable",
        }
    }

    /// The human-readable `error_description`.
    pub fn description(&self) -> String {
        let text = match self {
            AuthError::MissingToken => {
                "an access token is required: send it as 'Authorization: Bearer <token>'".into()
            }
            AuthError::InvalidRequest(d) | AuthError::InvalidToken(d) => d.clone(),
            AuthError::InsufficientScope { scope } => {
                format!("the access token does not grant the {scope} scope")
            }
            AuthError::KeysUnavailable => {
                "the issuer's signing keys could not be fetched; try again later".into()
            }
        };
        quotable(&text)
    }

    /// The `WWW-Authenticate` value, if the response carries one.
    pub fn challenge(&self) -> Option<String> {
        let desc = self.description();
        match self {
            AuthError::MissingToken => Some(format!("Bearer realm=\"{REALM}\"")),
            AuthError::InvalidRequest(_) | AuthError::InvalidToken(_) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"{}\", error_description=\"{desc}\"",
                self.code()
            )),
            AuthError::InsufficientScope { scope } => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\", \
                 error_description=\"{desc}\""
            )),
            AuthError::KeysUnavailable => None,
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for AuthError {}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code(), "error_description": self.description() });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(challenge) = self.challenge() {
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, v);
            }
        }
        if matches!(self, AuthError::KeysUnavailable) {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Keeps a description inside RFC 6750's `error_description` character set
/// (printable ASCII without `"` and `\`).
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// Parses one `Authorization` header value as RFC 6750 §2.1 credentials:
/// `Bearer` (any case), one or more spaces, one b64token.
pub fn parse_bearer(value: &str) -> Result<&str, AuthError> {
    let bad = |d: &str| AuthError::InvalidRequest(d.to_string());
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(bad("the Authorization header must use the Bearer scheme"));
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(bad("the Authorization header has no token after Bearer"));
    }
    if token.contains(' ') {
        return Err(bad(
            "the Authorization header must hold exactly one token after Bearer",
        ));
    }
    if !is_b64token(token) {
        return Err(bad(
            "the bearer token contains characters not allowed in a b64token",
        ));
    }
    Ok(token)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fn has_access_token_param(encoded: &[u8]) -> bool {
    url::form_urlencoded::parse(encoded).any(|(k, _)| k == "access_token")
}

/// Is this a form-encoded body (where RFC 6750 §2.2 would allow a token)?
pub fn is_form_body(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Finds the request's bearer token. Only the `Authorization` header is accepted:
/// a token in the query string (never in URLs) or a form body is rejected, as is
/// a token sent in more than one way. `form_body` is the body when it is
/// form-encoded (see [`is_form_body`]).
pub fn extract_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    form_body: Option<&[u8]>,
) -> Result<&'a str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "the request has more than one Authorization header".into(),
        ));
    }
    let in_query = uri
        .query()
        .is_some_and(|q| has_access_token_param(q.as_bytes()));
    let in_body = form_body.is_some_and(has_access_token_param);
    let ways = usize::from(header.is_some()) + usize::from(in_query) + usize::from(in_body);
    if ways > 1 {
        return Err(AuthError::InvalidRequest(
            "the access token was sent in more than one way; use only the Authorization header"
                .into(),
        ));
    }
    if in_query {
        return Err(AuthError::InvalidRequest(
            "access tokens are not accepted in the URL; send it in the Authorization header".into(),
        ));
    }
    if in_body {
        return Err(AuthError::InvalidRequest(
            "access tokens are not accepted in the request body; send it in the Authorization \
             header"
                .into(),
        ));
    }
    let Some(header) = header else {
        return Err(AuthError::MissingToken);
    };
    let value = header.to_str().map_err(|_| {
        AuthError::InvalidRequest("the Authorization header is not valid ASCII".into())
    })?;
    parse_bearer(value)
}

/// Who a valid token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's `sub`.
    pub sub: String,
    /// From `scope` (space-separated) and Auth0's `permissions` array.
    pub scopes: HashSet<String>,
}

impl Principal {
    /// 403 unless the token grants `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), AuthError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope { scope })
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    iss: Option<Value>,
    #[serde(default)]
    scope: Option<Value>,
    #[serde(default)]
    permissions: Option<Value>,
}

/// Validates access tokens: RS256 only, key from the issuer's JWKS, `iss`, `aud`,
/// `exp`, `nbf` with leeway.
pub struct Authenticator {
    keys: JwksCache,
    validation: Validation,
    audience: String,
}

impl Authenticator {
    /// Builds the validator; no network access until the first token arrives.
    pub fn new(settings: &Settings, client: reqwest::Client) -> Authenticator {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = settings.leeway_secs;
        let source = match &settings.jwks_uri {
            Some(uri) => JwksSource::Fixed(uri.clone()),
            None => JwksSource::Discover {
                issuer: settings.issuer.clone(),
            },
        };
        Authenticator {
            keys: JwksCache::new(source, client, settings.jwks_min_refetch_interval),
            validation,
            audience: settings.audience.clone(),
        }
    }

    /// Checks a token and returns who it is for (no scope check).
    pub async fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        let invalid = |d: &str| AuthError::InvalidToken(d.to_string());
        let mut parts = token.split('.');
        let (Some(header_b64), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(
                "the access token is not a signed JWT (header.payload.signature)",
            ));
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(header_b64)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(Value::is_object)
            .ok_or_else(|| invalid("the access token's header is not valid base64url JSON"))?;
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => {}
            _ => return Err(invalid("the access token must be signed with RS256")),
        }
        if header.get("crit").is_some() {
            return Err(invalid(
                "the access token has critical header parameters this API does not support",
            ));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(invalid("the access token's kid is not a string")),
        };

        let key = self.keys.key_for(kid).await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| AuthError::InvalidToken(self.describe(e.kind())))?;

        let claims = data.claims;
        let mut scopes = HashSet::new();
        if let Some(Value::String(s)) = &claims.scope {
            scopes.extend(s.split(' ').filter(|s| !s.is_empty()).map(str::to_string));
        }
        if let Some(Value::Array(items)) = &claims.permissions {
            scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_string));
        }
        // `jsonwebtoken` also accepts an array `iss` containing the issuer; be exact.
        if !matches!(claims.iss, Some(Value::String(_))) {
            return Err(invalid(
                "the access token's issuer (iss) is not the expected issuer",
            ));
        }
        let sub = match claims.sub {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => return Err(invalid("the access token's sub is missing or not a string")),
        };
        Ok(Principal { sub, scopes })
    }

    fn describe(&self, kind: &ErrorKind) -> String {
        match kind {
            ErrorKind::InvalidSignature => "the access token's signature is invalid".into(),
            ErrorKind::ExpiredSignature => "the access token has expired (exp)".into(),
            ErrorKind::ImmatureSignature => "the access token is not valid yet (nbf)".into(),
            ErrorKind::InvalidIssuer => {
                "the access token's issuer (iss) is not the expected issuer".into()
            }
            ErrorKind::InvalidAudience => {
                format!(
                    "the access token's audience (aud) does not include {}",
                    self.audience
                )
            }
            ErrorKind::MissingRequiredClaim(c) => format!("the access token has no {c} claim"),
            ErrorKind::InvalidClaimFormat(c) => {
                format!("the access token's {c} claim is malformed")
            }
            ErrorKind::InvalidAlgorithm => "the access token must be signed with RS256".into(),
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => {
                "the access token is malformed or its claims have the wrong types".into()
            }
            other => {
                println!("token verification failed unexpectedly: {other:?}");
                "the access token could not be verified".into()
            }
        }
    }
}

enum JwksSource {
    Fixed(Url),
    Discover { issuer: String },
}

/// The parsed keys of one JWKS fetch.
struct KeySet {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    /// Every usable key, in document order (for tokens without a `kid`).
    all: Vec<Arc<DecodingKey>>,
}

impl KeySet {
    fn find(&self, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None if self.all.len() == 1 => self.all.first().cloned(),
            None => None,
        }
    }
}

#[derive(Default)]
struct FetchState {
    resolved_uri: Option<Url>,
    last_attempt: Option<Instant>,
    last_failed: bool,
}

/// Fetches the JWKS lazily, keeps `DecodingKey`s by `kid`, re-fetches on an
/// unknown `kid` at most once per `min_refetch`, and lets concurrent requests
/// share one fetch.
struct JwksCache {
    source: JwksSource,
    client: reqwest::Client,
    min_refetch: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

/// After a failed fetch with no keys at all, requests within this window get 503
/// without another attempt.
const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(1);
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

impl JwksCache {
    fn new(source: JwksSource, client: reqwest::Client, min_refetch: Duration) -> JwksCache {
        JwksCache {
            source,
            client,
            min_refetch,
            current: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn key_for(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.snapshot().and_then(|s| s.find(kid)) {
            return Ok(key);
        }
        // One fetch at a time; whoever waited re-checks what the fetch brought.
        let mut state = self.fetch.lock().await;
        let have_keys = match self.snapshot() {
            Some(set) => {
                if let Some(key) = set.find(kid) {
                    return Ok(key);
                }
                true
            }
            None => false,
        };
        let recently = |window: Duration| state.last_attempt.is_some_and(|t| t.elapsed() < window);
        if have_keys && recently(self.min_refetch) {
            return Err(unknown_key(kid));
        }
        if !have_keys && state.last_failed && recently(FAILED_FETCH_BACKOFF) {
            return Err(AuthError::KeysUnavailable);
        }

        state.last_attempt = Some(Instant::now());
        match self.fetch_keys(&mut state).await {
            Ok(set) => {
                state.last_failed = false;
                let set = Arc::new(set);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(set.clone());
                set.find(kid).ok_or_else(|| unknown_key(kid))
            }
            Err(message) => {
                state.last_failed = true;
                println!("JWKS unavailable: {message}");
                Err(AuthError::KeysUnavailable)
            }
        }
    }

    async fn fetch_keys(&self, state: &mut FetchState) -> Result<KeySet, String> {
        let uri = match (&self.source, &state.resolved_uri) {
            (JwksSource::Fixed(uri), _) => uri.clone(),
            (JwksSource::Discover { .. }, Some(uri)) => uri.clone(),
            (JwksSource::Discover { issuer }, None) => {
                let uri = self.discover(issuer).await?;
                state.resolved_uri = Some(uri.clone());
                uri
            }
        };
        let doc = self
            .get_json(&uri)
            .await?
            .ok_or_else(|| format!("{uri} was not found"))?;
        let set = parse_jwks(&doc).map_err(|e| format!("{uri}: {e}"))?;
        println!(
            "JWKS fetched from {uri}: {} usable RS256 key(s)",
            set.all.len()
        );
        Ok(set)
    }

    /// `jwks_uri` from `<issuer>.well-known/openid-configuration`; if the issuer has no
    /// discovery document, Auth0's fixed `<issuer>.well-known/jwks.json`.
    async fn discover(&self, issuer: &str) -> Result<Url, String> {
        let base = Url::parse(issuer).map_err(|e| format!("issuer {issuer}: {e}"))?;
        let discovery = base
            .join(".well-known/openid-configuration")
            .map_err(|e| format!("issuer {issuer}: {e}"))?;
        let fallback = base
            .join(".well-known/jwks.json")
            .map_err(|e| format!("issuer {issuer}: {e}"))?;
        let Some(doc) = self.get_json(&discovery).await? else {
            return Ok(fallback);
        };
        if doc
            .get("issuer")
            .and_then(Value::as_str)
            .is_some_and(|i| i != issuer)
        {
            println!("warning: {discovery} names a different issuer than the configured {issuer}");
        }
        match doc.get("jwks_uri").and_then(Value::as_str) {
            Some(uri) => match Url::parse(uri) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
                _ => Err(format!("{discovery} has an invalid jwks_uri")),
            },
            None => Ok(fallback),
        }
    }

    /// GETs a JSON document; `Ok(None)` on 404.
    async fn get_json(&self, url: &Url) -> Result<Option<Value>, String> {
        let response = self
            .client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("GET {url}: document too large"));
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| format!("GET {url}: not JSON ({e})"))
    }
}

fn unknown_key(kid: Option<&str>) -> AuthError {
    AuthError::InvalidToken(match kid {
        Some(_) => "the access token's signing key (kid) is not in the issuer's JWKS".into(),
        None => {
            "the access token has no kid and the issuer's JWKS does not have exactly one key".into()
        }
    })
}

/// Keeps the RSA signing keys of a JWKS (`kty` RSA, `use` absent or `sig`, `alg`
/// absent or RS256) as ready-built `DecodingKey`s.
fn parse_jwks(doc: &Value) -> Result<KeySet, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWKS (no \"keys\" array)")?;
    let mut set = KeySet {
        by_kid: HashMap::new(),
        all: Vec::new(),
    };
    for jwk in keys {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("kty") != Some("RSA")
            || !matches!(field("use"), None | Some("sig"))
            || !matches!(field("alg"), None | Some("RS256"))
        {
            continue;
        }
        let (Some(n), Some(e)) = (field("n"), field("e")) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_rsa_components(n, e) else {
            println!("JWKS: skipping an RSA key with invalid n/e");
            continue;
        };
        let key = Arc::new(key);
        if let Some(kid) = field("kid") {
            set.by_kid
                .entry(kid.to_string())
                .or_insert_with(|| key.clone());
        }
        set.all.push(key);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(parse_bearer("Bearer abc.DEF-_~+/=="), Ok("abc.DEF-_~+/=="));
        assert_eq!(parse_bearer("bearer abc"), Ok("abc"));
        assert_eq!(parse_bearer("BEARER   abc"), Ok("abc"));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer a\"b",
            "Bearer ==",
            "Bearer a=b",
            "Token abc",
            "Bearerabc",
            "",
        ] {
            match parse_bearer(bad) {
                Err(AuthError::InvalidRequest(_)) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn token_sources() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/api/appointments".parse().unwrap();
        assert_eq!(
            extract_token(&headers, &uri, None),
            Err(AuthError::MissingToken)
        );

        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(extract_token(&headers, &uri, None), Ok("abc"));

        let with_query: Uri = "/api/appointments?x=1&access_token=abc".parse().unwrap();
        assert!(matches!(
            extract_token(&headers, &with_query, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one way")
        ));
        assert!(matches!(
            extract_token(&headers, &uri, Some(b"access_token=abc")),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one way")
        ));
        assert!(matches!(
            extract_token(&HeaderMap::new(), &with_query, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("URL")
        ));

        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer def"));
        assert!(matches!(
            extract_token(&headers, &uri, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one Authorization")
        ));
    }

    #[test]
    fn challenges() {
        assert_eq!(
            AuthError::MissingToken.challenge().unwrap(),
            "Bearer realm=\"appointments\""
        );
        assert_eq!(
            AuthError::InvalidToken("bad \"x\"".into())
                .challenge()
                .unwrap(),
            "Bearer realm=\"appointments\", error=\"invalid_token\", error_description=\"bad 'x'\""
        );
        assert_eq!(
            AuthError::InsufficientScope { scope: READ_SCOPE }
                .challenge()
                .unwrap(),
            "Bearer realm=\"appointments\", error=\"insufficient_scope\", \
             scope=\"read:appointments\", error_description=\"the access token does not grant \
             the read:appointments scope\""
        );
        assert_eq!(AuthError::KeysUnavailable.challenge(), None);
    }
}
