//! The storage rules of `token_storage`, in headless Chromium: where the auth provider
//! finds a session at start-up, and what it does with one it must not use.
#![cfg(target_arch = "wasm32")]

mod web;

use std::rc::Rc;
use std::time::Duration;

use appointments_spa::auth::{use_auth, AuthProvider, AuthState, SigningKeys, Tenant};
use appointments_spa::browser::storage;
use appointments_spa::config::{Config, TokenStorage};
use appointments_spa::oidc::discovery;
use appointments_spa::oidc::session::Session;
use appointments_spa::weburl::Url;
use gloo_storage::{LocalStorage, SessionStorage, Storage};
use wasm_bindgen_test::*;
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

const KEY: &str = "appointments.auth.session";

fn tenant(mode: &str) -> Tenant {
    let base = Url::parse("https://app.example/").expect("url");
    let json = format!(
        r#"{{"domain":"https://tenant.example","client_id":"spa-1","audience":"appointments:api","api_base_url":"https://api.example","token_storage":"{mode}"}}"#
    );
    let config = Config::from_json(&json, &base).expect("valid config");
    let metadata = discovery::auth0_defaults(&config.domain);
    Tenant {
        config: Rc::new(config),
        metadata: Rc::new(metadata),
        keys: SigningKeys::default(),
    }
}

fn session(expires_in_ms: f64) -> Session {
    let now = js_sys::Date::now();
    Session {
        access_token: "at".into(),
        id_token: None,
        sid: None,
        refresh_token: None,
        dpop_key_id: None,
        issued_at: now as u64,
        expires_at: (now + expires_in_ms).max(0.0) as u64,
        scopes: vec!["read:appointments".into()],
        profile: None,
    }
}

#[function_component(Probe)]
fn probe() -> Html {
    let text = match &use_auth().state {
        AuthState::SignedOut => "signed-out",
        AuthState::SignedIn(_) => "signed-in",
    };
    html! { <p class="storage-probe">{ text }</p> }
}

#[derive(Properties, PartialEq)]
struct HarnessProps {
    tenant: Tenant,
}

#[function_component(Harness)]
fn harness(props: &HarnessProps) -> Html {
    html! { <AuthProvider tenant={props.tenant.clone()}><Probe /></AuthProvider> }
}

/// Starts a provider as the app does on load, and returns what it decided.
async fn start(mode: &str) -> String {
    let root = web::new_root();
    yew::Renderer::<Harness>::with_root_and_props(
        root.clone(),
        HarnessProps {
            tenant: tenant(mode),
        },
    )
    .render();
    for _ in 0..200 {
        if let Some(text) = root.text_content().filter(|t| !t.is_empty()) {
            root.remove();
            return text;
        }
        gloo_timers::future::sleep(Duration::from_millis(10)).await;
    }
    panic!("the provider did not render");
}

fn clear() {
    SessionStorage::clear();
    LocalStorage::clear();
}

#[wasm_bindgen_test]
async fn session_and_local_modes_restore_a_valid_session_from_their_own_storage() {
    clear();
    storage::save_session(TokenStorage::Session, &session(60_000.0));
    assert_eq!(start("session").await, "signed-in");
    assert!(
        LocalStorage::raw().length().unwrap_or(0) == 0,
        "session mode leaves localStorage alone"
    );

    clear();
    storage::save_session(TokenStorage::Local, &session(60_000.0));
    assert_eq!(start("local").await, "signed-in");
    assert_eq!(
        start("session").await,
        "signed-out",
        "session mode does not read localStorage"
    );
}

#[wasm_bindgen_test]
async fn memory_mode_writes_nothing_and_restores_nothing() {
    clear();
    storage::save_session(TokenStorage::Memory, &session(60_000.0));
    assert_eq!(SessionStorage::raw().length().unwrap_or(0), 0);
    assert_eq!(LocalStorage::raw().length().unwrap_or(0), 0);
    assert_eq!(start("memory").await, "signed-out");
}

#[wasm_bindgen_test]
async fn an_expired_session_is_discarded_not_used() {
    clear();
    storage::save_session(TokenStorage::Session, &session(-1.0));
    assert_eq!(start("session").await, "signed-out");
    assert!(
        SessionStorage::get::<serde_json::Value>(KEY).is_err(),
        "removed from storage"
    );
}

#[wasm_bindgen_test]
async fn an_unreadable_session_is_discarded_not_used() {
    for garbage in [
        "not json",
        r#"{"access_token":"at"}"#,
        "null",
        r#"{"expires_at":"soon"}"#,
    ] {
        clear();
        SessionStorage::raw()
            .set_item(KEY, garbage)
            .expect("store garbage");
        assert_eq!(start("session").await, "signed-out", "{garbage}");
        assert!(
            SessionStorage::raw().get_item(KEY).ok().flatten().is_none(),
            "{garbage} removed"
        );
    }
}
