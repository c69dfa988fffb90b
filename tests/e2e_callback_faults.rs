//! The negative suite: for each fault the dev tenant can inject into its next answer, the
//! app must show the matching error, store no session and send nothing to the API; the two
//! legitimate variations (no `kid` with one key, a rotated key) must sign in.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::sync::atomic::Ordering;

use dev_tenant::Fault;
use serde_json::json;
use support::{callback_url, click, stored_session, text_of, wait_until, CurrentUrl, Stack, ALICE};

/// Each fault and the error code the app must show for it.
const REJECTED: [(Fault, &str); 14] = [
    (Fault::BadSignature, "id_token_bad_signature"),
    (Fault::UnknownKey, "id_token_unknown_key"),
    (Fault::AlgNone, "id_token_alg_not_allowed"),
    (Fault::Hs256PublicKey, "id_token_alg_not_allowed"),
    (Fault::WrongIss, "id_token_iss_mismatch"),
    (Fault::WrongAud, "id_token_aud_mismatch"),
    (Fault::MultipleAudNoAzp, "id_token_azp_mismatch"),
    (Fault::MissingSub, "id_token_sub_missing"),
    (Fault::MissingIat, "id_token_iat_missing"),
    (Fault::Expired, "id_token_expired"),
    (Fault::WrongNonce, "id_token_nonce_mismatch"),
    (Fault::MissingAtHash, "id_token_at_hash_missing"),
    (Fault::WrongAtHash, "id_token_at_hash_mismatch"),
    (Fault::WrongState, "state_mismatch"),
];

/// Opens the app, signs in as Alice with `fault` injected into the tenant's answer, and
/// follows the tenant's redirect; returns that callback URL.
async fn arrive_at_callback(
    browser: &fantoccini::Client,
    stack: &Stack,
    fault: Option<Fault>,
) -> String {
    browser
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    if let Some(fault) = fault {
        stack.faults.set_next(fault);
    }
    let callback = callback_url(browser, stack, ALICE).await;
    browser
        .goto(&callback)
        .await
        .expect("the tenant's redirect");
    callback
}

#[tokio::test(flavor = "multi_thread")]
async fn every_injected_fault_is_rejected_before_anything_is_stored_or_sent() {
    let stack = Stack::start().await;
    for (fault, code) in REJECTED {
        eprintln!("case: {fault:?}");
        let browser = stack.browser().await;
        arrive_at_callback(&browser, &stack, Some(fault)).await;

        let alert = text_of(&browser, "[role=alert]").await;
        assert!(alert.contains("Sign-in failed"), "{fault:?}: {alert}");
        assert!(alert.contains(code), "{fault:?} must show {code}: {alert}");
        text_of(&browser, "#try-again").await;
        assert!(
            !browser.current_url_string().await.contains('#'),
            "{fault:?}: fragment cleared"
        );
        assert_eq!(
            stored_session(&browser).await,
            json!([null, null]),
            "{fault:?}: nothing stored"
        );
        assert_eq!(
            stack.api_requests.load(Ordering::SeqCst),
            0,
            "{fault:?}: the API got a request"
        );
        browser.close().await.expect("close");
    }

    // The accepted variations, in this order: `no_kid` needs the JWKS to hold one key,
    // which a rotation ends.
    for fault in [Fault::NoKid, Fault::RotatedKey] {
        eprintln!("case: {fault:?}");
        let browser = stack.browser().await;
        arrive_at_callback(&browser, &stack, Some(fault)).await;
        let list = text_of(&browser, "#appointments-list").await;
        assert!(
            list.contains("Dental check-up"),
            "{fault:?} signs in: {list}"
        );
        browser.close().await.expect("close");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_callback_url_is_rejected() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    let callback = arrive_at_callback(&browser, &stack, None).await;
    text_of(&browser, "#appointments-list").await;

    // Signed out, the same response again: its state was consumed by the first use.
    click(&browser, ".site-header button").await;
    text_of(&browser, "#sign-in").await;
    let requests_before = stack.api_requests.load(Ordering::SeqCst);
    browser.goto(&callback).await.expect("the replay");
    let alert = text_of(&browser, "[role=alert]").await;
    assert!(alert.contains("state_mismatch"), "{alert}");
    assert_eq!(stored_session(&browser).await, json!([null, null]));
    wait_until("no further API request", || async {
        stack.api_requests.load(Ordering::SeqCst) == requests_before
    })
    .await;
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_response_shows_none_of_its_words() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    let phishing = "Call+%2B1-555-0100+to+restore+your+account";
    for fragment in [
        format!("error=access_denied&error_description={phishing}&state=forged"),
        format!("error={phishing}&state=forged"),
        format!("access_token=x&token_type={phishing}&expires_in=60&state=forged"),
        format!("access_token=x&token_type={phishing}&expires_in=60"),
    ] {
        browser
            .goto(&format!("{}/callback#{fragment}", stack.spa))
            .await
            .expect("the forged callback");
        let alert = text_of(&browser, "[role=alert]").await;
        assert!(alert.contains("Sign-in failed"), "{fragment}: {alert}");
        assert!(
            alert.contains("state_mismatch") || alert.contains("state_missing"),
            "{fragment}: {alert}"
        );
        let page = text_of(&browser, "body").await;
        assert!(!page.contains("555-0100"), "{fragment}: shown: {page}");
        assert_eq!(stored_session(&browser).await, json!([null, null]));
    }
    browser.close().await.expect("close");
}
