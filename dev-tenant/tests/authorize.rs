//! Every branch of /authorize, the login form and the consent page.

mod common;

use common::*;

async fn error_page(t: &Tenant, overrides: &[(&str, &str)]) -> String {
    let resp = t.authorize(&params(overrides)).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.headers().get("location").is_none(),
        "must never redirect"
    );
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    resp.text().await.unwrap()
}

async fn fragment_error(
    t: &Tenant,
    overrides: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let resp = t.authorize(&params(overrides)).await;
    assert_eq!(resp.status(), 302);
    let (base, frag) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    assert_eq!(frag["state"], "st 1&x=y");
    frag
}

#[tokio::test]
async fn bad_client_id_is_an_error_page() {
    let t = start().await;
    let body = error_page(&t, &[("client_id", "<b>nope</b>")]).await;
    assert!(
        body.contains("Unknown client: &lt;b&gt;nope&lt;/b&gt;"),
        "{body}"
    );
    let body = error_page(&t, &[("client_id", "")]).await;
    assert!(body.contains("client_id"));
}

#[tokio::test]
async fn unregistered_redirect_uri_is_an_error_page() {
    let t = start().await;
    let body = error_page(&t, &[("redirect_uri", "https://evil.example/callback")]).await;
    assert!(body.contains("https://evil.example/callback"));
    assert!(body.contains("Allowed Callback URLs"));
    // Not even a prefix or a trailing-slash variant.
    error_page(&t, &[("redirect_uri", "http://localhost:8080/callback/")]).await;
}

#[tokio::test]
async fn missing_redirect_uri_is_an_error_page() {
    let t = start().await;
    let body = error_page(&t, &[("redirect_uri", "")]).await;
    assert!(body.contains("Missing required parameter: redirect_uri"));
}

#[tokio::test]
async fn id_token_without_nonce_is_a_fragment_error() {
    let t = start().await;
    let f = fragment_error(&t, &[("nonce", "")]).await;
    assert_eq!(f["error"], "invalid_request");
    assert!(f["error_description"].starts_with("nonce is required"));
    let f = fragment_error(&t, &[("nonce", ""), ("response_type", "token id_token")]).await;
    assert_eq!(f["error"], "invalid_request");
}

#[tokio::test]
async fn unknown_response_type_is_a_fragment_error() {
    let t = start().await;
    // `code` alone is the code flow (tests/code_flow.rs); hybrid types are not supported.
    for rt in ["token token", "id_token code", "code token", "token  bogus"] {
        let f = fragment_error(&t, &[("response_type", rt)]).await;
        assert_eq!(f["error"], "unsupported_response_type", "{rt}");
    }
    // Both word orders and single words are fine.
    for rt in ["token id_token", "id_token token", "token", "id_token"] {
        let resp = t.authorize(&params(&[("response_type", rt)])).await;
        assert_eq!(resp.status(), 200, "{rt}");
    }
}

#[tokio::test]
async fn unknown_audience_is_access_denied() {
    let t = start().await;
    let f = fragment_error(&t, &[("audience", "https://other.api/")]).await;
    assert_eq!(f["error"], "access_denied");
    assert_eq!(
        f["error_description"],
        "Service not found: https://other.api/"
    );
}

#[tokio::test]
async fn login_form_and_wrong_password() {
    let t = start().await;
    let resp = t.authorize(&params(&[])).await;
    assert_eq!(resp.status(), 200);
    let jar = jar_after("", &resp);
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    for needle in [
        "method=\"post\" action=\"/u/login\"",
        "name=\"username\"",
        "name=\"password\"",
        "<label for=\"username\"",
        "<label for=\"password\"",
        "type=\"submit\"",
        "Appointments (local demo)",
    ] {
        assert!(html.contains(needle), "{needle} missing from {html}");
    }
    let tx = tx_of(&html);
    let resp = t.login(&tx, &jar, "alice@example.com", "wrong").await;
    assert!(resp.status() == 401 || resp.status() == 200);
    assert!(resp.headers().get("location").is_none());
    assert!(resp.headers().get("set-cookie").is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("Wrong email or password"));
    assert_eq!(tx_of(&html), tx, "the form keeps the transaction");
    // Unknown user, same answer.
    let resp = t
        .login(&tx, &jar, "mallory@example.com", "alice-password-1")
        .await;
    assert!(resp.headers().get("location").is_none());
    // The right password still works on the same transaction.
    let resp = t
        .login(&tx, &jar, "alice@example.com", "alice-password-1")
        .await;
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=None", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
}

