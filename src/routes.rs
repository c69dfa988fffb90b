//! The app's routes and the one `switch` that renders them.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::pages::{AppointmentsPage, CallbackPage, LoginPage, NotFoundPage};

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Login,
    #[at("/callback")]
    Callback,
    #[at("/appointments")]
    Appointments,
    #[not_found]
    #[at("/404")]
    NotFound,
}

pub fn switch(route: Route) -> Html {
    match route {
        Route::Login => html! { <LoginPage /> },
        Route::Callback => html! { <CallbackPage /> },
        Route::Appointments => html! { <AppointmentsPage /> },
        Route::NotFound => html! { <NotFoundPage /> },
    }
}
