//! /v2/logout and /oidc/logout.

mod common;

use common::*;

async fn signed_in_cookie(t: &Tenant) -> (String, std::collections::HashMap<String, String>) {
    let (tx, cookie) = t
        .to_consent(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let resp = t.decide(&tx, &cookie, "accept").await;
    let (_, f) = fragment(&location(&resp).unwrap());
    (cookie, f)
}

async fn has_session(t: &Tenant, cookie: &str) -> bool {
    // prompt=consent: with a session, the consent page (303), not tokens at once.
    let resp = t
        .http
        .get(t.url("authorize"))
        .query(&params(&[("prompt", "consent")]))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    resp.status() == 303
}

fn cookie_cleared(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("dev_tenant_session=;") && v.contains("Max-Age=0"))
}

#[tokio::test]
async fn logout_to_an_allowed_url() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    assert!(has_session(&t, &cookie).await);
    let resp = t
        .http
        .get(t.url("v2/logout"))
        .query(&[
            ("client_id", CLIENT),
            ("returnTo", "http://localhost:8080/"),
        ])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp).as_deref(), Some("http://localhost:8080/"));
    assert!(cookie_cleared(&resp));
    assert!(
        !has_session(&t, &cookie).await,
        "the session is gone server-side"
    );

    // Without client_id, any client's logout URL is accepted.
    let resp = t
        .http
        .get(t.url("v2/logout"))
        .query(&[("returnTo", "http://127.0.0.1:8080/")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
}

#[tokio::test]
async fn logout_to_a_disallowed_url_is_an_error_page() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    for q in [
        vec![("client_id", CLIENT), ("returnTo", "https://evil.example/")],
        vec![("returnTo", "https://evil.example/")],
        vec![
            ("client_id", CLIENT),
            ("returnTo", "http://localhost:8080/callback"),
        ],
    ] {
        let resp = t
            .http
            .get(t.url("v2/logout"))
            .query(&q)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("Allowed Logout URLs"));
    }
    let resp = t
        .http
        .get(t.url("v2/logout"))
        .query(&[
            ("client_id", "nope"),
            ("returnTo", "http://localhost:8080/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

#[tokio::test]
async fn logout_without_return_to_shows_a_page() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    let resp = t
        .http
        .get(t.url("v2/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(cookie_cleared(&resp));
    assert!(resp.text().await.unwrap().contains("You are signed out"));
    assert!(!has_session(&t, &cookie).await);
}

#[tokio::test]
async fn oidc_logout_uses_the_id_token_hint_and_echoes_state() {
    let t = start().await;
    let (cookie, f) = signed_in_cookie(&t).await;
    let resp = t
        .http
        .get(t.url("oidc/logout"))
        .query(&[
            ("id_token_hint", f["id_token"].as_str()),
            ("post_logout_redirect_uri", "http://localhost:8080/"),
            ("state", "a b"),
        ])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp).as_deref(),
        Some("http://localhost:8080/?state=a+b")
    );
    assert!(cookie_cleared(&resp));
    assert!(!has_session(&t, &cookie).await);

    let resp = t
        .http
        .get(t.url("oidc/logout"))
        .query(&[
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());

    let resp = t
        .http
        .get(t.url("oidc/logout"))
        .query(&[
            ("id_token_hint", "forged.token.here"),
            ("post_logout_redirect_uri", "http://localhost:8080/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
