//! The tenant's endpoints: from OpenID Connect discovery, or Auth0's fixed paths.

use crate::weburl::Url;
use serde::Deserialize;

use crate::config::is_allowed_origin_url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub jwks_uri: Url,
    /// OpenID Connect RP-initiated logout, when discovery advertises it.
    pub end_session_endpoint: Option<Url>,
    /// Auth0's own logout, always there: `<domain>/v2/logout`.
    pub auth0_logout_endpoint: Url,
    pub userinfo_endpoint: Option<Url>,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    NotJson,
    IssuerMismatch { expected: String, found: String },
    BadEndpoint(&'static str),
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotJson => write!(f, "the discovery document is not the expected JSON"),
            Self::IssuerMismatch { expected, found } => write!(
                f,
                "the discovery document names issuer `{found}`, but the configured domain's issuer is `{expected}`"
            ),
            Self::BadEndpoint(name) => write!(f, "the discovery document's `{name}` is not an https URL"),
        }
    }
}

/// Where the discovery document of the tenant at `origin` is.
pub fn discovery_url(origin: &Url) -> Url {
    origin
        .join("/.well-known/openid-configuration")
        .unwrap_or_else(|_| origin.clone())
}

/// The issuer Auth0 uses for a tenant: its origin with a trailing slash.
pub fn expected_issuer(origin: &Url) -> String {
    format!("{}/", origin.origin())
}

/// Auth0's fixed paths, for when discovery is not available.
pub fn auth0_defaults(origin: &Url) -> ProviderMetadata {
    let at = |path: &str| origin.join(path).unwrap_or_else(|_| origin.clone());
    ProviderMetadata {
        issuer: expected_issuer(origin),
        authorization_endpoint: at("/authorize"),
        jwks_uri: at("/.well-known/jwks.json"),
        end_session_endpoint: None,
        auth0_logout_endpoint: at("/v2/logout"),
        userinfo_endpoint: Some(at("/userinfo")),
    }
}

/// Reads a discovery document, checking that it speaks for the configured tenant
/// (OpenID Connect Discovery 1.0 §4.3).
pub fn parse(document: &str, origin: &Url) -> Result<ProviderMetadata, DiscoveryError> {
    let doc: Document = crate::json::from_str(document).map_err(|_| DiscoveryError::NotJson)?;
    let expected = expected_issuer(origin);
    if doc.issuer != expected {
        return Err(DiscoveryError::IssuerMismatch {
            expected,
            found: doc.issuer,
        });
    }
    let endpoint = |name: &'static str, value: &str| {
        Url::parse(value)
            .ok()
            .filter(is_allowed_origin_url)
            .ok_or(DiscoveryError::BadEndpoint(name))
    };
    let optional =
        |name: &'static str, value: Option<String>| value.map(|v| endpoint(name, &v)).transpose();
    Ok(ProviderMetadata {
        authorization_endpoint: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        jwks_uri: endpoint("jwks_uri", &doc.jwks_uri)?,
        end_session_endpoint: optional("end_session_endpoint", doc.end_session_endpoint)?,
        auth0_logout_endpoint: auth0_defaults(origin).auth0_logout_endpoint,
        userinfo_endpoint: optional("userinfo_endpoint", doc.userinfo_endpoint)?,
        issuer: doc.issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Url {
        Url::parse("https://dev-abc.us.auth0.com").expect("url")
    }

    #[test]
    fn reads_auth0_discovery() {
        let doc = r#"{"issuer":"https://dev-abc.us.auth0.com/","authorization_endpoint":"https://dev-abc.us.auth0.com/authorize","jwks_uri":"https://dev-abc.us.auth0.com/.well-known/jwks.json","end_session_endpoint":"https://dev-abc.us.auth0.com/oidc/logout","extra":1}"#;
        let meta = parse(doc, &origin()).expect("valid");
        assert_eq!(meta.issuer, "https://dev-abc.us.auth0.com/");
        assert_eq!(
            meta.authorization_endpoint.as_str(),
            "https://dev-abc.us.auth0.com/authorize"
        );
        assert_eq!(meta.userinfo_endpoint, None);
    }

    #[test]
    fn refuses_a_document_for_another_issuer_or_with_unsafe_endpoints() {
        let other = r#"{"issuer":"https://evil.example/","authorization_endpoint":"https://evil.example/authorize","jwks_uri":"https://evil.example/jwks"}"#;
        assert!(matches!(
            parse(other, &origin()),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        let plain = r#"{"issuer":"https://dev-abc.us.auth0.com/","authorization_endpoint":"http://dev-abc.us.auth0.com/authorize","jwks_uri":"https://dev-abc.us.auth0.com/jwks"}"#;
        assert_eq!(
            parse(plain, &origin()),
            Err(DiscoveryError::BadEndpoint("authorization_endpoint"))
        );
        assert_eq!(parse("<html>", &origin()), Err(DiscoveryError::NotJson));
    }

    #[test]
    fn falls_back_to_auth0_paths() {
        let meta = auth0_defaults(&origin());
        assert_eq!(meta.issuer, "https://dev-abc.us.auth0.com/");
        assert_eq!(
            meta.jwks_uri.as_str(),
            "https://dev-abc.us.auth0.com/.well-known/jwks.json"
        );
        assert_eq!(meta.end_session_endpoint, None);
        assert_eq!(
            meta.auth0_logout_endpoint.as_str(),
            "https://dev-abc.us.auth0.com/v2/logout"
        );
    }
}
