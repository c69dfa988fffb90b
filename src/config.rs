//! `config.json`: the SPA's runtime configuration (see the README), validated field by
//! field so that a mistake is reported by name instead of as a blank page.

use crate::json::{self, Map, Value};
use crate::weburl::Url;

use crate::oidc::authorize::ResponseType;

const DEFAULT_SCOPE: &str = "openid profile email read:appointments";
/// The code flow also asks for a refresh token, which renews without an iframe.
const DEFAULT_CODE_SCOPE: &str = "openid profile email read:appointments offline_access";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStorage {
    Session,
    Local,
    Memory,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The tenant's issuer URL: `https://dev-abc.us.auth0.com/` for an Auth0 domain, or an
    /// issuer with a path (`https://host/realms/demo`). Discovery is fetched below it.
    pub domain: Url,
    pub client_id: String,
    pub audience: String,
    pub api_base_url: Url,
    pub scope: String,
    pub response_type: ResponseType,
    pub redirect_uri: Url,
    /// Where silent renewal's hidden iframe lands: a static page that runs no code.
    pub silent_redirect_uri: Url,
    pub logout_return_to: Url,
    pub token_storage: TokenStorage,
    /// Allowed clock skew when checking token times, in seconds.
    pub leeway_secs: f64,
    /// Binds the tokens to a key of this browser (DPoP, RFC 9449); code flow only.
    pub dpop: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `config.json` could not be fetched at all.
    Unavailable(String),
    /// It is not a JSON object.
    NotJson(String),
    Field {
        field: &'static str,
        problem: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "config.json could not be loaded: {why}"),
            Self::NotJson(why) => write!(f, "config.json is not a JSON object: {why}"),
            Self::Field { field, problem } => write!(f, "`{field}` {problem}"),
        }
    }
}

/// https anywhere; plain http only on this machine, for local development.
pub fn is_allowed_origin_url(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

impl Config {
    /// Validates `text` against the app's own location: `app_base` is the absolute URL of
    /// the app's `public_url`, e.g. `http://localhost:8080/` or `https://x.example/demo/`.
    pub fn from_json(text: &str, app_base: &Url) -> Result<Config, ConfigError> {
        let value: Value = json::from_str(text).map_err(|e| ConfigError::NotJson(e.to_string()))?;
        let Value::Object(fields) = value else {
            return Err(ConfigError::NotJson(
                "the top level must be an object".into(),
            ));
        };
        let fields = Fields(&fields);

        let domain = parse_domain(fields.required("domain")?)?;
        let client_id = fields.required("client_id")?.to_string();
        let audience = fields.required("audience")?.to_string();
        let api_base_url = origin_url("api_base_url", fields.required("api_base_url")?)?;
        let response_type = match fields.optional("response_type")? {
            None | Some("id_token token") => ResponseType::IdTokenToken,
            Some("token") => ResponseType::Token,
            Some("code") => ResponseType::Code,
            Some(other) => {
                return Err(field_error(
                    "response_type",
                    format!(
                        "is `{other}`; use `id_token token` (the implicit grant), `token`, or `code` (the authorization code flow with PKCE)"
                    ),
                ))
            }
        };
        let scope = match (fields.optional("scope")?, response_type) {
            (None, ResponseType::Code) => DEFAULT_CODE_SCOPE.to_string(),
            (None, _) => DEFAULT_SCOPE.to_string(),
            (Some(scope), _) => scope.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
        };
        if response_type.wants_id_token() && !scope.split(' ').any(|s| s == "openid") {
            return Err(field_error(
                "scope",
                "must include `openid` when `response_type` asks for an ID token",
            ));
        }
        let redirect_uri = match fields.optional("redirect_uri")? {
            None => app_base
                .join("callback")
                .map_err(|e| field_error("redirect_uri", e.to_string()))?,
            Some(text) => absolute_url("redirect_uri", text)?,
        };
        let silent_redirect_uri = match fields.optional("silent_redirect_uri")? {
            None => app_base
                .join("silent-callback.html")
                .map_err(|e| field_error("silent_redirect_uri", e.to_string()))?,
            Some(text) => absolute_url("silent_redirect_uri", text)?,
        };
        let logout_return_to = match fields.optional("logout_return_to")? {
            None => app_base.clone(),
            Some(text) => absolute_url("logout_return_to", text)?,
        };
        let token_storage = match fields.optional("token_storage")? {
            None | Some("session") => TokenStorage::Session,
            Some("local") => TokenStorage::Local,
            Some("memory") => TokenStorage::Memory,
            Some(other) => {
                return Err(field_error(
                    "token_storage",
                    format!("is `{other}`; use `session`, `local` or `memory`"),
                ))
            }
        };
        let leeway_secs = match fields.0.get("leeway_secs") {
            None => 60.0,
            Some(value) => value
                .as_u64()
                .filter(|s| *s <= 300)
                .map(|s| s as f64)
                .ok_or_else(|| {
                    field_error(
                        "leeway_secs",
                        "must be a whole number of seconds from 0 to 300",
                    )
                })?,
        };
        let dpop = match fields.0.get("dpop") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) if response_type == ResponseType::Code => true,
            Some(Value::Bool(true)) => {
                return Err(field_error(
                    "dpop",
                    "needs `response_type: \"code\"`: the implicit grant has no token request to bind the tokens to a key",
                ))
            }
            Some(_) => return Err(field_error("dpop", "must be true or false")),
        };
        Ok(Config {
            domain,
            client_id,
            audience,
            api_base_url,
            scope,
            response_type,
            redirect_uri,
            silent_redirect_uri,
            logout_return_to,
            token_storage,
            leeway_secs,
            dpop,
        })
    }

    /// `GET /api/appointments` on the configured resource server.
    pub fn appointments_url(&self) -> String {
        format!(
            "{}/api/appointments",
            self.api_base_url.as_str().trim_end_matches('/')
        )
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn optional(&self, field: &'static str) -> Result<Option<&str>, ConfigError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => {
                Err(field_error(field, "is empty"))
            }
            Some(Value::String(text)) => Ok(Some(text.trim())),
            Some(_) => Err(field_error(field, "must be a string")),
        }
    }

    fn required(&self, field: &'static str) -> Result<&str, ConfigError> {
        self.optional(field)?
            .ok_or_else(|| field_error(field, "is missing"))
    }
}

