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

/// The claims of a JWT, unverified (the tokens tests check signatures).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn sid_of(f: &std::collections::HashMap<String, String>) -> String {
    claims(&f["id_token"])["sid"]
        .as_str()
        .expect("a sid claim")
        .to_string()
}

/// `GET /oidc/logout` with `query` and `cookie` ("" for none).
async fn oidc_logout(t: &Tenant, query: &[(&str, &str)], cookie: &str) -> reqwest::Response {
    t.get_with(
        &format!(
            "oidc/logout?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish()
        ),
        cookie,
    )
    .await
}

/// `POST /oidc/logout` (the confirmation form) with `form` and `cookie`.
async fn confirm(t: &Tenant, form: &[(&str, &str)], cookie: &str) -> reqwest::Response {
    let mut req = t.http.post(t.url("oidc/logout")).form(form);
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

/// The hidden field `name` of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_string()
}

const RETURN: &str = "http://localhost:8080/";

fn spa_logout<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut q = vec![
        ("client_id", CLIENT),
        ("post_logout_redirect_uri", RETURN),
        ("state", "s 1"),
    ];
    q.extend_from_slice(extra);
    q
}

#[tokio::test]
async fn id_tokens_carry_a_sid_stable_across_renewals() {
    let t = start().await;
    let (cookie, f) = signed_in_cookie(&t).await;
    let sid = sid_of(&f);
    assert_eq!(sid.len(), 43, "a random 256-bit id");
    assert!(
        !cookie.contains(&sid),
        "the sid is not the session cookie's value"
    );
    // prompt=none renews in the same session: same sid.
    let resp = t
        .get_with(
            &format!(
                "authorize?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params(&[("prompt", "none"), ("nonce", "renewal")]))
                    .finish()
            ),
            &cookie,
        )
        .await;
    let (_, renewed) = fragment(&location(&resp).unwrap());
    assert!(renewed.contains_key("id_token"), "{renewed:?}");
    assert_eq!(sid_of(&renewed), sid);
    // Another login session has another sid.
    let (_, other) = signed_in_cookie(&t).await;
    assert_ne!(sid_of(&other), sid);
    // Discovery names the claim.
    let discovery: serde_json::Value = t
        .http
        .get(t.url(".well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(discovery["claims_supported"]
        .as_array()
        .unwrap()
        .contains(&"sid".into()));
    assert_eq!(discovery["end_session_endpoint"], t.url("oidc/logout"));
}

#[tokio::test]
async fn oidc_logout_with_the_sessions_logout_hint_ends_it_at_once() {
    let t = start().await;
    let (cookie, f) = signed_in_cookie(&t).await;
    let sid = sid_of(&f);
    let resp = oidc_logout(&t, &spa_logout(&[("logout_hint", &sid)]), &cookie).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp).as_deref(),
        Some("http://localhost:8080/?state=s+1")
    );
    assert!(cookie_cleared(&resp));
    assert!(!has_session(&t, &cookie).await);
}

#[tokio::test]
async fn oidc_logout_without_a_matching_hint_asks_to_confirm() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    let (other_cookie, other_session) = signed_in_cookie(&t).await;
    let other_sid = sid_of(&other_session);
    for extra in [vec![], vec![("logout_hint", other_sid.as_str())]] {
        let resp = oidc_logout(&t, &spa_logout(&extra), &cookie).await;
        assert_eq!(resp.status(), 200, "{extra:?}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.headers().get("set-cookie").is_none());
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let tenant = t.base.trim_start_matches("http://").trim_end_matches('/');
        let html = resp.text().await.unwrap();
        for needle in [
            format!("Log out of {tenant}?"),
            "method=\"post\" action=\"/oidc/logout\"".to_string(),
            "name=\"decision\" value=\"logout\"".to_string(),
            "name=\"decision\" value=\"cancel\"".to_string(),
            "alice@example.com".to_string(),
        ] {
            assert!(html.contains(&needle), "{needle} missing from {html}");
        }
        assert!(
            has_session(&t, &cookie).await,
            "not ended before confirming"
        );
    }
    // An ID token of an earlier session is no hint for this one either.
    let resp = oidc_logout(
        &t,
        &[("id_token_hint", &other_session["id_token"])],
        &cookie,
    )
    .await;
    assert_eq!(resp.status(), 200);

    // Confirming ends the session and returns with the state.
    let html = oidc_logout(&t, &spa_logout(&[]), &cookie)
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("client_id", hidden(&html, "client_id")),
        (
            "post_logout_redirect_uri",
            hidden(&html, "post_logout_redirect_uri"),
        ),
        ("state", hidden(&html, "state")),
        ("decision", "logout".to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = confirm(&t, &form, &cookie).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        location(&resp).as_deref(),
        Some("http://localhost:8080/?state=s+1")
    );
    assert!(cookie_cleared(&resp));
    assert!(!has_session(&t, &cookie).await);
    // The other session is untouched, and its own hint ends it at once.
    assert!(has_session(&t, &other_cookie).await);
    let resp = oidc_logout(
        &t,
        &spa_logout(&[("logout_hint", &other_sid)]),
        &other_cookie,
    )
    .await;
    assert_eq!(resp.status(), 302);
    assert!(!has_session(&t, &other_cookie).await);
}

