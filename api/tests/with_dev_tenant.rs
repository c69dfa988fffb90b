//! The two local servers together: a token the dev tenant issues through its real
//! authorize, login and consent pages is accepted by the API, with its scopes enforced;
//! and a token it binds to a DPoP key in the code flow is accepted with that key's proofs
//! only.

use std::collections::HashMap;

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};

const CALLBACK: &str = "http://localhost:8080/callback";

struct Tenant {
    base: String,
}

impl Tenant {
    async fn start() -> Tenant {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let base = format!("http://{}/", listener.local_addr().expect("addr"));
        let settings = dev_tenant::Settings::demo(&base).expect("demo tenant");
        tokio::spawn(dev_tenant::serve(listener, settings));
        Tenant { base }
    }

    /// The implicit grant: the access token from the callback fragment.
    async fn access_token(&self, user: &str, password: &str) -> String {
        let location = self
            .authorize(
                user,
                password,
                &[("response_type", "id_token token"), ("nonce", "n")],
            )
            .await;
        let (_, fragment) = location.split_once('#').expect("a fragment");
        let params: HashMap<String, String> = url::form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
        params.get("access_token").expect("an access token").clone()
    }

    /// The code flow with PKCE and DPoP, as the SPA with `dpop: true`: `dpop_jkt` at
    /// `/authorize`, the code exchanged with a proof of `key`; a token of type DPoP.
    async fn bound_access_token(&self, user: &str, password: &str, key: &dpop::Signer) -> String {
        let verifier = "with-dev-tenant-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
        // S256 is base64url(SHA-256(verifier)): the same sum as a proof's `ath`.
        let challenge = dpop::ath(verifier);
        let jkt = key.jkt();
        let location = self
            .authorize(
                user,
                password,
                &[
                    ("response_type", "code"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                    ("dpop_jkt", &jkt),
                ],
            )
            .await;
        let code = url::Url::parse(&location)
            .expect("a URL")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let endpoint = format!("{}oauth/token", self.base);
        let answer: Value = reqwest::Client::new()
            .post(&endpoint)
            .header(
                "dpop",
                key.proof("POST", &endpoint, dpop::now(), None, None),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "appointments-spa"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["token_type"], "DPoP", "{answer}");
        answer["access_token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// Authorize (with `extra` parameters), log in, consent: the redirect's `Location`.
    /// Carries the tenant's cookies as a browser would (its pages refuse requests without
    /// the browser cookie from `/authorize`, and consent needs the session cookie).
    async fn authorize(&self, user: &str, password: &str, extra: &[(&str, &str)]) -> String {
        // A browser of its own for each user: no other user's session cookie.
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        let page = http
            .get(format!("{}authorize", self.base))
            .query(&[
                ("client_id", "appointments-spa"),
                ("redirect_uri", CALLBACK),
                ("audience", "appointments:api"),
                (
                    "scope",
                    "openid profile read:appointments create:appointments",
                ),
                ("state", "s"),
            ])
            .query(extra)
            .send()
            .await
            .expect("authorize");
        assert_eq!(page.status(), StatusCode::OK);
        let tx = hidden_tx(&page.text().await.expect("login page"));
        let login = http
            .post(format!("{}u/login", self.base))
            .form(&[
                ("tx", tx.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        let consent = http
            .post(format!("{}u/consent", self.base))
            .form(&[("tx", tx.as_str()), ("decision", "accept")])
            .send()
            .await
            .expect("consent");
        assert_eq!(consent.status(), StatusCode::FOUND);
        consent
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a redirect")
            .to_string()
    }
}

fn hidden_tx(html: &str) -> String {
    let marker = "name=\"tx\" value=\"";
    let start = html.find(marker).expect("a tx field") + marker.len();
    let end = html[start..].find('"').expect("end of value");
    html[start..start + end].to_string()
}

#[tokio::test]
async fn tokens_from_the_dev_tenant_are_accepted_and_scoped() {
    let tenant = Tenant::start().await;
    let api = appointments_api::spawn(appointments_api::Settings::new(
        tenant.base.clone(),
        "appointments:api",
    ))
    .await
    .expect("api");
    let url = format!("{}/api/appointments", api.base_url());
    let http = reqwest::Client::new();

    let alice = tenant
        .access_token("alice@example.com", "alice-password-1")
        .await;
    let list = http
        .get(&url)
        .bearer_auth(&alice)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), StatusCode::OK);
    let list: Vec<Value> = list.json().await.expect("json");
    assert!(!list.is_empty(), "alice sees her sample appointments");

    let created = http
        .post(&url)
        .bearer_auth(&alice)
        .json(&json!({"title": "From the dev tenant", "start": "2031-03-01T10:00:00Z", "end": "2031-03-01T11:00:00Z"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED, "alice may create");

    // Bob's permissions stop at read: the tenant leaves create out of his token.
    let bob = tenant
        .access_token("bob@example.com", "bob-password-1")
        .await;
    let bobs = http.get(&url).bearer_auth(&bob).send().await.expect("list");
    assert_eq!(bobs.status(), StatusCode::OK);
    let bobs: Vec<Value> = bobs.json().await.expect("json");
    assert!(
        bobs.iter().all(|a| a["title"] != "From the dev tenant"),
        "users are isolated"
    );
    let refused = http
        .post(&url)
        .bearer_auth(&bob)
        .json(
            &json!({"title": "x", "start": "2031-03-01T10:00:00Z", "end": "2031-03-01T11:00:00Z"}),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let challenge = refused
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="create:appointments""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_token_the_dev_tenant_binds_needs_its_keys_proofs() {
    let tenant = Tenant::start().await;
    let api = appointments_api::spawn(appointments_api::Settings::new(
        tenant.base.clone(),
        "appointments:api",
    ))
    .await
    .expect("api");
    let url = format!("{}/api/appointments", api.base_url());
    let http = reqwest::Client::new();
    let key = dpop::Signer::generate();
    let token = tenant
        .bound_access_token("alice@example.com", "alice-password-1", &key)
        .await;
    let with_proof = |key: &dpop::Signer| {
        http.get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header(
                "dpop",
                key.proof("GET", &url, dpop::now(), Some(&token), None),
            )
    };

    let list = with_proof(&key).send().await.expect("list");
    assert_eq!(list.status(), StatusCode::OK);
    let list: Vec<Value> = list.json().await.expect("json");
    assert!(!list.is_empty(), "alice sees her sample appointments");

    let thief = with_proof(&dpop::Signer::generate())
        .send()
        .await
        .expect("list");
    assert_eq!(
        thief.status(),
        StatusCode::UNAUTHORIZED,
        "another key's proof"
    );
    let as_bearer = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("list");
    assert_eq!(
        as_bearer.status(),
        StatusCode::UNAUTHORIZED,
        "sent as Bearer"
    );
}
