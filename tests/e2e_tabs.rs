//! Tabs that hold copies of one rotating refresh token, in `session` storage: a duplicated
//! tab copies sessionStorage, so only messages between the tabs keep both copies current.
//! If either used a token the other had rotated away, the tenant would revoke the family.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use fantoccini::Locator;
use support::code_flow::{config, refresh_outside, stored_refresh_token};
use support::{click, find, open_another_tab, sign_in_to, wait_until, Stack, ALICE};

/// Opens the app in a new tab with a copy of this tab's sessionStorage, as the browser's
/// "Duplicate tab" does; returns the original tab.
async fn duplicate_tab(
    browser: &fantoccini::Client,
    stack: &Stack,
) -> fantoccini::wd::WindowHandle {
    let copy = browser
        .execute("return JSON.stringify(sessionStorage)", vec![])
        .await
        .expect("read sessionStorage");
    let original = open_another_tab(browser).await;
    browser
        .goto(&format!("{}/not-a-page", stack.spa))
        .await
        .expect("the app's origin");
    find(browser, "main h1").await;
    browser
        .execute(
            "const copy = JSON.parse(arguments[0]);\
             for (const key of Object.keys(copy)) sessionStorage.setItem(key, copy[key]);",
            vec![copy],
        )
        .await
        .expect("copy sessionStorage");
    browser
        .goto(&format!("{}/tokens", stack.spa))
        .await
        .expect("the duplicate");
    find(browser, "#access-token-claims").await;
    original
}

async fn renew_and_wait(browser: &fantoccini::Client, from: &str) {
    click(browser, "#renew-now").await;
    wait_until("this tab holds a newer refresh token", || async {
        stored_refresh_token(browser)
            .await
            .is_some_and(|now| now != from)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicated_tab_takes_the_other_tabs_rotation_instead_of_reusing_its_copy() {
    let stack = Stack::start_with(config("session")).await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let first = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");
    let original = duplicate_tab(&browser, &stack).await;
    let duplicate = browser.window().await.expect("this tab");
    assert_eq!(
        stored_refresh_token(&browser).await.as_deref(),
        Some(first.as_str())
    );

    // The duplicate rotates the token; the original hears of it and keeps the new one.
    renew_and_wait(&browser, &first).await;
    let second = stored_refresh_token(&browser).await.expect("rotated");
    browser
        .switch_to_window(original.clone())
        .await
        .expect("original");
    wait_until("the original took the rotation", || async {
        stored_refresh_token(&browser).await.as_deref() == Some(second.as_str())
    })
    .await;

    // Its own renewal then uses the newest token: no reuse, no banner.
    renew_and_wait(&browser, &second).await;
    assert!(browser.find(Locator::Css("#renewal-failed")).await.is_err());
    let third = stored_refresh_token(&browser).await.expect("rotated again");

    // A tab that was away (on another site) when a rotation happened asks on its return.
    browser
        .goto(&format!(
            "{}/.well-known/openid-configuration",
            stack.tenant
        ))
        .await
        .expect("away from the app");
    browser
        .switch_to_window(duplicate)
        .await
        .expect("duplicate");
    wait_until("the duplicate took the original's rotation", || async {
        stored_refresh_token(&browser).await.as_deref() == Some(third.as_str())
    })
    .await;
    renew_and_wait(&browser, &third).await;
    let fourth = stored_refresh_token(&browser).await.expect("rotated");
    browser.switch_to_window(original).await.expect("original");
    browser
        .goto(&format!("{}/tokens", stack.spa))
        .await
        .expect("back to the app, holding an older copy in sessionStorage");
    find(&browser, "#access-token-claims").await;
    assert_eq!(
        stored_refresh_token(&browser).await.as_deref(),
        Some(third.as_str())
    );
    renew_and_wait(&browser, &third).await;
    assert!(browser.find(Locator::Css("#renewal-failed")).await.is_err());
    let newest = stored_refresh_token(&browser).await.expect("newest");
    assert_eq!(
        newest, fourth,
        "the duplicate's rotation, asked for, not a reuse"
    );

    // The family is intact: the newest token still works at the tenant.
    let (status, body) = refresh_outside(&stack, &newest).await;
    assert_eq!(status, 200, "{body}");
    browser.close().await.expect("close");
}
