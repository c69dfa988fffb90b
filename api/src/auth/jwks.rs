//! The issuer's signing keys: fetched when first needed (through discovery unless a
//! JWKS URI is configured), kept as ready-built `DecodingKey`s by `kid`, re-fetched
//! for an unknown `kid` at most once per interval.
//!
//! One fetch at a time: requests that arrive while a fetch is under way wait for it
//! and take its outcome rather than starting their own, and the back-off intervals
//! run from the end of the last fetch. The fetch runs in its own task, so a request
//! that goes away does not abort it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde_json::Value;
use url::Url;

use super::discovery::{self, Discovered};
use super::AuthError;

/// After a failed fetch with no keys at all, requests within this window (from the
/// end of that fetch) get 503 without another attempt.
const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(1);
/// Largest discovery or JWKS document read.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Where the keys come from.
pub(super) enum JwksSource {
    /// A configured JWKS URI: tokens' `iss` must equal the configured issuer.
    Fixed { jwks_uri: Url, issuer: String },
    /// Discovery at the issuer; tokens' `iss` must equal the discovered issuer.
    Discover { issuer: String },
}

/// A key and the issuer whose tokens it verifies.
pub(super) struct VerifyingKey {
    pub(super) key: Arc<DecodingKey>,
    /// What `iss` must be, exactly.
    pub(super) issuer: Arc<str>,
}

/// The parsed keys of one JWKS fetch.
struct KeySet {
    issuer: Arc<str>,
    by_kid: HashMap<String, Arc<DecodingKey>>,
    /// Every usable key, in document order (for tokens without a `kid`).
    all: Vec<Arc<DecodingKey>>,
}

impl KeySet {
    fn find(&self, kid: Option<&str>) -> Option<VerifyingKey> {
        let key = match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None if self.all.len() == 1 => self.all.first().cloned(),
            None => None,
        }?;
        Some(VerifyingKey {
            key,
            issuer: self.issuer.clone(),
        })
    }
}

#[derive(Default)]
struct FetchState {
    /// The discovery outcome, kept once found (the keys may rotate, their location
    /// and issuer do not).
    discovered: Option<Discovered>,
    /// When the last fetch ended.
    finished: Option<Instant>,
    /// Whether it failed.
    failed: bool,
}

pub(super) struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: JwksSource,
    client: reqwest::Client,
    min_refetch: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Held for the whole of a fetch.
    fetch: Arc<tokio::sync::Mutex<FetchState>>,
    /// Fetches finished so far (written while `fetch` is held).
    completed: AtomicU64,
}

impl JwksCache {
    pub(super) fn new(
        source: JwksSource,
        client: reqwest::Client,
        min_refetch: Duration,
    ) -> JwksCache {
        JwksCache {
            inner: Arc::new(Inner {
                source,
                client,
                min_refetch,
                current: RwLock::new(None),
                fetch: Arc::new(tokio::sync::Mutex::new(FetchState::default())),
                completed: AtomicU64::new(0),
            }),
        }
    }

    /// The key for `kid` (a token without a `kid` needs a JWKS of exactly one key).
    pub(super) async fn key_for(&self, kid: Option<&str>) -> Result<VerifyingKey, AuthError> {
        let inner = &self.inner;
        // Read before looking at the keys: a fetch that ends after this is one we
        // waited for.
        let seen = inner.completed.load(Ordering::Acquire);
        if let Some(key) = inner.snapshot().and_then(|s| s.find(kid)) {
            return Ok(key);
        }
        let state = inner.fetch.clone().lock_owned().await;
        let current = inner.snapshot();
        if let Some(key) = current.as_ref().and_then(|s| s.find(kid)) {
            return Ok(key);
        }
        if inner.completed.load(Ordering::Acquire) != seen {
            // A fetch ended while this request waited: its outcome is this request's.
            return Err(if state.failed {
                AuthError::KeysUnavailable
            } else {
                unknown_key(kid)
            });
        }
        let recently = |window: Duration| state.finished.is_some_and(|t| t.elapsed() < window);
        match current {
            Some(_) if recently(inner.min_refetch) => return Err(unknown_key(kid)),
            None if state.failed && recently(FAILED_FETCH_BACKOFF) => {
                return Err(AuthError::KeysUnavailable)
            }
            _ => {}
        }

        // The task owns the lock until the fetch ends, whatever becomes of this request.
        let task = tokio::spawn(inner.clone().fetch_and_store(state));
        match task.await {
            Ok(true) => inner
                .snapshot()
                .and_then(|s| s.find(kid))
                .ok_or_else(|| unknown_key(kid)),
            Ok(false) => Err(AuthError::KeysUnavailable),
            Err(e) => {
                println!("JWKS fetch task ended abnormally: {e}");
                Err(AuthError::KeysUnavailable)
            }
        }
    }
}

