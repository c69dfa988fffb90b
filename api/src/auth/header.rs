//! Finding the bearer token of a request (RFC 6750 §2): only the `Authorization`
//! header is accepted.

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Uri};

use super::AuthError;

/// Parses one `Authorization` header value as RFC 6750 §2.1 credentials:
/// `Bearer` (any case), one or more spaces, one b64token.
pub fn parse_bearer(value: &str) -> Result<&str, AuthError> {
    let bad = |d: &str| AuthError::InvalidRequest(d.to_string());
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(bad("the Authorization header must use the Bearer scheme"));
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(bad("the Authorization header has no token after Bearer"));
    }
    if token.contains(' ') {
        return Err(bad(
            "the Authorization header must hold exactly one token after Bearer",
        ));
    }
    if !is_b64token(token) {
        return Err(bad(
            "the bearer token contains characters not allowed in a b64token",
        ));
    }
    Ok(token)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fn has_access_token_param(encoded: &[u8]) -> bool {
    url::form_urlencoded::parse(encoded).any(|(k, _)| k == "access_token")
}

/// Is this a form-encoded body (where RFC 6750 §2.2 would allow a token)?
pub fn is_form_body(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Finds the request's bearer token. Only the `Authorization` header is accepted:
/// a token in the query string (never in URLs) or a form body is rejected, as is
/// a token sent in more than one way. `form_body` is the body when it is
/// form-encoded (see [`is_form_body`]).
pub fn extract_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    form_body: Option<&[u8]>,
) -> Result<&'a str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "the request has more than one Authorization header".into(),
        ));
    }
    let in_query = uri
        .query()
        .is_some_and(|q| has_access_token_param(q.as_bytes()));
    let in_body = form_body.is_some_and(has_access_token_param);
    let ways = usize::from(header.is_some()) + usize::from(in_query) + usize::from(in_body);
    if ways > 1 {
        return Err(AuthError::InvalidRequest(
            "the access token was sent in more than one way; use only the Authorization header"
                .into(),
        ));
    }
    if in_query {
        return Err(AuthError::InvalidRequest(
            "access tokens are not accepted in the URL; send it in the Authorization header".into(),
        ));
    }
    if in_body {
        return Err(AuthError::InvalidRequest(
            "access tokens are not accepted in the request body; send it in the Authorization \
             header"
                .into(),
        ));
    }
    let Some(header) = header else {
        return Err(AuthError::MissingToken);
    };
    let value = header.to_str().map_err(|_| {
        AuthError::InvalidRequest("the Authorization header is not valid ASCII".into())
    })?;
    parse_bearer(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(parse_bearer("Bearer abc.DEF-_~+/=="), Ok("abc.DEF-_~+/=="));
        assert_eq!(parse_bearer("bearer abc"), Ok("abc"));
        assert_eq!(parse_bearer("BEARER   abc"), Ok("abc"));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer a\"b",
            "Bearer ==",
            "Bearer a=b",
            "Token abc",
            "Bearerabc",
            "",
        ] {
            match parse_bearer(bad) {
                Err(AuthError::InvalidRequest(_)) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn token_sources() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/api/appointments".parse().unwrap();
        assert_eq!(
            extract_token(&headers, &uri, None),
            Err(AuthError::MissingToken)
        );

        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(extract_token(&headers, &uri, None), Ok("abc"));

        let with_query: Uri = "/api/appointments?x=1&access_token=abc".parse().unwrap();
        assert!(matches!(
            extract_token(&headers, &with_query, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one way")
        ));
        assert!(matches!(
            extract_token(&headers, &uri, Some(b"access_token=abc")),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one way")
        ));
        assert!(matches!(
            extract_token(&HeaderMap::new(), &with_query, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("URL")
        ));

        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer def"));
        assert!(matches!(
            extract_token(&headers, &uri, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one Authorization")
        ));
    }
}
