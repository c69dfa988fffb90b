//! Web Locks (`navigator.locks`): one tab at a time in a critical section, across every tab
//! of this origin. Called through `js_sys`, as web-sys lists the API among its unstable ones.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Held until dropped; then the next tab waiting for the same name gets the lock.
pub struct LockGuard {
    release: Function,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// Waits for the exclusive lock `name`. `None` where the browser has no Web Locks (outside a
/// secure context, or an old browser): the caller goes on unlocked.
pub async fn acquire(name: &str) -> Option<LockGuard> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &JsValue::from_str("locks"))
        .ok()
        .filter(|locks| locks.is_object())?;
    let request: Function = Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()?
        .dyn_into()
        .ok()?;

    // The lock is held while the promise the callback returns is pending: resolving
    // `release` lets it go.
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut granted = None;
    let acquired = Promise::new(&mut |resolve, _| granted = Some(resolve));
    let (release, granted) = (release?, granted?);
    let callback = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let _ = granted.call0(&JsValue::NULL);
        held.into()
    });
    request
        .call2(&locks, &JsValue::from_str(name), &callback)
        .ok()?;
    JsFuture::from(acquired).await.ok()?;
    Some(LockGuard { release })
}
