//! Finding the credentials of a request: only the `Authorization` header is accepted
//! (RFC 6750 §2), with the `Bearer` scheme or the `DPoP` scheme (RFC 9449 §7.1).

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Uri};

use super::{AuthError, Rejection, Scheme};

/// An access token and the scheme it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub scheme: Scheme,
    pub token: &'a str,
}

/// Parses one `Authorization` header value: `Bearer` or `DPoP` (any case), one or more
/// spaces, one b64token (RFC 6750 §2.1; DPoP's token68 is the same set).
pub fn parse_authorization(value: &str) -> Result<Credentials<'_>, Rejection> {
    let (scheme_name, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme_name.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme_name.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err(bad_request(
            Scheme::Bearer,
            "the Authorization header must use the Bearer or DPoP scheme",
        ));
    };
    let name = match scheme {
        Scheme::Bearer => "Bearer",
        Scheme::Dpop => "DPoP",
    };
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(bad_request(
            scheme,
            &format!("the Authorization header has no token after {name}"),
        ));
    }
    if token.contains(' ') {
        return Err(bad_request(
            scheme,
            &format!("the Authorization header must hold exactly one token after {name}"),
        ));
    }
    if !is_b64token(token) {
        return Err(bad_request(
            scheme,
            "the access token contains characters not allowed in a b64token",
        ));
    }
    Ok(Credentials { scheme, token })
}

fn bad_request(scheme: Scheme, description: &str) -> Rejection {
    AuthError::InvalidRequest(description.to_string()).in_scheme(scheme)
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

/// Finds the request's credentials. Only the `Authorization` header is accepted: a token
/// in the query string (never in URLs) or a form body is rejected, as is a token sent in
/// more than one way. `form_body` is the body when it is form-encoded (see
/// [`is_form_body`]).
pub fn extract_credentials<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    form_body: Option<&[u8]>,
) -> Result<Credentials<'a>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(bad_request(
            Scheme::Bearer,
            "the request has more than one Authorization header",
        ));
    }
    // Errors before the header is parsed still answer in the scheme it names.
    let scheme = header.map_or(Scheme::Bearer, scheme_named);
    let in_query = uri
        .query()
        .is_some_and(|q| has_access_token_param(q.as_bytes()));
    let in_body = form_body.is_some_and(has_access_token_param);
    let ways = usize::from(header.is_some()) + usize::from(in_query) + usize::from(in_body);
    if ways > 1 {
        return Err(bad_request(
            scheme,
            "the access token was sent in more than one way; use only the Authorization header",
        ));
    }
    if in_query {
        return Err(bad_request(
            scheme,
            "access tokens are not accepted in the URL; send it in the Authorization header",
        ));
    }
    if in_body {
        return Err(bad_request(
            scheme,
            "access tokens are not accepted in the request body; send it in the Authorization \
             header",
        ));
    }
    let Some(header) = header else {
        return Err(AuthError::MissingToken.in_scheme(Scheme::Bearer));
    };
    let value = header
        .to_str()
        .map_err(|_| bad_request(scheme, "the Authorization header is not valid ASCII"))?;
    parse_authorization(value)
}

fn scheme_named(header: &HeaderValue) -> Scheme {
    let name = header
        .as_bytes()
        .split(|b| *b == b' ')
        .next()
        .unwrap_or(b"");
    if name.eq_ignore_ascii_case(b"dpop") {
        Scheme::Dpop
    } else {
        Scheme::Bearer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token(value: &str) -> Result<(Scheme, &str), AuthError> {
        parse_authorization(value)
            .map(|c| (c.scheme, c.token))
            .map_err(|r| r.error)
    }

    #[test]
    fn authorization_header_parsing() {
        let bearer = |t| Ok((Scheme::Bearer, t));
        let dpop = |t| Ok((Scheme::Dpop, t));
        assert_eq!(token("Bearer abc.DEF-_~+/=="), bearer("abc.DEF-_~+/=="));
        assert_eq!(token("bearer abc"), bearer("abc"));
        assert_eq!(token("BEARER   abc"), bearer("abc"));
        assert_eq!(token("DPoP abc.def"), dpop("abc.def"));
        assert_eq!(token("dpop  abc"), dpop("abc"));
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
            "DPoP",
            "DPoP a b",
            "DPoPabc",
            "",
        ] {
            match token(bad) {
                Err(AuthError::InvalidRequest(_)) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // The challenge follows the scheme the client named.
        assert_eq!(
            parse_authorization("DPoP").unwrap_err().scheme,
            Scheme::Dpop
        );
        assert_eq!(
            parse_authorization("Basic x").unwrap_err().scheme,
            Scheme::Bearer
        );
    }

    #[test]
    fn token_sources() {
        let extract = |headers: &HeaderMap, uri: &Uri, body: Option<&[u8]>| {
            extract_credentials(headers, uri, body)
                .map(|c| c.token.to_string())
                .map_err(|r| r.error)
        };
        let mut headers = HeaderMap::new();
        let uri: Uri = "/api/appointments".parse().unwrap();
        assert_eq!(extract(&headers, &uri, None), Err(AuthError::MissingToken));

        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(extract(&headers, &uri, None), Ok("abc".into()));

        let with_query: Uri = "/api/appointments?x=1&access_token=abc".parse().unwrap();
        assert!(matches!(
            extract(&headers, &with_query, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one way")
        ));
        assert!(matches!(
            extract(&headers, &uri, Some(b"access_token=abc")),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one way")
        ));
        assert!(matches!(
            extract(&HeaderMap::new(), &with_query, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("URL")
        ));
        let mut dpop = HeaderMap::new();
        dpop.insert(AUTHORIZATION, HeaderValue::from_static("DPoP abc"));
        let rejection = extract_credentials(&dpop, &with_query, None).unwrap_err();
        assert_eq!(rejection.scheme, Scheme::Dpop);

        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer def"));
        assert!(matches!(
            extract(&headers, &uri, None),
            Err(AuthError::InvalidRequest(d)) if d.contains("more than one Authorization")
        ));
    }
}
