//! The app and the API against an OpenID provider this project did not write:
//! node-oidc-provider (OpenID Certified), configured in `tests/interop/provider.mjs`, with
//! its natural issuer `http://localhost:<port>` (no trailing slash), its own login and
//! consent pages, JWT access tokens for `appointments:api`, and its own logout page.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::Ordering;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use support::oidc_provider::{jwt_part, sign_in_at_provider, Interop, AUDIENCE, CLIENT_ID};
use support::{
    assert_signed_out_at, click, find, stored_issued_at, stored_session, text_of, wait_until,
    CurrentUrl, WAIT,
};

const ALICE: (&str, &str) = ("alice@example.com", "any password: its dev login takes any");

/// The provider's side alone, in Chromium: discovery names the issuer without a trailing
/// slash, its login and consent pages complete, and the redirect carries an ID token and a
/// JWT access token for the API, each signed RS256 with a key of its JWKS.
#[tokio::test(flavor = "multi_thread")]
async fn the_provider_signs_in_through_its_own_pages_and_issues_jwt_access_tokens() {
    let interop = Interop::start_without_api().await;
    let issuer = &interop.issuer;
    assert!(!issuer.ends_with('/'), "{issuer}");
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery JSON");
    assert_eq!(discovery["issuer"], json!(issuer), "{discovery}");
    for endpoint in [
        "authorization_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
    ] {
        let url = discovery[endpoint].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{issuer}/")), "{endpoint}: {url}");
    }
    assert!(
        discovery["response_types_supported"]
            .as_array()
            .is_some_and(|types| types.contains(&json!("id_token token"))),
        "{discovery}"
    );

    let browser = interop.browser().await;
    // silent-callback.html is a registered redirect URI that runs no code, so the fragment
    // stays in the address bar to be read.
    let landing = format!("{}/silent-callback.html", interop.spa);
    let mut authorize = url::Url::parse(discovery["authorization_endpoint"].as_str().unwrap())
        .expect("authorization_endpoint");
    authorize
        .query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "id_token token")
        .append_pair("redirect_uri", &landing)
        .append_pair("scope", "openid profile email read:appointments")
        .append_pair("state", "state-1")
        .append_pair("nonce", "nonce-1")
        .append_pair("audience", AUDIENCE);
    browser.goto(authorize.as_str()).await.expect("authorize");
    find(&browser, "input[name=login]").await;
    let login_page = browser.current_url_string().await;
    assert!(
        login_page.starts_with(&format!("{issuer}/interaction/")),
        "{login_page}"
    );
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;

    let back = url::Url::parse(&browser.current_url_string().await).expect("a URL");
    assert_eq!(back.path(), "/silent-callback.html", "{back}");
    let fragment: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(back.fragment().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(fragment.get("state").map(String::as_str), Some("state-1"));
    assert_eq!(
        fragment.get("token_type").map(String::as_str),
        Some("Bearer")
    );
    let id_token = fragment.get("id_token").expect("an id_token");
    let access_token = fragment.get("access_token").expect("an access_token");

    let jwks: Value = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JWKS JSON");
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["kid"])
        .collect();

    let id_header = jwt_part(&browser, id_token, 0).await;
    let id_claims = jwt_part(&browser, id_token, 1).await;
    assert_eq!(id_header["alg"], "RS256", "{id_header}");
    assert!(kids.contains(&&id_header["kid"]), "{id_header} {jwks}");
    assert_eq!(id_claims["iss"], json!(issuer), "{id_claims}");
    assert_eq!(id_claims["aud"], CLIENT_ID, "{id_claims}");
    assert_eq!(id_claims["nonce"], "nonce-1", "{id_claims}");
    assert!(id_claims["at_hash"].is_string(), "at_hash: {id_claims}");
    assert_eq!(id_claims["sub"], ALICE.0, "{id_claims}");
    assert_eq!(id_claims["name"], "Alice Example", "{id_claims}");
    assert_eq!(id_claims["email"], ALICE.0, "{id_claims}");

    let at_header = jwt_part(&browser, access_token, 0).await;
    let at_claims = jwt_part(&browser, access_token, 1).await;
    assert_eq!(at_header["alg"], "RS256", "{at_header}");
    assert!(kids.contains(&&at_header["kid"]), "{at_header} {jwks}");
    assert_eq!(at_claims["iss"], json!(issuer), "{at_claims}");
    assert_eq!(at_claims["aud"], AUDIENCE, "{at_claims}");
    assert_eq!(at_claims["sub"], ALICE.0, "{at_claims}");
    assert_eq!(at_claims["client_id"], CLIENT_ID, "{at_claims}");
    let scope = at_claims["scope"].as_str().unwrap_or_default();
    assert!(
        scope.split(' ').any(|s| s == "read:appointments"),
        "{at_claims}"
    );
    browser.close().await.expect("close");
}

