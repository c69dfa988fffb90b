//! A DPoP key that makes proofs as a client does: for the servers' tests and the bench's load
//! client. (The SPA keeps its key in WebCrypto, non-extractable, and signs there.)

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::proof::{ath, thumbprint};

pub struct Signer {
    key: EcdsaKeyPair,
    x: String,
    y: String,
    counter: AtomicU64,
}

impl Signer {
    /// A fresh P-256 key pair.
    pub fn generate() -> Signer {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("P-256 key generation does not fail with the system's random source");
        let point = key.public_key().as_ref();
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
        Signer {
            key,
            x,
            y,
            counter: AtomicU64::new(0),
        }
    }

    /// The RFC 7638 thumbprint: what `dpop_jkt` and a bound token's `cnf.jkt` carry.
    pub fn jkt(&self) -> String {
        thumbprint(&self.x, &self.y)
    }

    /// The public key as the proof header's `jwk`.
    pub fn jwk(&self) -> Value {
        json!({ "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y })
    }

    /// A proof for `htm` `htu` now-ish (`iat`), with a fresh `jti`, `ath` when a token is
    /// given and `nonce` when the server asked for one.
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        iat: u64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut claims = json!({ "htm": htm, "htu": htu, "iat": iat, "jti": self.fresh_jti() });
        if let Some(token) = access_token {
            claims["ath"] = Value::from(ath(token));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = Value::from(nonce);
        }
        self.sign(
            &json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk() }),
            &claims,
        )
    }

    /// Signs any header and claims with this key: tests use it to build proofs that break
    /// one rule at a time.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ECDSA signing with a valid key does not fail");
        format!("{signing_input}.{}", B64.encode(signature.as_ref()))
    }

    fn fresh_jti(&self) -> String {
        let mut bytes = [0u8; 12];
        // A counter keeps jtis unique even if the random source were to repeat.
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let _ = SystemRandom::new().fill(&mut bytes);
        format!("{}-{n}", B64.encode(bytes))
    }
}
