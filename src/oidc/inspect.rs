//! Decoding a token for display in the token inspector. Nothing here verifies anything,
//! and nothing returned holds the token itself: only what its parts decode to.

use crate::json::{self, Value};

use super::base64url;
use super::jwt::{self, MAX_TOKEN_LEN};

/// The claims whose values are times, in the order they are listed.
pub const TIME_CLAIMS: [&str; 4] = ["iat", "nbf", "exp", "auth_time"];

#[derive(Debug, Clone, PartialEq)]
pub enum Inspection {
    Jwt(DecodedToken),
    Opaque(Opacity),
}

/// A JWT's JOSE header and claims set, both JSON objects.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    pub header: Value,
    pub claims: Value,
}

/// Why a token cannot be read by the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Opacity {
    /// No JWT structure at all: a reference only its issuer can resolve, such as Auth0's
    /// access tokens requested without an audience.
    Reference,
    /// A JWE (five parts): encrypted for its issuer; only the header is readable, when it
    /// decodes.
    Encrypted { header: Option<Value> },
    /// Three parts, as a JWT has, that do not decode: why, never what.
    Malformed(&'static str),
}

/// A time claim present as a finite number of seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeClaim {
    pub name: &'static str,
    pub seconds: f64,
}

impl TimeClaim {
    /// Milliseconds since the epoch, as browser clocks count.
    pub fn millis(&self) -> f64 {
        self.seconds * 1000.0
    }
}

pub fn inspect(token: &str) -> Inspection {
    if token.len() > MAX_TOKEN_LEN {
        return Inspection::Opaque(Opacity::Malformed("it is too large to decode"));
    }
    match token.split('.').count() {
        3 => decode_jws(token),
        5 => Inspection::Opaque(Opacity::Encrypted {
            header: token.split('.').next().and_then(json_object),
        }),
        _ => Inspection::Opaque(Opacity::Reference),
    }
}

fn decode_jws(token: &str) -> Inspection {
    let decoded = match jwt::decode(token) {
        Ok(decoded) => decoded,
        Err(reason) => return Inspection::Opaque(Opacity::Malformed(reason)),
    };
    // `jwt::Header` keeps only `alg`, `kid` and `typ`; the inspector shows every field.
    let header = decoded
        .signing_input
        .split('.')
        .next()
        .and_then(json_object);
    match header {
        Some(header) => Inspection::Jwt(DecodedToken {
            header,
            claims: decoded.claims,
        }),
        None => Inspection::Opaque(Opacity::Malformed("its header is not a JSON object")),
    }
}

fn json_object(part: &str) -> Option<Value> {
    let bytes = base64url::decode(part)?;
    match json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(Value::Object(map)),
        _ => None,
    }
}

impl Inspection {
    pub fn decoded(&self) -> Option<&DecodedToken> {
        match self {
            Inspection::Jwt(decoded) => Some(decoded),
            Inspection::Opaque(_) => None,
        }
    }
}

impl DecodedToken {
    pub fn header_json(&self) -> String {
        pretty(&self.header)
    }

    pub fn claims_json(&self) -> String {
        pretty(&self.claims)
    }

    /// The time claims that are finite numbers, in `TIME_CLAIMS` order. Any other value
    /// (a string, `1e999`) is left for the reader to see in the claims JSON.
    pub fn times(&self) -> Vec<TimeClaim> {
        let claims = self.claims.as_object();
        TIME_CLAIMS
            .iter()
            .filter_map(|&name| {
                let seconds = claims?.get(name)?.as_f64().filter(|s| s.is_finite())?;
                Some(TimeClaim { name, seconds })
            })
            .collect()
    }

    pub fn time(&self, name: &str) -> Option<TimeClaim> {
        self.times().into_iter().find(|t| t.name == name)
    }

    /// A string claim, e.g. `sub` or `alg` from the header.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name)?.as_str()
    }

    /// The thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`, RFC 9449 §6.1).
    pub fn bound_key(&self) -> Option<&str> {
        self.claims.get("cnf")?.get("jkt")?.as_str()
    }

    pub fn header_field(&self, name: &str) -> Option<&str> {
        self.header.get(name)?.as_str()
    }
}

