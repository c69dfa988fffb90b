//! The RS256 signing key, the tenant's key ring and the JWKS that publishes it.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// Why a signing key could not be made or loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// An RSA private key used to sign tokens, with its public half as a JWK.
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    n: String,
    e: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit key.
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_pem(generate_pem()?.as_bytes())
    }

    /// Loads an RSA private key PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let encoding = EncodingKey::from_rsa_pem(pem)
            .map_err(|e| KeyError(format!("not an RSA private key PEM ({e})")))?;
        // Fails for public keys and malformed private keys.
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .map_err(|e| KeyError(format!("not a usable RSA private key ({e})")))?;
        let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            return Err(KeyError("not an RSA key".into()));
        };
        let modulus_bits = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&rsa.n)
            .map(|n| n.iter().skip_while(|b| **b == 0).count() * 8)
            .unwrap_or(0);
        if modulus_bits < 2048 {
            return Err(KeyError(format!(
                "the RSA key has about {modulus_bits} bits; at least 2048 are required"
            )));
        }
        let decoding = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
            .map_err(|e| KeyError(format!("cannot derive the public key ({e})")))?;
        Ok(SigningKey {
            encoding,
            decoding,
            kid: jwk.thumbprint(ThumbprintHash::SHA256),
            n: rsa.n.clone(),
            e: rsa.e.clone(),
        })
    }

    /// Reads [`SigningKey::from_pem`] from a file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path)
            .map_err(|e| KeyError(format!("{} cannot be read: {e}", path.display())))?;
        Self::from_pem(&pem).map_err(|e| KeyError(format!("{}: {e}", path.display())))
    }

    /// Key id: the RFC 7638 SHA-256 thumbprint of the public JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The base64url modulus, as published in the JWKS.
    pub fn modulus(&self) -> &str {
        &self.n
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWKS entry.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
        })
    }

    /// The JWKS document (`{"keys":[...]}`) with this key only.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk()] })
    }

    /// The public key as an X.509 SubjectPublicKeyInfo PEM: `-----BEGIN PUBLIC KEY-----`,
    /// base64 in lines of 64 characters, `-----END PUBLIC KEY-----` and a final newline
    /// (the form `openssl rsa -pubout` prints).
    pub fn public_key_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let n = b64.decode(&self.n).unwrap_or_default();
        let e = b64.decode(&self.e).unwrap_or_default();
        let rsa_public_key = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
        // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
        let algorithm = der(
            0x30,
            &[
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
            ],
        );
        let bits = der(0x03, &[&[0u8][..], &rsa_public_key].concat());
        let spki = der(0x30, &[algorithm, bits].concat());
        pem("PUBLIC KEY", &spki)
    }
}

/// A DER TLV.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(0x02, &content)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

struct Ring {
    /// Signs new tokens.
    current: SigningKey,
    /// In the JWKS, in the order they were published.
    published: Vec<SigningKey>,
    /// Rotated-in keys not yet in the JWKS, each with the number of JWKS requests that
    /// will still leave it out.
    pending: Vec<(SigningKey, u32)>,
}

/// The tenant's signing keys: the one that signs, and those the JWKS publishes.
///
/// A rotation ([`KeyRing::rotate`]) makes a new key the signing key at once but
/// publishes it only from the second JWKS request after the rotation onward, as a CDN
/// cache in front of a real tenant's JWKS would.
pub struct KeyRing(Mutex<Ring>);

