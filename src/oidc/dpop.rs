//! DPoP (RFC 9449) as a client: what a proof says and how it is put together, the key's
//! thumbprint input (RFC 7638), and how a server asks for a nonce. The key itself and the
//! signing are the browser's (WebCrypto); see `crate::auth::dpop`.

use serde::{Deserialize, Serialize};

use super::{base64url, challenge};

/// A P-256 public key as a JWK: the proof header's `jwk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl PublicJwk {
    pub fn p256(x: String, y: String) -> PublicJwk {
        PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x,
            y,
        }
    }

    /// What RFC 7638 hashes: the required members in lexicographic order, no whitespace.
    /// The thumbprint is the base64url SHA-256 of it.
    pub fn thumbprint_input(&self) -> String {
        format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        )
    }
}

#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    jwk: &'a PublicJwk,
}

/// The claims of one proof (§4.2).
#[derive(Debug, Serialize)]
pub struct ProofClaims<'a> {
    /// Unique per proof: the server refuses one it has seen.
    pub jti: &'a str,
    pub htm: &'a str,
    /// The target URL without query and fragment: see [`htu`].
    pub htu: &'a str,
    /// Seconds since the epoch.
    pub iat: u64,
    /// The access token's SHA-256, base64url, on resource requests: see [`ath`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ath: Option<&'a str>,
    /// The server's latest `DPoP-Nonce`, when it has given one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
}

/// `BASE64URL(header) . BASE64URL(claims)`: what the key signs.
pub fn signing_input(jwk: &PublicJwk, claims: &ProofClaims<'_>) -> String {
    let header = Header {
        typ: "dpop+jwt",
        alg: "ES256",
        jwk,
    };
    // Plain strings and numbers only: serialising them cannot fail.
    let header = crate::json::to_string(&header).unwrap_or_default();
    let claims = crate::json::to_string(claims).unwrap_or_default();
    format!(
        "{}.{}",
        base64url::encode(header.as_bytes()),
        base64url::encode(claims.as_bytes())
    )
}

/// The compact JWS: the signing input and ECDSA's raw `r || s` (what WebCrypto returns and
/// JWS's ES256 expects).
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", base64url::encode(signature))
}

/// `htu`: the request's URL without query and fragment (§4.2).
pub fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// `ath` from the access token's SHA-256.
pub fn ath(access_token_sha256: &[u8]) -> String {
    base64url::encode(access_token_sha256)
}

/// Whether an answer is a server asking for a nonce, to be answered by one retry with the
/// `DPoP-Nonce` it sent: the token endpoint says so in its JSON error (§8), a resource server
/// in its `DPoP` challenge (§9).
pub fn asks_for_nonce(status: u16, www_authenticate: Option<&str>, body: &str) -> bool {
    match status {
        400 => {
            crate::json::from_str::<crate::json::Value>(body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .as_deref()
                == Some("use_dpop_nonce")
        }
        401 => www_authenticate
            .and_then(|header| challenge::param(header, "DPoP", "error"))
            .is_some_and(|error| error == "use_dpop_nonce"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk() -> PublicJwk {
        PublicJwk::p256(
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
            "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into(),
        )
    }

    #[test]
    fn the_thumbprint_input_is_rfc_7638s_canonical_form() {
        assert_eq!(
            jwk().thumbprint_input(),
            r#"{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#
        );
    }

    #[test]
    fn a_proof_carries_the_key_and_the_claims() {
        let claims = ProofClaims {
            jti: "j1",
            htm: "GET",
            htu: htu("https://api.example/api/appointments?x=1#f"),
            iat: 1_800_000_000,
            ath: Some("abc"),
            nonce: None,
        };
        let input = signing_input(&jwk(), &claims);
        let (header, payload) = input.split_once('.').expect("two parts");
        let decode = |part: &str| {
            crate::json::from_slice::<crate::json::Value>(&base64url::decode(part).expect("b64"))
                .expect("json")
        };
        let header = decode(header);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert!(header["jwk"].get("d").is_none());
        let payload = decode(payload);
        assert_eq!(payload["htu"], "https://api.example/api/appointments");
        assert_eq!(payload["htm"], "GET");
        assert_eq!(payload["iat"], 1_800_000_000u64);
        assert_eq!(payload["ath"], "abc");
        assert!(payload.get("nonce").is_none());
        assert_eq!(compact(&input, &[1, 2]), format!("{input}.AQI"));
    }

    #[test]
    fn nonce_demands_are_recognised_and_nothing_else() {
        assert!(asks_for_nonce(400, None, r#"{"error":"use_dpop_nonce"}"#));
        assert!(asks_for_nonce(
            401,
            Some(r#"DPoP error="use_dpop_nonce", error_description="x""#),
            ""
        ));
        assert!(!asks_for_nonce(400, None, r#"{"error":"invalid_grant"}"#));
        assert!(!asks_for_nonce(400, None, "<html>"));
        assert!(!asks_for_nonce(
            401,
            Some(r#"Bearer error="use_dpop_nonce""#),
            ""
        ));
        assert!(!asks_for_nonce(
            401,
            Some(r#"DPoP error="invalid_token""#),
            ""
        ));
        assert!(!asks_for_nonce(401, None, ""));
        assert!(!asks_for_nonce(500, None, r#"{"error":"use_dpop_nonce"}"#));
    }
}
