//! Splitting and decoding a compact JWS. Decoding is not verifying: callers check the
//! signature and the claims before trusting anything here.

use super::base64url;
use crate::json::{Object, Value};

/// Tokens larger than this are refused before any decoding work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedJwt {
    pub header: Header,
    /// The payload: a JSON object, for the caller to read the claims it needs from.
    pub claims: Value,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

pub fn decode(token: &str) -> Result<DecodedJwt, &'static str> {
    if token.len() > MAX_TOKEN_LEN {
        return Err("it is too large");
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("it does not have three dot-separated parts");
    };
    let header_bytes = base64url::decode(header_b64).ok_or("its header is not base64url")?;
    let payload_bytes = base64url::decode(payload_b64).ok_or("its payload is not base64url")?;
    let signature = base64url::decode(signature_b64).ok_or("its signature is not base64url")?;
    let header = read_header(&header_bytes).ok_or("its header is not a JSON object with `alg`")?;
    let claims = crate::json::from_slice::<Value>(&payload_bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or("its claims are not the expected JSON object")?;
    Ok(DecodedJwt {
        header,
        claims,
        signing_input: format!("{header_b64}.{payload_b64}"),
        signature,
    })
}

fn read_header(bytes: &[u8]) -> Option<Header> {
    let value = crate::json::from_slice::<Value>(bytes).ok()?;
    let fields = Object::of(&value)?;
    Some(Header {
        alg: fields.required_string("alg").ok()?,
        kid: fields.string("kid").ok()?,
        typ: fields.string("typ").ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.{}",
            base64url::encode(header.as_bytes()),
            base64url::encode(payload.as_bytes()),
            base64url::encode(b"sig")
        )
    }

    #[test]
    fn decodes_header_claims_and_signing_input() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"sub":"a"}"#);
        let jwt = decode(&t).expect("decodes");
        assert_eq!(jwt.header.alg, "RS256");
        assert_eq!(jwt.header.kid.as_deref(), Some("k1"));
        assert_eq!(jwt.claims["sub"], "a");
        assert_eq!(jwt.signature, b"sig");
        assert_eq!(
            jwt.signing_input,
            t.rsplit_once('.').map(|(s, _)| s).unwrap_or_default()
        );
    }

    #[test]
    fn rejects_hostile_shapes_without_panicking() {
        let cases = [
            String::new(),
            ".".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            "!!!.e30.c2ln".into(),
            token("not json", "{}"),
            token(r#"{"kid":"no alg"}"#, "{}"),
            token(r#"{"alg":"RS256"}"#, "[1,2]"),
            token(r#"{"alg":"RS256","kid":3}"#, "{}"),
            token(r#"{"alg":256}"#, "{}"),
            token(r#"{"alg":"RS256"}"#, "null"),
            "é.é.é".into(),
            "a".repeat(MAX_TOKEN_LEN + 1),
        ];
        for case in cases {
            assert!(decode(&case).is_err(), "{case:.40}");
        }
    }
}