/// A user's whole visit: sign in through the provider's pages, the list from the API,
/// silent renewal, the profile (whose /userinfo the provider refuses), logout through the
/// provider's end_session_endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_signs_in_sees_the_list_renews_views_the_profile_and_logs_out() {
    let interop = Interop::start(None).await;
    let browser = interop.browser_with_console_log().await;

    // Sign in, from a deep link, through the provider's own login and consent pages.
    browser
        .goto(&format!("{}/appointments", interop.spa))
        .await
        .expect("open the app");
    click(&browser, "#sign-in").await;
    find(&browser, "input[name=login]").await;
    assert!(browser
        .current_url_string()
        .await
        .starts_with(&format!("{}/interaction/", interop.issuer)));
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;

    // The list, from the API, which accepted the provider's token.
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", interop.spa),
        "back at the deep link, no token in the address bar"
    );
    assert!(interop.api_requests.load(Ordering::SeqCst) > 0);
    // The callback fetched the keys where this provider's discovery says (remembered at
    // sign-in), not at Auth0's fixed path, which this provider does not serve.
    let fetched: Vec<String> = serde_json::from_value(
        browser
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                vec![],
            )
            .await
            .expect("resource timing"),
    )
    .expect("names");
    let jwks_uri = format!("{}/jwks", interop.issuer);
    assert!(fetched.contains(&jwks_uri), "{fetched:?}");
    assert!(
        !fetched
            .iter()
            .any(|url| url.ends_with("/.well-known/jwks.json")),
        "{fetched:?}"
    );
    let user = text_of(&browser, ".site-header .user-name").await;
    assert_eq!(user, "Alice Example");
    assert_ne!(stored_session(&browser).await, json!([null, null]));

    // The provider granted create:appointments: the form shows, and the API takes a POST.
    find(&browser, "#create-appointment input[name=title]")
        .await
        .send_keys("Interop check")
        .await
        .expect("type");
    browser
        .execute(
            "document.querySelector('#create-appointment input[name=start]').value = '2031-06-01T09:00';\
             document.querySelector('#create-appointment input[name=end]').value = '2031-06-01T09:30';",
            vec![],
        )
        .await
        .expect("set the times");
    click(&browser, "#create-appointment button[type=submit]").await;
    wait_or_explain(
        &interop,
        &browser,
        "the new appointment is listed",
        || async {
            match browser.find(Locator::Css("#appointments-list")).await {
                Ok(list) => list.text().await.is_ok_and(|t| t.contains("Interop check")),
                Err(_) => false,
            }
        },
    )
    .await;

    // The inspector: the access token is the provider's JWT for the API.
    click(&browser, "nav a[href='/tokens']").await;
    let claims = text_of(&browser, "#access-token-claims").await;
    assert!(claims.contains(AUDIENCE), "{claims}");
    assert!(
        claims.contains(&format!("\"{}\"", interop.issuer)),
        "iss without a trailing slash: {claims}"
    );

    // Silent renewal, on demand: the provider answers prompt=none in the hidden iframe.
    let first = stored_issued_at(&browser).await.expect("a stored session");
    click(&browser, "#renew-now").await;
    wait_or_explain(&interop, &browser, "the session was renewed", || async {
        stored_issued_at(&browser).await.is_some_and(|t| t > first)
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", interop.spa)
    );

    // The profile: the ID token's claims show; the provider's /userinfo refuses an access
    // token that has an audience, and the page says so instead of breaking.
    click(&browser, "nav a[href='/profile']").await;
    let from_id_token = text_of(&browser, "#profile-id-token-claims").await;
    assert!(
        from_id_token.contains("Alice Example") && from_id_token.contains(ALICE.0),
        "{from_id_token}"
    );
    let refusal = text_of(&browser, "#profile-userinfo [role=alert]").await;
    assert!(refusal.contains("/userinfo"), "{refusal}");
    assert!(refusal.contains("userinfo_401_invalid_token"), "{refusal}");
    assert!(
        browser
            .find(Locator::Css("#profile-userinfo-claims"))
            .await
            .is_err(),
        "no /userinfo claims are shown"
    );
    // The page stays usable: the app navigates on, still signed in.
    click(&browser, "nav a[href='/appointments']").await;
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "{list}");

    // Logout through the provider's end_session_endpoint, which always asks first.
    click(&browser, "#sign-out").await;
    find(&browser, "button[name=logout][value=yes]").await;
    assert!(browser
        .current_url_string()
        .await
        .starts_with(&format!("{}/session/end", interop.issuer)));
    click(&browser, "button[name=logout][value=yes]").await;
    assert_signed_out_at(&browser, &format!("{}/", interop.spa)).await;
    // The provider's session ended too: signing in again asks for the login.
    click(&browser, "#sign-in").await;
    find(&browser, "input[name=login]").await;

    // The app's Content-Security-Policy names the provider: nothing was blocked.
    let blocked: Vec<String> = interop
        .browser_log(&browser)
        .await
        .into_iter()
        .filter(|line| line.contains("Content Security Policy"))
        .collect();
    assert!(blocked.is_empty(), "{blocked:#?}");
    browser.close().await.expect("close");
}

