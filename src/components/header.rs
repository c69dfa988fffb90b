use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::{use_auth, Renewal};
use crate::components::Countdown;
use crate::routes::Route;

#[function_component(Header)]
pub fn header() -> Html {
    let auth = use_auth();
    let session = auth.session();
    let here = use_route::<Route>().map(|route| route.to_path());
    let logout = {
        let auth = auth.clone();
        Callback::from(move |_: MouseEvent| auth.logout())
    };
    let sign_in_again = {
        let auth = auth.clone();
        Callback::from(move |_: MouseEvent| {
            let (auth, here) = (auth.clone(), here.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let _ = auth.login(here).await;
            });
        })
    };
    html! {
        <>
        <header class="site-header">
            <Link<Route> to={Route::Login} classes="brand">{ "Appointments" }</Link<Route>>
            if let Some(session) = &session {
                <nav aria-label="Main">
                    <Link<Route> to={Route::Appointments}>{ "My appointments" }</Link<Route>>
                    <Link<Route> to={Route::Profile}>{ "Profile" }</Link<Route>>
                    <Link<Route> to={Route::Tokens}>{ "Tokens" }</Link<Route>>
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
                    <span class="time-left" id="session-time-left">
                        { "Session: " }<Countdown until_ms={session.expires_at as f64} />
                    </span>
                    <button type="button" class="button secondary" id="sign-out" onclick={logout}>{ "Sign out" }</button>
                </div>
            }
        </header>
        if let Renewal::Failed(error) = &auth.renewal {
            <div class="banner" role="alert" id="renewal-failed">
                <p>
                    <strong>{ "Your session could not be renewed. " }</strong>
                    { error.explanation() }
                    { " " }<code>{ error.code() }</code>
                </p>
                <button type="button" class="button primary" id="sign-in-again" onclick={sign_in_again}>{ "Sign in again" }</button>
            </div>
        }
        </>
    }
}
