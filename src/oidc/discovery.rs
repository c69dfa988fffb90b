//! The tenant's endpoints: from OpenID Connect discovery, or Auth0's fixed paths.

use crate::json::{Object, Value};
use crate::weburl::Url;

use crate::config::is_allowed_origin_url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Exactly as the provider writes it; ID tokens' `iss` must equal it.
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub jwks_uri: Url,
    /// Where the code flow exchanges its code and refreshes (`None`: an implicit-only
    /// provider).
    pub token_endpoint: Option<Url>,
    /// Where logout revokes the refresh token (RFC 7009), when the tenant has one.
    pub revocation_endpoint: Option<Url>,
    /// OpenID Connect RP-initiated logout, when discovery advertises it.
    pub end_session_endpoint: Option<Url>,
    /// Auth0's own logout, always there: `<domain>/v2/logout`.
    pub auth0_logout_endpoint: Url,
    pub userinfo_endpoint: Option<Url>,
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
                "the discovery document names issuer `{found}`, but it was fetched for the configured issuer `{expected}`"
            ),
            Self::BadEndpoint(name) => write!(f, "the discovery document's `{name}` is not an https URL"),
        }
    }
}

/// Where the discovery document of `issuer` is: the issuer with
/// `/.well-known/openid-configuration` appended to its path (OpenID Connect Discovery 1.0
/// §4), so that `https://host/realms/demo` keeps its last segment.
pub fn discovery_url(issuer: &Url) -> Url {
    let base = issuer.as_str();
    let base = base.strip_suffix('/').unwrap_or(base);
    Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .unwrap_or_else(|_| issuer.clone())
}

/// Whether two issuer strings name the same issuer: equal, or differing only by one `/`
/// at the very end (providers differ on it: Auth0 writes `https://x/`, others `https://x`).
/// Nothing else is normalised.
pub fn same_issuer(a: &str, b: &str) -> bool {
    a == b || a.strip_suffix('/') == Some(b) || b.strip_suffix('/') == Some(a)
}

/// Auth0's fixed paths, for when discovery answers 404. Auth0 tenants live at an origin,
/// and their issuer is that origin with a trailing slash.
pub fn auth0_defaults(issuer: &Url) -> ProviderMetadata {
    let at = |path: &str| issuer.join(path).unwrap_or_else(|_| issuer.clone());
    let configured = issuer.as_str();
    ProviderMetadata {
        issuer: if configured.ends_with('/') {
            configured.to_string()
        } else {
            format!("{configured}/")
        },
        authorization_endpoint: at("/authorize"),
        jwks_uri: at("/.well-known/jwks.json"),
        token_endpoint: Some(at("/oauth/token")),
        revocation_endpoint: Some(at("/oauth/revoke")),
        end_session_endpoint: None,
        auth0_logout_endpoint: at("/v2/logout"),
        userinfo_endpoint: Some(at("/userinfo")),
    }
}

