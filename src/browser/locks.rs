//! Web Locks (`navigator.locks`): one tab at a time in a critical section, across every tab
//! of this origin. Called through `js_sys`, as web-sys lists the API among its unstable ones.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Held until dropped; then the next tab waiting for the same name gets the lock.
pub struct LockGuard {
    release: Function,
    /// Whether another holder had the lock when this one asked: what it did inside may not
    /// be visible here yet (another process's storage writes arrive asynchronously).
    pub waited: bool,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// Waits for the exclusive lock `name`. `None` where the browser has no Web Locks (outside a
/// secure context, or an old browser): the caller goes on unlocked.
pub async fn acquire(name: &str) -> Option<LockGuard> {
    match request(name, true).await? {
        Some(guard) => Some(guard),
        None => request(name, false).await.flatten().map(|mut guard| {
            guard.waited = true;
            guard
        }),
    }
}

/// One `navigator.locks.request`; with `if_available`, `Some(None)` when another holds it.
async fn request(name: &str, if_available: bool) -> Option<Option<LockGuard>> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &JsValue::from_str("locks"))
        .ok()
        .filter(|locks| locks.is_object())?;
    let request: Function = Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()?
        .dyn_into()
        .ok()?;
    let options = Object::new();
    Reflect::set(
        &options,
        &JsValue::from_str("ifAvailable"),
        &JsValue::from_bool(if_available),
    )
    .ok()?;

    // The lock is held while the promise the callback returns is pending: resolving
    // `release` lets it go. The callback gets `null` when `ifAvailable` found it taken.
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut granted = None;
    let acquired = Promise::new(&mut |resolve, _| granted = Some(resolve));
    let (release, granted) = (release?, granted?);
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got = !lock.is_null();
        let _ = granted.call1(&JsValue::NULL, &JsValue::from_bool(got));
        if got {
            held.into()
        } else {
            JsValue::UNDEFINED
        }
    });
    request
        .call3(&locks, &JsValue::from_str(name), &options, &callback)
        .ok()?;
    let got = JsFuture::from(acquired).await.ok()?.as_bool() == Some(true);
    Some(got.then_some(LockGuard {
        release,
        waited: false,
    }))
}
