//! The real-world case, in the browser `E2E_BROWSER` names (`cargo xtask test` runs
//! Chromium and Firefox ESR): the app on another site than its tenant, as an app and its
//! Auth0 tenant are. The SPA is served at `http://localhost:<port>`, dev-tenant and the API
//! at `http://127.0.0.1:<port>` ([`Stack::start_cross_site`]), so silent renewal's hidden
//! iframe is a third-party frame, and the browser's third-party-cookie setting is pinned
//! ([`ThirdPartyCookies`]) in each test, with both browsers' heuristics that could lift a
//! block for a while (Chromium's after a sign-in redirect, Firefox's after a pop-up or
//! redirect) switched off in tests/support.
//!
//! What the tests show, in real browsers: the implicit grant's renewal depends on the
//! tenant's cookie reaching that frame, which fails when third-party cookies are blocked
//! (both browsers), and in Firefox even when they are allowed (Total Cookie Protection
//! partitions the framed tenant's cookies by top-level site). The authorization code flow
//! renews with its rotating refresh token at the token endpoint, with no iframe, whatever
//! the setting. Renewal is started with **Renew now** on `/tokens`, as the app starts it
//! by itself before expiry.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use fantoccini::{Client, Locator};
use serde_json::Value;
use support::code_flow::{self, inserted_iframes, requests_to, watch_for_iframes};
use support::{
    find, sign_in_to, sign_in_to_list, stored_session, text_of, wait_until, Browser, CurrentUrl,
    Stack, ThirdPartyCookies, ALICE,
};

/// The session the app stored in sessionStorage (session mode, the default).
async fn stored(browser: &Client) -> Value {
    stored_session(browser).await[0]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

/// Clicks **Renew now** on `/tokens` once it is enabled (it is disabled while a renewal
/// runs).
async fn renew_now(browser: &Client) {
    let button = find(browser, "#renew-now").await;
    wait_until("Renew now is enabled", || async {
        button.is_enabled().await.unwrap_or(false)
    })
    .await;
    button.click().await.expect("click Renew now");
}

/// A browser with `cookies` pinned, signed in as Alice at the cross-site `stack`: first to
/// the list (the API answers the `localhost` origin), then on `/tokens` in a new document,
/// whose Resource Timing holds only what happens after sign-in. Returns the stored session.
async fn signed_in_on_the_tokens_page(
    stack: &Stack,
    cookies: ThirdPartyCookies,
) -> (Client, Value) {
    assert!(stack.spa.starts_with("http://localhost:"), "{}", stack.spa);
    assert!(
        stack.tenant.starts_with("http://127.0.0.1:"),
        "{}",
        stack.tenant
    );
    let browser = stack.browser_with(cookies).await;
    sign_in_to_list(&browser, stack, ALICE, "/appointments").await;
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));
    browser
        .goto(&format!("{}/tokens", stack.spa))
        .await
        .expect("the tokens page");
    text_of(&browser, "#access-token-claims").await;
    let session = stored(&browser).await;
    assert!(session["issued_at"].is_u64(), "a stored session: {session}");
    (browser, session)
}

/// The implicit grant: **Renew now** sends `prompt=none` to the tenant in the hidden iframe.
/// Returns the banner's text if renewal failed, `None` if it renewed (the stored session's
/// `issued_at` grew, and no banner).
async fn implicit_renewal(stack: &Stack, cookies: ThirdPartyCookies) -> Option<String> {
    let (browser, before) = signed_in_on_the_tokens_page(stack, cookies).await;
    let first = before["issued_at"].as_u64().expect("issued_at");
    watch_for_iframes(&browser).await;
    renew_now(&browser).await;
    wait_until(
        "renewal renewed the session or showed the banner",
        || async {
            browser.find(Locator::Css("#renewal-failed")).await.is_ok()
                || stored(&browser).await["issued_at"]
                    .as_u64()
                    .is_some_and(|t| t > first)
        },
    )
    .await;
    // Either way, renewal went to the tenant's `/authorize` with prompt=none in an iframe.
    let frames = inserted_iframes(&browser).await;
    assert!(
        frames.iter().any(
            |src| src.starts_with(&format!("{}/authorize?", stack.tenant))
                && src.contains("prompt=none")
        ),
        "the renewal's iframe: {frames:?}"
    );
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa),
        "the page stays"
    );
    let outcome = match browser.find(Locator::Css("#renewal-failed")).await {
        Ok(banner) => Some(banner.text().await.expect("the banner's text")),
        Err(_) => None,
    };
    if outcome.is_some() {
        // The stored session is kept until it expires; only its renewal failed.
        assert_eq!(
            stored(&browser).await["issued_at"],
            before["issued_at"],
            "not renewed"
        );
    }
    browser.close().await.expect("close");
    outcome
}