fn field_error(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field,
        problem: problem.into(),
    }
}

/// `dev-abc.us.auth0.com` (https implied), an origin URL such as `http://localhost:7002`, or
/// an issuer URL with a path such as `https://host/realms/demo`.
fn parse_domain(text: &str) -> Result<Url, ConfigError> {
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    };
    let url = absolute_url("domain", &with_scheme)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(field_error(
            "domain",
            format!("must be the tenant's domain or issuer URL, without `?` or `#`: `{text}`"),
        ));
    }
    Ok(url)
}

fn origin_url(field: &'static str, text: &str) -> Result<Url, ConfigError> {
    let url = absolute_url(field, text)?;
    if !(url.path() == "/" && url.query().is_none() && url.fragment().is_none()) {
        return Err(field_error(
            field,
            format!("must be an origin only, like `https://example.com`, not `{text}`"),
        ));
    }
    Ok(url)
}

fn absolute_url(field: &'static str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text)
        .map_err(|e| field_error(field, format!("is not a valid URL ({e}): `{text}`")))?;
    if !is_allowed_origin_url(&url) || url.has_credentials() {
        return Err(field_error(
            field,
            format!(
                "must use https (plain http only for localhost, 127.0.0.1 and [::1]): `{text}`"
            ),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://localhost:8080/").expect("url")
    }

    const MINIMAL: &str = r#"{"domain":"dev-abc.us.auth0.com","client_id":"c1","audience":"appointments:api","api_base_url":"http://localhost:7001","unknown":true}"#;

    #[test]
    fn a_minimal_config_gets_the_documented_defaults() {
        let config = Config::from_json(MINIMAL, &base()).expect("valid");
        assert_eq!(config.domain.as_str(), "https://dev-abc.us.auth0.com/");
        assert_eq!(config.scope, "openid profile email read:appointments");
        assert_eq!(config.response_type, ResponseType::IdTokenToken);
        assert_eq!(
            config.redirect_uri.as_str(),
            "http://localhost:8080/callback"
        );
        assert_eq!(config.logout_return_to.as_str(), "http://localhost:8080/");
        assert_eq!(
            config.silent_redirect_uri.as_str(),
            "http://localhost:8080/silent-callback.html"
        );
        assert_eq!(config.token_storage, TokenStorage::Session);
        assert_eq!(
            config.appointments_url(),
            "http://localhost:7001/api/appointments"
        );
    }

    #[test]
    fn dpop_is_off_by_default_and_only_allowed_with_the_code_flow() {
        assert!(!Config::from_json(MINIMAL, &base()).expect("valid").dpop);
        let code = MINIMAL.replace(
            "\"unknown\"",
            "\"response_type\":\"code\",\"dpop\":true,\"unknown\"",
        );
        assert!(Config::from_json(&code, &base()).expect("valid").dpop);
        let implicit = MINIMAL.replace("\"unknown\"", "\"dpop\":true,\"unknown\"");
        match Config::from_json(&implicit, &base()) {
            Err(ConfigError::Field {
                field: "dpop",
                problem,
            }) => {
                assert!(problem.contains("response_type"), "{problem}")
            }
            other => panic!("expected a dpop error, got {other:?}"),
        }
        let text = MINIMAL.replace(
            "\"unknown\"",
            "\"response_type\":\"code\",\"dpop\":\"yes\",\"unknown\"",
        );
        assert!(matches!(
            Config::from_json(&text, &base()),
            Err(ConfigError::Field { field: "dpop", .. })
        ));
    }

    #[test]
    fn the_code_flow_asks_for_a_refresh_token_by_default() {
        let code = MINIMAL.replace("\"unknown\"", "\"response_type\":\"code\",\"unknown\"");
        let config = Config::from_json(&code, &base()).expect("valid");
        assert_eq!(config.response_type, ResponseType::Code);
        assert_eq!(
            config.scope,
            "openid profile email read:appointments offline_access"
        );
    }

    #[test]
    fn domain_may_be_an_issuer_with_a_path() {
        let with_domain = |domain: &str| MINIMAL.replace("dev-abc.us.auth0.com", domain);
        let config = Config::from_json(&with_domain("https://host.example/realms/demo"), &base())
            .expect("valid");
        assert_eq!(config.domain.as_str(), "https://host.example/realms/demo");
        let config =
            Config::from_json(&with_domain("http://localhost:7002"), &base()).expect("valid");
        assert_eq!(config.domain.as_str(), "http://localhost:7002/");
    }

    #[test]
    fn defaults_follow_a_sub_path_deployment() {
        let base = Url::parse("https://x.example/appointments-demo/").expect("url");
        let config = Config::from_json(MINIMAL, &base).expect("valid");
        assert_eq!(
            config.redirect_uri.as_str(),
            "https://x.example/appointments-demo/callback"
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                r#"{"client_id":"c","audience":"a","api_base_url":"http://localhost:7001"}"#,
                "domain",
            ),
            (
                r#"{"domain":"http://evil.example","client_id":"c","audience":"a","api_base_url":"http://localhost:7001"}"#,
                "domain",
            ),
            (
                r#"{"domain":"https://t.example/path?x=1","client_id":"c","audience":"a","api_base_url":"http://localhost:7001"}"#,
                "domain",
            ),
            (
                r#"{"domain":"https://t.example/#x","client_id":"c","audience":"a","api_base_url":"http://localhost:7001"}"#,
                "domain",
            ),
            (
                r#"{"domain":"t.example","client_id":"","audience":"a","api_base_url":"http://localhost:7001"}"#,
                "client_id",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":7,"api_base_url":"http://localhost:7001"}"#,
                "audience",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":"a","api_base_url":"ftp://x"}"#,
                "api_base_url",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":"a","api_base_url":"http://localhost:7001","response_type":"code id_token"}"#,
                "response_type",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":"a","api_base_url":"http://localhost:7001","scope":"profile"}"#,
                "scope",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":"a","api_base_url":"http://localhost:7001","token_storage":"cookie"}"#,
                "token_storage",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":"a","api_base_url":"http://localhost:7001","redirect_uri":"/callback"}"#,
                "redirect_uri",
            ),
            (
                r#"{"domain":"t.example","client_id":"c","audience":"a","api_base_url":"http://localhost:7001","leeway_secs":301}"#,
                "leeway_secs",
            ),
        ];
        for (json, field) in cases {
            match Config::from_json(json, &base()) {
                Err(ConfigError::Field { field: named, .. }) => assert_eq!(named, field, "{json}"),
                other => panic!("{json}: expected an error naming {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn broken_json_is_reported_as_such() {
        assert!(matches!(
            Config::from_json("{\"domain\": ", &base()),
            Err(ConfigError::NotJson(_))
        ));
        assert!(matches!(
            Config::from_json("[]", &base()),
            Err(ConfigError::NotJson(_))
        ));
    }
}
