use serde::{Deserialize, Serialize};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::{use_auth, SignedOutReason};
use crate::browser;
use crate::components::ErrorPanel;
use crate::routes::Route;

/// `/?return_to=/appointments`: where a signed-out visitor was going.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginQuery {
    pub return_to: Option<String>,
}

#[function_component(LoginPage)]
pub fn login_page() -> Html {
    let auth = use_auth();
    let location = use_location();
    let error = use_state(|| None::<String>);
    let return_to = location
        .and_then(|l| l.query::<LoginQuery>().ok())
        .and_then(|q| q.return_to);

    let signed_in = auth.session().is_some();
    use_effect_with(signed_in, |signed_in| {
        if !signed_in {
            browser::mark("app:sign-in-ready");
        }
    });
    if signed_in {
        return html! {
            <section class="panel">
                <h1>{ "You are signed in" }</h1>
                <Link<Route> to={Route::Appointments} classes="button">{ "View my appointments" }</Link<Route>>
            </section>
        };
    }

    let other_user = auth.signed_out_reason == Some(SignedOutReason::OtherUser);
    let sign_in = {
        let auth = auth.clone();
        let error = error.clone();
        Callback::from(move |_: MouseEvent| {
            let (auth, error, return_to) = (auth.clone(), error.clone(), return_to.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let started = if other_user {
                    auth.login_choosing_account(return_to).await
                } else {
                    auth.login(return_to).await
                };
                if let Err(e) = started {
                    error.set(Some(e.to_string()));
                }
            });
        })
    };
    let config = &auth.tenant.config;
    html! {
        <section class="panel">
            <h1>{ "Sign in to see your appointments" }</h1>
            if auth.signed_out_reason == Some(SignedOutReason::SessionRejected) {
                <p class="note warning" role="alert" id="session-rejected">
                    { "Your session is no longer valid: the appointments API did not accept your access token. Sign in again to continue where you were." }
                </p>
            }
            if auth.signed_out_reason == Some(SignedOutReason::SignedOutElsewhere) {
                <p class="note" role="status" id="signed-out-elsewhere">
                    { "You signed out in another tab." }
                </p>
            }
            if other_user {
                <p class="note warning" role="alert" id="signed-out-other-user">
                    { "You were signed out: someone else has signed in at the tenant in this browser, and this app will not switch to their account without asking. Sign in again, and the tenant will ask who is signing in." }
                </p>
            }
            <p>
                { "Signing in takes you to " }<strong>{ config.domain.origin() }</strong>
                { ", where you enter your credentials. It sends you back here with an access token for the appointments API; this app checks it before using it." }
            </p>
            if !config.response_type.wants_id_token() {
                <p class="note warning" role="note">
                    { "This app is configured with response_type=token: without an ID token it cannot detect an access token injected into the redirect (RFC 9700 §4.6). Use “id_token token” unless you have a reason not to." }
                </p>
            }
            <button type="button" class="button primary" id="sign-in" onclick={sign_in}>
                { if other_user { "Sign in again" } else { "Sign in" } }
            </button>
            if let Some(message) = &*error {
                { ErrorPanel::new("Sign-in could not start", message.clone()).view(Html::default()) }
            }
        </section>
    }
}
