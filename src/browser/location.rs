//! The address bar: the app's base URL, leaving for the tenant, and taking the
//! authorization response out of the fragment.

use std::cell::RefCell;

use crate::weburl::Url;

thread_local! {
    static CAPTURED_FRAGMENT: RefCell<Option<String>> = const { RefCell::new(None) };
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

/// Moves a fragment out of the address bar into memory, before anything else runs.
///
/// `history.replaceState` rewrites the current history entry, so the tokens are gone from
/// the address bar, from Back/Forward and from any later `Referer` or bookmark.
pub fn capture_fragment() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let Ok(hash) = location.hash() else { return };
    if hash.len() <= 1 {
        return;
    }
    let path = match (location.pathname(), location.search()) {
        (Ok(path), Ok(search)) => format!("{path}{search}"),
        _ => "/".to_string(),
    };
    let replaced = window.history().and_then(|history| {
        history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path))
    });
    if replaced.is_ok() {
        CAPTURED_FRAGMENT.with(|cell| *cell.borrow_mut() = Some(hash));
    } else {
        // If the fragment cannot be removed from history, do not use it at all.
        let _ = location.set_hash("");
    }
}

/// Whether start-up captured a fragment that nothing has taken yet.
pub fn has_captured_fragment() -> bool {
    CAPTURED_FRAGMENT.with(|cell| cell.borrow().is_some())
}

/// The fragment captured at start-up, once: a second call returns `None`.
pub fn take_captured_fragment() -> Option<String> {
    CAPTURED_FRAGMENT.with(|cell| cell.borrow_mut().take())
}
