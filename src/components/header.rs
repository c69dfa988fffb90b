use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::use_auth;
use crate::routes::Route;

#[function_component(Header)]
pub fn header() -> Html {
    let auth = use_auth();
    let session = auth.session();
    let sign_out = {
        let auth = auth.clone();
        let navigator = use_navigator();
        Callback::from(move |_: MouseEvent| {
            auth.sign_out();
            if let Some(navigator) = &navigator {
                navigator.push(&Route::Login);
            }
        })
    };
    html! {
        <header class="site-header">
            <Link<Route> to={Route::Login} classes="brand">{ "Appointments" }</Link<Route>>
            if let Some(session) = session {
                <nav aria-label="Main">
                    <Link<Route> to={Route::Appointments}>{ "My appointments" }</Link<Route>>
                </nav>
                <div class="user">
                    if let Some(profile) = &session.profile {
                        if let Some(picture) = &profile.picture {
                            <img class="avatar" src={picture.clone()} alt="" referrerpolicy="no-referrer" width="32" height="32" />
                        }
                        <span class="user-name">{ profile.display_name().to_string() }</span>
                    } else {
                        <span class="user-name">{ "Signed in" }</span>
                    }
                    <button type="button" class="button secondary" onclick={sign_out}>{ "Sign out" }</button>
                </div>
            }
        </header>
    }
}