/// The code flow: **Renew now** twice, each refreshing at the token endpoint and rotating
/// the refresh token, with no request to `/authorize` (no iframe) and no banner.
async fn code_flow_renews_by_refresh_token(stack: &Stack, cookies: ThirdPartyCookies) {
    let (browser, first) = signed_in_on_the_tokens_page(stack, cookies).await;
    watch_for_iframes(&browser).await;
    let mut previous = first;
    for round in 1..=2 {
        let before = previous["refresh_token"].as_str().expect("a refresh token");
        renew_now(&browser).await;
        wait_until(
            &format!("refresh {round} rotated the refresh token"),
            || async {
                browser.find(Locator::Css("#renewal-failed")).await.is_ok()
                    || stored(&browser).await["refresh_token"]
                        .as_str()
                        .is_some_and(|now| now != before)
            },
        )
        .await;
        assert!(
            browser.find(Locator::Css("#renewal-failed")).await.is_err(),
            "no banner: {}",
            text_of(&browser, "body").await
        );
        let now = stored(&browser).await;
        assert!(
            now["issued_at"].as_u64() > previous["issued_at"].as_u64(),
            "renewed: {now}"
        );
        assert_eq!(requests_to(&browser, "/oauth/token").await.len(), round);
        previous = now;
    }
    assert!(
        requests_to(&browser, "/authorize").await.is_empty(),
        "no request to /authorize after sign-in"
    );
    assert_eq!(
        inserted_iframes(&browser).await,
        Vec::<String>::new(),
        "no iframe: renewal used the refresh token"
    );
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa)
    );
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_third_party_cookies_break_the_implicit_grants_renewal_across_sites() {
    let stack = Stack::start_cross_site(|config| config, None).await;
    // The tenant's session cookie is not sent to its `/authorize` in a frame under
    // `localhost`: the tenant sees no session and answers login_required.
    let banner = implicit_renewal(&stack, ThirdPartyCookies::Blocked)
        .await
        .expect("the implicit grant cannot renew with third-party cookies blocked");
    assert!(banner.contains("could not be renewed"), "{banner}");
    assert!(banner.contains("login_required"), "{banner}");
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_third_party_cookies_renew_the_implicit_grant_across_sites_in_chromium_only() {
    let stack = Stack::start_cross_site(|config| config, None).await;
    let outcome = implicit_renewal(&stack, ThirdPartyCookies::Allowed).await;
    match stack.browser_kind() {
        // One cookie jar per site: the tenant's cookie, set when Alice signed in at the top
        // level, is sent to the framed `/authorize`, and renewal succeeds.
        Browser::Chromium => assert_eq!(outcome, None, "Chromium renews"),
        // Total Cookie Protection, Firefox's default even with cookies "allowed": the framed
        // tenant has a cookie jar of its own under `localhost`, without the session cookie
        // it set at the top level. The tenant sees no session: the implicit grant breaks in
        // Firefox's default configuration.
        Browser::Firefox => {
            let banner = outcome.expect("Firefox cannot renew the implicit grant across sites");
            assert!(banner.contains("login_required"), "{banner}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_renews_across_sites_with_third_party_cookies_blocked() {
    let stack = Stack::start_cross_site(code_flow::config("session"), None).await;
    code_flow_renews_by_refresh_token(&stack, ThirdPartyCookies::Blocked).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_renews_across_sites_with_third_party_cookies_allowed() {
    let stack = Stack::start_cross_site(code_flow::config("session"), None).await;
    code_flow_renews_by_refresh_token(&stack, ThirdPartyCookies::Allowed).await;
}

/// The control: with the app on the tenant's site (both on `127.0.0.1`), the iframe is not
/// a third-party frame, and the implicit grant renews even with third-party cookies
/// blocked. What breaks it above is the other site, nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn on_the_tenants_own_site_the_implicit_grant_renews_with_third_party_cookies_blocked() {
    let stack = Stack::start().await;
    let browser = stack.browser_with(ThirdPartyCookies::Blocked).await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let first = stored(&browser).await["issued_at"]
        .as_u64()
        .expect("a stored session");
    renew_now(&browser).await;
    wait_until("the session was renewed or the banner shown", || async {
        browser.find(Locator::Css("#renewal-failed")).await.is_ok()
            || stored(&browser).await["issued_at"]
                .as_u64()
                .is_some_and(|t| t > first)
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewed on the same site: {}",
        text_of(&browser, "body").await
    );
    browser.close().await.expect("close");
}
