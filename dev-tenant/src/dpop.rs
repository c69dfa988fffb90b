//! The tenant's DPoP (RFC 9449) glue: finding the proof in a request, checking it with the
//! shared `dpop` crate at the tenant's clock, remembering `jti`s, and the server nonce.
//!
//! The checks themselves (`typ`, `alg`, the embedded key and the signature, `htm`, `htu`,
//! `iat`, `ath`, `nonce`) are the `dpop` crate's; this module only feeds it the request
//! as the tenant publishes its endpoints (`htu` is the issuer's URL of the endpoint, as in
//! discovery), and adds what needs state:
//!
//! - **One proof per request**: a request with more than one `DPoP` header, an empty one or
//!   one longer than [`MAX_PROOF`] bytes is refused (`invalid_dpop_proof`, §4.3).
//! - **Replay**: a proof's `jti` is remembered, per endpoint and key, for as long as the
//!   proof could be accepted ([`::dpop::Rules::jti_lifetime_secs`]); a second use is
//!   `invalid_dpop_proof` (§11.1). The set is bounded (the oldest entries go first).
//! - **Server nonces** (§8), only when [`crate::Settings::require_dpop_nonce`] is on: a
//!   nonce is the base64url HMAC-SHA256, under a key made at start, of the number of the
//!   current [`NONCE_PERIOD_SECS`] window of the tenant's clock. It changes with every
//!   window; the current and the previous window's nonces are accepted, so a client that
//!   just got one keeps it working for at least one whole window. A proof without an
//!   accepted nonce is `use_dpop_nonce`, and the answer carries the current one in
//!   `DPoP-Nonce`.
//!
//! Nothing here logs a proof or a token.

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;

pub use ::dpop::ALGS;

/// The request header that carries a proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The response header that carries the server nonce.
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// Longest `DPoP` header accepted (an ES256 proof is well under 1 KiB).
pub const MAX_PROOF: usize = 8192;
/// How long one server nonce is the current one, in seconds. The previous one is still
/// accepted for another such window.
pub const NONCE_PERIOD_SECS: u64 = 120;
/// Proof `jti`s remembered at most.
const MAX_JTIS: usize = 50_000;

/// `error` codes of RFC 9449.
pub const INVALID_DPOP_PROOF: &str = "invalid_dpop_proof";
pub const USE_DPOP_NONCE: &str = "use_dpop_nonce";

/// Why a request's proof was refused: an RFC 9449 error code and a description that
/// never quotes the proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProofRefused {
    /// [`INVALID_DPOP_PROOF`] or [`USE_DPOP_NONCE`].
    pub code: &'static str,
    pub description: String,
}

fn invalid(description: impl Into<String>) -> ProofRefused {
    ProofRefused {
        code: INVALID_DPOP_PROOF,
        description: description.into(),
    }
}

/// A proof that passed every check, replay included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proven {
    /// The RFC 7638 thumbprint of the proof's key: what `cnf.jkt` and `dpop_jkt` carry.
    pub jkt: String,
}

/// What the tenant keeps for DPoP.
pub(crate) struct Dpop {
    rules: ::dpop::Rules,
    jtis: ::dpop::ReplayCache,
    /// `Some` when nonces are required; its key is `None` only if no randomness could be
    /// had at start (every DPoP request is then refused rather than let through unchecked).
    nonces: Option<Option<hmac::Key>>,
}

impl Dpop {
    pub(crate) fn new(require_nonce: bool) -> Self {
        let nonces = require_nonce.then(|| {
            let mut secret = [0u8; 32];
            aws_lc_rs::rand::fill(&mut secret)
                .ok()
                .map(|()| hmac::Key::new(hmac::HMAC_SHA256, &secret))
        });
        Dpop {
            rules: ::dpop::Rules::default(),
            jtis: ::dpop::ReplayCache::new(MAX_JTIS),
            nonces,
        }
    }