impl Inner {
    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One fetch; logs its failure once. `true` if new keys are in place.
    async fn fetch_and_store(
        self: Arc<Self>,
        mut state: tokio::sync::OwnedMutexGuard<FetchState>,
    ) -> bool {
        let outcome = self.fetch_keys(&mut state).await;
        let ok = match outcome {
            Ok(set) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(set));
                true
            }
            Err(message) => {
                println!("JWKS unavailable: {message}");
                false
            }
        };
        state.failed = !ok;
        state.finished = Some(Instant::now());
        self.completed.fetch_add(1, Ordering::AcqRel);
        ok
    }

    async fn fetch_keys(&self, state: &mut FetchState) -> Result<KeySet, String> {
        let (uri, issuer) = match (&self.source, &state.discovered) {
            (JwksSource::Fixed { jwks_uri, issuer }, _) => {
                let issuer_url =
                    Url::parse(issuer).map_err(|e| format!("the issuer {issuer:?}: {e}"))?;
                discovery::check_jwks_scheme(&issuer_url, jwks_uri)?;
                (jwks_uri.clone(), issuer.clone())
            }
            (JwksSource::Discover { .. }, Some(found)) => {
                (found.jwks_uri.clone(), found.issuer.clone())
            }
            (JwksSource::Discover { issuer }, None) => {
                let found = self.discover(issuer).await?;
                state.discovered = Some(found.clone());
                (found.jwks_uri, found.issuer)
            }
        };
        let doc = self
            .get_json(&uri)
            .await?
            .ok_or_else(|| format!("{uri} was not found"))?;
        let set = parse_jwks(&doc, issuer.into()).map_err(|e| format!("{uri}: {e}"))?;
        println!(
            "JWKS fetched from {uri}: {} usable RS256 key(s)",
            set.all.len()
        );
        Ok(set)
    }

    /// From `<issuer>/.well-known/openid-configuration`; if the issuer has none (404),
    /// Auth0's fixed `<issuer>/.well-known/jwks.json` with the configured issuer.
    async fn discover(&self, issuer: &str) -> Result<Discovered, String> {
        let issuer_url = Url::parse(issuer).map_err(|e| format!("the issuer {issuer:?}: {e}"))?;
        let discovery_url = discovery::discovery_url(&issuer_url);
        match self.get_json(&discovery_url).await? {
            Some(doc) => discovery::check_discovery(&doc, issuer, &issuer_url, &discovery_url),
            None => Ok(Discovered {
                issuer: issuer.to_string(),
                jwks_uri: discovery::fallback_jwks_url(&issuer_url),
            }),
        }
    }

    /// GETs a JSON document; `Ok(None)` on 404.
    async fn get_json(&self, url: &Url) -> Result<Option<Value>, String> {
        let mut response = self
            .client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", describe(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let too_large = || format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes");
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {}", describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| format!("GET {url}: not JSON ({e})"))
    }
}

/// An error with its causes (reqwest's own message leaves out, e.g., why a redirect
/// was refused).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
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
fn parse_jwks(doc: &Value, issuer: Arc<str>) -> Result<KeySet, String> {
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("not a JWKS (no \"keys\" array)")?;
    let mut set = KeySet {
        issuer,
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
