//! The error responses of RFC 6750 (Bearer) and RFC 9449 §7.1 (DPoP): status,
//! `WWW-Authenticate` challenges and JSON body.

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::REALM;

/// The authorization scheme a request used: its errors are answered with that scheme's
/// challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

impl Scheme {
    /// The challenge's start: the scheme, the realm and, for DPoP, the proof algorithms.
    fn challenge(self) -> String {
        match self {
            Scheme::Bearer => format!("Bearer realm=\"{REALM}\""),
            Scheme::Dpop => format!("DPoP realm=\"{REALM}\", algs=\"{}\"", dpop::ALGS),
        }
    }
}

/// Everything that can go wrong authenticating a request. [`Rejection`] answers it in the
/// scheme the client used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all: 401 with a bare challenge for each scheme.
    MissingToken,
    /// Malformed `Authorization` header, token in the URL or sent more than one way,
    /// several `DPoP` headers: 400.
    InvalidRequest(String),
    /// The token failed a check (format, alg, key, signature, claims, its binding): 401.
    InvalidToken(String),
    /// The DPoP proof is missing, fails a check or was used before: 401.
    InvalidDpopProof(String),
    /// A valid token without the endpoint's scope: 403.
    InsufficientScope { scope: &'static str },
    /// The issuer's keys could not be fetched: 503 (the token is not at fault).
    KeysUnavailable,
    /// The proofs already used could not be looked up: 503 (the proof is not at fault).
    ReplayCheckUnavailable,
}

impl AuthError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingToken
            | AuthError::InvalidToken(_)
            | AuthError::InvalidDpopProof(_) => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            AuthError::KeysUnavailable | AuthError::ReplayCheckUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The `error` code of the JSON body (and of the challenge, where there is one).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "unauthorized",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            AuthError::InsufficientScope { .. } => "insufficient_scope",
            AuthError::KeysUnavailable | AuthError::ReplayCheckUnavailable => {
                "temporarily_unavailable"
            }
        }
    }

    /// The human-readable `error_description`.
    pub fn description(&self) -> String {
        let text = match self {
            AuthError::MissingToken => "an access token is required: send it as \
                'Authorization: Bearer <token>', or as 'Authorization: DPoP <token>' with a \
                'DPoP: <proof>' header"
                .into(),
            AuthError::InvalidRequest(d)
            | AuthError::InvalidToken(d)
            | AuthError::InvalidDpopProof(d) => d.clone(),
            AuthError::InsufficientScope { scope } => {
                format!("the access token does not grant the {scope} scope")
            }
            AuthError::KeysUnavailable => {
                "the issuer's signing keys could not be fetched; try again later".into()
            }
            AuthError::ReplayCheckUnavailable => {
                "the DPoP proof could not be checked for reuse; try again later".into()
            }
        };
        quotable(&text)
    }

    /// Answers this error in `scheme`, the one the request used.
    pub fn in_scheme(self, scheme: Scheme) -> Rejection {
        Rejection {
            scheme,
            error: self,
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for AuthError {}

/// An [`AuthError`] with the scheme the request used: renders itself as the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub scheme: Scheme,
    pub error: AuthError,
}

impl Rejection {
    /// The `WWW-Authenticate` values, one header field each (RFC 9110 §11.6.1).
    pub fn challenges(&self) -> Vec<String> {
        let error = &self.error;
        let scheme = match error {
            AuthError::MissingToken => {
                return vec![Scheme::Bearer.challenge(), Scheme::Dpop.challenge()]
            }
            AuthError::KeysUnavailable | AuthError::ReplayCheckUnavailable => return vec![],
            AuthError::InvalidDpopProof(_) => Scheme::Dpop,
            _ => self.scheme,
        };
        let scope = match error {
            AuthError::InsufficientScope { scope } => format!(", scope=\"{scope}\""),
            _ => String::new(),
        };
        vec![format!(
            "{}, error=\"{}\"{scope}, error_description=\"{}\"",
            scheme.challenge(),
            error.code(),
            error.description()
        )]
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let error = &self.error;
        let body = json!({ "error": error.code(), "error_description": error.description() });
        let mut response = (error.status(), Json(body)).into_response();
        for challenge in self.challenges() {
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                response.headers_mut().append(WWW_AUTHENTICATE, v);
            }
        }
        if error.status() == StatusCode::SERVICE_UNAVAILABLE {
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

    fn challenges(error: AuthError, scheme: Scheme) -> Vec<String> {
        error.in_scheme(scheme).challenges()
    }

    #[test]
    fn bearer_challenges() {
        assert_eq!(
            challenges(AuthError::InvalidToken("bad \"x\"".into()), Scheme::Bearer),
            ["Bearer realm=\"appointments\", error=\"invalid_token\", error_description=\"bad 'x'\""]
        );
        assert_eq!(
            challenges(
                AuthError::InsufficientScope { scope: READ_SCOPE },
                Scheme::Bearer
            ),
            [
                "Bearer realm=\"appointments\", error=\"insufficient_scope\", \
             scope=\"read:appointments\", error_description=\"the access token does not grant \
             the read:appointments scope\""
            ]
        );
        assert!(challenges(AuthError::KeysUnavailable, Scheme::Bearer).is_empty());
    }

    #[test]
    fn dpop_challenges() {
        assert_eq!(
            challenges(AuthError::InvalidToken("bad".into()), Scheme::Dpop),
            [
                "DPoP realm=\"appointments\", algs=\"ES256\", error=\"invalid_token\", \
             error_description=\"bad\""
            ]
        );
        assert_eq!(
            challenges(
                AuthError::InsufficientScope { scope: READ_SCOPE },
                Scheme::Dpop
            ),
            [
                "DPoP realm=\"appointments\", algs=\"ES256\", error=\"insufficient_scope\", \
             scope=\"read:appointments\", error_description=\"the access token does not grant \
             the read:appointments scope\""
            ]
        );
        // A proof error is always DPoP's, whatever the Authorization header said.
        assert_eq!(
            challenges(
                AuthError::InvalidDpopProof("replayed".into()),
                Scheme::Bearer
            ),
            [
                "DPoP realm=\"appointments\", algs=\"ES256\", error=\"invalid_dpop_proof\", \
             error_description=\"replayed\""
            ]
        );
        assert!(challenges(AuthError::ReplayCheckUnavailable, Scheme::Dpop).is_empty());
    }

    #[test]
    fn no_credentials_get_both_challenges() {
        for scheme in [Scheme::Bearer, Scheme::Dpop] {
            assert_eq!(
                challenges(AuthError::MissingToken, scheme),
                [
                    "Bearer realm=\"appointments\"",
                    "DPoP realm=\"appointments\", algs=\"ES256\""
                ]
            );
        }
        let response = AuthError::MissingToken
            .in_scheme(Scheme::Bearer)
            .into_response();
        let fields: Vec<_> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .collect();
        assert_eq!(fields.len(), 2, "two header fields, not one joined value");
    }
}
