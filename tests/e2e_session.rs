//! The session's life in headless Chromium, or Firefox ESR with `E2E_BROWSER=firefox`
//! (`cargo xtask test` runs both): silent renewal before expiry, the fall-back when the
//! tenant's session has ended, reloads per storage mode, logout, and the scope-aware
//! create form.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::Ordering;

use fantoccini::Locator;
use serde_json::json;
use support::{
    assert_signed_out_at, back_to_the_app, click, end_tenant_session,
    end_tenant_session_in_another_tab, fill_form, find, open_another_tab, sign_in_at_tenant,
    sign_in_to, sign_in_to_list, stored_issued_at, stored_session, text_of, wait_until, CurrentUrl,
    Stack, ALICE, BOB,
};

#[tokio::test(flavor = "multi_thread")]
async fn short_lived_tokens_are_renewed_silently_and_the_list_keeps_loading() {
    let stack = Stack::start_custom(|config| config, Some(5)).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    let first = stored_issued_at(&browser).await.expect("a stored session");
    let requests = stack.api_requests.load(Ordering::SeqCst);

    // Tokens live 5 s and are renewed a quarter early: two renewals within ~8 s.
    wait_until("the session was renewed twice", || async {
        stored_issued_at(&browser)
            .await
            .is_some_and(|t| t > first + 5_000)
    })
    .await;
    wait_until("the list was reloaded with a renewed token", || async {
        stack.api_requests.load(Ordering::SeqCst) > requests
    })
    .await;
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "no fall-back prompt"
    );
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", stack.spa)
    );
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_tenant_session_has_ended_renewal_falls_back_to_signing_in_again() {
    let stack = Stack::start_custom(|config| config, Some(6)).await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;

    end_tenant_session_in_another_tab(&browser, &stack).await;

    let banner = text_of(&browser, "#renewal-failed").await;
    assert!(banner.contains("login_required"), "{banner}");
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa),
        "the page stays"
    );

    click(&browser, "#sign-in-again").await;
    sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;
    find(&browser, "#access-token-claims").await;
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa),
        "back to the same page"
    );
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn renew_now_gets_fresh_tokens_without_leaving_the_page() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let first = stored_issued_at(&browser).await.expect("a stored session");
    click(&browser, "#renew-now").await;
    wait_until("the session was renewed", || async {
        stored_issued_at(&browser).await.is_some_and(|t| t > first)
    })
    .await;
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa)
    );
    assert!(browser.find(Locator::Css("#renewal-failed")).await.is_err());
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_keeps_the_session_in_session_mode() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    browser.refresh().await.expect("reload");
    assert!(text_of(&browser, "#appointments-list")
        .await
        .contains("Dental check-up"));
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", stack.spa)
    );
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_drops_the_session_in_memory_mode() {
    let stack = Stack::start_with(|mut config| {
        config["token_storage"] = "memory".into();
        config
    })
    .await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    assert_eq!(
        stored_session(&browser).await,
        json!([null, null]),
        "memory mode stores nothing"
    );
    browser.refresh().await.expect("reload");
    text_of(&browser, "#sign-in").await;
    assert!(browser
        .current_url_string()
        .await
        .contains("return_to=%2Fappointments"));
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_leaves_no_token_anywhere_and_ends_at_logout_return_to() {
    let stack = Stack::start_with(|mut config| {
        config["token_storage"] = "local".into();
        config
    })
    .await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    assert_ne!(
        stored_session(&browser).await,
        json!([null, null]),
        "local mode stores the session"
    );

    click(&browser, "#sign-out").await;
    assert_signed_out_at(&browser, &format!("{}/", stack.spa)).await;

    // The tenant's session ended too: signing in again asks for credentials.
    click(&browser, "#sign-in").await;
    find(&browser, "#username").await;
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_user_with_create_scope_sees_the_form_and_a_created_appointment_appears() {
    let stack = Stack::start().await;

    let bob = stack.browser().await;
    sign_in_to_list(&bob, &stack, BOB, "/appointments").await;
    assert!(
        bob.find(Locator::Css("#create-appointment")).await.is_err(),
        "bob may only read"
    );
    bob.close().await.expect("close");

    let alice = stack.browser().await;
    sign_in_to_list(&alice, &stack, ALICE, "/appointments").await;
    fill_form(
        &alice,
        "Eye test",
        "2031-05-04T10:00",
        "2031-05-04T11:00",
        "Optician, 3 Park Lane",
    )
    .await;
    click(&alice, "#create-appointment button[type=submit]").await;
    wait_until("the new appointment is listed", || async {
        match alice.find(Locator::Css("#appointments-list")).await {
            Ok(list) => list
                .text()
                .await
                .is_ok_and(|text| text.contains("Eye test") && text.contains("Optician")),
            Err(_) => false,
        }
    })
    .await;

    // An end before the start: the API's 400 names the field next to the form.
    fill_form(
        &alice,
        "Backwards",
        "2031-05-04T11:00",
        "2031-05-04T10:00",
        "",
    )
    .await;
    click(&alice, "#create-appointment button[type=submit]").await;
    let error = text_of(&alice, "#create-appointment .form-error").await;
    assert!(error.contains("end"), "{error}");
    alice.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewal_that_answers_for_another_user_signs_out_and_lets_the_user_choose() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    assert!(text_of(&browser, ".user-name").await.contains("Alice"));

    // Bob signs in at the tenant in another tab of the same browser.
    let app = open_another_tab(&browser).await;
    end_tenant_session(&browser, &stack).await;
    sign_in_to_list(&browser, &stack, BOB, "/appointments").await;
    back_to_the_app(&browser, app).await;

    // The next renewal answers for Bob: not adopted.
    let requests = stack.api_requests.load(Ordering::SeqCst);
    click(&browser, "#renew-now").await;
    let why = text_of(&browser, "#signed-out-other-user").await;
    assert!(why.contains("someone else has signed in"), "{why}");
    assert_eq!(stored_session(&browser).await, json!([null, null]));
    assert!(
        browser.find(Locator::Css(".user-name")).await.is_err(),
        "nobody is shown as signed in"
    );
    assert_eq!(
        stack.api_requests.load(Ordering::SeqCst),
        requests,
        "nothing was sent with Bob's token"
    );

    // Signing in again asks who signs in, although the tenant has Bob's session.
    assert_eq!(text_of(&browser, "#sign-in").await, "Sign in again");
    click(&browser, "#sign-in").await;
    find(&browser, "#username").await;
    assert!(browser.current_url_string().await.contains("prompt=login"));
    sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;
    find(&browser, "#access-token-claims").await;
    assert!(text_of(&browser, ".user-name").await.contains("Alice"));
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/tokens", stack.spa),
        "back where Alice was"
    );
    browser.close().await.expect("close");
}
