//! IndexedDB, the one browser store that keeps a `CryptoKey` as it is (structured clone), so a
//! non-extractable DPoP key survives a reload without ever being readable.

use std::future::Future;

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, IdbDatabase, IdbObjectStore, IdbRequest, IdbTransactionMode};

const DATABASE: &str = "appointments.auth";
const STORE: &str = "dpop-keys";

/// A stored key: the private half, which signs, and the public coordinates, which go into
/// every proof's header.
pub struct StoredKey {
    pub private: CryptoKey,
    pub x: String,
    pub y: String,
}

pub async fn put(id: &str, key: &StoredKey) -> Result<(), String> {
    let value = Object::new();
    for (name, member) in [
        ("private", JsValue::from(key.private.clone())),
        ("x", key.x.as_str().into()),
        ("y", key.y.as_str().into()),
    ] {
        Reflect::set(&value, &name.into(), &member).map_err(|_| "cannot build the key record")?;
    }
    let store = store(IdbTransactionMode::Readwrite).await?;
    let request = store
        .put_with_key(&value, &id.into())
        .map_err(|_| "IndexedDB refused to store the key")?;
    completion(&request).await.map(drop)
}

/// `Ok(None)`: no key by that name (deleted by a logout, or site data cleared).
pub async fn get(id: &str) -> Result<Option<StoredKey>, String> {
    let store = store(IdbTransactionMode::Readonly).await?;
    let request = store
        .get(&id.into())
        .map_err(|_| "IndexedDB refused to read the key")?;
    let value = completion(&request).await?;
    if value.is_undefined() {
        return Ok(None);
    }
    let member = |name: &str| Reflect::get(&value, &name.into()).ok();
    let private = member("private").and_then(|k| k.dyn_into::<CryptoKey>().ok());
    let x = member("x").and_then(|v| v.as_string());
    let y = member("y").and_then(|v| v.as_string());
    match (private, x, y) {
        (Some(private), Some(x), Some(y)) => Ok(Some(StoredKey { private, x, y })),
        _ => Err("the stored key record is not one this app wrote".into()),
    }
}

pub async fn delete(id: &str) -> Result<(), String> {
    let store = store(IdbTransactionMode::Readwrite).await?;
    let request = store
        .delete(&id.into())
        .map_err(|_| "IndexedDB refused to delete the key")?;
    completion(&request).await.map(drop)
}

async fn store(mode: IdbTransactionMode) -> Result<IdbObjectStore, String> {
    let database = open().await?;
    database
        .transaction_with_str_and_mode(STORE, mode)
        .and_then(|transaction| transaction.object_store(STORE))
        .map_err(|_| "IndexedDB refused a transaction".to_string())
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|window| window.indexed_db().ok().flatten())
        .ok_or("IndexedDB is not available (private browsing or site data blocked?)")?;
    let request = factory
        .open_with_u32(DATABASE, 1)
        .map_err(|_| "IndexedDB refused to open the key store")?;
    let on_upgrade = {
        let request = request.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(database) = request
                .result()
                .ok()
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
            {
                let _ = database.create_object_store(STORE);
            }
        })
    };
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let database = completion(&request).await;
    request.set_onupgradeneeded(None);
    database?
        .dyn_into::<IdbDatabase>()
        .map_err(|_| "IndexedDB opened something else than a database".into())
}

/// The request's result once it succeeds. Its handlers live until it has settled.
fn completion(request: &IdbRequest) -> impl Future<Output = Result<JsValue, String>> {
    let mut handlers = None;
    let promise = Promise::new(&mut |resolve, reject| {
        let on_success = {
            let request = request.clone();
            Closure::<dyn FnMut()>::new(move || {
                let _ = resolve.call1(&JsValue::NULL, &request.result().unwrap_or_default());
            })
        };
        let on_error = Closure::<dyn FnMut()>::new(move || {
            let _ = reject.call0(&JsValue::NULL);
        });
        request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
        request.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        handlers = Some((on_success, on_error));
    });
    let request = request.clone();
    async move {
        let result = JsFuture::from(promise).await;
        request.set_onsuccess(None);
        request.set_onerror(None);
        drop(handlers);
        result.map_err(|_| "an IndexedDB request failed".to_string())
    }
}