#[tokio::test]
async fn consent_page_lists_scopes() {
    let t = start().await;
    let (tx, jar) = t
        .to_consent(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let html = t
        .get_with(&format!("u/consent?tx={tx}"), &jar)
        .await
        .text()
        .await
        .unwrap();
    for needle in [
        "Appointments (local demo)",
        "method=\"post\" action=\"/u/consent\"",
        "name=\"decision\" value=\"accept\"",
        "name=\"decision\" value=\"deny\"",
        "read:appointments",
        "Read your appointments",
        "create:appointments",
        "Create appointments",
        "openid",
        "profile",
        "email",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
}

#[tokio::test]
async fn consent_accept_returns_tokens_in_the_fragment() {
    let t = start().await;
    let f = t
        .sign_in(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    assert!(!f["access_token"].is_empty());
    assert!(!f["id_token"].is_empty());
    assert_eq!(f["token_type"], "Bearer");
    assert_eq!(f["expires_in"], "7200");
    assert_eq!(f["scope"], ALL_SCOPES);
    assert_eq!(f["state"], "st 1&x=y");
    assert!(!f.contains_key("error"));

    // No state sent: none echoed. token only: no id_token.
    let f = t
        .sign_in(
            &params(&[("state", ""), ("response_type", "token"), ("nonce", "")]),
            "alice@example.com",
            "alice-password-1",
        )
        .await;
    assert!(!f.contains_key("state"));
    assert!(!f.contains_key("id_token"));
    assert!(f.contains_key("access_token"));
}

#[tokio::test]
async fn consent_deny_is_access_denied() {
    let t = start().await;
    let (tx, jar) = t
        .to_consent(&params(&[]), "bob@example.com", "bob-password-1")
        .await;
    let resp = t.decide(&tx, &jar, "deny").await;
    assert_eq!(resp.status(), 302);
    let (base, f) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    assert_eq!(f["error"], "access_denied");
    assert!(!f["error_description"].is_empty());
    assert_eq!(f["state"], "st 1&x=y");
    assert!(!f.contains_key("access_token"));
}

#[tokio::test]
async fn transaction_cannot_be_replayed() {
    let t = start().await;
    let (tx, jar) = t
        .to_consent(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    assert_eq!(t.decide(&tx, &jar, "accept").await.status(), 302);
    for decision in ["accept", "deny"] {
        let resp = t.decide(&tx, &jar, decision).await;
        assert_eq!(resp.status(), 400);
        assert!(resp.headers().get("location").is_none());
    }
    let resp = t
        .login(&tx, &jar, "alice@example.com", "alice-password-1")
        .await;
    assert!(resp.headers().get("location").is_none());
    let resp = t.decide("made-up", &jar, "accept").await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn consent_requires_sign_in() {
    let t = start().await;
    let (tx, jar) = t.start_sign_in(&params(&[])).await;
    let resp = t.decide(&tx, &jar, "accept").await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

async fn authorize_with(t: &Tenant, overrides: &[(&str, &str)], cookie: &str) -> reqwest::Response {
    t.http
        .get(t.url("authorize"))
        .query(&params(overrides))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn session_cookie_skips_the_login_form() {
    let t = start().await;
    // Consent for fewer scopes than the later requests ask for.
    let (tx, cookie) = t
        .to_consent(
            &params(&[("scope", "openid")]),
            "bob@example.com",
            "bob-password-1",
        )
        .await;
    t.decide(&tx, &cookie, "accept").await;
    let resp = authorize_with(&t, &[], &cookie).await;
    assert_eq!(resp.status(), 303);
    let consent = location(&resp).unwrap();
    assert!(consent.starts_with("/u/consent?tx="));
    let html = t.get_with(&consent, &cookie).await.text().await.unwrap();
    assert!(html.contains("bob@example.com"));
    // prompt=login forces the form.
    let resp = authorize_with(&t, &[("prompt", "login")], &cookie).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("action=\"/u/login\""));
}

#[tokio::test]
async fn session_with_consent_on_record_skips_login_and_consent() {
    let t = start().await;
    let (tx, cookie) = t
        .to_consent(&params(&[]), "bob@example.com", "bob-password-1")
        .await;
    t.decide(&tx, &cookie, "accept").await;
    // Same request again: tokens at once.
    let resp = authorize_with(&t, &[("nonce", "second")], &cookie).await;
    assert_eq!(resp.status(), 302);
    let (base, f) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    assert_eq!(f["state"], "st 1&x=y");
    assert_eq!(f["scope"], "openid profile email read:appointments");
    assert!(!f["access_token"].is_empty() && !f["id_token"].is_empty());
    // Fewer scopes are covered too.
    let resp = authorize_with(&t, &[("scope", "openid email")], &cookie).await;
    assert_eq!(resp.status(), 302);
    // prompt=consent forces the consent page, prompt=login the login form.
    let resp = authorize_with(&t, &[("prompt", "consent")], &cookie).await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).unwrap().starts_with("/u/consent?tx="));
    let resp = authorize_with(&t, &[("prompt", "login")], &cookie).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("action=\"/u/login\""));
    // A fresh browser still sees the login form, then the consent page.
    let (tx, jar) = t
        .to_consent(&params(&[]), "bob@example.com", "bob-password-1")
        .await;
    assert_eq!(t.decide(&tx, &jar, "accept").await.status(), 302);
}

#[tokio::test]
async fn hostile_input_does_not_break_the_server() {
    let t = start().await;
    for q in [
        "%ff%fe=%zz",
        "client_id=%00",
        "client_id=appointments-spa&client_id=x",
        "&&&==",
    ] {
        let resp = t
            .http
            .get(format!("{}?{q}", t.url("authorize")))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_client_error() || resp.status().is_success(),
            "{q}"
        );
    }
    let resp = t
        .http
        .post(t.url("u/login"))
        .body("\u{0}\u{ffff}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = t.authorize(&params(&[])).await;
    assert_eq!(resp.status(), 200);
}
