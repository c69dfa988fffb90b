//! Helpers for the browser tests: a signing key made by WebCrypto, and ID tokens signed
//! with it, so the app's real verification path runs; a root element to render into, and
//! waiting for what it shows.

#![allow(dead_code)] // Each browser test file uses its own part of this module.

use appointments_spa::oidc::base64url;
use appointments_spa::oidc::jwks::KeySet;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

pub fn subtle() -> SubtleCrypto {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .expect("window.crypto")
        .subtle()
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).expect("property")
}

/// An RS256 key pair, and its public half as JWK `n` and `e`.
pub struct TestKey {
    pub private: CryptoKey,
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl TestKey {
    pub async fn generate(kid: &str) -> TestKey {
        let algorithm = Object::new();
        for (key, value) in [
            ("name", JsValue::from_str("RSASSA-PKCS1-v1_5")),
            ("modulusLength", JsValue::from(2048)),
            ("publicExponent", Uint8Array::from(&[1u8, 0, 1][..]).into()),
            ("hash", JsValue::from_str("SHA-256")),
        ] {
            Reflect::set(&algorithm, &JsValue::from_str(key), &value).expect("set");
        }
        let usages = Array::of2(&"sign".into(), &"verify".into());
        let promise = subtle()
            .generate_key_with_object(&algorithm, true, &usages)
            .expect("generateKey");
        let pair = JsFuture::from(promise).await.expect("a key pair");
        let public: CryptoKey = get(&pair, "publicKey").dyn_into().expect("public key");
        let jwk = JsFuture::from(subtle().export_key("jwk", &public).expect("exportKey"))
            .await
            .expect("a JWK");
        TestKey {
            private: get(&pair, "privateKey").dyn_into().expect("private key"),
            kid: kid.to_string(),
            n: get(&jwk, "n").as_string().expect("n"),
            e: get(&jwk, "e").as_string().expect("e"),
        }
    }

    pub fn jwks(&self) -> KeySet {
        KeySet::parse(&format!(
            r#"{{"keys":[{{"kty":"RSA","use":"sig","alg":"RS256","kid":"{}","n":"{}","e":"{}"}}]}}"#,
            self.kid, self.n, self.e
        ))
        .expect("a JWK set")
    }

    pub async fn sign(&self, data: &[u8]) -> Vec<u8> {
        let promise = subtle()
            .sign_with_str_and_u8_array("RSASSA-PKCS1-v1_5", &self.private, data)
            .expect("sign");
        Uint8Array::new(&JsFuture::from(promise).await.expect("a signature")).to_vec()
    }

    /// A compact JWS of `claims` (JSON), RS256 with this key's kid.
    pub async fn jwt(&self, claims: &str) -> String {
        let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, self.kid);
        let input = format!(
            "{}.{}",
            base64url::encode(header.as_bytes()),
            base64url::encode(claims.as_bytes())
        );
        let signature = self.sign(input.as_bytes()).await;
        format!("{input}.{}", base64url::encode(&signature))
    }
}

/// `at_hash` of an access token, computed independently of the app's code path.
pub async fn at_hash(access_token: &str) -> String {
    let promise = subtle()
        .digest_with_str_and_u8_array("SHA-256", access_token.as_bytes())
        .expect("digest");
    let digest = Uint8Array::new(&JsFuture::from(promise).await.expect("a digest")).to_vec();
    base64url::encode(&digest[..16])
}

pub fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("document")
}

/// A new element in the page's body, to render a component into.
pub fn new_root() -> web_sys::Element {
    let root = document().create_element("div").expect("div");
    document()
        .body()
        .expect("body")
        .append_child(&root)
        .expect("append");
    root
}

/// Polls `condition` until it holds; fails the test after `timeout`.
pub async fn wait_for(what: &str, timeout: std::time::Duration, condition: impl Fn() -> bool) {
    let deadline = js_sys::Date::now() + timeout.as_millis() as f64;
    while js_sys::Date::now() < deadline {
        if condition() {
            return;
        }
        gloo_timers::future::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(condition(), "timed out waiting until {what}");
}
