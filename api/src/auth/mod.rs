//! Authenticating requests: the token as `Bearer` (RFC 6750) or bound to a key with DPoP
//! (RFC 9449), RS256 JWT validation against the issuer's JWKS, scope checks and the error
//! responses.
//!
//! - `error`: the error responses and their challenges;
//! - `header`: finding the token and its scheme in a request;
//! - `dpop`: the DPoP proof of a request, its URL, the key binding and the replay check;
//! - [`replay`]: the proofs already used, behind one interface;
//! - [`discovery`]: which issuer and which keys to trust;
//! - `jwks`: fetching and caching the keys.

pub mod discovery;
mod dpop;
mod error;
mod header;
mod jwks;
pub mod replay;

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::config::Settings;

pub use self::dpop::DPOP;
use self::dpop::{check_binding, ProofChecker};
pub use error::{AuthError, Rejection, Scheme};
pub use header::{extract_credentials, is_form_body, parse_authorization, Credentials};
use jwks::{JwksCache, JwksSource};
use replay::{JtiCache, MemoryJtiCache};

/// The realm in every `WWW-Authenticate` challenge.
pub const REALM: &str = "appointments";
/// Scope for `GET /api/appointments`.
pub const READ_SCOPE: &str = "read:appointments";
/// Scope for `POST /api/appointments`.
pub const CREATE_SCOPE: &str = "create:appointments";

/// What a valid access token says.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token's `sub`.
    pub sub: String,
    /// From `scope` (space-separated) and Auth0's `permissions` array.
    pub scopes: HashSet<String>,
    /// `cnf.jkt`: the thumbprint of the DPoP key the token is bound to.
    pub jkt: Option<String>,
}

/// Who an authenticated request speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's `sub`.
    pub sub: String,
    pub scopes: HashSet<String>,
    /// How the token came: errors from here on are answered in that scheme.
    pub scheme: Scheme,
}

impl Principal {
    /// 403 unless the token grants `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), Rejection> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope { scope }.in_scheme(self.scheme))
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
    #[serde(default)]
    cnf: Option<Value>,
}

/// Validates access tokens: RS256 only, key from the issuer's JWKS, `aud`, `exp`,
/// `nbf` with leeway, and `iss` equal to the issuer the keys were found for: the
/// discovered `issuer`, or the configured one when the keys come from a configured
/// JWKS URI or from Auth0's fixed path.
pub struct Authenticator {
    keys: JwksCache,
    validation: Validation,
    audience: String,
    proofs: ProofChecker,
}

impl Authenticator {
    /// Builds the validator, with the DPoP proofs used kept in this process's memory; no
    /// network access until the first token arrives.
    pub fn new(settings: &Settings, client: reqwest::Client) -> Authenticator {
        Authenticator::with_replay_cache(
            settings,
            client,
            Arc::new(MemoryJtiCache::new(replay::MEMORY_CAPACITY)),
        )
    }

    /// The same, with the DPoP proofs used kept in `used` (a store shared by several
    /// instances, say).
    pub fn with_replay_cache(
        settings: &Settings,
        client: reqwest::Client,
        used: Arc<dyn JtiCache>,
    ) -> Authenticator {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = settings.leeway_secs;
        let source = match &settings.jwks_uri {
            Some(uri) => JwksSource::Fixed {
                jwks_uri: uri.clone(),
                issuer: settings.issuer.clone(),
            },
            None => JwksSource::Discover {
                issuer: settings.issuer.clone(),
            },
        };
        Authenticator {
            keys: JwksCache::new(source, client, settings.jwks_min_refetch_interval),
            validation,
            audience: settings.audience.clone(),
            proofs: ProofChecker::new(settings.public_url.clone(), used),
        }
    }

    /// Authenticates a request by its `Authorization` header (and, for DPoP, its proof);
    /// no scope check. `form_body` is the body when it is form-encoded.
    pub async fn authenticate(
        &self,
        request: &Parts,
        form_body: Option<&[u8]>,
    ) -> Result<Principal, Rejection> {
        let credentials = extract_credentials(&request.headers, &request.uri, form_body)?;
        let scheme = credentials.scheme;
        let token = match scheme {
            Scheme::Bearer => self.bearer(credentials.token).await,
            Scheme::Dpop => self.dpop(request, credentials.token).await,
        }
        .map_err(|e| e.in_scheme(scheme))?;
        Ok(Principal {
            sub: token.sub,
            scopes: token.scopes,
            scheme,
        })
    }

    async fn bearer(&self, token: &str) -> Result<Token, AuthError> {
        let token = self.validate(token).await?;
        if token.jkt.is_some() {
            // RFC 9449 §7.2: otherwise a stolen bound token would work without its key.
            return Err(AuthError::InvalidToken(
                "the access token is bound to a DPoP key: send it as 'Authorization: DPoP \
                 <token>' with a proof"
                    .into(),
            ));
        }
        Ok(token)
    }

    async fn dpop(&self, request: &Parts, token: &str) -> Result<Token, AuthError> {
        let now = ::dpop::now();
        let proof = self.proofs.check(request, token, now)?;
        let token = self.validate(token).await?;
        check_binding(token.jkt.as_deref(), &proof)?;
        // Last, so that only proofs made with the key of a valid token take a place in the
        // bounded cache: a flood of proofs without one cannot push real ones out.
        self.proofs.first_use(&proof, now).await?;
        Ok(token)
    }

    /// Checks a token and returns what it says (no scope check, no proof).
    pub async fn validate(&self, token: &str) -> Result<Token, AuthError> {
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
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation)
            .map_err(|e| AuthError::InvalidToken(self.describe(e.kind())))?;

        let claims = data.claims;
        let mut scopes = HashSet::new();
        if let Some(Value::String(s)) = &claims.scope {
            scopes.extend(s.split(' ').filter(|s| !s.is_empty()).map(str::to_string));
        }
        if let Some(Value::Array(items)) = &claims.permissions {
            scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_string));
        }
        // Exactly the issuer the key belongs to: no normalisation, no array.
        if !matches!(&claims.iss, Some(Value::String(iss)) if iss.as_str() == &*key.issuer) {
            return Err(invalid(
                "the access token's issuer (iss) is not the expected issuer",
            ));
        }
        let sub = match claims.sub {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => return Err(invalid("the access token's sub is missing or not a string")),
        };
        let jkt = bound_key(claims.cnf)?;
        Ok(Token { sub, scopes, jkt })
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

/// `cnf.jkt`, the thumbprint of the DPoP key a token is bound to. A `cnf` without it binds
/// the token some other way (mTLS, say) that this API cannot check: honouring such a token
/// as bearer would undo its binding, so it is refused.
fn bound_key(cnf: Option<Value>) -> Result<Option<String>, AuthError> {
    let invalid = |d: &str| AuthError::InvalidToken(d.to_string());
    match cnf {
        None => Ok(None),
        Some(Value::Object(cnf)) => match cnf.get("jkt") {
            Some(Value::String(jkt)) if !jkt.is_empty() => Ok(Some(jkt.clone())),
            _ => Err(invalid(
                "the access token's cnf has no jkt: it is bound in a way this API cannot check",
            )),
        },
        Some(_) => Err(invalid("the access token's cnf claim is not an object")),
    }
}
