//! Whose keys to trust: where an issuer's discovery document is (OpenID Connect
//! Discovery §4), what its `issuer` must say (§4.3), and the https rules for the
//! JWKS location and for redirects.

use reqwest::redirect::{Attempt, Policy};
use serde_json::Value;
use url::Url;

/// Redirects followed when fetching discovery or the JWKS.
const MAX_REDIRECTS: usize = 5;

/// Two issuer strings name the same issuer when they are equal or differ only by one
/// `/` at the very end (providers differ on it: Auth0 writes `https://host/`, Okta and
/// Keycloak `https://host/path`). Nothing else is normalised: not case, not ports,
/// not percent-encoding.
pub fn same_issuer(a: &str, b: &str) -> bool {
    a == b || a.strip_suffix('/') == Some(b) || b.strip_suffix('/') == Some(a)
}

/// `<issuer>/.well-known/openid-configuration`: the path appended to the issuer's own
/// path after dropping one trailing `/` (so `https://host/realms/demo` keeps `demo`).
pub fn discovery_url(issuer: &Url) -> Url {
    well_known(issuer, "openid-configuration")
}

/// `<issuer>/.well-known/jwks.json`: Auth0's fixed JWKS location, used when the issuer
/// has no discovery document.
pub fn fallback_jwks_url(issuer: &Url) -> Url {
    well_known(issuer, "jwks.json")
}

