use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::use_auth;
use crate::browser::location;
use crate::components::{loading, ErrorPanel};
use crate::oidc::OidcError;
use crate::routes::Route;

/// `/callback`: where the tenant sends the browser back with tokens in the fragment.
#[function_component(CallbackPage)]
pub fn callback_page() -> Html {
    let auth = use_auth();
    let navigator = use_navigator();
    let failure = use_state(|| None::<OidcError>);
    {
        let auth = auth.clone();
        let failure = failure.clone();
        use_effect_with((), move |_| {
            // The fragment was already moved out of the address bar at start-up.
            let fragment = location::take_captured_response();
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = match fragment {
                    Some(fragment) => auth.complete_sign_in(&fragment).await,
                    None => Err(OidcError::MalformedResponse(
                        "the address has no sign-in response after `#` (was this page reloaded?)"
                            .into(),
                    )),
                };
                match outcome {
                    Ok(return_to) => {
                        if let Some(navigator) = navigator {
                            navigator.replace(&Route::after_sign_in(&return_to));
                        }
                    }
                    Err(error) => failure.set(Some(error)),
                }
            });
        });
    }

    let Some(error) = &*failure else {
        return loading("Checking the sign-in response…");
    };
    let try_again = {
        let auth = auth.clone();
        Callback::from(move |_: MouseEvent| {
            let auth = auth.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = auth.login(None).await;
            });
        })
    };
    // Only errors that come after `state` matched carry the tenant's own words.
    let detail = match error {
        OidcError::AuthorizationServer {
            description: Some(d),
            ..
        }
        | OidcError::TokenEndpoint {
            description: Some(d),
            ..
        } => Some(AttrValue::from(format!("The tenant said: {d}"))),
        _ => None,
    };
    ErrorPanel::new("Sign-in failed", error.explanation())
        .main()
        .code(error.code().to_string())
        .detail(detail)
        .view(html! {
            <>
                <button type="button" class="button primary" id="try-again" onclick={try_again}>{ "Try again" }</button>
                <Link<Route> to={Route::Login} classes="button secondary">{ "Back to the start page" }</Link<Route>>
            </>
        })
}
