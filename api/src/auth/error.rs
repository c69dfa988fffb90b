//! The RFC 6750 error responses: status, `WWW-Authenticate` challenge and JSON body.

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::REALM;

/// Everything that can go wrong authenticating a request; renders itself as an
/// RFC 6750 response (status, `WWW-Authenticate`, JSON body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all: 401 with a bare challenge.
    MissingToken,
    /// Malformed `Authorization` header, token in the URL or sent more than one way: 400.
    InvalidRequest(String),
    /// The token failed a check (format, alg, key, signature, claims): 401.
    InvalidToken(String),
    /// A valid token without the endpoint's scope: 403.
    InsufficientScope { scope: &'static str },
    /// The issuer's keys could not be fetched: 503 (the token is not at fault).
    KeysUnavailable,
}

impl AuthError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingToken | AuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            AuthError::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` code of the JSON body (and of the challenge, where there is one).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "unauthorized",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::KeysUnavailable => "temporarily_unavailable",
        }
    }

    /// The human-readable `error_description`.
    pub fn description(&self) -> String {
        let text = match self {
            AuthError::MissingToken => {
                "an access token is required: send it as 'Authorization: Bearer <token>'".into()
            }
            AuthError::InvalidRequest(d) | AuthError::InvalidToken(d) => d.clone(),
            AuthError::InsufficientScope { scope } => {
                format!("the access token does not grant the {scope} scope")
            }
            AuthError::KeysUnavailable => {
                "the issuer's signing keys could not be fetched; try again later".into()
            }
        };
        quotable(&text)
    }

    /// The `WWW-Authenticate` value, if the response carries one.
    pub fn challenge(&self) -> Option<String> {
        let desc = self.description();
        match self {
            AuthError::MissingToken => Some(format!("Bearer realm=\"{REALM}\"")),
            AuthError::InvalidRequest(_) | AuthError::InvalidToken(_) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"{}\", error_description=\"{desc}\"",
                self.code()
            )),
            AuthError::InsufficientScope { scope } => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\", \
                 error_description=\"{desc}\""
            )),
            AuthError::KeysUnavailable => None,
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for AuthError {}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code(), "error_description": self.description() });
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(challenge) = self.challenge() {
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, v);
            }
        }
        if matches!(self, AuthError::KeysUnavailable) {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Keeps a description inside RFC 6750's `error_description` character set
/// (printable ASCII without `"` and `\`).
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::READ_SCOPE;

    #[test]
    fn challenges() {
        assert_eq!(
            AuthError::MissingToken.challenge().unwrap(),
            "Bearer realm=\"appointments\""
        );
        assert_eq!(
            AuthError::InvalidToken("bad \"x\"".into())
                .challenge()
                .unwrap(),
            "Bearer realm=\"appointments\", error=\"invalid_token\", error_description=\"bad 'x'\""
        );
        assert_eq!(
            AuthError::InsufficientScope { scope: READ_SCOPE }
                .challenge()
                .unwrap(),
            "Bearer realm=\"appointments\", error=\"insufficient_scope\", \
             scope=\"read:appointments\", error_description=\"the access token does not grant \
             the read:appointments scope\""
        );
        assert_eq!(AuthError::KeysUnavailable.challenge(), None);
    }
}
