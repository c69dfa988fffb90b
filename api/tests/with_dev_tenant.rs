//! The two local servers together: a token the dev tenant issues through its real
//! authorize, login and consent pages is accepted by the API, with its scopes enforced.

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

    /// Authorize, log in, consent: the access token from the callback fragment. Carries
    /// the tenant's cookies as a browser would (its pages refuse requests without the
    /// browser cookie from `/authorize`, and consent needs the session cookie).
    async fn access_token(&self, user: &str, password: &str) -> String {
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
                ("response_type", "id_token token"),
                ("audience", "appointments:api"),
                (
                    "scope",
                    "openid profile read:appointments create:appointments",
                ),
                ("state", "s"),
                ("nonce", "n"),
            ])
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
        let location = consent
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a redirect")
            .to_string();
        let (_, fragment) = location.split_once('#').expect("a fragment");
        let params: HashMap<String, String> = url::form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
        params.get("access_token").expect("an access token").clone()
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
