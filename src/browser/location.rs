//! The address bar: the app's base URL, leaving for the tenant, and taking the
//! authorization response out of it (the fragment for the implicit grant, the query for the
//! code flow).

use std::cell::RefCell;

use crate::weburl::Url;

thread_local! {
    static CAPTURED_RESPONSE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The absolute URL of the app's `public_url` (from `<base href>`), e.g.
/// `http://localhost:8080/`.
pub fn app_base_url() -> Option<Url> {
    let document = web_sys::window()?.document()?;
    let base = document.base_uri().ok().flatten()?;
    Url::parse(&base).ok()
}

/// Sends the browser to another page (the tenant); this app unloads.
pub fn leave_for(url: &Url) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    window
        .location()
        .assign(url.as_str())
        .map_err(|_| "the browser refused to navigate".to_string())
}

pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

/// Moves an authorization response out of the address bar into memory, before anything else
/// runs: a fragment with parameters, or a query with `state` and `code` or `error` (the code
/// flow's answer; the app's own queries, like `?return_to=`, have no `state`).
///
/// `history.replaceState` rewrites the current history entry, so the tokens or the code are
/// gone from the address bar, from Back/Forward and from any later `Referer` or bookmark.
pub fn capture_authorization_response() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let (Ok(hash), Ok(search), Ok(path)) =
        (location.hash(), location.search(), location.pathname())
    else {
        return;
    };
    let (response, keep) = if hash.len() > 1 {
        (hash, format!("{path}{search}"))
    } else if is_code_flow_answer(&search) {
        (search, path)
    } else {
        return;
    };
    let replaced = window.history().and_then(|history| {
        history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&keep))
    });
    if replaced.is_ok() {
        CAPTURED_RESPONSE.with(|cell| *cell.borrow_mut() = Some(response));
    } else if response.starts_with('#') {
        // If the response cannot be removed from history, do not use it at all.
        let _ = location.set_hash("");
    }
}

fn is_code_flow_answer(search: &str) -> bool {
    let names: Vec<String> = form_urlencoded::parse(search.trim_start_matches('?').as_bytes())
        .map(|(name, _)| name.into_owned())
        .collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    has("state") && (has("code") || has("error"))
}

/// Whether start-up captured a response that nothing has taken yet.
pub fn has_captured_response() -> bool {
    CAPTURED_RESPONSE.with(|cell| cell.borrow().is_some())
}

/// The response captured at start-up (with its `#` or `?`), once: a second call returns
/// `None`.
pub fn take_captured_response() -> Option<String> {
    CAPTURED_RESPONSE.with(|cell| cell.borrow_mut().take())
}
