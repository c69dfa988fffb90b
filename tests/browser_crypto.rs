//! The WebCrypto path of ID token verification, in headless Chromium.
#![cfg(target_arch = "wasm32")]

mod web;

use appointments_spa::browser::crypto;
use appointments_spa::oidc::jwks::RsaPublicKey;
use appointments_spa::oidc::{at_hash, base64url};
use wasm_bindgen_test::*;
use web::TestKey;

wasm_bindgen_test_configure!(run_in_browser);

/// Made with `openssl genrsa 2048` and `openssl dgst -sha256 -sign`, outside the browser.
const OPENSSL_N: &str = "rKd0knCqrTxkxbpxllB5G1tRYDzadd1j2-MxsfHwSI0LvfkJ4EDtlsOL-Yfekuae-sxlBTJmbZGtLFGVVL8Bbl5ckCsWjxByfPZP7w7bFRyy4wmaVU2ljkxIbD2zrcDQKIImVdPfZbseyyidOdDqod4uJLJUMkqPvBos3CqbjeeHrJE7uHjqLGdZkg4f0ef7Y47oOK56tdTRzRRfYeAsZ1_iwLpeGpbv_bKuhjnT_S1aqGcRDXqkYLatLAfMgPRoX66IU66tRG7iHrb9SggTAaQMTflnAhYISUO0VgceSgCMZb1oxYDY89uITwhjM_BlGt5wrIzLKSaMC8WpJvWepw";
const OPENSSL_JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im9wZW5zc2wtdmVjdG9yIn0.eyJpc3MiOiJodHRwczovL3RlbmFudC5leGFtcGxlLyIsInN1YiI6InZlY3RvciJ9.Qz5iXIct8qc75spwJI-_hrG8t5wV5H-hjhHtcqZyaQuFl9i0LhN202jI6uv9eXYh87Xl5OFyXhBNAY9YhWkZ5i-4-tl8RVlHdDhLf8dcQ4Qds69dsL7Wt6R2zvmEDEo0sb-W6mFb68peBTF56ZYtNYO3g5wA8GbvoxY8xdwJdkTlTVTSrD97iiHR8hxp_trkmIX72iWCOvRSiMlx7BEhj-jDVQjIu5gp6DNMBN5hf_NMp1jEDipCmOI7M9hbivtOSQ3A56g1QfJLVSQBwRhFAPfJrVlJ4X8qeY0w9wrDzRRlu4joBdyKYhK4i_HqOZNAp2_8dH0eijvMd-qceJvdkA";

fn split(jwt: &str) -> (String, Vec<u8>) {
    let (input, signature) = jwt.rsplit_once('.').expect("a JWS");
    (
        input.to_string(),
        base64url::decode(signature).expect("base64url signature"),
    )
}

#[wasm_bindgen_test]
async fn a_key_given_as_jwk_n_and_e_verifies_a_token_signed_elsewhere() {
    let key = RsaPublicKey {
        kid: None,
        n: OPENSSL_N.into(),
        e: "AQAB".into(),
    };
    let key = crypto::import_rs256_key(&key)
        .await
        .expect("the JWK imports");
    let (input, signature) = split(OPENSSL_JWT);
    assert_eq!(
        crypto::verify_rs256(&key, &signature, input.as_bytes()).await,
        Ok(true)
    );
}

#[wasm_bindgen_test]
async fn a_valid_signature_verifies_and_a_flipped_byte_does_not() {
    let test_key = TestKey::generate("k1").await;
    let jwt = test_key.jwt(r#"{"sub":"a"}"#).await;
    let key = RsaPublicKey {
        kid: None,
        n: test_key.n.clone(),
        e: test_key.e.clone(),
    };
    let key = crypto::import_rs256_key(&key).await.expect("imports");
    let (input, mut signature) = split(&jwt);
    assert_eq!(
        crypto::verify_rs256(&key, &signature, input.as_bytes()).await,
        Ok(true)
    );

    signature[100] ^= 0x01;
    assert_eq!(
        crypto::verify_rs256(&key, &signature, input.as_bytes()).await,
        Ok(false)
    );
    let (input, signature) = split(&jwt);
    let tampered = input.replacen("eyJzdWIiOiJhIn0", "eyJzdWIiOiJiIn0", 1);
    assert_eq!(
        crypto::verify_rs256(&key, &signature, tampered.as_bytes()).await,
        Ok(false)
    );
}

#[wasm_bindgen_test]
async fn a_key_of_another_tenant_does_not_verify() {
    let (input, signature) = split(OPENSSL_JWT);
    let other = TestKey::generate("other").await;
    let key = RsaPublicKey {
        kid: None,
        n: other.n,
        e: other.e,
    };
    let key = crypto::import_rs256_key(&key).await.expect("imports");
    assert_eq!(
        crypto::verify_rs256(&key, &signature, input.as_bytes()).await,
        Ok(false)
    );
}

#[wasm_bindgen_test]
async fn at_hash_from_webcrypto_matches_the_openid_connect_example() {
    let digest = crypto::sha256(b"jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y")
        .await
        .expect("digest");
    assert_eq!(at_hash::from_sha256(&digest), "77QmUPtjPfzWtF2AnpK9RQ");
}

#[wasm_bindgen_test]
async fn a_malformed_key_is_an_error_not_a_panic() {
    let key = RsaPublicKey {
        kid: None,
        n: "not-a-modulus".into(),
        e: "AQAB".into(),
    };
    assert!(crypto::import_rs256_key(&key).await.is_err());
}

/// The DPoP key: made non-extractable, kept in IndexedDB as it is, still signing after the
/// round trip, and gone once deleted.
#[wasm_bindgen_test]
async fn the_dpop_key_is_not_extractable_and_survives_indexeddb() {
    use appointments_spa::browser::keystore::{self, StoredKey};
    let (private, public) = crypto::generate_es256_key_pair()
        .await
        .expect("a P-256 key pair");
    assert!(
        !private.extractable(),
        "the private half cannot be exported"
    );
    let (x, y) = crypto::public_key_coordinates(&public)
        .await
        .expect("the public half exports");
    assert_eq!(base64url::decode(&x).map(|b| b.len()), Some(32));
    assert_eq!(base64url::decode(&y).map(|b| b.len()), Some(32));

    let id = "component-test-key";
    keystore::put(
        id,
        &StoredKey {
            private,
            x: x.clone(),
            y,
        },
    )
    .await
    .expect("stored");
    let again = keystore::get(id).await.expect("readable").expect("present");
    assert_eq!(again.x, x);
    assert!(!again.private.extractable());
    let signature = crypto::sign_es256(&again.private, b"header.claims")
        .await
        .expect("the stored key signs");
    assert_eq!(signature.len(), 64, "ES256's raw r || s");

    keystore::delete(id).await.expect("deleted");
    assert!(keystore::get(id).await.expect("readable").is_none());
}