fn well_known(issuer: &Url, name: &str) -> Url {
    let path = issuer.path();
    let base = path.strip_suffix('/').unwrap_or(path);
    let mut url = issuer.clone();
    url.set_path(&format!("{base}/.well-known/{name}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Under an https issuer the keys must come over https too; a plain http issuer
/// (the local dev tenant) may use either.
pub fn check_jwks_scheme(issuer: &Url, jwks_uri: &Url) -> Result<(), String> {
    match jwks_uri.scheme() {
        "https" => Ok(()),
        "http" if issuer.scheme() != "https" => Ok(()),
        "http" => Err(format!(
            "the jwks_uri {jwks_uri} is plain http under the https issuer {issuer}; refused"
        )),
        other => Err(format!(
            "the jwks_uri {jwks_uri} is not http(s) (scheme {other:?}); refused"
        )),
    }
}

/// Where the keys are and whose tokens they verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The `issuer` of the discovery document, exactly as written: tokens' `iss` must
    /// equal it.
    pub issuer: String,
    /// The document's `jwks_uri` (or the fallback when it names none).
    pub jwks_uri: Url,
}

/// Checks the discovery document fetched from `discovery` for the configured `issuer`
/// (`issuer_url` is the same, parsed). The document is used only if its `issuer` is
/// the configured one (modulo one trailing `/`) and its `jwks_uri` passes
/// [`check_jwks_scheme`].
pub fn check_discovery(
    doc: &Value,
    issuer: &str,
    issuer_url: &Url,
    discovery: &Url,
) -> Result<Discovered, String> {
    let named = match doc.get("issuer") {
        Some(Value::String(named)) => named,
        _ => {
            return Err(format!(
                "the discovery document {discovery} has no issuer; its keys are not used"
            ))
        }
    };
    if !same_issuer(named, issuer) {
        // Debug formatting escapes whatever the document holds (no log injection).
        return Err(format!(
            "the discovery document {discovery} names the issuer {named:?}, not the configured \
             {issuer:?} (OpenID Connect Discovery 4.3); its keys are not used"
        ));
    }
    let jwks_uri = match doc.get("jwks_uri") {
        None => fallback_jwks_url(issuer_url),
        Some(Value::String(uri)) => Url::parse(uri)
            .ok()
            .filter(|u| u.host_str().is_some())
            .ok_or_else(|| format!("the discovery document {discovery} has an invalid jwks_uri"))?,
        Some(_) => {
            return Err(format!(
                "the discovery document {discovery} has an invalid jwks_uri"
            ))
        }
    };
    check_jwks_scheme(issuer_url, &jwks_uri)
        .map_err(|m| format!("the discovery document {discovery}: {m}"))?;
    Ok(Discovered {
        issuer: named.clone(),
        jwks_uri,
    })
}

/// Why a redirect to `next` after `previous` (the initial URL first) is refused:
/// once a chain has been on https it never continues on plain http.
pub fn refused_redirect(previous: &[Url], next: &Url) -> Option<String> {
    if previous.len() > MAX_REDIRECTS {
        return Some(format!("more than {MAX_REDIRECTS} redirects"));
    }
    let was_https = previous.iter().any(|u| u.scheme() == "https");
    if next.scheme() != "https" && (was_https || next.scheme() != "http") {
        return Some(format!(
            "a redirect to {} would leave https; refused",
            next.scheme()
        ));
    }
    None
}

/// The redirect policy of the client that fetches discovery and the JWKS.
pub fn redirect_policy() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| {
        match refused_redirect(attempt.previous(), attempt.url()) {
            Some(reason) => attempt.error(reason),
            None => attempt.follow(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn one_trailing_slash_is_the_only_difference_allowed() {
        let same = [
            ("https://host/", "https://host/"),
            ("https://host/", "https://host"),
            ("https://host", "https://host/"),
            ("https://host/realms/demo", "https://host/realms/demo/"),
            ("https://host/a/", "https://host/a//"),
        ];
        for (a, b) in same {
            assert!(same_issuer(a, b), "{a} {b}");
        }
        let different = [
            ("https://host", "https://host//"),
            ("https://host/", "https://HOST/"),
            ("https://host/", "https://host:443/"),
            ("https://host/", "http://host/"),
            ("https://host/realms/demo", "https://host/realms/demo2"),
            ("https://host/realms/demo", "https://host/realms/"),
            ("https://host/a%2Fb", "https://host/a/b"),
            ("https://host/", " https://host/"),
        ];
        for (a, b) in different {
            assert!(!same_issuer(a, b), "{a} {b}");
            assert!(!same_issuer(b, a), "{b} {a}");
        }
        // "" and "/" differ only by one trailing slash.
        assert!(same_issuer("", "/"));
    }

    #[test]
    fn well_known_urls_keep_the_issuer_path() {
        let cases = [
            (
                "https://host/realms/demo",
                "https://host/realms/demo/.well-known/openid-configuration",
            ),
            (
                "https://host/realms/demo/",
                "https://host/realms/demo/.well-known/openid-configuration",
            ),
            (
                "https://x.okta.com/oauth2/default",
                "https://x.okta.com/oauth2/default/.well-known/openid-configuration",
            ),
            (
                "http://localhost:7002/",
                "http://localhost:7002/.well-known/openid-configuration",
            ),
            (
                "http://localhost:7002",
                "http://localhost:7002/.well-known/openid-configuration",
            ),
            (
                "https://dev-abc.us.auth0.com/",
                "https://dev-abc.us.auth0.com/.well-known/openid-configuration",
            ),
            // Only one slash is dropped.
            (
                "https://host/a//",
                "https://host/a//.well-known/openid-configuration",
            ),
        ];
        for (issuer, expected) in cases {
            assert_eq!(discovery_url(&url(issuer)).as_str(), expected, "{issuer}");
        }
        assert_eq!(
            fallback_jwks_url(&url("https://host/realms/demo")).as_str(),
            "https://host/realms/demo/.well-known/jwks.json"
        );
        assert_eq!(
            fallback_jwks_url(&url("https://dev-abc.us.auth0.com/")).as_str(),
            "https://dev-abc.us.auth0.com/.well-known/jwks.json"
        );
    }

    #[test]
    fn discovery_issuer_must_be_the_configured_one() {
        let issuer = "https://host/realms/demo";
        let issuer_url = url(issuer);
        let discovery = discovery_url(&issuer_url);
        let check = |doc: Value| check_discovery(&doc, issuer, &issuer_url, &discovery);

        let found = check(
            json!({"issuer": "https://host/realms/demo/", "jwks_uri": "https://keys.test/jwks"}),
        )
        .unwrap();
        assert_eq!(found.issuer, "https://host/realms/demo/", "kept as written");
        assert_eq!(found.jwks_uri.as_str(), "https://keys.test/jwks");

        let found = check(json!({"issuer": issuer})).unwrap();
        assert_eq!(
            found.jwks_uri.as_str(),
            "https://host/realms/demo/.well-known/jwks.json"
        );

        for (doc, why) in [
            (
                json!({"issuer": "https://host/realms/other", "jwks_uri": "https://host/k"}),
                "names the issuer",
            ),
            (
                json!({"issuer": "https://host/realms/demo//", "jwks_uri": "https://host/k"}),
                "names the issuer",
            ),
            (
                json!({"issuer": "https://evil.test/\nforged log line"}),
                "names the issuer",
            ),
            (json!({"jwks_uri": "https://host/k"}), "has no issuer"),
            (json!({"issuer": 5}), "has no issuer"),
            (
                json!({"issuer": issuer, "jwks_uri": "http://host/k"}),
                "plain http under the https issuer",
            ),
            (
                json!({"issuer": issuer, "jwks_uri": "ftp://host/k"}),
                "not http(s)",
            ),
            (
                json!({"issuer": issuer, "jwks_uri": "not a url"}),
                "invalid jwks_uri",
            ),
            (json!({"issuer": issuer, "jwks_uri": 7}), "invalid jwks_uri"),
        ] {
            let message = check(doc.clone()).unwrap_err();
            assert!(message.contains(why), "{doc}: {message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn plain_http_keys_only_under_a_plain_http_issuer() {
        let https = url("https://host/");
        let http = url("http://localhost:7002/");
        assert!(check_jwks_scheme(&https, &url("https://keys.test/jwks")).is_ok());
        assert!(check_jwks_scheme(&https, &url("http://keys.test/jwks")).is_err());
        assert!(check_jwks_scheme(&https, &url("http://127.0.0.1/jwks")).is_err());
        assert!(check_jwks_scheme(&http, &url("http://localhost:7002/jwks")).is_ok());
        assert!(check_jwks_scheme(&http, &url("https://keys.test/jwks")).is_ok());
    }

    #[test]
    fn redirects_never_downgrade_from_https() {
        let https = url("https://host/.well-known/jwks.json");
        let http = url("http://host/.well-known/jwks.json");
        let elsewhere_https = url("https://cdn.test/jwks.json");
        assert_eq!(
            refused_redirect(std::slice::from_ref(&https), &elsewhere_https),
            None
        );
        assert!(refused_redirect(std::slice::from_ref(&https), &http).is_some());
        assert!(refused_redirect(&[https.clone(), elsewhere_https.clone()], &http).is_some());
        // A plain http issuer may be redirected to http or upgraded to https, and
        // once upgraded, not back.
        assert_eq!(refused_redirect(std::slice::from_ref(&http), &http), None);
        assert_eq!(refused_redirect(std::slice::from_ref(&http), &https), None);
        assert!(refused_redirect(&[http.clone(), https.clone()], &http).is_some());
        assert!(refused_redirect(std::slice::from_ref(&http), &url("ftp://host/x")).is_some());
        let long: Vec<Url> = (0..6).map(|_| https.clone()).collect();
        assert!(refused_redirect(&long, &https).is_some());
        assert_eq!(refused_redirect(&long[..5], &https), None);
    }
}
