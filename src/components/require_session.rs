use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::use_auth;
use crate::components::loading;
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
    // The route's own path, without the deployment's sub-path (`public_url`).
    let here = use_route::<Route>().map(|route| route.to_path());
    let signed_in = auth.session().is_some();
    use_effect_with(signed_in, move |signed_in| {
        if !signed_in {
            if let Some(navigator) = navigator {
                let query = LoginQuery { return_to: here };
                let _ = navigator.replace_with_query(&Route::Login, &query);
            }
        }
    });
    if signed_in {
        props.children.clone()
    } else {
        loading("Redirecting to sign-in…")
    }
}
