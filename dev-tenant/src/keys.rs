//! The RS256 signing key and the JWKS that publishes it.

use std::fmt;
use std::path::Path;

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

    /// The JWKS document (`{"keys":[...]}`).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": self.kid,
                "n": self.n,
                "e": self.e,
            }]
        })
    }
}

/// Generates a 2048-bit RSA private key as a PKCS#8 PEM (useful for `--key` and tests).
pub fn generate_pem() -> Result<String, KeyError> {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| KeyError("RSA key generation failed".into()))?;
    let der: Pkcs8V1Der = kp
        .as_der()
        .map_err(|_| KeyError("RSA key export failed".into()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
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
}
