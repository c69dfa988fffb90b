//! The authorization request (OAuth 2.0 §4.2.1, OpenID Connect Core §3.2.2.1) and the
//! transaction the browser keeps until the response comes back.

use crate::weburl::Url;
use serde::{Deserialize, Serialize};

/// Transactions older than this are refused, and discarded when found.
pub const TRANSACTION_MAX_AGE_MS: f64 = 10.0 * 60.0 * 1000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    /// `token`: an access token only. Without an ID token nothing binds the response to
    /// this sign-in but `state`, so an injected token cannot be detected (RFC 9700 §4.6).
    #[serde(rename = "token")]
    Token,
    /// `id_token token`: the default; the ID token's nonce and signature protect the flow.
    #[serde(rename = "id_token token")]
    IdTokenToken,
    /// `code`: the authorization code flow with PKCE; the tokens come from the token
    /// endpoint, never through a URL.
    #[serde(rename = "code")]
    Code,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::IdTokenToken => "id_token token",
            Self::Code => "code",
        }
    }

    /// Whether the sign-in gives an ID token (and so needs `openid` and a nonce).
    pub fn wants_id_token(self) -> bool {
        matches!(self, Self::IdTokenToken | Self::Code)
    }
}

/// One sign-in in progress, kept in sessionStorage under its `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub state: String,
    pub nonce: Option<String>,
    pub response_type: ResponseType,
    /// PKCE's secret half, for the code flow: sent only in the token request's body.
    #[serde(default)]
    pub code_verifier: Option<String>,
    /// With DPoP, the key the tokens will be bound to (its name in the key store), and
    /// whether this sign-in created it (and so deletes it if the sign-in fails).
    #[serde(default)]
    pub dpop_key_id: Option<String>,
    #[serde(default)]
    pub dpop_key_is_new: bool,
    /// The app path to return to after sign-in, already checked by [`safe_return_path`].
    pub return_to: String,
    /// Milliseconds since the epoch.
    pub created_at: f64,
}

impl Transaction {
    pub fn is_expired(&self, now_ms: f64) -> bool {
        !(0.0..=TRANSACTION_MAX_AGE_MS).contains(&(now_ms - self.created_at))
    }
}

pub struct AuthorizeRequest<'a> {
    pub authorization_endpoint: &'a Url,
    pub client_id: &'a str,
    pub redirect_uri: &'a Url,
    pub audience: &'a str,
    pub scope: &'a str,
    /// `Some("none")` for silent renewal: the tenant must answer without showing a page.
    pub prompt: Option<&'a str>,
    /// PKCE's S256 challenge of the transaction's verifier (code flow only).
    pub code_challenge: Option<&'a str>,
    /// With DPoP, the thumbprint of the key the code will be bound to (RFC 9449 §10).
    pub dpop_jkt: Option<&'a str>,
    pub transaction: &'a Transaction,
}

impl AuthorizeRequest<'_> {
    /// The URL the browser is sent to, every value form-encoded.
    pub fn url(&self) -> Url {
        let required = [
            ("response_type", self.transaction.response_type.as_str()),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("audience", self.audience),
            ("scope", self.scope),
            ("state", &self.transaction.state),
        ];
        let optional = [
            ("nonce", self.transaction.nonce.as_deref()),
            ("prompt", self.prompt),
            ("code_challenge", self.code_challenge),
            ("code_challenge_method", self.code_challenge.map(|_| "S256")),
            ("dpop_jkt", self.dpop_jkt),
        ];
        let optional = optional
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        self.authorization_endpoint
            .with_query_pairs(required.into_iter().chain(optional))
    }
}

/// Where to go after sign-in: only a path inside this app, never another origin
/// (`//evil.example`, `https://...`, `/\evil`), so the parameter cannot be used as an
/// open redirect; and never back to the callback, which would wait for a second answer.
pub fn safe_return_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && !is_callback_path(path) =>
        {
            path.to_string()
        }
        _ => "/appointments".to_string(),
    }
}

