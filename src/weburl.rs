//! A parsed URL, as the WHATWG URL Standard defines it.
//!
//! In the browser the page's own `URL` parses it, so the wasm carries no URL parser (the
//! `url` crate added 33 KB to it). On the host, where the protocol modules are unit tested,
//! the `url` crate parses it: it implements the same standard. Everything past parsing
//! (query building, accessors) is shared code, derived from the serialized form.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    href: String,
    scheme: String,
    host: String,
    origin: String,
    path: String,
    has_credentials: bool,
}

/// Why a text is not an absolute URL, in the parser's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Url {
    /// An absolute URL.
    pub fn parse(text: &str) -> Result<Url, ParseError> {
        platform::parse(text, None).and_then(Url::checked)
    }

    /// `reference` resolved against this URL, as a link in a page at this URL would be.
    pub fn join(&self, reference: &str) -> Result<Url, ParseError> {
        platform::parse(reference, Some(&self.href)).and_then(Url::checked)
    }

    /// Chromium escapes some characters in a host that the standard forbids (`exa mple.com`
    /// becomes `exa%20mple.com`); both parsers must refuse the same hosts.
    fn checked(self) -> Result<Url, ParseError> {
        let host_chars = |c: char| c.is_ascii_alphanumeric() || "-._[]:".contains(c);
        if self.host.chars().all(host_chars) {
            Ok(self)
        } else {
            Err(ParseError(format!("`{}` is not a valid host", self.host)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.href
    }

    /// Without the `:`, e.g. `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host as serialized, e.g. `localhost`, `127.0.0.1` or `[::1]`.
    pub fn host_str(&self) -> Option<&str> {
        Some(self.host.as_str()).filter(|host| !host.is_empty())
    }

    /// `scheme://host[:port]`, e.g. `https://dev-abc.us.auth0.com`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// A user name or password before the host.
    pub fn has_credentials(&self) -> bool {
        self.has_credentials
    }

    /// After `?` and before `#`; `Some("")` for a bare `?`.
    pub fn query(&self) -> Option<&str> {
        let before_fragment = self.href.split('#').next().unwrap_or_default();
        before_fragment.split_once('?').map(|(_, query)| query)
    }

    /// After `#`; `Some("")` for a bare `#`.
    pub fn fragment(&self) -> Option<&str> {
        self.href.split_once('#').map(|(_, fragment)| fragment)
    }

    /// `application/x-www-form-urlencoded` pairs of the query.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query().unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

    /// This URL with `pairs` appended to its query, form-encoded.
    pub fn with_query_pairs<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Url {
        let (without_fragment, fragment) = match self.href.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (self.href.as_str(), None),
        };
        let (base, query) = match without_fragment.split_once('?') {
            Some((base, query)) => (base, query.to_string()),
            None => (without_fragment, String::new()),
        };
        let query = form_urlencoded::Serializer::new(query)
            .extend_pairs(pairs)
            .finish();
        let mut href = format!("{base}?{query}");
        if let Some(fragment) = fragment {
            href.push('#');
            href.push_str(fragment);
        }
        Url {
            href,
            ..self.clone()
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.href)
    }
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use super::{ParseError, Url};

    pub fn parse(text: &str, base: Option<&str>) -> Result<Url, ParseError> {
        let parsed = match base {
            Some(base) => web_sys::Url::new_with_base(text, base),
            None => web_sys::Url::new(text),
        }
        .map_err(|_| ParseError("not an absolute URL".to_string()))?;
        let scheme = parsed.protocol();
        Ok(Url {
            href: parsed.href(),
            scheme: scheme.strip_suffix(':').unwrap_or(&scheme).to_string(),
            host: parsed.hostname(),
            origin: parsed.origin(),
            path: parsed.pathname(),
            has_credentials: !parsed.username().is_empty() || !parsed.password().is_empty(),
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use super::{ParseError, Url};

    pub fn parse(text: &str, base: Option<&str>) -> Result<Url, ParseError> {
        let parsed = match base {
            Some(base) => url::Url::parse(base).and_then(|base| base.join(text)),
            None => url::Url::parse(text),
        }
        .map_err(|e| ParseError(e.to_string()))?;
        Ok(Url {
            href: parsed.as_str().to_string(),
            scheme: parsed.scheme().to_string(),
            host: parsed.host_str().unwrap_or_default().to_string(),
            origin: parsed.origin().ascii_serialization(),
            path: parsed.path().to_string(),
            has_credentials: !parsed.username().is_empty() || parsed.password().is_some(),
        })
    }
}

/// The same cases in both parsers: `cargo test` (the url crate) and
/// `cargo test --target wasm32-unknown-unknown` (headless Chromium's `URL`).
#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    #[test]
    fn parts_of_an_absolute_url() {
        let url = Url::parse("https://Dev-ABC.us.auth0.com:8443/a/b?x=1&y#frag").expect("url");
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host_str(), Some("dev-abc.us.auth0.com"));
        assert_eq!(url.origin(), "https://dev-abc.us.auth0.com:8443");
        assert_eq!(url.path(), "/a/b");
        assert_eq!(url.query(), Some("x=1&y"));
        assert_eq!(url.fragment(), Some("frag"));
        assert!(!url.has_credentials());
        assert!(Url::parse("https://u:p@x.example/")
            .expect("url")
            .has_credentials());
        assert!(Url::parse("/relative").is_err());
        assert!(Url::parse("https://exa mple.com/").is_err());
        let local = Url::parse("http://[::1]:8080/?").expect("url");
        assert_eq!(local.host_str(), Some("[::1]"));
        assert_eq!(local.origin(), "http://[::1]:8080");
        assert_eq!((local.query(), local.fragment()), (Some(""), None));
    }

    #[test]
    fn join_resolves_like_a_link() {
        let base = Url::parse("https://x.example/demo/").expect("url");
        assert_eq!(
            base.join("callback").expect("url").as_str(),
            "https://x.example/demo/callback"
        );
        assert_eq!(
            base.join("/.well-known/jwks.json").expect("url").as_str(),
            "https://x.example/.well-known/jwks.json"
        );
    }

    #[test]
    fn appended_pairs_are_form_encoded_before_the_fragment() {
        let url = Url::parse("https://x.example/authorize?a=1#f").expect("url");
        let url = url.with_query_pairs([("redirect_uri", "http://l/cb?x=y z"), ("b", "&=")]);
        assert_eq!(
            url.as_str(),
            "https://x.example/authorize?a=1&redirect_uri=http%3A%2F%2Fl%2Fcb%3Fx%3Dy+z&b=%26%3D#f"
        );
        assert_eq!(
            url.query_pairs(),
            vec![
                ("a".into(), "1".into()),
                ("redirect_uri".into(), "http://l/cb?x=y z".into()),
                ("b".into(), "&=".into())
            ]
        );
    }
}
