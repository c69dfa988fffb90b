//! Thin adapters to the browser's own APIs. Everything here is a small wrapper; the
//! decisions are made in `crate::oidc` and `crate::auth`.

pub mod channel;
pub mod crypto;
pub mod http;
pub mod keystore;
pub mod location;
pub mod locks;
pub mod silent;
pub mod storage;

use wasm_bindgen::JsValue;

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// 256 bits from `crypto.getRandomValues`.
pub fn random_bytes() -> Result<[u8; 32], JsValue> {
    let crypto = web_sys::window()
        .ok_or_else(|| JsValue::from_str("no window"))?
        .crypto()?;
    let mut bytes = [0u8; 32];
    crypto.get_random_values_with_u8_array(&mut bytes)?;
    Ok(bytes)
}

/// 256 random bits, base64url-encoded: for `state` and `nonce`.
pub fn random_token() -> Result<String, JsValue> {
    random_bytes().map(|bytes| crate::oidc::base64url::encode(&bytes))
}

/// An RFC 3339 time in the user's locale and time zone, or `None` if it is not a time.
pub fn local_time(rfc3339: &str) -> Option<String> {
    let date = js_sys::Date::new(&JsValue::from_str(rfc3339));
    if date.get_time().is_nan() {
        return None;
    }
    let options = js_sys::Object::new();
    let set = |key: &str, value: &str| {
        js_sys::Reflect::set(&options, &JsValue::from_str(key), &JsValue::from_str(value)).is_ok()
    };
    let _ = set("dateStyle", "medium") && set("timeStyle", "short");
    Some(String::from(date.to_locale_string("default", &options)))
}

/// A `datetime-local` input's value (the user's local time, e.g. `2030-01-31T09:30`) as
/// RFC 3339 in UTC, or `None` if it is not a time.
pub fn local_input_to_rfc3339(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return None;
    }
    let date = js_sys::Date::new(&JsValue::from_str(value));
    if date.get_time().is_nan() {
        return None;
    }
    Some(String::from(date.to_iso_string()))
}

/// A User Timing mark (`performance.mark`), read by `cargo xtask bench`.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}
