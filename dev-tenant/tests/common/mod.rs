//! Shared helpers: run the tenant in-process on a free port and drive the flow.
#![allow(dead_code)]

use std::collections::HashMap;

use dev_tenant::Settings;

pub const CLIENT: &str = "appointments-spa";
pub const CALLBACK: &str = "http://localhost:8080/callback";
pub const AUDIENCE: &str = "appointments:api";
pub const ALL_SCOPES: &str = "openid profile email read:appointments create:appointments";

pub struct Tenant {
    pub base: String,
    pub http: reqwest::Client,
    pub modulus: String,
}

pub async fn start() -> Tenant {
    start_with(|issuer| Settings::demo(issuer).unwrap()).await
}

pub async fn start_with(make: impl FnOnce(&str) -> Settings) -> Tenant {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}/");
    let settings = make(&base);
    let modulus = settings.key.modulus().to_string();
    tokio::spawn(dev_tenant::serve(listener, settings));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Tenant {
        base,
        http,
        modulus,
    }
}

/// The default authorization request, with `overrides` replacing or (value "") removing params.
pub fn params(overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("client_id", CLIENT),
        ("redirect_uri", CALLBACK),
        ("response_type", "id_token token"),
        ("scope", ALL_SCOPES),
        ("audience", AUDIENCE),
        ("state", "st 1&x=y"),
        ("nonce", "n-0S6_WzA2Mj"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k.to_string(), v.to_string()));
        }
    }
    p
}

pub fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
}

/// Splits `callback#a=b&..` into the part before `#` and the decoded fragment.
pub fn fragment(location: &str) -> (String, HashMap<String, String>) {
    let (base, frag) = location.split_once('#').expect("a fragment");
    let map = url::form_urlencoded::parse(frag.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (base.to_string(), map)
}

/// The hidden `tx` value of a login or consent page.
pub fn tx_of(html: &str) -> String {
    let marker = "name=\"tx\" value=\"";
    let start = html.find(marker).expect("a tx field") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_string()
}

/// The `Cookie` header a browser sends after `resp`: the cookies of `jar` (a `Cookie`
/// header value, `""` for none) updated by the response's `Set-Cookie` headers.
pub fn jar_after(jar: &str, resp: &reqwest::Response) -> String {
    let mut cookies: Vec<(String, String)> = jar
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for set in resp.headers().get_all("set-cookie") {
        let set = set.to_str().unwrap();
        let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
        cookies.retain(|(n, _)| n != name);
        if !value.is_empty() && !set.contains("Max-Age=0") {
            cookies.push((name.to_string(), value.to_string()));
        }
    }
    cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The full `Set-Cookie` header of cookie `name` in `resp`.
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
}

impl Tenant {
    /// The same tenant, reached from another loopback address (e.g. `127.0.0.2`): the
    /// tenant sees another client address.
    pub fn reached_from(&self, ip: &str) -> Tenant {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        Tenant {
            base: self.base.clone(),
            http,
            modulus: self.modulus.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    pub async fn authorize(&self, params: &[(String, String)]) -> reqwest::Response {
        self.http
            .get(self.url("authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` with the cookies of `jar` (a `Cookie` header value, `""` for none).
    pub async fn get_with(&self, path: &str, jar: &str) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if !jar.is_empty() {
            req = req.header("cookie", jar);
        }
        req.send().await.unwrap()
    }

    /// Posts the login form of `tx` from a browser holding `jar`.
    pub async fn login(
        &self,
        tx: &str,
        jar: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url("u/login"))
            .header("cookie", jar)
            .form(&[("tx", tx), ("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Posts the consent form of `tx` from a browser holding `jar`.
    pub async fn decide(&self, tx: &str, jar: &str, decision: &str) -> reqwest::Response {
        self.http
            .post(self.url("u/consent"))
            .header("cookie", jar)
            .form(&[("tx", tx), ("decision", decision)])
            .send()
            .await
            .unwrap()
    }

    /// `/authorize` from a fresh browser: the login form's tx and the browser's cookies.
    pub async fn start_sign_in(&self, params: &[(String, String)]) -> (String, String) {
        let page = self.authorize(params).await;
        assert_eq!(page.status(), 200);
        let jar = jar_after("", &page);
        assert!(jar.starts_with("dev_tenant_browser="), "{jar}");
        (tx_of(&page.text().await.unwrap()), jar)
    }

    /// Authorize, sign in, open the consent page from a fresh browser; returns the tx
    /// and the browser's cookies (the browser cookie and the session cookie).
    pub async fn to_consent(
        &self,
        params: &[(String, String)],
        user: &str,
        password: &str,
    ) -> (String, String) {
        let (tx, jar) = self.start_sign_in(params).await;
        let resp = self.login(&tx, &jar, user, password).await;
        assert_eq!(resp.status(), 303);
        let jar = jar_after(&jar, &resp);
        assert!(jar.contains("dev_tenant_session="), "a session cookie");
        let consent = location(&resp).unwrap();
        assert_eq!(consent, format!("/u/consent?tx={tx}"));
        let page = self.get_with(&consent, &jar).await;
        assert_eq!(page.status(), 200);
        assert_eq!(tx_of(&page.text().await.unwrap()), tx);
        (tx, jar)
    }

    /// The whole flow, accepted; returns the callback fragment.
    pub async fn sign_in(
        &self,
        params: &[(String, String)],
        user: &str,
        password: &str,
    ) -> HashMap<String, String> {
        let (tx, jar) = self.to_consent(params, user, password).await;
        let resp = self.decide(&tx, &jar, "accept").await;
        assert_eq!(resp.status(), 302);
        let (base, frag) = fragment(&location(&resp).unwrap());
        assert_eq!(base, CALLBACK);
        frag
    }

    pub async fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        self.http
            .get(self.url(".well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