#[tokio::test]
async fn the_confirmation_needs_the_token_of_the_same_session() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    let (other_cookie, _) = signed_in_cookie(&t).await;
    let html = oidc_logout(&t, &spa_logout(&[]), &cookie)
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let other_html = oidc_logout(&t, &spa_logout(&[]), &other_cookie)
        .await
        .text()
        .await
        .unwrap();
    let other_csrf = hidden(&other_html, "csrf");
    assert_ne!(csrf, other_csrf);
    let base = [
        ("client_id", CLIENT),
        ("post_logout_redirect_uri", RETURN),
        ("decision", "logout"),
    ];
    fn with_token<'a>(
        base: &[(&'a str, &'a str)],
        token: Option<&'a str>,
    ) -> Vec<(&'a str, &'a str)> {
        let mut f = base.to_vec();
        if let Some(token) = token {
            f.push(("csrf", token));
        }
        f
    }
    let with = |token| with_token(&base, token);
    for form in [with(None), with(Some("made-up")), with(Some(&other_csrf))] {
        let resp = confirm(&t, &form, &cookie).await;
        assert_eq!(resp.status(), 403, "{form:?}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.headers().get("set-cookie").is_none());
        assert!(has_session(&t, &cookie).await);
    }
    // A post without the session cookie (a browser that blocks third-party cookies, or
    // a forged form from another site when the browser drops it): nothing ended.
    let resp = confirm(&t, &with(Some(&csrf)), "").await;
    assert_eq!(resp.status(), 303);
    assert!(has_session(&t, &cookie).await);
    assert!(has_session(&t, &other_cookie).await);
    // Bad decision, bad URL.
    let mut bad = with(Some(&csrf));
    bad.retain(|(k, _)| *k != "decision");
    bad.push(("decision", "maybe"));
    assert_eq!(confirm(&t, &bad, &cookie).await.status(), 400);
    let mut bad = with(Some(&csrf));
    bad.retain(|(k, _)| *k != "post_logout_redirect_uri");
    bad.push(("post_logout_redirect_uri", "https://evil.example/"));
    let resp = confirm(&t, &bad, &cookie).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert!(has_session(&t, &cookie).await);
    // The right token works.
    let resp = confirm(&t, &with(Some(&csrf)), &cookie).await;
    assert_eq!(resp.status(), 303);
    assert!(!has_session(&t, &cookie).await);
    assert!(has_session(&t, &other_cookie).await);
}

#[tokio::test]
async fn cancelling_keeps_the_session() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    let html = oidc_logout(&t, &spa_logout(&[]), &cookie)
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let resp = confirm(
        &t,
        &[
            ("csrf", &csrf),
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", RETURN),
            ("state", "s 1"),
            ("decision", "cancel"),
        ],
        &cookie,
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        location(&resp).as_deref(),
        Some("http://localhost:8080/?state=s+1")
    );
    assert!(resp.headers().get("set-cookie").is_none());
    assert!(has_session(&t, &cookie).await);
    // Without a return URL: a page.
    let html = oidc_logout(&t, &[], &cookie).await.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let resp = confirm(&t, &[("csrf", &csrf), ("decision", "cancel")], &cookie).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("still signed in"));
    assert!(has_session(&t, &cookie).await);
    let resp = confirm(&t, &[("csrf", &csrf), ("decision", "logout")], &cookie).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("You are signed out"));
    assert!(!has_session(&t, &cookie).await);
}

