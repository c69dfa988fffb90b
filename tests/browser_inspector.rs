//! Component tests in headless Chromium (wasm-bindgen-test): the token inspector, the
//! profile page's `/userinfo` outcomes, and the countdown, inside the real auth provider
//! started from a stored session.
#![cfg(target_arch = "wasm32")]

mod web;

use std::rc::Rc;
use std::time::Duration;

use appointments_spa::auth::{AuthProvider, SigningKeys, Tenant};
use appointments_spa::browser::storage;
use appointments_spa::components::Countdown;
use appointments_spa::config::Config;
use appointments_spa::oidc::base64url;
use appointments_spa::oidc::discovery;
use appointments_spa::oidc::session::Session;
use appointments_spa::pages::{ProfilePage, TokensPage};
use appointments_spa::weburl::Url;
use gloo_storage::{SessionStorage, Storage};
use wasm_bindgen_test::*;
use web::{document, new_root, wait_for, TestKey};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

const CONFIG: &str = r#"{"domain":"https://tenant.example","client_id":"spa-1","audience":"appointments:api","api_base_url":"https://api.example"}"#;

fn tenant(userinfo_endpoint: Option<Url>) -> Tenant {
    let base = Url::parse("https://app.example/").expect("url");
    let config = Config::from_json(CONFIG, &base).expect("valid config");
    let mut metadata = discovery::auth0_defaults(&config.domain);
    metadata.userinfo_endpoint = userinfo_endpoint;
    Tenant {
        config: Rc::new(config),
        metadata: Rc::new(metadata),
        keys: SigningKeys::default(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Page {
    Tokens,
    Profile,
}

#[derive(Properties, PartialEq)]
struct HarnessProps {
    tenant: Tenant,
    page: Page,
}

#[function_component(Harness)]
fn harness(props: &HarnessProps) -> Html {
    html! {
        <AuthProvider tenant={props.tenant.clone()}>
            if props.page == Page::Tokens { <TokensPage /> } else { <ProfilePage /> }
        </AuthProvider>
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A session as storage holds it; built from JSON so that fields added to `Session`
/// later with a default do not break this test.
fn session(access_token: &str, id_token: Option<&str>, sub: Option<&str>) -> Session {
    let now = now_ms() as u64;
    serde_json::from_value(serde_json::json!({
        "access_token": access_token,
        "id_token": id_token,
        "issued_at": now,
        "expires_at": now + 2 * 3600 * 1000,
        "scopes": ["openid", "profile", "read:appointments"],
        "profile": sub.map(|sub| serde_json::json!({
            "iss": "https://tenant.example/",
            "sub": sub,
            "name": "Alice",
            "email": "alice@example.com",
            "picture": "https://tenant.example/alice.svg",
        })),
    }))
    .expect("a session")
}

/// Stores `session` where the provider looks for it and renders `page` signed in.
fn render_signed_in(page: Page, session: &Session, tenant: Tenant) -> web_sys::Element {
    SessionStorage::clear();
    storage::save_session(tenant.config.token_storage, session);
    let root = new_root();
    yew::Renderer::<Harness>::with_root_and_props(root.clone(), HarnessProps { tenant, page })
        .render();
    root
}

fn find(root: &web_sys::Element, selector: &str) -> Option<web_sys::Element> {
    root.query_selector(selector).ok().flatten()
}

fn text_in(root: &web_sys::Element, selector: &str) -> Option<String> {
    find(root, selector).and_then(|e| e.text_content())
}

/// Records every console message from now on, so tests can check what was logged.
fn record_console() {
    js_sys::eval(
        r#"if (!window.__logged) {
            window.__logged = [];
            for (const m of ["log", "info", "warn", "error", "debug"]) {
                const original = console[m];
                console[m] = (...args) => {
                    window.__logged.push(args.map(String).join(" "));
                    original.apply(console, args);
                };
            }
        }"#,
    )
    .expect("console hooks");
}

fn console_text() -> String {
    js_sys::eval(r#"(window.__logged || []).join("\n")"#)
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// The raw token, and each of its dot-separated parts, appear nowhere: not in the DOM
/// (text or attributes), the address bar, or the console.
fn assert_never_shown(token: &str) {
    let html = document()
        .document_element()
        .map(|e| e.outer_html())
        .unwrap_or_default();
    let href = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let console = console_text();
    for (place, text) in [
        ("document", &html),
        ("address bar", &href),
        ("console", &console),
    ] {
        assert!(!text.contains(token), "the token is in the {place}");
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(
                !text.contains(part),
                "a part of the token is in the {place}: {part}"
            );
        }
    }
}

fn b64(json: &str) -> String {
    base64url::encode(json.as_bytes())
}

#[wasm_bindgen_test]
async fn the_inspector_shows_decoded_claims_and_never_the_tokens() {
    record_console();
    let key = TestKey::generate("k-inspect").await;
    let now = (now_ms() / 1000.0) as u64;
    let id_token = key
        .jwt(&format!(
            r#"{{"iss":"https://tenant.example/","aud":"spa-1","sub":"auth0|alice","iat":{now},"exp":{},"nonce":"n-1","name":"Alice","at_hash":"x"}}"#,
            now + 36_000
        ))
        .await;
    let access_token = key
        .jwt(&format!(
            r#"{{"iss":"https://tenant.example/","aud":["appointments:api","https://tenant.example/userinfo"],"sub":"auth0|alice","iat":{now},"exp":{},"scope":"openid profile read:appointments","https://app.example/marker":"access-marker"}}"#,
            now + 7200
        ))
        .await;
    let session = session(&access_token, Some(&id_token), Some("auth0|alice"));
    let root = render_signed_in(Page::Tokens, &session, tenant(None));

    wait_for("the inspector renders", Duration::from_secs(5), || {
        find(&root, "#id-token-claims").is_some()
    })
    .await;
    let text = |id: &str| text_in(&root, id).unwrap_or_default();
    let access_claims = text("#access-token-claims");
    assert!(
        access_claims.contains(r#""https://app.example/marker": "access-marker""#),
        "{access_claims}"
    );
    assert!(
        access_claims.contains(r#""scope": "openid profile read:appointments""#),
        "{access_claims}"
    );
    let id_claims = text("#id-token-claims");
    assert!(id_claims.contains(r#""name": "Alice""#), "{id_claims}");
    assert!(id_claims.contains(r#""sub": "auth0|alice""#), "{id_claims}");
    for header in ["#access-token-header", "#id-token-header"] {
        let header = text(header);
        assert!(header.contains(r#""alg": "RS256""#), "{header}");
        assert!(header.contains(r#""kid": "k-inspect""#), "{header}");
    }
    assert_eq!(
        text("#granted-scopes"),
        "openidprofileread:appointments",
        "each scope listed"
    );
    let expiry = text("#token-expiry");
    assert!(
        expiry.contains("time left: 1 h 59 min") || expiry.contains("time left: 2 h 00 min"),
        "{expiry}"
    );
    assert!(
        text("#token-issued").chars().any(|c| c.is_ascii_digit()),
        "issued at, in local time"
    );
    let countdown = find(&root, "#token-expiry .countdown").expect("a countdown");
    assert_eq!(countdown.get_attribute("aria-live").as_deref(), Some("off"));
    assert!(countdown
        .get_attribute("title")
        .is_some_and(|t| !t.is_empty()));

    assert_never_shown(&access_token);
    assert_never_shown(&id_token);
    root.remove();
}

#[wasm_bindgen_test]
async fn an_opaque_access_token_is_named_opaque_and_not_shown() {
    record_console();
    let access_token = "opaque-Zk3q9TfXw2LmN8vR";
    let session = session(access_token, None, None);
    let root = render_signed_in(Page::Tokens, &session, tenant(None));

    wait_for("the inspector renders", Duration::from_secs(5), || {
        find(&root, "#access-token-opaque").is_some()
    })
    .await;
    assert!(find(&root, "#access-token-claims").is_none());
    assert!(text_in(&root, "#access-token-opaque").is_some_and(|t| t.contains("Opaque")));
    assert!(
        find(&root, "#id-token-none").is_some(),
        "no ID token, and it says so"
    );
    assert!(find(&root, "#token-expiry .countdown").is_some());
    assert_never_shown(access_token);
    root.remove();
}

#[wasm_bindgen_test]
async fn a_token_that_does_not_decode_is_explained_not_echoed() {
    record_console();
    // Three parts, so it looks like a JWT; its claims are not JSON.
    let access_token = format!(
        "{}.{}.c2lnbmF0dXJlLXBhcnQ",
        b64(r#"{"alg":"RS256"}"#),
        b64("not json at all")
    );
    let root = render_signed_in(
        Page::Tokens,
        &session(&access_token, None, None),
        tenant(None),
    );
    wait_for("the inspector renders", Duration::from_secs(5), || {
        find(&root, "#access-token-opaque").is_some()
    })
    .await;
    let why = text_in(&root, "#access-token-opaque").unwrap_or_default();
    assert!(why.contains("cannot be decoded"), "{why}");
    assert_never_shown(&access_token);
    root.remove();
}

#[wasm_bindgen_test]
async fn the_countdown_counts_down_to_expired() {
    #[derive(Properties, PartialEq)]
    struct Props {
        until_ms: f64,
    }
    #[function_component(Host)]
    fn host(props: &Props) -> Html {
        html! { <Countdown until_ms={props.until_ms} /> }
    }

    let root = new_root();
    yew::Renderer::<Host>::with_root_and_props(
        root.clone(),
        Props {
            until_ms: now_ms() + 2_500.0,
        },
    )
    .render();
    let text = || text_in(&root, ".countdown").unwrap_or_default();
    wait_for("the countdown renders", Duration::from_secs(2), || {
        text().ends_with(" s")
    })
    .await;
    let first = text();
    assert!(first == "3 s" || first == "2 s", "{first}");
    wait_for("the countdown moves on", Duration::from_secs(3), || {
        text() != first
    })
    .await;
    wait_for("the countdown reaches zero", Duration::from_secs(5), || {
        text() == "expired"
    })
    .await;
    let element = find(&root, ".countdown").expect("countdown");
    assert_eq!(element.get_attribute("aria-live").as_deref(), Some("off"));
    root.remove();
}

/// A `/userinfo` endpoint that always answers 200 with `body`: a `data:` URL, which
/// `fetch` resolves without a server.
fn answering(body: &str) -> Option<Url> {
    let encoded = String::from(js_sys::encode_uri_component(body));
    Some(Url::parse(&format!("data:application/json,{encoded}")).expect("a data URL"))
}

async fn profile_with(endpoint: Option<Url>, sub: Option<&str>) -> web_sys::Element {
    record_console();
    let session = session("at-profile-0123456789", None, sub);
    let root = render_signed_in(Page::Profile, &session, tenant(endpoint));
    wait_for("/userinfo is answered", Duration::from_secs(5), || {
        find(&root, "#profile-userinfo [role=alert]").is_some()
            || find(&root, "#profile-userinfo-claims").is_some()
    })
    .await;
    assert_never_shown("at-profile-0123456789");
    root
}

fn alert_text(root: &web_sys::Element) -> String {
    text_in(root, "#profile-userinfo [role=alert]").unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_profile_shows_the_id_token_and_the_matching_userinfo() {
    let endpoint = answering(
        r#"{"sub":"auth0|alice","name":"Alice From Userinfo","nickname":"ali","email_verified":true,"picture":"javascript:alert(1)"}"#,
    );
    let root = profile_with(endpoint, Some("auth0|alice")).await;
    let id_token = text_in(&root, "#profile-id-token-claims").unwrap_or_default();
    assert!(id_token.contains("alice@example.com"), "{id_token}");
    let picture = find(&root, "#profile-id-token img").expect("the ID token's picture");
    assert_eq!(
        picture.get_attribute("referrerpolicy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(picture.get_attribute("alt").as_deref(), Some(""));

    let userinfo = text_in(&root, "#profile-userinfo-claims").unwrap_or_default();
    assert!(userinfo.contains("Alice From Userinfo"), "{userinfo}");
    assert!(userinfo.contains("ali"), "{userinfo}");
    assert!(
        find(&root, "#profile-userinfo img").is_none(),
        "a javascript: picture is not shown"
    );
    root.remove();
}

#[wasm_bindgen_test]
async fn userinfo_about_another_user_is_rejected_and_not_shown() {
    let endpoint = answering(r#"{"sub":"auth0|mallory","name":"Mallory Claims"}"#);
    let root = profile_with(endpoint, Some("auth0|alice")).await;
    let alert = alert_text(&root);
    assert!(alert.contains("userinfo_sub_mismatch"), "{alert}");
    let page = root.text_content().unwrap_or_default();
    assert!(!page.contains("Mallory"), "{page}");
    assert!(find(&root, "#profile-userinfo-claims").is_none());
    root.remove();
}

#[wasm_bindgen_test]
async fn userinfo_that_is_not_json_says_so() {
    let root = profile_with(answering("<html>login</html>"), Some("auth0|alice")).await;
    assert!(
        alert_text(&root).contains("userinfo_not_json"),
        "{}",
        alert_text(&root)
    );
    root.remove();
}

#[wasm_bindgen_test]
async fn a_tenant_without_userinfo_says_so() {
    let root = profile_with(None, Some("auth0|alice")).await;
    assert!(
        alert_text(&root).contains("userinfo_no_endpoint"),
        "{}",
        alert_text(&root)
    );
    root.remove();
}

#[wasm_bindgen_test]
async fn an_unreachable_userinfo_says_so() {
    let endpoint = Url::parse("http://127.0.0.1:9/userinfo").ok();
    let root = profile_with(endpoint, Some("auth0|alice")).await;
    let alert = alert_text(&root);
    assert!(alert.contains("userinfo_unreachable"), "{alert}");
    assert!(
        find(&root, "#profile-userinfo button").is_some(),
        "Try again is offered"
    );
    root.remove();
}

#[wasm_bindgen_test]
async fn a_token_only_session_has_no_id_token_profile() {
    let endpoint = answering(r#"{"sub":"auth0|alice","name":"Alice From Userinfo"}"#);
    let root = profile_with(endpoint, None).await;
    assert!(find(&root, "#profile-no-id-token").is_some());
    assert!(text_in(&root, "#profile-userinfo-claims")
        .is_some_and(|t| t.contains("Alice From Userinfo")));
    root.remove();
}
