//! The token endpoint (OAuth 2.0 §3.2) as a public client: the requests that exchange a code
//! (§4.1.3, with PKCE's `code_verifier`) and use a refresh token (§6), their answers, and
//! revocation (RFC 7009). Sending them is the browser's job; the rules are here.

use crate::json::{Object, Value};

use super::response::{check_bearer, TokenSet};
use super::OidcError;

pub enum TokenRequest<'a> {
    AuthorizationCode {
        code: &'a str,
        code_verifier: &'a str,
        redirect_uri: &'a str,
        client_id: &'a str,
    },
    RefreshToken {
        refresh_token: &'a str,
        client_id: &'a str,
    },
}

impl TokenRequest<'_> {
    /// The `application/x-www-form-urlencoded` body: secrets go in the body, never in a URL.
    pub fn form_body(&self) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        match self {
            Self::AuthorizationCode {
                code,
                code_verifier,
                redirect_uri,
                client_id,
            } => form.extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", code_verifier),
                ("redirect_uri", redirect_uri),
                ("client_id", client_id),
            ]),
            Self::RefreshToken {
                refresh_token,
                client_id,
            } => form.extend_pairs([
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id),
            ]),
        };
        form.finish()
    }
}

/// The body of a revocation request for a refresh token (RFC 7009 §2.1).
pub fn revocation_body(refresh_token: &str, client_id: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", client_id),
        ])
        .finish()
}

/// Longer error texts from the tenant are cut before they reach the screen.
const MAX_DESCRIPTION: usize = 300;

/// Reads the token endpoint's answer. Errors are told apart by their `error` (RFC 6749
/// §5.2), not by the status: Auth0 answers `invalid_grant` with 403, others with 400.
/// `dpop`: the request carried a DPoP proof, so the token must come back bound to its key
/// (`token_type: DPoP`, RFC 9449 §5); an unbound one is refused rather than used as Bearer.
pub fn parse_response(status: u16, body: &str, dpop: bool) -> Result<TokenSet, OidcError> {
    if status == 200 {
        let success = Success::read(body).ok_or_else(|| {
            OidcError::TokenEndpointMalformed("the answer is not the expected JSON".into())
        })?;
        if !dpop {
            check_bearer(&success.token_type)?;
        } else if !success.token_type.eq_ignore_ascii_case("dpop") {
            return Err(OidcError::TokenNotBound(
                success.token_type.chars().take(32).collect(),
            ));
        }
        if success.access_token.is_empty() || success.expires_in == 0 {
            return Err(OidcError::TokenEndpointMalformed(
                "the access token or its lifetime is missing".into(),
            ));
        }
        return Ok(TokenSet {
            access_token: success.access_token,
            id_token: success.id_token.filter(|t| !t.is_empty()),
            expires_in: success.expires_in,
            scope: success.scope,
            refresh_token: success.refresh_token.filter(|t| !t.is_empty()),
        });
    }
    match read_failure(body) {
        Some((error, description)) => Err(OidcError::TokenEndpoint {
            code: error.chars().take(64).collect(),
            description: description.map(|d| d.chars().take(MAX_DESCRIPTION).collect()),
        }),
        None => Err(OidcError::TokenEndpointMalformed(format!(
            "it answered HTTP {status} without an OAuth error"
        ))),
    }
}

/// A successful token response (RFC 6749 §5.1).
struct Success {
    access_token: String,
    token_type: String,
    expires_in: u64,
    id_token: Option<String>,
    scope: Option<String>,
    refresh_token: Option<String>,
}

impl Success {
    fn read(body: &str) -> Option<Success> {
        let value = crate::json::from_str::<Value>(body).ok()?;
        let fields = Object::of(&value)?;
        let text = |name: &str| fields.string(name).ok();
        Some(Success {
            access_token: fields.required_string("access_token").ok()?,
            token_type: fields.required_string("token_type").ok()?,
            expires_in: fields.unsigned("expires_in").ok()??,
            id_token: text("id_token")?,
            scope: text("scope")?,
            refresh_token: text("refresh_token")?,
        })
    }
}