impl KeyRing {
    pub fn new(key: SigningKey) -> Self {
        KeyRing(Mutex::new(Ring {
            current: key.clone(),
            published: vec![key],
            pending: Vec::new(),
        }))
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> SigningKey {
        crate::lock(&self.0).current.clone()
    }

    /// Generates a new signing key and makes it the current one; the JWKS leaves it out
    /// of its next answer and publishes it (after the keys it had) from then on.
    pub fn rotate(&self) -> Result<SigningKey, KeyError> {
        let key = SigningKey::generate()?;
        let mut ring = crate::lock(&self.0);
        ring.current = key.clone();
        ring.pending.push((key.clone(), 1));
        Ok(key)
    }

    /// The JWKS document for one request (counts the request for pending keys).
    pub fn jwks(&self) -> serde_json::Value {
        let mut ring = crate::lock(&self.0);
        let Ring {
            published, pending, ..
        } = &mut *ring;
        pending.retain_mut(|(key, hidden)| {
            if *hidden == 0 {
                published.push(key.clone());
                false
            } else {
                *hidden -= 1;
                true
            }
        });
        let keys: Vec<serde_json::Value> = published.iter().map(SigningKey::jwk).collect();
        serde_json::json!({ "keys": keys })
    }

    /// Every key of the tenant (published or not) with this `kid`, or all of them when
    /// the token has no `kid`: the keys to verify a token of this tenant with.
    pub fn verification_keys(&self, kid: Option<&str>) -> Vec<DecodingKey> {
        let ring = crate::lock(&self.0);
        ring.published
            .iter()
            .chain(ring.pending.iter().map(|(k, _)| k))
            .filter(|k| kid.is_none_or(|kid| k.kid == kid))
            .map(|k| k.decoding.clone())
            .collect()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = crate::lock(&self.0);
        f.debug_struct("KeyRing")
            .field("current", &ring.current.kid)
            .field("published", &ring.published.len())
            .field("pending", &ring.pending.len())
            .finish()
    }
}

/// Decodes a token of this tenant: RS256, signed by one of `keys`' keys.
pub fn decode_with<T: serde::de::DeserializeOwned>(
    keys: &KeyRing,
    token: &str,
    validation: &jsonwebtoken::Validation,
) -> Result<jsonwebtoken::TokenData<T>, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    let mut last =
        jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidSignature);
    for key in keys.verification_keys(header.kid.as_deref()) {
        match jsonwebtoken::decode::<T>(token, &key, validation) {
            Ok(data) => return Ok(data),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Generates a 2048-bit RSA private key as a PKCS#8 PEM (useful for `--key` and tests).
pub fn generate_pem() -> Result<String, KeyError> {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| KeyError("RSA key generation failed".into()))?;
    let der: Pkcs8V1Der = kp
        .as_der()
        .map_err(|_| KeyError("RSA key export failed".into()))?;
    Ok(pem("PRIVATE KEY", der.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip() {
        let pem = generate_pem().unwrap();
        let a = SigningKey::from_pem(pem.as_bytes()).unwrap();
        let b = SigningKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.jwks()["keys"][0]["e"], "AQAB");
        assert!(SigningKey::from_pem(b"garbage").is_err());
    }

    #[test]
    fn public_key_pem_verifies_tokens_of_the_key() {
        let key = SigningKey::generate().unwrap();
        let pem = key.public_key_pem();
        assert!(pem.starts_with(
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
        ));
        assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::RS256),
            &claims,
            key.encoding_key(),
        )
        .unwrap();
        let dk = DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let v = jsonwebtoken::Validation::new(Algorithm::RS256);
        jsonwebtoken::decode::<serde_json::Value>(&token, &dk, &v).unwrap();
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        assert_eq!(&der(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(&der(0x04, &[0; 300])[..4], [0x04, 0x82, 1, 44]);
        assert_eq!(der_uint(&[0x01, 0x00, 0x01]), [0x02, 3, 1, 0, 1]);
        assert_eq!(der_uint(&[0x00, 0x80]), [0x02, 2, 0, 0x80]);
    }

    #[test]
    fn rotation_is_published_on_the_second_jwks_request() {
        let first = SigningKey::generate().unwrap();
        let ring = KeyRing::new(first.clone());
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
        let second = ring.rotate().unwrap();
        assert_eq!(ring.current().kid(), second.kid());
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"][0]["kid"], first.kid());
        assert_eq!(jwks["keys"][1]["kid"], second.kid());
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(ring.verification_keys(Some(second.kid())).len(), 1);
        assert_eq!(ring.verification_keys(None).len(), 2);
        assert!(ring.verification_keys(Some("nope")).is_empty());
    }
}
