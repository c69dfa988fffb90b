//! The authorization response the tenant puts in the callback URL: tokens in the fragment
//! for the implicit grant (OAuth 2.0 §4.2.2), a code in the query for the code flow
//! (§4.1.2), or an error in either (§4.1.2.1, §4.2.2.1). Hostile input gets an error, never a
//! panic.

use std::collections::HashMap;

use super::OidcError;

/// Larger fragments are refused before parsing.
pub const MAX_FRAGMENT_LEN: usize = 32 * 1024;
const MAX_VALUE_LEN: usize = 16 * 1024;
const KNOWN: [&str; 9] = [
    "code",
    "access_token",
    "id_token",
    "token_type",
    "expires_in",
    "scope",
    "state",
    "error",
    "error_description",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationResponse {
    /// The implicit grant's answer.
    Tokens(TokenSet),
    /// The code flow's answer, to exchange at the token endpoint.
    Code(AuthorizationCode),
    Error {
        code: String,
        description: Option<String>,
    },
}

/// An authorization code: one-time, but a secret until it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCode(pub String);

impl std::fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorizationCode(<redacted>)")
    }
}

/// What a grant gives: from the fragment (implicit) or from the token endpoint (code
/// exchange, refresh). Every one goes through the same checks (`session::establish`).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub id_token: Option<String>,
    pub expires_in: u64,
    /// The granted scopes, when the tenant says (it may omit them when they equal the request).
    pub scope: Option<String>,
    /// Only from the token endpoint, with `offline_access`.
    pub refresh_token: Option<String>,
}

// Tokens never reach a log, even through `{:?}`.
impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |token: &Option<String>| token.as_ref().map(|_| "<redacted>");
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field("id_token", &redacted(&self.id_token))
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &redacted(&self.refresh_token))
            .finish()
    }
}

/// `token_type` and `expires_in` as both the fragment and the token endpoint give them.
pub fn check_bearer(token_type: &str) -> Result<(), OidcError> {
    if token_type.eq_ignore_ascii_case("bearer") {
        Ok(())
    } else {
        Err(OidcError::UnsupportedTokenType(token_type.to_string()))
    }
}

/// An authorization response whose shape has been checked (size, duplicates, empty values)
/// but whose values have not been read yet. Its parameters are the sender's words: until
/// `state` has matched a sign-in this browser started, none of them may reach the screen.
pub struct UncheckedResponse {
    params: HashMap<&'static str, String>,
}

// Its values may be tokens: only the names are shown.
impl std::fmt::Debug for UncheckedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.params.keys()).finish()
    }
}

impl UncheckedResponse {
    pub fn state(&self) -> Option<&str> {
        self.params.get("state").map(String::as_str)
    }

