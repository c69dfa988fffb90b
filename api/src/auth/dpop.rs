//! DPoP (RFC 9449) on resource requests: the request's one proof, the URL the client
//! addressed, the token's key binding (`cnf.jkt`) and the replay check. The proof's own
//! rules are the `dpop` crate's.

use std::sync::Arc;

use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::HeaderMap;
use dpop::CheckedProof;

use super::replay::JtiCache;
use super::AuthError;

/// The request header that carries the proof.
pub const DPOP: &str = "dpop";

/// Checks the proofs of DPoP requests for one API.
pub struct ProofChecker {
    rules: dpop::Rules,
    /// `--public-url`: the origin clients address, when a proxy stands in front.
    public_origin: Option<String>,
    used: Arc<dyn JtiCache>,
}

impl ProofChecker {
    pub fn new(public_origin: Option<String>, used: Arc<dyn JtiCache>) -> ProofChecker {
        ProofChecker {
            rules: dpop::Rules::default(),
            public_origin,
            used,
        }
    }

    /// The request's proof checked against the request and `token`: everything but the
    /// key binding and reuse.
    pub fn check(&self, request: &Parts, token: &str, now: u64) -> Result<CheckedProof, AuthError> {
        let proof = proof_header(&request.headers)?;
        let url = self.target_url(request)?;
        let addressed = dpop::Request {
            method: request.method.as_str(),
            url: &url,
            access_token: Some(token),
            nonce: None,
            now,
        };
        dpop::check(proof, &addressed, &self.rules)
            .map_err(|e| AuthError::InvalidDpopProof(e.to_string()))
    }

    /// Records the proof's use: a second use while it could still be accepted is a replay.
    pub async fn first_use(&self, proof: &CheckedProof, now: u64) -> Result<(), AuthError> {
        // dpop::check accepts a proof up to and including `iat + max_age_secs`.
        let expires_at = proof
            .iat
            .saturating_add(self.rules.max_age_secs)
            .saturating_add(1);
        match self
            .used
            .first_use(&proof.jkt, &proof.jti, now, expires_at)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::InvalidDpopProof(
                "the DPoP proof has been used before (its jti is replayed)".into(),
            )),
            // The cache logs its outages itself, once each: not once per request.
            Err(_) => Err(AuthError::ReplayCheckUnavailable),
        }
    }

    /// The URL the client addressed, as `htu` must name it: the public origin when one is
    /// configured, else `http://` and the request's authority; then the path as received.
    /// `Forwarded` and `X-Forwarded-*` are not trusted: anyone can send them.
    fn target_url(&self, request: &Parts) -> Result<String, AuthError> {
        let path = request.uri.path();
        if let Some(origin) = &self.public_origin {
            return Ok(format!("{origin}{path}"));
        }
        // An absolute-form request target (and HTTP/2's :authority) wins over Host
        // (RFC 9112 §3.2.2).
        let authority = match request.uri.authority() {
            Some(authority) => authority.clone(),
            None => host_header(&request.headers)?,
        };
        Ok(format!("http://{authority}{path}"))
    }
}

/// The token's key must be the proof's: an unbound token is not a DPoP token.
pub fn check_binding(token_jkt: Option<&str>, proof: &CheckedProof) -> Result<(), AuthError> {
    match token_jkt {
        None => Err(AuthError::InvalidToken(
            "the access token is not bound to a DPoP key (no cnf.jkt); send it as Bearer".into(),
        )),
        Some(jkt) if jkt != proof.jkt => Err(AuthError::InvalidToken(
            "the access token is bound to another key than the DPoP proof's (cnf.jkt)".into(),
        )),
        Some(_) => Ok(()),
    }
}

/// Exactly one `DPoP` header (RFC 9449 §4.3).
fn proof_header(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(DPOP).iter();
    match (values.next(), values.next()) {
        (None, _) => Err(AuthError::InvalidDpopProof(
            "a DPoP request needs a 'DPoP: <proof>' header".into(),
        )),
        (Some(_), Some(_)) => Err(AuthError::InvalidRequest(
            "the request has more than one DPoP header".into(),
        )),
        (Some(value), None) => value
            .to_str()
            .map_err(|_| AuthError::InvalidDpopProof("the DPoP header is not valid ASCII".into())),
    }
}

fn host_header(headers: &HeaderMap) -> Result<Authority, AuthError> {
    let no_host = || {
        AuthError::InvalidDpopProof(
            "the request has no valid Host, so no URL to check the proof's htu against".into(),
        )
    };
    let mut values = headers.get_all(HOST).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(no_host());
    };
    let authority: Authority = value
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(no_host)?;
    // A Host with user information would make the URL name another host.
    if authority.as_str().contains('@') {
        return Err(no_host());
    }
    Ok(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::replay::MemoryJtiCache;
    use axum::http::{HeaderValue, Request};

    fn parts(uri: &str, host: Option<&str>) -> Parts {
        let mut builder = Request::get(uri);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn checker(public_origin: Option<&str>) -> ProofChecker {
        ProofChecker::new(
            public_origin.map(str::to_string),
            Arc::new(MemoryJtiCache::new(8)),
        )
    }

    #[test]
    fn the_target_url_is_the_one_the_client_addressed() {
        let direct = checker(None);
        let url = |p: &Parts| direct.target_url(p);
        assert_eq!(
            url(&parts("/api/appointments?x=1", Some("127.0.0.1:7001"))),
            Ok("http://127.0.0.1:7001/api/appointments".into())
        );
        assert_eq!(
            url(&parts(
                "http://api.test:7001/api/appointments",
                Some("other.test")
            )),
            Ok("http://api.test:7001/api/appointments".into())
        );
        for bad in [None, Some("evil.test@api.test"), Some("a b"), Some("")] {
            assert!(
                matches!(
                    url(&parts("/api/appointments", bad)),
                    Err(AuthError::InvalidDpopProof(_))
                ),
                "{bad:?}"
            );
        }

        let proxied = checker(Some("https://api.example.com"));
        let mut request = parts("/api/appointments", Some("10.0.0.5:7001"));
        request.headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("evil.example.com"),
        );
        assert_eq!(
            proxied.target_url(&request),
            Ok("https://api.example.com/api/appointments".into())
        );
    }

    #[tokio::test]
    async fn a_proof_is_used_once() {
        let checker = checker(None);
        let proof = CheckedProof {
            jkt: "k".into(),
            jti: "j".into(),
            iat: 1000,
        };
        assert_eq!(checker.first_use(&proof, 1000).await, Ok(()));
        assert!(matches!(
            checker.first_use(&proof, 1300).await,
            Err(AuthError::InvalidDpopProof(_))
        ));
        // One second later dpop::check refuses the proof as stale; the entry may go.
        assert_eq!(checker.first_use(&proof, 1301).await, Ok(()));
    }
}
