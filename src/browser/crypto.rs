//! WebCrypto (`crypto.subtle`): the browser's own RSA and SHA-256, so no crypto crate
//! is compiled into the wasm.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::oidc::jwks::RsaPublicKey;

const RSASSA: &str = "RSASSA-PKCS1-v1_5";

fn subtle() -> Result<SubtleCrypto, String> {
    let window = web_sys::window().ok_or("no window")?;
    let crypto = window.crypto().map_err(|_| "no crypto object")?;
    Ok(crypto.subtle())
}

fn object(entries: &[(&str, JsValue)]) -> Result<Object, String> {
    let object = Object::new();
    for (key, value) in entries {
        Reflect::set(&object, &JsValue::from_str(key), value)
            .map_err(|_| "cannot build a WebCrypto argument")?;
    }
    Ok(object)
}

fn describe(error: JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| "WebCrypto failed".into())
}

/// Imports an RSA public key from its JWK `n` and `e` for RS256 verification.
pub async fn import_rs256_key(key: &RsaPublicKey) -> Result<CryptoKey, String> {
    let jwk = object(&[
        ("kty", "RSA".into()),
        ("n", key.n.as_str().into()),
        ("e", key.e.as_str().into()),
        ("alg", "RS256".into()),
        ("ext", true.into()),
    ])?;
    let algorithm = object(&[("name", RSASSA.into()), ("hash", "SHA-256".into())])?;
    let usages = Array::of1(&"verify".into());
    let promise = subtle()?
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .map_err(describe)?;
    let key = JsFuture::from(promise).await.map_err(describe)?;
    key.dyn_into::<CryptoKey>()
        .map_err(|_| "importKey did not return a key".into())
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `data`: `Ok(false)` for a signature that does not
/// verify, `Err` when the browser could not check at all.
pub async fn verify_rs256(key: &CryptoKey, signature: &[u8], data: &[u8]) -> Result<bool, String> {
    let promise = subtle()?
        .verify_with_str_and_u8_array_and_u8_array(RSASSA, key, signature, data)
        .map_err(describe)?;
    let verdict = JsFuture::from(promise).await.map_err(describe)?;
    Ok(verdict.as_bool() == Some(true))
}

pub async fn sha256(data: &[u8]) -> Result<Vec<u8>, String> {
    let promise = subtle()?
        .digest_with_str_and_u8_array("SHA-256", data)
        .map_err(describe)?;
    let digest = JsFuture::from(promise).await.map_err(describe)?;
    Ok(Uint8Array::new(&digest).to_vec())
}

const ECDSA: &str = "ECDSA";

/// A new ECDSA P-256 key pair whose private half cannot be exported (`extractable: false`):
/// script can use it to sign while the page is open, but not read it out. Returns
/// `(private, public)`; the public key stays exportable, as WebCrypto always allows.
pub async fn generate_es256_key_pair() -> Result<(CryptoKey, CryptoKey), String> {
    let algorithm = object(&[("name", ECDSA.into()), ("namedCurve", "P-256".into())])?;
    let usages = Array::of2(&"sign".into(), &"verify".into());
    let promise = subtle()?
        .generate_key_with_object(&algorithm, false, &usages)
        .map_err(describe)?;
    let pair = JsFuture::from(promise).await.map_err(describe)?;
    let half = |name: &str| {
        Reflect::get(&pair, &JsValue::from_str(name))
            .ok()
            .and_then(|key| key.dyn_into::<CryptoKey>().ok())
            .ok_or_else(|| format!("generateKey returned no {name}"))
    };
    Ok((half("privateKey")?, half("publicKey")?))
}

/// The public key's JWK coordinates `(x, y)`, base64url.
pub async fn public_key_coordinates(public: &CryptoKey) -> Result<(String, String), String> {
    let promise = subtle()?.export_key("jwk", public).map_err(describe)?;
    let jwk = JsFuture::from(promise).await.map_err(describe)?;
    let member = |name: &str| {
        Reflect::get(&jwk, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
            .ok_or_else(|| format!("the exported key has no {name}"))
    };
    Ok((member("x")?, member("y")?))
}

/// ECDSA P-256 with SHA-256 over `data`: the raw `r || s` signature JWS's ES256 uses.
pub async fn sign_es256(private: &CryptoKey, data: &[u8]) -> Result<Vec<u8>, String> {
    let algorithm = object(&[("name", ECDSA.into()), ("hash", "SHA-256".into())])?;
    let promise = subtle()?
        .sign_with_object_and_u8_array(&algorithm, private, data)
        .map_err(describe)?;
    let signature = JsFuture::from(promise).await.map_err(describe)?;
    Ok(Uint8Array::new(&signature).to_vec())
}
