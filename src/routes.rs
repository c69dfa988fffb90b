//! The app's routes and the one `switch` that renders them.

use std::collections::HashMap;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::RequireSession;
use crate::pages::{
    not_found_page, AppointmentsPage, CallbackPage, LoginPage, ProfilePage, TokensPage,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Login,
    Callback,
    Appointments,
    Profile,
    Tokens,
    NotFound,
}

/// Each route's path. Written out rather than derived: the derive builds a general matcher
/// (route_recognizer, in a thread-local) that these six fixed paths do not need, and it
/// weighed 7 KB gzip of the first load.
const PATHS: [(Route, &str); 6] = [
    (Route::Login, "/"),
    (Route::Callback, "/callback"),
    (Route::Appointments, "/appointments"),
    (Route::Profile, "/profile"),
    (Route::Tokens, "/tokens"),
    (Route::NotFound, "/404"),
];

impl Routable for Route {
    fn from_path(path: &str, _params: &HashMap<&str, &str>) -> Option<Self> {
        Self::recognize(path)
    }

    fn to_path(&self) -> String {
        PATHS
            .iter()
            .find(|(route, _)| route == self)
            .map_or("/404", |(_, path)| path)
            .to_string()
    }

    fn routes() -> Vec<&'static str> {
        PATHS.iter().map(|(_, path)| *path).collect()
    }

    fn not_found_route() -> Option<Self> {
        Some(Route::NotFound)
    }

    /// As the derived matcher does: exact paths, one trailing slash ignored, anything else
    /// not found.
    fn recognize(pathname: &str) -> Option<Self> {
        let unslashed = |path: &'static str| path.strip_suffix('/').unwrap_or(path);
        let pathname = pathname.strip_suffix('/').unwrap_or(pathname);
        PATHS
            .iter()
            .find(|(_, path)| unslashed(path) == pathname)
            .map(|(route, _)| *route)
            .or(Some(Route::NotFound))
    }
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
        Route::NotFound => not_found_page(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_recognised_from_its_own_path_with_or_without_a_trailing_slash() {
        for (route, _) in PATHS {
            let path = route.to_path();
            assert_eq!(Route::recognize(&path), Some(route), "{path}");
            if path != "/" {
                assert_eq!(
                    Route::recognize(&format!("{path}/")),
                    Some(route),
                    "{path}/"
                );
            }
        }
        assert_eq!(Route::Login.to_path(), "/");
    }

    #[test]
    fn other_paths_are_not_found_and_matching_is_exact() {
        for path in [
            "/appointments/1",
            "/Appointments",
            "/tokens//",
            "//",
            "/callbacks",
            "/profile?x",
        ] {
            assert_eq!(Route::recognize(path), Some(Route::NotFound), "{path}");
        }
    }

    #[test]
    fn sign_in_never_returns_to_the_callback() {
        assert_eq!(Route::after_sign_in("/callback"), Route::Appointments);
        assert_eq!(Route::after_sign_in("/tokens/"), Route::Tokens);
        assert_eq!(Route::after_sign_in("/elsewhere"), Route::NotFound);
    }
}