/// Short-lived tokens from the provider are renewed before they expire, in the hidden
/// iframe, and the list keeps loading with the renewed token.
#[tokio::test(flavor = "multi_thread")]
async fn short_lived_provider_tokens_are_renewed_silently() {
    let interop = Interop::start(Some(6)).await;
    let browser = interop.browser_with_console_log().await;
    browser
        .goto(&format!("{}/appointments", interop.spa))
        .await
        .expect("open the app");
    click(&browser, "#sign-in").await;
    sign_in_at_provider(&browser, &interop, ALICE.0, ALICE.1).await;
    find(&browser, "#appointments-list").await;
    let first = stored_issued_at(&browser).await.expect("a stored session");
    let requests = interop.api_requests.load(Ordering::SeqCst);

    // Tokens live 6 s and are renewed a quarter early: two renewals within ~9 s.
    wait_or_explain(
        &interop,
        &browser,
        "the session was renewed twice",
        || async {
            stored_issued_at(&browser)
                .await
                .is_some_and(|t| t > first + 5_000)
        },
    )
    .await;
    wait_until("the list was reloaded with a renewed token", || async {
        interop.api_requests.load(Ordering::SeqCst) > requests
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal failed: {}",
        page_text(&browser).await
    );
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", interop.spa)
    );
    browser.close().await.expect("close");
}

async fn page_text(browser: &Client) -> String {
    browser
        .execute(
            "return document.body ? document.body.innerText : ''",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Polls `condition` for up to [`WAIT`]; on a timeout, fails with the page's text and
/// Chromium's console (the browser must come from `browser_with_console_log`).
async fn wait_or_explain<F, Fut>(interop: &Interop, browser: &Client, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + WAIT;
    while !condition().await {
        if std::time::Instant::now() > deadline {
            panic!(
                "timed out after {WAIT:?} waiting until {what}\npage text: {}\nconsole:\n{}",
                page_text(browser).await,
                interop.browser_log(browser).await.join("\n")
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