/// An OAuth error answer (RFC 6749 §5.2): its `error`, not empty, and `error_description`.
fn read_failure(body: &str) -> Option<(String, Option<String>)> {
    let value = crate::json::from_str::<Value>(body).ok()?;
    let fields = Object::of(&value)?;
    let error = fields
        .required_string("error")
        .ok()
        .filter(|e| !e.is_empty())?;
    Some((error, fields.string("error_description").ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_form_encoded() {
        let exchange = TokenRequest::AuthorizationCode {
            code: "c+1",
            code_verifier: "v",
            redirect_uri: "http://localhost:8080/callback",
            client_id: "spa 1",
        };
        assert_eq!(
            exchange.form_body(),
            "grant_type=authorization_code&code=c%2B1&code_verifier=v&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&client_id=spa+1"
        );
        let refresh = TokenRequest::RefreshToken {
            refresh_token: "r/1",
            client_id: "c",
        };
        assert_eq!(
            refresh.form_body(),
            "grant_type=refresh_token&refresh_token=r%2F1&client_id=c"
        );
        assert_eq!(
            revocation_body("r", "c"),
            "token=r&token_type_hint=refresh_token&client_id=c"
        );
    }

    #[test]
    fn reads_a_token_response() {
        let tokens = parse_response(
            200,
            r#"{"access_token":"at","id_token":"a.b.c","refresh_token":"rt","token_type":"Bearer","expires_in":86400,"scope":"openid offline_access"}"#,
            false,
        )
        .expect("valid");
        assert_eq!(tokens.access_token, "at");
        assert_eq!(tokens.refresh_token.as_deref(), Some("rt"));
        assert_eq!(tokens.expires_in, 86400);
        assert!(!format!("{tokens:?}").contains("rt\""));
    }

    #[test]
    fn errors_are_told_apart_by_their_code() {
        let error = parse_response(
            403,
            r#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
            false,
        )
        .expect_err("refused");
        assert_eq!(error.code(), "invalid_grant");
        assert_eq!(
            parse_response(401, r#"{"error":"invalid_client"}"#, false)
                .expect_err("refused")
                .code(),
            "invalid_client"
        );
        for (status, body) in [
            (502, "<html>Bad gateway</html>"),
            (200, "{}"),
            (
                200,
                r#"{"access_token":"a","token_type":"Bearer","expires_in":0}"#,
            ),
            (
                200,
                r#"{"access_token":"a","token_type":"Bearer","expires_in":"3600"}"#,
            ),
            (
                200,
                r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"id_token":5}"#,
            ),
            (
                200,
                r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":{}}"#,
            ),
            (200, r#"{"token_type":"Bearer","expires_in":60}"#),
            (400, r#"{"error":7}"#),
            (400, r#"{"error":"invalid_grant","error_description":[]}"#),
            (400, "[]"),
        ] {
            assert_eq!(
                parse_response(status, body, false).expect_err(body).code(),
                "token_endpoint_malformed",
                "{body}"
            );
        }
        assert_eq!(
            parse_response(
                200,
                r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#,
                false
            )
            .expect_err("not bearer")
            .code(),
            "unsupported_token_type"
        );
    }

    #[test]
    fn with_dpop_only_a_bound_token_is_accepted() {
        let answer = |token_type: &str| {
            format!(r#"{{"access_token":"a","token_type":"{token_type}","expires_in":60}}"#)
        };
        assert!(parse_response(200, &answer("DPoP"), true).is_ok());
        assert!(parse_response(200, &answer("dpop"), true).is_ok());
        let error = parse_response(200, &answer("Bearer"), true).expect_err("unbound");
        assert_eq!(error.code(), "dpop_token_not_bound");
        assert!(error.explanation().contains("DPoP enabled"));
    }
}
