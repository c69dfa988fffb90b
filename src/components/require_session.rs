use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::use_auth;
use crate::components::Loading;
use crate::pages::login::LoginQuery;
use crate::routes::Route;

#[derive(Properties, PartialEq)]
pub struct RequireSessionProps {
    #[prop_or_default]
    pub children: Html,
}

/// Renders its children only with a session; signed out, sends the user to sign in and
/// brings them back to this page afterwards.
#[function_component(RequireSession)]
pub fn require_session(props: &RequireSessionProps) -> Html {
    let auth = use_auth();
    let navigator = use_navigator();
    let location = use_location();
    let signed_in = auth.session().is_some();
    use_effect_with(signed_in, move |signed_in| {
        if !signed_in {
            if let (Some(navigator), Some(location)) = (navigator, location) {
                let query = LoginQuery {
                    return_to: Some(location.path().to_string()),
                };
                let _ = navigator.replace_with_query(&Route::Login, &query);
            }
        }
    });
    if signed_in {
        props.children.clone()
    } else {
        html! { <Loading label="Redirecting to sign-in…" /> }
    }
}