/// `/callback`, whatever follows it: `/callback/`, `/callback?x`, `/callback#x`.
fn is_callback_path(path: &str) -> bool {
    path.strip_prefix("/callback")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transaction(response_type: ResponseType) -> Transaction {
        Transaction {
            state: "st+/=&1".into(),
            nonce: response_type.wants_id_token().then(|| "no nce".into()),
            response_type,
            code_verifier: None,
            dpop_key_id: None,
            dpop_key_is_new: false,
            return_to: "/appointments".into(),
            created_at: 0.0,
        }
    }

    fn pairs(url: &Url) -> Vec<(String, String)> {
        url.query_pairs()
    }

    #[test]
    fn builds_the_authorize_url_with_every_parameter_encoded() {
        let endpoint = Url::parse("https://tenant.example/authorize").expect("url");
        let redirect = Url::parse("http://localhost:8080/callback").expect("url");
        let tx = transaction(ResponseType::IdTokenToken);
        let url = AuthorizeRequest {
            authorization_endpoint: &endpoint,
            client_id: "abc",
            redirect_uri: &redirect,
            audience: "appointments:api",
            scope: "openid profile read:appointments",
            prompt: None,
            code_challenge: None,
            dpop_jkt: None,
            transaction: &tx,
        }
        .url();
        assert_eq!(url.path(), "/authorize");
        assert_eq!(
            pairs(&url),
            [
                ("response_type", "id_token token"),
                ("client_id", "abc"),
                ("redirect_uri", "http://localhost:8080/callback"),
                ("audience", "appointments:api"),
                ("scope", "openid profile read:appointments"),
                ("state", "st+/=&1"),
                ("nonce", "no nce"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let query = url.query().unwrap_or_default();
        assert!(query.contains("state=st%2B%2F%3D%261"), "{query}");
        assert!(
            query.contains("redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback"),
            "{query}"
        );
    }

    #[test]
    fn token_only_requests_carry_no_nonce() {
        let endpoint = Url::parse("https://tenant.example/authorize").expect("url");
        let tx = transaction(ResponseType::Token);
        let url = AuthorizeRequest {
            authorization_endpoint: &endpoint,
            client_id: "abc",
            redirect_uri: &endpoint,
            audience: "a",
            scope: "openid",
            prompt: Some("none"),
            code_challenge: None,
            dpop_jkt: None,
            transaction: &tx,
        }
        .url();
        assert!(pairs(&url).iter().all(|(k, _)| k != "nonce"));
        assert!(pairs(&url).contains(&("response_type".into(), "token".into())));
        assert!(pairs(&url).contains(&("prompt".into(), "none".into())));
    }

    #[test]
    fn code_requests_carry_the_challenge_never_the_verifier() {
        let endpoint = Url::parse("https://tenant.example/authorize").expect("url");
        let mut tx = transaction(ResponseType::Code);
        tx.code_verifier = Some("the-secret-verifier".into());
        let url = AuthorizeRequest {
            authorization_endpoint: &endpoint,
            client_id: "abc",
            redirect_uri: &endpoint,
            audience: "a",
            scope: "openid offline_access",
            prompt: None,
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            dpop_jkt: Some("oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"),
            transaction: &tx,
        }
        .url();
        let pairs = pairs(&url);
        for expected in [
            ("response_type", "code"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("nonce", "no nce"),
            ("dpop_jkt", "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"),
        ] {
            assert!(
                pairs.contains(&(expected.0.into(), expected.1.into())),
                "{expected:?}"
            );
        }
        assert!(!url.as_str().contains("the-secret-verifier"));
    }

    #[test]
    fn return_paths_stay_inside_the_app() {
        assert_eq!(
            safe_return_path(Some("/appointments?x=1")),
            "/appointments?x=1"
        );
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "appointments",
            "/a\nb",
            "",
            "/callback",
            "/callback/",
            "/callback?x=1",
            "/callback#access_token=x",
        ] {
            assert_eq!(
                safe_return_path(Some(hostile)),
                "/appointments",
                "{hostile:?}"
            );
        }
        assert_eq!(safe_return_path(None), "/appointments");
        assert_eq!(safe_return_path(Some("/callbacks")), "/callbacks");
    }

    #[test]
    fn transactions_expire_after_ten_minutes() {
        let tx = transaction(ResponseType::Token);
        assert!(!tx.is_expired(TRANSACTION_MAX_AGE_MS));
        assert!(tx.is_expired(TRANSACTION_MAX_AGE_MS + 1.0));
        assert!(
            tx.is_expired(-1.0),
            "a transaction from the future is not trusted either"
        );
    }
}
