//! The tenant's signing keys (RFC 7517) and the choice of the key for a token.

use serde::Deserialize;

use super::base64url;

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

#[derive(Deserialize)]
struct Document {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

impl KeySet {
    /// Reads a JWKS, keeping only keys that can verify RS256 signatures: RSA, for
    /// signatures, RS256 or unspecified, with a modulus of at least 2048 bits.
    pub fn parse(document: &str) -> Option<KeySet> {
        let document: Document = crate::json::from_str(document).ok()?;
        let keys = document
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
            .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
            .filter_map(|k| {
                let (n, e) = (k.n?, k.e?);
                let modulus = base64url::decode(&n)?;
                let significant = modulus.iter().skip_while(|b| **b == 0).count();
                (significant >= 256 && base64url::decode(&e).is_some_and(|e| !e.is_empty()))
                    .then_some(RsaPublicKey { kid: k.kid, n, e })
            })
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
        ]))
        .expect("jwks");
        assert_eq!(set, KeySet::default());
        assert_eq!(KeySet::parse("{}"), None);
        assert_eq!(KeySet::parse("<html>"), None);
    }
}