    /// Reads the response. Call it only once `state` has matched: its errors may quote
    /// what the sender wrote.
    pub fn read(mut self) -> Result<AuthorizationResponse, OidcError> {
        let params = &mut self.params;
        if let Some(code) = params.remove("error") {
            return Ok(AuthorizationResponse::Error {
                code,
                description: params.remove("error_description"),
            });
        }
        if let Some(code) = params.remove("code") {
            if params.contains_key("access_token") || params.contains_key("id_token") {
                return Err(OidcError::MalformedResponse(
                    "it carries both a code and tokens".into(),
                ));
            }
            return Ok(AuthorizationResponse::Code(AuthorizationCode(code)));
        }
        let access_token = params
            .remove("access_token")
            .ok_or(OidcError::MissingParameter("access_token"))?;
        let token_type = params
            .remove("token_type")
            .ok_or(OidcError::MissingParameter("token_type"))?;
        check_bearer(&token_type)?;
        let expires_in = params
            .remove("expires_in")
            .ok_or(OidcError::MissingParameter("expires_in"))?;
        let expires_in = expires_in
            .parse::<u64>()
            .ok()
            .filter(|&seconds| seconds > 0 && expires_in.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(OidcError::InvalidExpiresIn)?;
        Ok(AuthorizationResponse::Tokens(TokenSet {
            access_token,
            id_token: params.remove("id_token"),
            expires_in,
            scope: params.remove("scope"),
            refresh_token: None,
        }))
    }
}

/// Parses a fragment or a query (with or without its leading `#` or `?`) as far as its shape:
/// the errors here name only parameters this app knows, never a value.
pub fn parse(fragment: &str) -> Result<UncheckedResponse, OidcError> {
    let fragment = fragment
        .strip_prefix('#')
        .or_else(|| fragment.strip_prefix('?'))
        .unwrap_or(fragment);
    if fragment.is_empty() {
        return Err(OidcError::MalformedResponse(
            "the address has no sign-in response after `#`".into(),
        ));
    }
    if fragment.len() > MAX_FRAGMENT_LEN {
        return Err(OidcError::MalformedResponse("it is too large".into()));
    }
    let mut params: HashMap<&'static str, String> = HashMap::new();
    for (name, value) in form_urlencoded::parse(fragment.as_bytes()) {
        let Some(known) = KNOWN.iter().find(|k| **k == name) else {
            continue;
        };
        if value.is_empty() {
            return Err(OidcError::MalformedResponse(format!("`{known}` is empty")));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(OidcError::MalformedResponse(format!(
                "`{known}` is too long"
            )));
        }
        if params.insert(known, value.into_owned()).is_some() {
            return Err(OidcError::MalformedResponse(format!(
                "`{known}` appears more than once"
            )));
        }
    }
    Ok(UncheckedResponse { params })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(fragment: &str) -> Result<AuthorizationResponse, OidcError> {
        super::parse(fragment).and_then(UncheckedResponse::read)
    }

    fn tokens(fragment: &str) -> TokenSet {
        match parse(fragment) {
            Ok(AuthorizationResponse::Tokens(t)) => t,
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_token_response_with_percent_and_plus_decoding() {
        let t = tokens("#access_token=at.x-y_z&id_token=a.b.c&token_type=Bearer&expires_in=7200&scope=openid+read%3Aappointments&state=s%2B1%20x&unknown=ignored");
        assert_eq!(t.access_token, "at.x-y_z");
        assert_eq!(t.id_token.as_deref(), Some("a.b.c"));
        assert_eq!(t.expires_in, 7200);
        assert_eq!(t.scope.as_deref(), Some("openid read:appointments"));
        assert_eq!(
            super::parse("#access_token=a&state=s%2B1%20x")
                .expect("well-formed")
                .state(),
            Some("s+1 x")
        );
    }

    #[test]
    fn token_type_is_case_insensitive() {
        assert_eq!(
            tokens("access_token=a&token_type=bEaReR&expires_in=1").expires_in,
            1
        );
    }

    #[test]
    fn parses_an_error_response() {
        assert_eq!(
            parse("#error=access_denied&error_description=User+cancelled%21&state=xyz"),
            Ok(AuthorizationResponse::Error {
                code: "access_denied".into(),
                description: Some("User cancelled!".into()),
            })
        );
    }

    #[test]
    fn hostile_fragments_are_errors_not_panics() {
        let long = format!(
            "access_token={}&token_type=Bearer&expires_in=1",
            "a".repeat(MAX_VALUE_LEN + 1)
        );
        let huge = "x".repeat(MAX_FRAGMENT_LEN + 1);
        let cases: Vec<(&str, &str)> = vec![
            ("", "malformed_response"),
            ("#", "malformed_response"),
            (
                "access_token=a&access_token=b&token_type=Bearer&expires_in=1",
                "malformed_response",
            ),
            (
                "access_token=&token_type=Bearer&expires_in=1",
                "malformed_response",
            ),
            ("state=a&state=a&error=x", "malformed_response"),
            (&long, "malformed_response"),
            (&huge, "malformed_response"),
            ("token_type=Bearer&expires_in=1", "missing_parameter"),
            ("access_token=a&expires_in=1", "missing_parameter"),
            ("access_token=a&token_type=Bearer", "missing_parameter"),
            (
                "access_token=a&token_type=mac&expires_in=1",
                "unsupported_token_type",
            ),
            (
                "access_token=a&token_type=Bearer&expires_in=0",
                "invalid_expires_in",
            ),
            (
                "access_token=a&token_type=Bearer&expires_in=-5",
                "invalid_expires_in",
            ),
            (
                "access_token=a&token_type=Bearer&expires_in=+5",
                "invalid_expires_in",
            ),
            (
                "access_token=a&token_type=Bearer&expires_in=1e3",
                "invalid_expires_in",
            ),
            (
                "access_token=a&token_type=Bearer&expires_in=99999999999999999999999",
                "invalid_expires_in",
            ),
            ("%FF%FE=%00&&&==&access_token", "malformed_response"),
            ("%FF%FE=%00&&&==&token_type=Bearer", "missing_parameter"),
        ];
        for (fragment, code) in cases {
            let error = parse(fragment).expect_err(fragment);
            assert_eq!(error.code(), code, "{fragment:.60}");
        }
    }

    #[test]
    fn reads_a_code_from_the_query() {
        assert_eq!(
            parse("?code=Abc-1&state=s1"),
            Ok(AuthorizationResponse::Code(AuthorizationCode(
                "Abc-1".into()
            )))
        );
        assert_eq!(
            parse("?code=c&access_token=a&token_type=Bearer&expires_in=1")
                .expect_err("mixed")
                .code(),
            "malformed_response"
        );
        assert!(!format!("{:?}", AuthorizationCode("SECRET".into())).contains("SECRET"));
    }

    #[test]
    fn the_state_is_read_before_any_other_value() {
        let unchecked =
            super::parse("token_type=<b>Call+us</b>&access_token=a&expires_in=1&state=s1")
                .expect("well-formed");
        assert_eq!(unchecked.state(), Some("s1"));
        assert!(super::parse("error=x&error_description=y")
            .expect("well-formed")
            .state()
            .is_none());
        // Errors before the state check name known parameters only, never a value.
        let error = super::parse("error=a&error=<b>phish</b>").expect_err("duplicate");
        assert!(
            !error.explanation().contains("phish"),
            "{}",
            error.explanation()
        );
    }

    #[test]
    fn debug_output_never_shows_tokens() {
        let t = tokens("access_token=SECRET-AT&id_token=SECRET-ID&token_type=Bearer&expires_in=5");
        let shown = format!("{t:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