/// Reads a discovery document fetched for `issuer`, checking that it speaks for that issuer
/// (OpenID Connect Discovery 1.0 §4.3). The document's own spelling of the issuer is kept:
/// tokens must carry exactly that.
pub fn parse(document: &str, issuer: &Url) -> Result<ProviderMetadata, DiscoveryError> {
    let value = crate::json::from_str::<Value>(document).map_err(|_| DiscoveryError::NotJson)?;
    let doc = Object::of(&value).ok_or(DiscoveryError::NotJson)?;
    let text = |name: &str| doc.string(name).map_err(|_| DiscoveryError::NotJson);
    let required = |name: &str| text(name)?.ok_or(DiscoveryError::NotJson);
    let found = required("issuer")?;
    if !same_issuer(&found, issuer.as_str()) {
        return Err(DiscoveryError::IssuerMismatch {
            expected: issuer.as_str().to_string(),
            found,
        });
    }
    let endpoint = |name: &'static str, value: &str| {
        Url::parse(value)
            .ok()
            .filter(is_allowed_origin_url)
            .ok_or(DiscoveryError::BadEndpoint(name))
    };
    let optional = |name: &'static str| text(name)?.map(|v| endpoint(name, &v)).transpose();
    Ok(ProviderMetadata {
        authorization_endpoint: endpoint(
            "authorization_endpoint",
            &required("authorization_endpoint")?,
        )?,
        jwks_uri: endpoint("jwks_uri", &required("jwks_uri")?)?,
        token_endpoint: optional("token_endpoint")?,
        revocation_endpoint: optional("revocation_endpoint")?,
        end_session_endpoint: optional("end_session_endpoint")?,
        auth0_logout_endpoint: auth0_defaults(issuer).auth0_logout_endpoint,
        userinfo_endpoint: optional("userinfo_endpoint")?,
        issuer: found,
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
        for shape in [
            "[]".to_string(),
            r#"{"authorization_endpoint":"https://dev-abc.us.auth0.com/authorize","jwks_uri":"https://dev-abc.us.auth0.com/jwks"}"#.into(),
            r#"{"issuer":"https://dev-abc.us.auth0.com/","jwks_uri":"https://dev-abc.us.auth0.com/jwks"}"#.into(),
            r#"{"issuer":"https://dev-abc.us.auth0.com/","authorization_endpoint":"https://dev-abc.us.auth0.com/authorize","jwks_uri":"https://dev-abc.us.auth0.com/jwks","userinfo_endpoint":5}"#.into(),
        ] {
            assert_eq!(parse(&shape, &origin()), Err(DiscoveryError::NotJson), "{shape}");
        }
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
            meta.token_endpoint.as_ref().map(Url::as_str),
            Some("https://dev-abc.us.auth0.com/oauth/token")
        );
        assert_eq!(
            meta.revocation_endpoint.as_ref().map(Url::as_str),
            Some("https://dev-abc.us.auth0.com/oauth/revoke")
        );
        assert_eq!(
            meta.auth0_logout_endpoint.as_str(),
            "https://dev-abc.us.auth0.com/v2/logout"
        );
    }

    #[test]
    fn discovery_is_appended_to_the_issuer_path() {
        let url = |issuer: &str| discovery_url(&Url::parse(issuer).expect("url")).to_string();
        assert_eq!(
            url("https://dev-abc.us.auth0.com"),
            "https://dev-abc.us.auth0.com/.well-known/openid-configuration"
        );
        assert_eq!(
            url("http://localhost:7002/"),
            "http://localhost:7002/.well-known/openid-configuration"
        );
        assert_eq!(
            url("https://host.example/realms/demo"),
            "https://host.example/realms/demo/.well-known/openid-configuration"
        );
        assert_eq!(
            url("https://x.okta.com/oauth2/default/"),
            "https://x.okta.com/oauth2/default/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuers_differing_only_by_one_trailing_slash_are_the_same() {
        assert!(same_issuer(
            "http://localhost:7002",
            "http://localhost:7002/"
        ));
        assert!(same_issuer(
            "http://localhost:7002/",
            "http://localhost:7002"
        ));
        assert!(same_issuer(
            "https://h/realms/demo",
            "https://h/realms/demo/"
        ));
        assert!(same_issuer(
            "https://h/realms/demo",
            "https://h/realms/demo"
        ));
        assert!(!same_issuer(
            "https://h/realms/demo",
            "https://h/realms/demo//"
        ));
        assert!(!same_issuer("https://h/realms/demo", "https://h/realms/"));
        assert!(!same_issuer(
            "https://h/realms/demo",
            "https://H/realms/demo"
        ));
        assert!(!same_issuer("https://h", "https://h:443"));
        assert!(!same_issuer("https://h", "https://h/x"));
    }

    #[test]
    fn a_provider_without_the_trailing_slash_keeps_its_own_spelling() {
        let configured = Url::parse("http://localhost:7002").expect("url");
        let doc = r#"{"issuer":"http://localhost:7002","authorization_endpoint":"http://localhost:7002/auth","jwks_uri":"http://localhost:7002/jwks","end_session_endpoint":"http://localhost:7002/session/end"}"#;
        let meta = parse(doc, &configured).expect("the same issuer");
        assert_eq!(
            meta.issuer, "http://localhost:7002",
            "tokens must carry this"
        );

        let realm = Url::parse("https://host.example/realms/demo").expect("url");
        let doc = r#"{"issuer":"https://host.example/realms/demo/","authorization_endpoint":"https://host.example/realms/demo/auth","jwks_uri":"https://host.example/realms/demo/certs"}"#;
        assert_eq!(
            parse(doc, &realm).expect("same issuer").issuer,
            "https://host.example/realms/demo/"
        );
        let other_realm = r#"{"issuer":"https://host.example/realms/other","authorization_endpoint":"https://host.example/a","jwks_uri":"https://host.example/j"}"#;
        assert!(matches!(
            parse(other_realm, &realm),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
    }
}
