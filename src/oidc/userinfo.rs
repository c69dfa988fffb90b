//! The UserInfo answer (OpenID Connect Core 1.0 §5.3): who the access token belongs to,
//! accepted only when it is about the user the ID token names (§5.3.2).

use crate::json::{self, Map, Value};

/// The claims of a `/userinfo` answer this app shows; any other claim is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub sub: String,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    /// Only an http(s) URL; anything else (`javascript:`, `data:`) is dropped.
    pub picture: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInfoError {
    /// The tenant advertises no `userinfo_endpoint`.
    NoEndpoint,
    /// No answer: the endpoint is down, unreachable, or refused by CORS.
    Unreachable { url: String },
    /// 401: the access token was not accepted; with the tenant's reason when it gave one.
    Unauthorized { description: Option<String> },
    /// Any other status than 200 and 401.
    Unexpected { status: u16 },
    /// A 200 whose body is not a JSON object.
    NotJson,
    /// A JSON object without a non-empty string `sub`.
    SubjectMissing,
    /// The answer is about another user than the ID token's: its values must not be used.
    SubjectMismatch,
}

impl UserInfoError {
    /// A stable, technical code, shown under the explanation.
    pub fn code(&self) -> String {
        match self {
            Self::NoEndpoint => "userinfo_no_endpoint".into(),
            Self::Unreachable { .. } => "userinfo_unreachable".into(),
            Self::Unauthorized { .. } => "userinfo_401_invalid_token".into(),
            Self::Unexpected { status } => format!("userinfo_http_{status}"),
            Self::NotJson => "userinfo_not_json".into(),
            Self::SubjectMissing => "userinfo_sub_missing".into(),
            Self::SubjectMismatch => "userinfo_sub_mismatch".into(),
        }
    }
}

/// Maps the endpoint's answer to the user's claims or to the error to show.
/// `id_token_sub` is `None` when the session has no ID token (`response_type=token`):
/// there is then nothing to compare the answer with.
pub fn interpret(
    status: u16,
    www_authenticate: Option<&str>,
    body: &str,
    id_token_sub: Option<&str>,
) -> Result<UserInfo, UserInfoError> {
    match status {
        200 => {
            let info = parse(body)?;
            match id_token_sub {
                Some(expected) if expected != info.sub => Err(UserInfoError::SubjectMismatch),
                _ => Ok(info),
            }
        }
        401 => Err(UserInfoError::Unauthorized {
            description: error_description(body)
                .or_else(|| www_authenticate.map(str::to_string))
                .filter(|d| !d.trim().is_empty()),
        }),
        status => Err(UserInfoError::Unexpected { status }),
    }
}

/// Reads a UserInfo JSON object. Claims of an unexpected type are left out rather than
/// failing the whole answer, except `sub`, without which the answer says nothing.
pub fn parse(body: &str) -> Result<UserInfo, UserInfoError> {
    let Ok(Value::Object(claims)) = json::from_str::<Value>(body) else {
        return Err(UserInfoError::NotJson);
    };
    let sub = string(&claims, "sub")
        .filter(|sub| !sub.is_empty())
        .ok_or(UserInfoError::SubjectMissing)?;
    Ok(UserInfo {
        sub,
        name: string(&claims, "name"),
        nickname: string(&claims, "nickname"),
        email: string(&claims, "email"),
        email_verified: claims.get("email_verified").and_then(Value::as_bool),
        picture: string(&claims, "picture").filter(|p| is_web_url(p)),
    })
}

/// Whether `text` is an absolute http(s) URL, the only pictures the app shows.
pub fn is_web_url(text: &str) -> bool {
    crate::weburl::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
}

fn string(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::to_string)
}

