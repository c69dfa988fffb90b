//! The tenant's signing keys (RFC 7517) and the choice of the key for a token.

use super::base64url;
use crate::json::{Object, Value};

/// An RSA public key usable for RS256, as JWK `n` and `e` (base64url, big-endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    pub kid: Option<String>,
    pub n: String,
    pub e: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<RsaPublicKey>,
}

impl KeySet {
    /// Reads a JWKS, keeping only keys that can verify RS256 signatures: RSA, for
    /// signatures, RS256 or unspecified, with a modulus of at least 2048 bits. Any other
    /// member of `keys`, or one with a field of the wrong type, is ignored (RFC 7517 §5).
    pub fn parse(document: &str) -> Option<KeySet> {
        let document = crate::json::from_str::<Value>(document).ok()?;
        let keys = document
            .get("keys")?
            .as_array()?
            .iter()
            .filter_map(rs256_key)
            .collect();
        Some(KeySet { keys })
    }

    /// The key for a token: by `kid`; without a `kid`, the only key if there is exactly one.
    pub fn select(&self, kid: Option<&str>) -> Option<&RsaPublicKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

/// A member of `keys` that can verify RS256, or `None`; a field of the wrong type makes
/// the key unusable.
fn rs256_key(jwk: &Value) -> Option<RsaPublicKey> {
    let jwk = Object::of(jwk)?;
    let optional = |name: &str| jwk.string(name).ok();
    let usable = jwk.required_string("kty").ok()? == "RSA"
        && optional("use")?.is_none_or(|u| u == "sig")
        && optional("alg")?.is_none_or(|a| a == "RS256");
    let (n, e) = (
        jwk.required_string("n").ok()?,
        jwk.required_string("e").ok()?,
    );
    let kid = optional("kid")?;
    let modulus = base64url::decode(&n)?;
    let significant = modulus.iter().skip_while(|b| **b == 0).count();
    (usable && significant >= 256 && base64url::decode(&e).is_some_and(|e| !e.is_empty()))
        .then_some(RsaPublicKey { kid, n, e })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> String {
        let mut modulus = vec![0xc3u8; 256];
        modulus[0] = 0xd1;
        base64url::encode(&modulus)
    }

    fn jwks(keys: &[String]) -> String {
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    fn rsa(kid: &str, extra: &str) -> String {
        format!(
            r#"{{"kty":"RSA","kid":"{kid}","n":"{}","e":"AQAB"{extra}}}"#,
            n()
        )
    }

    #[test]
    fn selects_by_kid() {
        let set = KeySet::parse(&jwks(&[
            rsa("a", ""),
            rsa("b", r#","use":"sig","alg":"RS256""#),
        ]))
        .expect("jwks");
        assert_eq!(
            set.select(Some("b")).and_then(|k| k.kid.as_deref()),
            Some("b")
        );
        assert_eq!(set.select(Some("c")), None);
        assert_eq!(set.select(None), None, "two keys and no kid: no guess");
    }

    #[test]
    fn without_kid_uses_the_only_key() {
        let set = KeySet::parse(&jwks(&[rsa("a", "")])).expect("jwks");
        assert_eq!(set.select(None).and_then(|k| k.kid.as_deref()), Some("a"));
    }

    #[test]
    fn ignores_keys_that_cannot_verify_rs256() {
        let set = KeySet::parse(&jwks(&[
            rsa("enc", r#","use":"enc""#),
            rsa("ps", r#","alg":"PS256""#),
            r#"{"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"}"#.into(),
            r#"{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}"#.into(),
            r#"{"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"}"#.into(),
            r#"{"kty":"RSA","kid":"no-n","e":"AQAB"}"#.into(),
            rsa("numeric-alg", r#","alg":256"#),
            format!(r#"{{"kty":"RSA","kid":7,"n":"{}","e":"AQAB"}}"#, n()),
            r#"{"kid":"no-kty"}"#.into(),
            "null".into(),
        ]))
        .expect("jwks");
        assert_eq!(set, KeySet::default());
        assert_eq!(KeySet::parse("{}"), None);
        assert_eq!(KeySet::parse(r#"{"keys":{}}"#), None);
        assert_eq!(KeySet::parse("<html>"), None);
    }
}
