//! A Yew single-page app that signs in with Auth0's implicit grant and calls an API with
//! the access token. Read it from `app.rs` down; `oidc/` holds the protocol.

pub mod app;
pub mod appointments;
pub mod auth;
pub mod browser;
pub mod components;
pub mod config;
pub mod json;
pub mod oidc;
pub mod pages;
pub mod routes;
pub mod weburl;

/// Entry point of the wasm binary.
pub fn start() {
    // Before anything else: take any authorization response out of the address bar.
    browser::location::capture_authorization_response();
    yew::Renderer::<app::App>::new().render();
}
