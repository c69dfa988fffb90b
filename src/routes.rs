//! The app's routes and the one `switch` that renders them.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::RequireSession;
use crate::pages::{
    AppointmentsPage, CallbackPage, LoginPage, NotFoundPage, ProfilePage, TokensPage,
};

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Login,
    #[at("/callback")]
    Callback,
    #[at("/appointments")]
    Appointments,
    #[at("/profile")]
    Profile,
    #[at("/tokens")]
    Tokens,
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// Where sign-in goes on to for a return path: its route, but never the callback
    /// itself, where the app would wait for an answer that has already been used.
    pub fn after_sign_in(path: &str) -> Route {
        match Route::recognize(path) {
            None | Some(Route::Callback) => Route::Appointments,
            Some(route) => route,
        }
    }
}

pub fn switch(route: Route) -> Html {
    match route {
        Route::Login => html! { <LoginPage /> },
        Route::Callback => html! { <CallbackPage /> },
        Route::Appointments => html! { <RequireSession><AppointmentsPage /></RequireSession> },
        Route::Profile => html! { <RequireSession><ProfilePage /></RequireSession> },
        Route::Tokens => html! { <RequireSession><TokensPage /></RequireSession> },
        Route::NotFound => html! { <NotFoundPage /> },
    }
}
