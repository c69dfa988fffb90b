//! DPoP (RFC 9449) end to end: the code flow with `dpop: true` in headless Chromium (and
//! Firefox ESR, see `xtask`), against the dev tenant and the API. The tokens are bound to a
//! key the page cannot export; copied out of the page they are worthless.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use serde_json::{json, Value};
use support::code_flow::{
    inserted_iframes, refresh_outside, requests_to, stored, stored_refresh_token, watch_for_iframes,
};
use support::{
    assert_signed_out_at, click, fill_form, sign_in_to, sign_in_to_list, text_of, wait_until,
    Stack, TenantOptions, ALICE,
};

fn dpop_config(storage: &'static str) -> impl Fn(Value) -> Value + Send + Sync + 'static {
    let code_flow = support::code_flow::config(storage);
    move |config| {
        let mut config = code_flow(config);
        config["dpop"] = true.into();
        config
    }
}

/// What IndexedDB holds of the DPoP key named `id`: whether it is there, whether its
/// private half is extractable, and whether the page can export it (it must not).
async fn stored_key(browser: &fantoccini::Client, id: &str) -> Value {
    browser
        .execute_async(
            "const [id, done] = arguments;\
             const open = indexedDB.open('appointments.auth');\
             open.onerror = () => done({ error: 'open' });\
             open.onsuccess = () => {\
               const db = open.result;\
               if (!db.objectStoreNames.contains('dpop-keys')) { done({ present: false }); return; }\
               const get = db.transaction('dpop-keys').objectStore('dpop-keys').get(id);\
               get.onerror = () => done({ error: 'get' });\
               get.onsuccess = async () => {\
                 const record = get.result;\
                 if (!record) { done({ present: false }); return; }\
                 let exported = true;\
                 try { await crypto.subtle.exportKey('jwk', record.private); }\
                 catch (e) { exported = false; }\
                 done({ present: true, extractable: record.private.extractable, exported });\
               };\
             };",
            vec![json!(id)],
        )
        .await
        .expect("IndexedDB read")
}

fn key_id(session: &Value) -> String {
    session["dpop_key_id"]
        .as_str()
        .expect("the session names its DPoP key")
        .to_string()
}

/// A JWT's claims, decoded by the page.
async fn claims(browser: &fantoccini::Client, token: &str) -> Value {
    browser
        .execute(
            "const part = arguments[0].split('.')[1].replace(/-/g, '+').replace(/_/g, '/');\
             return JSON.parse(atob(part));",
            vec![json!(token)],
        )
        .await
        .expect("JWT claims")
}

/// The API's answer to `token` sent from outside the browser: with `scheme`, and a proof by
/// `signer` when given.
async fn call_api(
    stack: &Stack,
    scheme: &str,
    token: &str,
    signer: Option<&dpop::Signer>,
) -> (u16, String) {
    let url = format!("{}/api/appointments", stack.api);
    let mut request = reqwest::Client::new()
        .get(&url)
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(signer) = signer {
        request = request.header(
            "DPoP",
            signer.proof("GET", &url, dpop::now(), Some(token), None),
        );
    }
    let answer = request.send().await.expect("the API answers");
    let challenge = answer
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(" | ");
    (answer.status().as_u16(), challenge)
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_binds_the_tokens_to_a_key_the_page_cannot_export() {
    let stack = Stack::start_with(dpop_config("session")).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;

    let session = stored(&browser).await.expect("a stored session");
    let id = key_id(&session);
    let key = stored_key(&browser, &id).await;
    assert_eq!(
        key,
        json!({ "present": true, "extractable": false, "exported": false }),
        "kept in IndexedDB, not exportable"
    );
    let token = session["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    let jkt = claims(&browser, &token).await["cnf"]["jkt"]
        .as_str()
        .expect("the access token is bound: cnf.jkt")
        .to_string();

    // The bound token creates an appointment.
    fill_form(
        &browser,
        "DPoP check",
        "2031-08-01T09:00",
        "2031-08-01T09:30",
        "",
    )
    .await;
    click(&browser, "#create-appointment button[type=submit]").await;
    support::wait_until_listed(&browser, "DPoP check").await;

    // Copied out of the page, the token is worthless: as Bearer, without a proof, or with
    // a proof by another key; so is the refresh token without this browser's key.
    let (status, challenge) = call_api(&stack, "Bearer", &token, None).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let (status, challenge) = call_api(&stack, "DPoP", &token, None).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    let thief = dpop::Signer::generate();
    let (status, challenge) = call_api(&stack, "DPoP", &token, Some(&thief)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let refresh_token = stored_refresh_token(&browser)
        .await
        .expect("a refresh token");
    let (status, body) = refresh_outside(&stack, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant")),
        "a bound refresh token needs the key: {body}"
    );

    // The inspector says to which key the token is bound.
    browser
        .goto(&format!("{}/tokens", stack.spa))
        .await
        .expect("tokens page");
    let binding = text_of(&browser, "#token-binding").await;
    assert!(binding.contains("this browser's key"), "{binding}");
    assert!(binding.contains(&jkt), "{binding}");

    // A reload keeps the key (session storage): the renewed token is bound to it too.
    browser.refresh().await.expect("reload");
    text_of(&browser, "#access-token-claims").await;
    let before = requests_to(&browser, "/oauth/token").await.len();
    // The refresh token rotates at every refresh; the access token may come out the same
    // when the refresh falls in the second of the sign-in.
    let rotated_away = stored_refresh_token(&browser).await;
    click(&browser, "#renew-now").await;
    wait_until("the refresh at the token endpoint", || async {
        stored_refresh_token(&browser).await != rotated_away
    })
    .await;
    assert_eq!(
        requests_to(&browser, "/oauth/token").await.len(),
        before + 1
    );
    let renewed = stored(&browser).await.expect("the renewed session");
    assert_eq!(key_id(&renewed), id, "the same key");
    let renewed_token = renewed["access_token"].as_str().expect("a token");
    assert_eq!(
        claims(&browser, renewed_token).await["cnf"]["jkt"],
        json!(jkt)
    );
    browser
        .goto(&format!("{}/appointments", stack.spa))
        .await
        .expect("list again");
    support::wait_until_listed(&browser, "DPoP check").await;

    // Logout deletes the key.
    click(&browser, "#sign-out").await;
    assert_signed_out_at(&browser, &format!("{}/", stack.spa)).await;
    wait_until("the key is deleted", || async {
        stored_key(&browser, &id).await == json!({ "present": false })
    })
    .await;
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn in_memory_mode_the_key_lives_in_the_page_only() {
    let stack = Stack::start_with(dpop_config("memory")).await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let binding = text_of(&browser, "#token-binding").await;
    assert!(binding.contains("this browser's key"), "{binding}");
    let ids: Value = browser
        .execute_async(
            "const done = arguments[0];\
             const open = indexedDB.open('appointments.auth');\
             open.onsuccess = () => {\
               const db = open.result;\
               if (!db.objectStoreNames.contains('dpop-keys')) { done([]); return; }\
               const all = db.transaction('dpop-keys').objectStore('dpop-keys').getAllKeys();\
               all.onsuccess = () => done(all.result);\
             };",
            vec![],
        )
        .await
        .expect("IndexedDB keys");
    assert_eq!(
        ids,
        json!([]),
        "nothing left in IndexedDB after the sign-in"
    );
    // A client-side navigation keeps the page, and the key with it.
    click(&browser, "a[href='/appointments']").await;
    text_of(&browser, "#appointments-list").await;
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_demanding_nonces_gets_one_retry_per_demand() {
    let options = TenantOptions {
        require_dpop_nonce: true,
        ..TenantOptions::default()
    };
    let stack = Stack::start_with_tenant(dpop_config("session"), options).await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    assert_eq!(
        requests_to(&browser, "/oauth/token").await.len(),
        2,
        "the exchange, refused with use_dpop_nonce, then retried with the tenant's nonce"
    );
    // The refresh uses the nonce the tenant gave last: no second refusal.
    let rotated_away = stored_refresh_token(&browser).await;
    click(&browser, "#renew-now").await;
    wait_until("the refresh at the token endpoint", || async {
        stored_refresh_token(&browser).await != rotated_away
    })
    .await;
    assert_eq!(requests_to(&browser, "/oauth/token").await.len(), 3);
    // The profile's /userinfo call carries a proof with the nonce too.
    click(&browser, "a[href='/profile']").await;
    let userinfo = text_of(&browser, "#profile-userinfo").await;
    assert!(userinfo.contains("alice@example.com"), "{userinfo}");
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_refresh_token_the_iframe_renewal_binds_to_the_same_key() {
    let without_offline_access = dpop_config("session");
    let stack = Stack::start_custom(
        move |config| {
            let mut config = without_offline_access(config);
            config["scope"] = "openid profile email read:appointments".into();
            config
        },
        Some(5),
    )
    .await;
    let browser = stack.browser().await;
    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let first = stored(&browser).await.expect("a session");
    assert!(
        first["refresh_token"].is_null(),
        "no offline_access, no refresh token"
    );
    let token = first["access_token"].clone();
    let jkt = claims(&browser, token.as_str().expect("a token")).await["cnf"]["jkt"].clone();
    assert!(jkt.is_string(), "bound at sign-in");
    watch_for_iframes(&browser).await;

    wait_until("a renewal in the hidden iframe", || async {
        stored(&browser)
            .await
            .is_some_and(|s| s["access_token"] != token)
    })
    .await;
    let frames = inserted_iframes(&browser).await;
    assert!(
        frames
            .iter()
            .any(|src| src.contains("prompt=none") && src.contains("dpop_jkt=")),
        "{frames:?}"
    );
    let renewed = stored(&browser).await.expect("the renewed session");
    assert_eq!(renewed["dpop_key_id"], first["dpop_key_id"]);
    let renewed_jkt = claims(&browser, renewed["access_token"].as_str().expect("a token")).await
        ["cnf"]["jkt"]
        .clone();
    assert_eq!(renewed_jkt, jkt, "the same key");
    click(&browser, "a[href='/appointments']").await;
    text_of(&browser, "#appointments-list").await;
    browser.close().await.expect("close");
}

/// With `session` storage each tab's sign-in has its own key, named by that sign-in: a
/// logout deletes its own only. (Tabs of the same tenant session sign out together, so the
/// second tab here signs in after the tenant session ended: a session of its own.)
#[tokio::test(flavor = "multi_thread")]
async fn with_session_storage_one_tabs_logout_keeps_another_tabs_key() {
    let stack = Stack::start_with(dpop_config("session")).await;
    let browser = stack.browser().await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    let first_key = key_id(&stored(&browser).await.expect("a session"));

    let first_tab = support::open_another_tab(&browser).await;
    support::end_tenant_session(&browser, &stack).await;
    sign_in_to_list(&browser, &stack, ALICE, "/appointments").await;
    let second_key = key_id(&stored(&browser).await.expect("a session"));
    assert_ne!(first_key, second_key);
    let second_tab = browser.window().await.expect("this tab");

    browser
        .switch_to_window(first_tab)
        .await
        .expect("first tab");
    click(&browser, "#sign-out").await;
    browser
        .switch_to_window(second_tab)
        .await
        .expect("second tab");
    wait_until("the first tab's key is deleted", || async {
        stored_key(&browser, &first_key).await == json!({ "present": false })
    })
    .await;
    assert_eq!(
        stored_key(&browser, &second_key).await["present"],
        json!(true),
        "the other tab's key stays"
    );
    browser.refresh().await.expect("reload the second tab");
    text_of(&browser, "#appointments-list").await;
    browser.close().await.expect("close");
}