#[tokio::test]
async fn oidc_logout_without_a_session_redirects_at_once() {
    let t = start().await;
    let resp = oidc_logout(&t, &spa_logout(&[]), "").await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp).as_deref(),
        Some("http://localhost:8080/?state=s+1")
    );
    // A cookie of an ended session is no session; the cookie is expired.
    let (cookie, f) = signed_in_cookie(&t).await;
    let sid = sid_of(&f);
    let resp = oidc_logout(&t, &spa_logout(&[("logout_hint", &sid)]), &cookie).await;
    assert_eq!(resp.status(), 302);
    let resp = oidc_logout(&t, &spa_logout(&[]), &cookie).await;
    assert_eq!(resp.status(), 302);
    assert!(cookie_cleared(&resp));
    // Without a return URL: the signed-out page.
    let resp = oidc_logout(&t, &[], "").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("You are signed out"));
}

#[tokio::test]
async fn oidc_logout_checks_client_and_url_before_anything() {
    let other_client = "other-spa";
    let t = start_with(|issuer| {
        let mut s = dev_tenant::Settings::demo(issuer).unwrap();
        let mut other = s.tenant.clients[0].clone();
        other.client_id = other_client.into();
        other.logout_urls = vec!["http://localhost:9090/".into()];
        s.tenant.clients.push(other);
        s
    })
    .await;
    let (cookie, f) = signed_in_cookie(&t).await;
    let sid = sid_of(&f);
    for query in [
        // Matching hint, but a URL the client does not allow.
        vec![
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", "https://evil.example/"),
            ("logout_hint", sid.as_str()),
        ],
        // Another client's URL.
        vec![
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", "http://localhost:9090/"),
        ],
        // Unknown client, with or without a URL.
        vec![
            ("client_id", "nope"),
            ("post_logout_redirect_uri", RETURN),
            ("logout_hint", sid.as_str()),
        ],
        vec![("client_id", "nope")],
        // An ID token for another client than client_id.
        vec![
            ("client_id", other_client),
            ("id_token_hint", f["id_token"].as_str()),
            ("post_logout_redirect_uri", "http://localhost:9090/"),
        ],
        // A logout_hint that is not the ID token's sid.
        vec![
            ("id_token_hint", f["id_token"].as_str()),
            ("logout_hint", "another-session"),
        ],
        // Not an ID token of this tenant.
        vec![("id_token_hint", "forged.token.here")],
    ] {
        let resp = oidc_logout(&t, &query, &cookie).await;
        assert_eq!(resp.status(), 400, "{query:?}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.headers().get("set-cookie").is_none());
        assert!(has_session(&t, &cookie).await, "{query:?}");
    }
    // The same without a session: still the error page, never a redirect.
    let resp = oidc_logout(
        &t,
        &[
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        "",
    )
    .await;
    assert_eq!(resp.status(), 400);
    // The other client's own URL is fine for it.
    let resp = oidc_logout(
        &t,
        &[
            ("client_id", other_client),
            ("post_logout_redirect_uri", "http://localhost:9090/"),
            ("logout_hint", &sid),
        ],
        &cookie,
    )
    .await;
    assert_eq!(resp.status(), 302);
    assert!(!has_session(&t, &cookie).await);
}

#[tokio::test]
async fn v2_logout_still_ends_the_session_without_asking() {
    let t = start().await;
    let (cookie, _) = signed_in_cookie(&t).await;
    let resp = t
        .get_with(
            "v2/logout?client_id=appointments-spa&returnTo=http%3A%2F%2Flocalhost%3A8080%2F",
            &cookie,
        )
        .await;
    assert_eq!(resp.status(), 302);
    assert!(cookie_cleared(&resp));
    assert!(!has_session(&t, &cookie).await);
}

#[tokio::test]
async fn without_a_return_url_the_clients_first_logout_url_is_used() {
    let t = start().await;
    let (cookie, f) = signed_in_cookie(&t).await;
    let sid = sid_of(&f);
    let resp = oidc_logout(
        &t,
        &[("client_id", CLIENT), ("logout_hint", &sid), ("state", "x")],
        &cookie,
    )
    .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp).as_deref(),
        Some("http://localhost:8080/?state=x")
    );
    assert!(!has_session(&t, &cookie).await);
    // Through the confirmation too.
    let (cookie, _) = signed_in_cookie(&t).await;
    let html = oidc_logout(&t, &[("client_id", CLIENT)], &cookie)
        .await
        .text()
        .await
        .unwrap();
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("client_id", hidden(&html, "client_id")),
        ("decision", "logout".to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = confirm(&t, &form, &cookie).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp).as_deref(), Some("http://localhost:8080/"));
    assert!(!has_session(&t, &cookie).await);
}
