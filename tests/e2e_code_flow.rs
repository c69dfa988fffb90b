//! The authorization code flow with PKCE and refresh-token rotation, end to end in headless
//! Chromium (and Firefox ESR, see `xtask`), against the dev tenant and the API: sign-in,
//! renewal by refresh token, reloads, logout with revocation, and the attacks the flow must
//! withstand (a replayed or foreign code, a wrong verifier, a reused refresh token) and the
//! tabs that must not race.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::Ordering;

use fantoccini::Locator;
use serde_json::json;
use support::code_flow::{
    config, inserted_iframes, refresh_outside, requests_to, stored_refresh_token, watch_for_iframes,
};
use support::{
    answer_tenant, assert_signed_out_at, back_to_the_app, click, fill_form, find, open_another_tab,
    sign_in_to, sign_in_to_list, stored_session, text_of, wait_until, CurrentUrl, Stack, ALICE,
};

/// Clicks Sign in and answers the tenant over HTTP: the callback URL, `?code=…&state=…`.
async fn code_callback_url(browser: &fantoccini::Client, stack: &Stack) -> String {
    click(browser, "#sign-in").await;
    let authorize = format!("{}/authorize?", stack.tenant);
    wait_until("the browser is at the tenant's /authorize", || async {
        browser.current_url_string().await.starts_with(&authorize)
    })
    .await;
    let url = browser.current_url_string().await;
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(!url.contains("code_verifier"), "{url}");
    answer_tenant(stack, &url, ALICE).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_exchanges_the_code_and_leaves_no_code_or_token_in_the_address_bar() {
    let stack = Stack::start_with(config("session")).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;

    let here = browser.current_url_string().await;
    assert_eq!(here, format!("{}/appointments", stack.spa));
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));
    assert!(
        stored_refresh_token(&browser).await.is_some(),
        "offline_access gave one"
    );
    // The access token from the exchange creates an appointment (Alice may).
    fill_form(
        &browser,
        "Code flow check",
        "2031-07-01T09:00",
        "2031-07-01T09:30",
        "",
    )
    .await;
    click(&browser, "#create-appointment button[type=submit]").await;
    support::wait_until_listed(&browser, "Code flow check").await;
    assert_eq!(requests_to(&browser, "/oauth/token").await.len(), 1);

    // Back goes to the tenant or the start page, never to a URL with the code.
    browser.back().await.expect("back");
    let previous = browser.current_url_string().await;
    assert!(!previous.contains("code="), "{previous}");
    assert!(!previous.contains("access_token"), "{previous}");

    // A reload keeps the session in session mode.
    browser
        .goto(&format!("{}/appointments", stack.spa))
        .await
        .expect("again");
    text_of(&browser, "#appointments-list").await;
    browser.refresh().await.expect("reload");
    text_of(&browser, "#appointments-list").await;
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_in_memory_mode_loses_the_refresh_token_too() {
    let stack = Stack::start_with(config("memory")).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    assert_eq!(stored_session(&browser).await, json!([null, null]));
    browser.refresh().await.expect("reload");
    text_of(&browser, "#sign-in").await;
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn short_lived_tokens_are_renewed_by_rotating_refresh_tokens_without_an_iframe() {
    let stack = Stack::start_custom(config("session"), Some(5)).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    let first = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");
    let requests = stack.api_requests.load(Ordering::SeqCst);
    watch_for_iframes(&browser).await;

    wait_until("two refreshes, each rotating the refresh token", || async {
        requests_to(&browser, "/oauth/token").await.len() >= 3
    })
    .await;
    let now = stored_refresh_token(&browser).await.expect("still one");
    assert_ne!(now, first, "rotated");
    // Resource Timing records a frame only once it has loaded, and renewal removes its
    // iframe at once: the DOM is watched instead.
    assert_eq!(
        inserted_iframes(&browser).await,
        Vec::<String>::new(),
        "no iframe: renewal used the refresh token"
    );
    assert!(requests_to(&browser, "/authorize").await.is_empty());
    wait_until("the list was reloaded with a renewed token", || async {
        stack.api_requests.load(Ordering::SeqCst) > requests
    })
    .await;
    assert!(browser.find(Locator::Css("#renewal-failed")).await.is_err());
    // The first token was rotated away: using it now is reuse.
    let (status, body) = refresh_outside(&stack, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_refresh_token_ends_the_session_with_the_sign_in_again_banner() {
    let stack = Stack::start_with(config("session")).await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let stolen = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");

    // A thief uses the token first; the app's next use of it is reuse, and the tenant
    // revokes the family, the thief's new token included.
    let (status, body) = refresh_outside(&stack, &stolen).await;
    assert_eq!(status, 200, "{body}");
    let thiefs = body["refresh_token"].as_str().expect("rotated").to_string();

    click(&browser, "#renew-now").await;
    let banner = text_of(&browser, "#renewal-failed").await;
    assert!(banner.contains("invalid_grant"), "{banner}");
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa),
        "the page stays"
    );
    assert_eq!(stored_session(&browser).await, json!([null, null]));
    let (status, _) = refresh_outside(&stack, &thiefs).await;
    assert_eq!(status, 403, "the whole family is revoked");
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_refresh_token_and_signs_out_the_other_tab() {
    let stack = Stack::start_with(config("local")).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    let refresh_token = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");

    // A second tab of the same session (local storage is shared).
    let first = open_another_tab(&browser).await;
    browser
        .goto(&format!("{}/appointments", stack.spa))
        .await
        .expect("second tab");
    text_of(&browser, "#appointments-list").await;
    let second = browser.window().await.expect("this tab");
    browser.switch_to_window(first).await.expect("first tab");

    click(&browser, "#sign-out").await;
    assert_signed_out_at(&browser, &format!("{}/", stack.spa)).await;
    let (status, _) = refresh_outside(&stack, &refresh_token).await;
    assert_eq!(status, 403, "revoked at logout");

    // Closes the signed-out first tab and looks at the second.
    back_to_the_app(&browser, second).await;
    let why = text_of(&browser, "#signed-out-elsewhere").await;
    assert!(why.contains("another tab"), "{why}");
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_refreshing_at_once_keep_one_valid_session() {
    let stack = Stack::start_with(config("local")).await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let first = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");
    let app = open_another_tab(&browser).await;
    browser
        .goto(&format!("{}/tokens", stack.spa))
        .await
        .expect("second tab");
    find(&browser, "#renew-now").await;
    let second = browser.window().await.expect("this tab");

    // Both tabs renew at the same moment: the test holds the app's refresh lock while
    // both ask for it, then lets it go.
    browser
        .execute_async(
            "const done = arguments[0];
             navigator.locks.request('appointments.auth.refresh',
                 () => { done(true); return new Promise(r => window.releaseRefreshLock = r); });",
            vec![],
        )
        .await
        .expect("hold the refresh lock");
    browser
        .execute("document.querySelector('#renew-now').click()", vec![])
        .await
        .expect("renew in the second tab");
    browser
        .switch_to_window(app.clone())
        .await
        .expect("first tab");
    browser
        .execute("document.querySelector('#renew-now').click()", vec![])
        .await
        .expect("renew in the first tab");
    browser
        .switch_to_window(second.clone())
        .await
        .expect("second tab");
    browser
        .execute("window.releaseRefreshLock()", vec![])
        .await
        .expect("let the refresh lock go");

    wait_until("the refresh token was rotated", || async {
        stored_refresh_token(&browser)
            .await
            .is_some_and(|now| now != first)
    })
    .await;
    let mut token_requests = 0;
    for tab in [app, second] {
        browser.switch_to_window(tab).await.expect("tab");
        wait_until("the tab's renewal has ended", || async {
            browser
                .execute(
                    "return !document.querySelector('#renew-now').disabled",
                    vec![],
                )
                .await
                .is_ok_and(|done| done == serde_json::Value::Bool(true))
        })
        .await;
        // Neither tab reports a failure.
        assert!(browser.find(Locator::Css("#renewal-failed")).await.is_err());
        token_requests += requests_to(&browser, "/oauth/token").await.len();
    }
    // The sign-in's code exchange and one refresh: the tab that waited took the other's
    // result instead of refreshing again.
    assert_eq!(token_requests, 2);
    // The newest token still works.
    let newest = stored_refresh_token(&browser).await.expect("one session");
    let (status, body) = refresh_outside(&stack, &newest).await;
    assert_eq!(status, 200, "the family was not revoked: {body}");
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_answer_for_another_browser_or_replayed_makes_no_token_request() {
    let stack = Stack::start_with(config("session")).await;
    let alice = stack.browser().await;
    alice
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    let callback = code_callback_url(&alice, &stack).await;
    assert!(callback.contains("?code="), "{callback}");

    // Another browser, which started no sign-in: state mismatch, and the code is never
    // sent to the token endpoint.
    let other = stack.browser().await;
    other.goto(&callback).await.expect("the foreign callback");
    let alert = text_of(&other, "[role=alert]").await;
    assert!(alert.contains("state_mismatch"), "{alert}");
    assert!(!other.current_url_string().await.contains("code="));
    assert!(requests_to(&other, "/oauth/token").await.is_empty());
    assert_eq!(stored_session(&other).await, json!([null, null]));
    other.close().await.expect("close");

    // The browser that started it signs in; the same answer again is refused before any
    // token request.
    alice.goto(&callback).await.expect("the callback");
    text_of(&alice, "#appointments-list").await;
    alice.goto(&callback).await.expect("the replay");
    let alert = text_of(&alice, "[role=alert]").await;
    assert!(alert.contains("state_mismatch"), "{alert}");
    assert!(requests_to(&alice, "/oauth/token").await.is_empty());
    alice.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_verifier_gets_invalid_grant_and_stores_nothing() {
    let stack = Stack::start_with(config("session")).await;
    let browser = stack.browser().await;
    browser
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    let callback = code_callback_url(&browser, &stack).await;
    // Back at the app's origin (the browser is on the tenant's login page), the verifier
    // kept with the transaction is replaced: no longer the one the challenge was made from.
    browser
        .goto(&format!("{}/not-a-page", stack.spa))
        .await
        .expect("the app's origin");
    find(&browser, "main h1").await;
    let altered = browser
        .execute(
            "let altered = 0;\
             for (const key of Object.keys(sessionStorage)) {\
               if (!key.startsWith('appointments.auth.transaction.')) continue;\
               const tx = JSON.parse(sessionStorage.getItem(key));\
               tx.code_verifier = 'x'.repeat(43);\
               sessionStorage.setItem(key, JSON.stringify(tx));\
               altered += 1;\
             }\
             return altered;",
            vec![],
        )
        .await
        .expect("alter the verifier");
    assert_eq!(altered, json!(1), "the sign-in's transaction");
    browser.goto(&callback).await.expect("the callback");
    let alert = text_of(&browser, "[role=alert]").await;
    assert!(alert.contains("invalid_grant"), "{alert}");
    assert_eq!(stored_session(&browser).await, json!([null, null]));
    assert_eq!(stack.api_requests.load(Ordering::SeqCst), 0);
    browser.close().await.expect("close");
}