/// The `error_description` of an RFC 6750 JSON error body, if the body is one.
fn error_description(body: &str) -> Option<String> {
    let value: Value = json::from_str(body).ok()?;
    value.get("error_description")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = r#"{"sub":"auth0|alice","name":"Alice Liddell","nickname":"alice","email":"alice@example.com","email_verified":true,"picture":"https://tenant.example/a.svg","updated_at":"2030-01-01T00:00:00Z","https://app.example/roles":["admin"]}"#;

    #[test]
    fn reads_the_claims_and_ignores_the_rest() {
        let info = interpret(200, None, ALICE, Some("auth0|alice")).expect("valid");
        assert_eq!(
            info,
            UserInfo {
                sub: "auth0|alice".into(),
                name: Some("Alice Liddell".into()),
                nickname: Some("alice".into()),
                email: Some("alice@example.com".into()),
                email_verified: Some(true),
                picture: Some("https://tenant.example/a.svg".into()),
            }
        );
    }

    #[test]
    fn only_sub_is_required() {
        let info = parse(r#"{"sub":"u1"}"#).expect("valid");
        assert_eq!(info.sub, "u1");
        assert_eq!(
            (info.name, info.email, info.email_verified),
            (None, None, None)
        );
    }

    #[test]
    fn an_answer_about_another_user_is_rejected() {
        assert_eq!(
            interpret(200, None, ALICE, Some("auth0|bob")),
            Err(UserInfoError::SubjectMismatch)
        );
        // Exact comparison: no case folding, no trimming.
        assert_eq!(
            interpret(200, None, ALICE, Some("AUTH0|alice")),
            Err(UserInfoError::SubjectMismatch)
        );
        assert_eq!(
            interpret(200, None, ALICE, Some("auth0|alice ")),
            Err(UserInfoError::SubjectMismatch)
        );
    }

    #[test]
    fn without_an_id_token_there_is_nothing_to_compare() {
        assert_eq!(
            interpret(200, None, ALICE, None).map(|i| i.sub),
            Ok("auth0|alice".into())
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_not_json() {
        for body in [
            "",
            "<html>Unauthorized</html>",
            "[]",
            "\"sub\"",
            "null",
            "{\"sub\":",
        ] {
            assert_eq!(
                interpret(200, None, body, Some("u1")),
                Err(UserInfoError::NotJson),
                "{body}"
            );
        }
    }

    #[test]
    fn sub_must_be_a_non_empty_string() {
        for body in [r#"{}"#, r#"{"sub":""}"#, r#"{"sub":42}"#, r#"{"sub":null}"#] {
            assert_eq!(
                interpret(200, None, body, Some("u1")),
                Err(UserInfoError::SubjectMissing),
                "{body}"
            );
        }
        // Checked before the comparison: an empty `sub` is not "another user".
        assert_eq!(parse(r#"{"sub":""}"#), Err(UserInfoError::SubjectMissing));
    }

    #[test]
    fn claims_of_the_wrong_type_are_left_out() {
        let info =
            parse(r#"{"sub":"u1","name":7,"email":["a"],"email_verified":"true"}"#).expect("valid");
        assert_eq!(
            (info.name, info.email, info.email_verified),
            (None, None, None)
        );
    }

    #[test]
    fn unsafe_pictures_are_dropped() {
        for picture in [
            "javascript:alert(1)",
            "data:image/svg+xml,<svg/>",
            "//evil.example/a.png",
            "a.png",
        ] {
            let body = serde_json::json!({ "sub": "u1", "picture": picture }).to_string();
            assert_eq!(parse(&body).map(|i| i.picture), Ok(None), "{picture}");
        }
        let body = r#"{"sub":"u1","picture":"http://localhost:4000/avatars/a.svg"}"#;
        assert!(parse(body).is_ok_and(|i| i.picture.is_some()));
    }

    #[test]
    fn a_401_carries_the_tenants_reason() {
        assert_eq!(
            interpret(
                401,
                Some(r#"Bearer error="invalid_token""#),
                r#"{"error":"invalid_token","error_description":"The access token is unknown or expired"}"#,
                Some("u1")
            ),
            Err(UserInfoError::Unauthorized {
                description: Some("The access token is unknown or expired".into())
            })
        );
        assert_eq!(
            interpret(
                401,
                Some(r#"Bearer error="invalid_token""#),
                "Unauthorized",
                None
            ),
            Err(UserInfoError::Unauthorized {
                description: Some(r#"Bearer error="invalid_token""#.into())
            })
        );
        assert_eq!(
            interpret(401, None, "", None),
            Err(UserInfoError::Unauthorized { description: None })
        );
    }

    #[test]
    fn other_statuses_are_unexpected() {
        for status in [201, 204, 302, 400, 403, 404, 429, 500, 503] {
            let error = interpret(status, None, ALICE, Some("auth0|alice"));
            assert_eq!(error, Err(UserInfoError::Unexpected { status }));
        }
        assert_eq!(
            UserInfoError::Unexpected { status: 503 }.code(),
            "userinfo_http_503"
        );
    }
}
