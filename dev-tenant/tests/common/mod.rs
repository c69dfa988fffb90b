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

pub fn cookie_of(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
}

impl Tenant {
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

    pub async fn login(&self, tx: &str, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("u/login"))
            .form(&[("tx", tx), ("username", username), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    pub async fn decide(&self, tx: &str, decision: &str) -> reqwest::Response {
        self.http
            .post(self.url("u/consent"))
            .form(&[("tx", tx), ("decision", decision)])
            .send()
            .await
            .unwrap()
    }

    /// Authorize, sign in, open the consent page; returns the tx and the session cookie.
    pub async fn to_consent(
        &self,
        params: &[(String, String)],
        user: &str,
        password: &str,
    ) -> (String, String) {
        let page = self.authorize(params).await;
        assert_eq!(page.status(), 200);
        let tx = tx_of(&page.text().await.unwrap());
        let resp = self.login(&tx, user, password).await;
        assert_eq!(resp.status(), 303);
        let cookie = cookie_of(&resp).expect("a session cookie");
        let consent = location(&resp).unwrap();
        assert_eq!(consent, format!("/u/consent?tx={tx}"));
        let page = self.http.get(self.url(&consent)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(tx_of(&page.text().await.unwrap()), tx);
        (tx, cookie)
    }

    /// The whole flow, accepted; returns the callback fragment.
    pub async fn sign_in(
        &self,
        params: &[(String, String)],
        user: &str,
        password: &str,
    ) -> HashMap<String, String> {
        let (tx, _) = self.to_consent(params, user, password).await;
        let resp = self.decide(&tx, "accept").await;
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