    /// The nonce of window `window`, if nonces are required and can be made.
    fn nonce_of(&self, window: u64) -> Option<String> {
        let key = self.nonces.as_ref()?.as_ref()?;
        let tag = hmac::sign(key, &window.to_be_bytes());
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The nonce a client should use at `now` (seconds since the epoch, the tenant's
    /// clock); `None` when nonces are not required.
    pub(crate) fn current_nonce(&self, now: u64) -> Option<String> {
        self.nonce_of(now / NONCE_PERIOD_SECS)
    }

    /// Checks `proof` (the `DPoP` header's value) for a `method` request to `url` (the
    /// endpoint's URL as the issuer publishes it), carrying `access_token` when the
    /// request presents one (its hash must be the proof's `ath`), at `now` (the tenant's
    /// clock); then records its `jti`.
    pub(crate) fn verify(
        &self,
        proof: &str,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        now: u64,
    ) -> Result<Proven, ProofRefused> {
        let window = now / NONCE_PERIOD_SECS;
        let (current, previous) = match &self.nonces {
            None => (None, None),
            Some(_) => {
                let (Some(current), Some(previous)) =
                    (self.nonce_of(window), self.nonce_of(window.wrapping_sub(1)))
                else {
                    return Err(invalid("The tenant cannot make DPoP nonces right now"));
                };
                (Some(current), Some(previous))
            }
        };
        let request = |nonce| ::dpop::Request {
            method,
            url,
            access_token,
            nonce,
            now,
        };
        let mut checked = ::dpop::check(proof, &request(current.as_deref()), &self.rules);
        if matches!(checked, Err(::dpop::ProofError::Nonce)) {
            // Everything but the nonce held: the previous window's nonce is still good.
            checked = ::dpop::check(proof, &request(previous.as_deref()), &self.rules);
        }
        let checked = checked.map_err(|e| ProofRefused {
            code: e.code(),
            description: match e {
                ::dpop::ProofError::Nonce => {
                    "The authorization server requires a nonce in the DPoP proof: retry with \
                     the DPoP-Nonce of this answer"
                        .to_string()
                }
                other => capitalized(&other.to_string()),
            },
        })?;
        // Scoped to the endpoint and the key: RFC 9449 §11.1 keeps jtis "in the context of
        // the target URI".
        let scoped = format!("{url} {} {}", checked.jkt, checked.jti);
        let expires_at = checked.iat.max(now) + self.rules.jti_lifetime_secs();
        if !self.jtis.first_use(&scoped, now, expires_at) {
            return Err(invalid(
                "The DPoP proof has been used before (its jti was seen): make a new proof for \
                 each request",
            ));
        }
        Ok(Proven { jkt: checked.jkt })
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The request's one proof: `None` without a `DPoP` header; refused when there is more
/// than one, or it is empty, too long or not visible ASCII.
pub(crate) fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, ProofRefused> {
    let mut all = headers.get_all(DPOP).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(invalid("A request may carry only one DPoP header"));
    }
    if first.len() > MAX_PROOF {
        return Err(invalid(format!(
            "The DPoP header is too long (at most {MAX_PROOF} bytes)"
        )));
    }
    match first.to_str().map(str::trim) {
        Ok("") => Err(invalid("The DPoP header is empty")),
        Ok(proof) => Ok(Some(proof)),
        Err(_) => Err(invalid("The DPoP header is not a JWS in compact form")),
    }
}

/// Whether `value` looks like a `dpop_jkt`: a SHA-256 JWK thumbprint, 43 base64url
/// characters.
pub(crate) fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `ALGS` as the JSON array discovery's `dpop_signing_alg_values_supported` lists.
pub(crate) fn algs() -> Vec<&'static str> {
    ALGS.split(' ').collect()
}

/// Sets `DPoP-Nonce: <nonce>` (and `Cache-Control: no-store`, RFC 9449 §8.2) on `headers`.
pub(crate) fn set_nonce(headers: &mut HeaderMap, nonce: &str) {
    if let Ok(value) = HeaderValue::from_str(nonce) {
        headers.insert(DPOP_NONCE, value);
        headers.insert(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://localhost:7002/oauth/token";

    #[test]
    fn nonces_rotate_and_the_previous_one_still_works() {
        let d = Dpop::new(true);
        let signer = ::dpop::Signer::generate();
        let now = 1_000_000 * NONCE_PERIOD_SECS + 5;
        let nonce = d.current_nonce(now).unwrap();
        assert_eq!(nonce.len(), 43);
        assert_eq!(d.current_nonce(now + 1), Some(nonce.clone()));
        let next = now + NONCE_PERIOD_SECS;
        assert_ne!(d.current_nonce(next).as_ref(), Some(&nonce));

        let without = signer.proof("POST", URL, now, None, None);
        let refused = d.verify(&without, "POST", URL, None, now).unwrap_err();
        assert_eq!(refused.code, USE_DPOP_NONCE);

        let with = signer.proof("POST", URL, now, None, Some(&nonce));
        assert_eq!(
            d.verify(&with, "POST", URL, None, now).unwrap().jkt,
            signer.jkt()
        );
        // Replayed: refused even though everything else holds.
        let replayed = d.verify(&with, "POST", URL, None, now).unwrap_err();
        assert_eq!(replayed.code, INVALID_DPOP_PROOF);

        // One window later the nonce is the previous one: still accepted; two: refused.
        let later = signer.proof("POST", URL, next, None, Some(&nonce));
        assert!(d.verify(&later, "POST", URL, None, next).is_ok());
        let much_later = now + 2 * NONCE_PERIOD_SECS;
        let stale = signer.proof("POST", URL, much_later, None, Some(&nonce));
        assert_eq!(
            d.verify(&stale, "POST", URL, None, much_later)
                .unwrap_err()
                .code,
            USE_DPOP_NONCE
        );
    }

    #[test]
    fn without_the_flag_no_nonce_is_made_or_needed() {
        let d = Dpop::new(false);
        assert_eq!(d.current_nonce(5), None);
        let signer = ::dpop::Signer::generate();
        let now = ::dpop::now();
        let proof = signer.proof("POST", URL, now, None, None);
        assert!(d.verify(&proof, "POST", URL, None, now).is_ok());
        // The same jti for another endpoint is another context.
        let other = "http://localhost:7002/userinfo";
        let proof = signer.proof("GET", other, now, Some("t"), None);
        assert!(d.verify(&proof, "GET", other, Some("t"), now).is_ok());
    }

    #[test]
    fn one_proof_header_only() {
        let mut h = HeaderMap::new();
        assert_eq!(proof_header(&h), Ok(None));
        h.append(DPOP, HeaderValue::from_static("a.b.c"));
        assert_eq!(proof_header(&h), Ok(Some("a.b.c")));
        h.append(DPOP, HeaderValue::from_static("d.e.f"));
        assert_eq!(proof_header(&h).unwrap_err().code, INVALID_DPOP_PROOF);
        let mut h = HeaderMap::new();
        h.insert(DPOP, HeaderValue::from_static(" "));
        assert!(proof_header(&h).is_err());
        let long = "a".repeat(MAX_PROOF + 1);
        h.insert(DPOP, HeaderValue::from_str(&long).unwrap());
        assert!(proof_header(&h).is_err());
    }

    #[test]
    fn thumbprints() {
        assert!(is_thumbprint(&::dpop::Signer::generate().jkt()));
        assert!(!is_thumbprint("short"));
        assert!(!is_thumbprint(&"+".repeat(43)));
        assert_eq!(algs(), ["ES256"]);
    }
}
