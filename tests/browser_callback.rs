//! Component tests in headless Chromium (wasm-bindgen-test): the callback route with the
//! real auth provider, router and storage.
#![cfg(target_arch = "wasm32")]

mod web;

use std::rc::Rc;
use std::time::Duration;

use appointments_spa::auth::{use_auth, AuthProvider, AuthState, SigningKeys, Tenant};
use appointments_spa::browser::{location, storage};
use appointments_spa::config::Config;
use appointments_spa::oidc::authorize::{ResponseType, Transaction};
use appointments_spa::oidc::discovery;
use appointments_spa::pages::CallbackPage;
use appointments_spa::weburl::Url;
use gloo_storage::{SessionStorage, Storage};
use wasm_bindgen_test::*;
use web::{document, new_root, wait_for, TestKey};
use yew::prelude::*;
use yew_router::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

const CONFIG: &str = r#"{"domain":"https://tenant.example","client_id":"spa-1","audience":"appointments:api","api_base_url":"https://api.example"}"#;

/// A tenant whose keys the page already holds (no JWKS request is made).
fn tenant(key: &TestKey) -> Tenant {
    let base = Url::parse("https://app.example/").expect("url");
    let config = Config::from_json(CONFIG, &base).expect("valid config");
    let metadata = discovery::auth0_defaults(&config.domain);
    Tenant {
        config: Rc::new(config),
        metadata: Rc::new(metadata),
        keys: SigningKeys::with(key.jwks()),
    }
}

#[function_component(Probe)]
fn probe() -> Html {
    let text = match &use_auth().state {
        AuthState::SignedOut => "signed-out".to_string(),
        AuthState::SignedIn(session) => format!(
            "signed-in:{}",
            session
                .profile
                .as_ref()
                .map(|p| p.sub.as_str())
                .unwrap_or("?")
        ),
    };
    html! { <p id="probe">{ text }</p> }
}

#[derive(Properties, PartialEq)]
struct HarnessProps {
    tenant: Tenant,
}

#[function_component(Harness)]
fn harness(props: &HarnessProps) -> Html {
    html! {
        <AuthProvider tenant={props.tenant.clone()}>
            <BrowserRouter>
                <CallbackPage />
                <Probe />
            </BrowserRouter>
        </AuthProvider>
    }
}

fn text_of(id: &str) -> Option<String> {
    document()
        .get_element_by_id(id)
        .and_then(|e| e.text_content())
}

/// Puts `fragment` in the address bar at `/callback`, as the tenant's redirect does, and
/// runs the start-up capture; then renders the callback page.
fn arrive_at_callback(
    fragment: &str,
    transaction: Option<&Transaction>,
    key: &TestKey,
) -> web_sys::Element {
    SessionStorage::clear();
    if let Some(transaction) = transaction {
        storage::save_transaction(transaction).expect("store the transaction");
    }
    let history = web_sys::window()
        .and_then(|w| w.history().ok())
        .expect("history");
    history
        .push_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("/callback#{fragment}")),
        )
        .expect("pushState");
    location::capture_authorization_response();
    let root = new_root();
    yew::Renderer::<Harness>::with_root_and_props(
        root.clone(),
        HarnessProps {
            tenant: tenant(key),
        },
    )
    .render();
    root
}

fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

#[wasm_bindgen_test]
async fn a_valid_fragment_becomes_the_session_and_leaves_the_address_bar() {
    let transaction = Transaction {
        state: "state-1".into(),
        nonce: Some("nonce-1".into()),
        response_type: ResponseType::IdTokenToken,
        code_verifier: None,
        dpop_key_id: None,
        dpop_key_is_new: false,
        return_to: "/appointments".into(),
        created_at: js_sys::Date::now(),
    };
    let key = TestKey::generate("k1").await;
    let now = now_secs();
    let token = key
        .jwt(&format!(
            r#"{{"iss":"https://tenant.example/","aud":"spa-1","sub":"auth0|alice","iat":{now},"exp":{},"nonce":"nonce-1","name":"Alice","at_hash":"{}"}}"#,
            now + 3600,
            web::at_hash("at-1").await
        ))
        .await;
    let fragment = format!("access_token=at-1&id_token={token}&token_type=Bearer&expires_in=7200&scope=openid+read%3Aappointments&state=state-1");

    let root = arrive_at_callback(&fragment, Some(&transaction), &key);
    let location = web_sys::window().expect("window").location();
    assert_eq!(
        location.hash().expect("hash"),
        "",
        "the fragment left the address bar at once"
    );

    wait_for(
        "the session is in the auth context",
        Duration::from_secs(5),
        || text_of("probe").as_deref() == Some("signed-in:auth0|alice"),
    )
    .await;
    wait_for("the app navigated on", Duration::from_secs(5), || {
        location.pathname().ok().as_deref() == Some("/appointments")
    })
    .await;
    assert!(storage::load_session(appointments_spa::config::TokenStorage::Session).is_some());
    assert!(
        storage::take_transaction("state-1").is_none(),
        "the transaction is consumed"
    );
    root.remove();
}

#[wasm_bindgen_test]
async fn a_bad_state_shows_the_error_screen_and_stores_nothing() {
    let key = TestKey::generate("k1").await;
    let root = arrive_at_callback(
        "access_token=at-1&token_type=Bearer&expires_in=7200&state=forged",
        None,
        &key,
    );
    wait_for("the error screen", Duration::from_secs(5), || {
        document()
            .query_selector("[role=alert]")
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    let alert = document()
        .query_selector("[role=alert]")
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default();
    assert!(alert.contains("state_mismatch"), "{alert}");
    assert!(
        text_of("try-again").is_some(),
        "a Try again button is offered"
    );
    assert_eq!(text_of("probe").as_deref(), Some("signed-out"));
    assert!(storage::load_session(appointments_spa::config::TokenStorage::Session).is_none());
    root.remove();
}
