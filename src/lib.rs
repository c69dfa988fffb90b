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
    // Into index.html's `#app`, whose first paint it replaces; into the body if it is not
    // there (a page that does not come from index.html).
    let root = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id("app"));
    match root {
        Some(root) => yew::Renderer::<app::App>::with_root(root).render(),
        None => yew::Renderer::<app::App>::new().render(),
    };
}
