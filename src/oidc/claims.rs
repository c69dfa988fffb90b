//! The ID token's claim rules (OpenID Connect Core 1.0 §3.2.2.11 and §3.1.3.7).

use serde::{Deserialize, Serialize};

use super::userinfo::is_web_url;
use super::OidcError;
use crate::json::{Mistyped, Object, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, client_id: &str) -> bool {
        match self {
            Audience::One(aud) => aud == client_id,
            Audience::Many(auds) => auds.iter().any(|aud| aud == client_id),
        }
    }

    fn is_multiple(&self) -> bool {
        matches!(self, Audience::Many(auds) if auds.len() > 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenClaims {
    pub iss: String,
    pub aud: Audience,
    pub sub: Option<String>,
    pub azp: Option<String>,
    pub exp: Option<f64>,
    pub iat: Option<f64>,
    pub nbf: Option<f64>,
    pub nonce: Option<String>,
    pub at_hash: Option<String>,
    /// The tenant's session, for logout's `logout_hint`.
    pub sid: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

impl IdTokenClaims {
    /// The claims this app reads, from a JWT's decoded payload. `iss` and `aud` must be
    /// there; a claim of another type than the specifications give it (a numeric `sub`,
    /// a string `exp`) refuses the whole token rather than being skipped.
    pub fn read(claims: &Value) -> Result<IdTokenClaims, Mistyped> {
        let c = Object::of(claims).ok_or(Mistyped)?;
        let aud = match c.get("aud").ok_or(Mistyped)? {
            Value::String(one) => Audience::One(one.clone()),
            Value::Array(many) => Audience::Many(
                many.iter()
                    .map(|aud| aud.as_str().map(str::to_string).ok_or(Mistyped))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(Mistyped),
        };
        Ok(IdTokenClaims {
            iss: c.required_string("iss")?,
            aud,
            sub: c.string("sub")?,
            azp: c.string("azp")?,
            exp: c.number("exp")?,
            iat: c.number("iat")?,
            nbf: c.number("nbf")?,
            nonce: c.string("nonce")?,
            at_hash: c.string("at_hash")?,
            sid: c.string("sid")?,
            name: c.string("name")?,
            nickname: c.string("nickname")?,
            email: c.string("email")?,
            picture: c.string("picture")?,
        })
    }
}

/// Who signed in, from a validated ID token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Profile {
    /// Who vouches for `sub`: a user is `iss` and `sub` together.
    pub iss: String,
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

impl Profile {
    /// The name to greet the user with.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(&self.sub)
    }
}

/// What this sign-in expects of its ID token.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// This sign-in's nonce. `None` for a refresh: its ID token comes straight from the token
    /// endpoint, and carries no nonce at Auth0.
    pub nonce: Option<&'a str>,
    /// Seconds since the epoch.
    pub now: f64,
    /// Allowed clock skew, in seconds.
    pub leeway: f64,
}

pub fn validate(claims: &IdTokenClaims, expected: &Expected<'_>) -> Result<Profile, OidcError> {
    if claims.iss != expected.issuer {
        return Err(OidcError::IssuerMismatch {
            expected: expected.issuer.to_string(),
            found: claims.iss.clone(),
        });
    }
    if !claims.aud.contains(expected.client_id) {
        return Err(OidcError::AudienceMismatch);
    }
    if (claims.aud.is_multiple() || claims.azp.is_some())
        && claims.azp.as_deref() != Some(expected.client_id)
    {
        return Err(OidcError::AuthorizedPartyMismatch);
    }
    let sub = match claims.sub.as_deref() {
        Some(sub) if !sub.is_empty() => sub.to_string(),
        _ => return Err(OidcError::SubjectMissing),
    };
    let exp = claims
        .exp
        .filter(|e| e.is_finite())
        .ok_or(OidcError::Expired)?;
    if exp + expected.leeway <= expected.now {
        return Err(OidcError::Expired);
    }
    if !claims.iat.is_some_and(f64::is_finite) {
        return Err(OidcError::IssuedAtMissing);
    }
    if let Some(nbf) = claims.nbf {
        if !nbf.is_finite() || nbf - expected.leeway > expected.now {
            return Err(OidcError::NotYetValid);
        }
    }
    if let Some(nonce) = expected.nonce {
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(OidcError::NonceMismatch);
        }
    }
    Ok(Profile {
        iss: claims.iss.clone(),
        sub,
        name: claims.name.clone().or_else(|| claims.nickname.clone()),
        email: claims.email.clone(),
        picture: claims.picture.clone().filter(|p| is_web_url(p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_800_000_000.0;

    fn read(payload: &str) -> Result<IdTokenClaims, Mistyped> {
        IdTokenClaims::read(&crate::json::from_str::<Value>(payload).expect("JSON"))
    }

    #[test]
    fn reads_the_claims_of_an_id_token() {
        let claims = read(
            r#"{"iss":"https://t/","aud":"c","sub":"auth0|a","exp":1800003600,"iat":1.8e9,
                "nonce":"n","sid":"s","name":null,"email":"a@example.com","extra":{"x":[1]}}"#,
        )
        .expect("valid");
        assert_eq!(claims.iss, "https://t/");
        assert_eq!(claims.aud, Audience::One("c".into()));
        assert_eq!(claims.sub.as_deref(), Some("auth0|a"));
        assert_eq!(claims.exp, Some(1_800_003_600.0));
        assert_eq!(claims.iat, Some(1.8e9));
        assert_eq!(claims.nbf, None);
        assert_eq!(claims.name, None, "null is absent");
        assert_eq!(claims.sid.as_deref(), Some("s"));
        let many = read(r#"{"iss":"i","aud":["c","d"]}"#).expect("valid");
        assert_eq!(many.aud, Audience::Many(vec!["c".into(), "d".into()]));
    }

    #[test]
    fn a_claim_of_the_wrong_type_refuses_the_token() {
        for payload in [
            r#"{"aud":"c"}"#,
            r#"{"iss":"i"}"#,
            r#"{"iss":"i","aud":null}"#,
            r#"{"iss":"i","aud":5}"#,
            r#"{"iss":"i","aud":["c",5]}"#,
            r#"{"iss":7,"aud":"c"}"#,
            r#"{"iss":"i","aud":"c","sub":42}"#,
            r#"{"iss":"i","aud":"c","exp":"1800003600"}"#,
            r#"{"iss":"i","aud":"c","nonce":["n"]}"#,
            r#"{"iss":"i","aud":"c","picture":{}}"#,
            "[]",
        ] {
            assert_eq!(read(payload), Err(Mistyped), "{payload}");
        }
    }

    fn good() -> IdTokenClaims {
        IdTokenClaims {
            iss: "https://tenant.example/".into(),
            aud: Audience::One("client-1".into()),
            sub: Some("auth0|alice".into()),
            azp: None,
            exp: Some(NOW + 3600.0),
            iat: Some(NOW - 1.0),
            nbf: None,
            nonce: Some("n-1".into()),
            at_hash: None,
            sid: None,
            name: Some("Alice".into()),
            nickname: None,
            email: Some("alice@example.com".into()),
            picture: Some("https://tenant.example/a.svg".into()),
        }
    }

    fn check(claims: &IdTokenClaims) -> Result<Profile, OidcError> {
        validate(
            claims,
            &Expected {
                issuer: "https://tenant.example/",
                client_id: "client-1",
                nonce: Some("n-1"),
                now: NOW,
                leeway: 60.0,
            },
        )
    }

    #[test]
    fn accepts_a_good_token_and_returns_the_profile() {
        let profile = check(&good()).expect("valid");
        assert_eq!(profile.sub, "auth0|alice");
        assert_eq!(profile.display_name(), "Alice");
        assert_eq!(
            profile.picture.as_deref(),
            Some("https://tenant.example/a.svg")
        );
    }

    #[test]
    fn each_rule_rejects_its_violation() {
        type Mutation = fn(&mut IdTokenClaims);
        let cases: [(Mutation, OidcError); 12] = [
            (
                |c| c.iss = "https://tenant.example".into(),
                OidcError::IssuerMismatch {
                    expected: "https://tenant.example/".into(),
                    found: "https://tenant.example".into(),
                },
            ),
            (
                |c| c.aud = Audience::One("other".into()),
                OidcError::AudienceMismatch,
            ),
            (
                |c| c.aud = Audience::Many(vec!["other".into(), "client-1".into()]),
                OidcError::AuthorizedPartyMismatch,
            ),
            (
                |c| {
                    c.aud = Audience::Many(vec!["other".into(), "client-1".into()]);
                    c.azp = Some("other".into());
                },
                OidcError::AuthorizedPartyMismatch,
            ),
            (|c| c.sub = None, OidcError::SubjectMissing),
            (|c| c.sub = Some(String::new()), OidcError::SubjectMissing),
            (|c| c.exp = Some(NOW - 61.0), OidcError::Expired),
            (|c| c.exp = None, OidcError::Expired),
            (|c| c.iat = None, OidcError::IssuedAtMissing),
            (|c| c.nbf = Some(NOW + 61.0), OidcError::NotYetValid),
            (|c| c.nonce = Some("n-2".into()), OidcError::NonceMismatch),
            (|c| c.nonce = None, OidcError::NonceMismatch),
        ];
        for (mutate, expected) in cases {
            let mut claims = good();
            mutate(&mut claims);
            assert_eq!(check(&claims), Err(expected));
        }
    }

    #[test]
    fn leeway_tolerates_small_clock_skew() {
        let mut claims = good();
        claims.exp = Some(NOW - 59.0);
        claims.nbf = Some(NOW + 59.0);
        assert!(check(&claims).is_ok());
    }

    #[test]
    fn several_audiences_with_matching_azp_pass() {
        let mut claims = good();
        claims.aud = Audience::Many(vec!["client-1".into(), "other".into()]);
        claims.azp = Some("client-1".into());
        assert!(check(&claims).is_ok());
    }

    #[test]
    fn unsafe_picture_urls_are_dropped() {
        let mut claims = good();
        claims.picture = Some("javascript:alert(1)".into());
        assert_eq!(check(&claims).map(|p| p.picture), Ok(None));
    }
}