/// Indented JSON, two spaces a level.
fn pretty(value: &Value) -> String {
    json::to_string_pretty(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(json: &str) -> String {
        base64url::encode(json.as_bytes())
    }

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.{}", part(header), part(claims), part("signature"))
    }

    const HEADER: &str = r#"{"alg":"RS256","typ":"JWT","kid":"k1","x5t":"thumb"}"#;
    const CLAIMS: &str = r#"{"iss":"https://t.example/","sub":"auth0|alice","aud":["api","https://t.example/userinfo"],"iat":1800000000,"exp":1800007200,"scope":"openid read:appointments","permissions":["read:appointments"]}"#;

    fn decoded(token: &str) -> DecodedToken {
        match inspect(token) {
            Inspection::Jwt(decoded) => decoded,
            other => panic!("not decoded: {other:?}"),
        }
    }

    #[test]
    fn decodes_every_header_field_and_claim() {
        let jwt = decoded(&token(HEADER, CLAIMS));
        assert_eq!(jwt.header_field("kid"), Some("k1"));
        assert_eq!(jwt.header_field("x5t"), Some("thumb"));
        assert_eq!(jwt.claim("sub"), Some("auth0|alice"));
        assert_eq!(jwt.claims["permissions"][0], "read:appointments");
        assert_eq!(jwt.bound_key(), None);
        let mut names: Vec<&str> = jwt
            .claims
            .as_object()
            .map(|claims| claims.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        assert_eq!(
            names,
            ["aud", "exp", "iat", "iss", "permissions", "scope", "sub"]
        );
    }

    #[test]
    fn pretty_prints_on_several_indented_lines() {
        let jwt = decoded(&token(HEADER, CLAIMS));
        let claims = jwt.claims_json();
        assert!(claims.starts_with("{\n  \""), "{claims}");
        assert!(claims.contains("\n  \"sub\": \"auth0|alice\""), "{claims}");
        let reparsed: Value = serde_json::from_str(&claims).expect("still JSON");
        assert_eq!(reparsed, jwt.claims);
        assert!(jwt.header_json().contains("\"alg\": \"RS256\""));
    }

    #[test]
    fn lists_time_claims_in_a_fixed_order() {
        let jwt = decoded(&token(
            HEADER,
            r#"{"exp":1800007200,"auth_time":1799999990.5,"iat":1800000000,"nbf":"soon","other":1}"#,
        ));
        assert_eq!(
            jwt.times(),
            [
                TimeClaim {
                    name: "iat",
                    seconds: 1_800_000_000.0
                },
                TimeClaim {
                    name: "exp",
                    seconds: 1_800_007_200.0
                },
                TimeClaim {
                    name: "auth_time",
                    seconds: 1_799_999_990.5
                },
            ]
        );
        assert_eq!(
            jwt.time("exp").map(|t| t.millis()),
            Some(1_800_007_200_000.0)
        );
        assert_eq!(jwt.time("nbf"), None);
    }

    #[test]
    fn tokens_without_jwt_structure_are_opaque_references() {
        for token in ["", "8f3kq0Zx_opaque", "a.b", "a.b.c.d", "a..b..c.d"] {
            assert_eq!(
                inspect(token),
                Inspection::Opaque(Opacity::Reference),
                "{token}"
            );
        }
    }

    #[test]
    fn five_parts_are_an_encrypted_token_with_a_readable_header() {
        // `dir` encryption: the encrypted key, the second part, is empty.
        let jwe = format!(
            "{}..iv.ciphertext.tag",
            part(r#"{"alg":"dir","enc":"A256GCM","iss":"https://t.example/"}"#)
        );
        let Inspection::Opaque(Opacity::Encrypted {
            header: Some(header),
        }) = inspect(&jwe)
        else {
            panic!("not recognised as a JWE: {:?}", inspect(&jwe));
        };
        assert_eq!(header["enc"], "A256GCM");
        assert_eq!(
            inspect("not-base64!.b.c.d.e"),
            Inspection::Opaque(Opacity::Encrypted { header: None })
        );
    }

    #[test]
    fn hostile_input_never_panics_and_is_never_echoed() {
        // Deeper than the JSON nesting limit, yet under MAX_TOKEN_LEN once encoded.
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        let cases = [
            ".".to_string(),
            "..".into(),
            "....".into(),
            "!!!.e30.c2ln".into(),
            "é.é.é".into(),
            "\u{0}.\u{0}.\u{0}".into(),
            token("not json", "{}"),
            token("[]", "{}"),
            token(r#"{"kid":"no alg"}"#, "{}"),
            token(HEADER, "[1,2]"),
            token(HEADER, "\"a string\""),
            token(HEADER, "null"),
            token(HEADER, &deep),
            token(HEADER, r#"{"exp":1e999}"#),
            token(HEADER, r#"{"exp":"#),
            format!("{}.{}.===", part(HEADER), part(CLAIMS)),
            "a".repeat(MAX_TOKEN_LEN + 1),
            format!("{}.{}.c", part(HEADER), "A".repeat(MAX_TOKEN_LEN)),
        ];
        for case in cases {
            let result = inspect(&case);
            assert!(
                matches!(result, Inspection::Opaque(_)),
                "{case:.60}: {result:?}"
            );
            if case.len() > 8 {
                assert!(!format!("{result:?}").contains(&case), "{case:.60}");
            }
        }
    }

    #[test]
    fn unsecured_tokens_are_shown_too() {
        // Display only: `alg: none` and an empty signature are for the verifier to refuse.
        let raw = format!("{}.{}.", part(r#"{"alg":"none"}"#), part(CLAIMS));
        assert_eq!(decoded(&raw).header_field("alg"), Some("none"));
    }

    #[test]
    fn time_claims_out_of_any_clock_range_are_still_listed() {
        // Formatting them (or saying they cannot be) is the page's job.
        let jwt = decoded(&token(HEADER, r#"{"exp":1e308,"iat":-1}"#));
        assert_eq!(jwt.times().len(), 2);
    }

    #[test]
    fn the_decoding_never_contains_the_token() {
        let raw = token(HEADER, CLAIMS);
        let jwt = decoded(&raw);
        for text in [jwt.header_json(), jwt.claims_json(), format!("{jwt:?}")] {
            assert!(!text.contains(&raw));
            for piece in raw.split('.') {
                assert!(!text.contains(piece), "{piece}");
            }
        }
    }
}
