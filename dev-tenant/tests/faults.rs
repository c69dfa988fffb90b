//! Test-only fault injection: each fault shows in exactly one sign-in, then tokens are
//! clean again; the HTTP switch exists only when enabled; key rotation and the JWKS.

mod common;

use std::collections::HashMap;

use base64::Engine;
use common::*;
use dev_tenant::faults::{
    Fault, FaultSwitch, OTHER_AT_HASH_INPUT, OTHER_CLIENT, OTHER_ISSUER, WRONG_NONCE_PREFIX,
    WRONG_STATE,
};
use dev_tenant::keys::SigningKey;
use dev_tenant::Settings;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

const STATE: &str = "st 1&x=y";

struct Faulty {
    t: Tenant,
    faults: FaultSwitch,
    key: SigningKey,
}

async fn start_faulty(endpoint: bool) -> Faulty {
    let mut kept = None;
    let t = start_with(|issuer| {
        let mut s = Settings::demo(issuer).unwrap();
        s.fault_injection_endpoint = endpoint;
        kept = Some((s.faults.clone(), s.key.clone()));
        s
    })
    .await;
    let (faults, key) = kept.unwrap();
    Faulty { t, faults, key }
}

fn b64d(part: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&b64d(token.split('.').nth(i).unwrap())).unwrap()
}

fn header(token: &str) -> Value {
    part(token, 0)
}

fn claims(token: &str) -> Value {
    part(token, 1)
}

fn at_hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// Checks the signature only (RS256), none of the claims.
fn signature_only() -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    v
}

fn strict(issuer: &str, aud: &str) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v
}

/// The JWKS key for the token's kid, if published.
async fn jwks_key(t: &Tenant, token: &str) -> Option<DecodingKey> {
    let kid = header(token)["kid"].as_str()?.to_string();
    let jwks = t.jwks().await;
    jwks.find(&kid)
        .map(|jwk| DecodingKey::from_jwk(jwk).unwrap())
}

async fn sign_in(t: &Tenant, nonce: &str) -> HashMap<String, String> {
    t.sign_in(
        &params(&[("nonce", nonce)]),
        "alice@example.com",
        "alice-password-1",
    )
    .await
}

/// Everything a client checks holds for this response.
async fn assert_clean(t: &Tenant, f: &HashMap<String, String>, nonce: &str) {
    assert_eq!(f["state"], STATE);
    let at = &f["access_token"];
    let id = &f["id_token"];
    for token in [at, id] {
        assert_eq!(header(token)["alg"], "RS256");
    }
    let key = jwks_key(t, at)
        .await
        .expect("the access token's kid is published");
    decode::<Value>(at, &key, &strict(&t.base, AUDIENCE)).unwrap();
    let key = jwks_key(t, id)
        .await
        .expect("the id_token's kid is published");
    let c = decode::<Value>(id, &key, &strict(&t.base, CLIENT))
        .unwrap()
        .claims;
    assert_eq!(c["nonce"], nonce);
    assert_eq!(c["at_hash"], at_hash(at).as_str());
    assert_eq!(c["sub"], "auth0|alice");
    assert!(c.get("azp").is_none() || c["azp"] == CLIENT);
}

/// The access token of a faulted response is still valid (except under rotation, where
/// it is signed by a key the JWKS may not publish yet).
async fn assert_access_token_valid(t: &Tenant, f: &HashMap<String, String>) {
    let at = &f["access_token"];
    let key = jwks_key(t, at).await.expect("published kid");
    decode::<Value>(at, &key, &strict(&t.base, AUDIENCE)).unwrap();
}

/// Asserts `fault` shows in `f` (signed in with `nonce`).
async fn assert_fault(
    fx: &Faulty,
    fault: Fault,
    f: &HashMap<String, String>,
    nonce: &str,
    original_kid: &str,
) {
    let t = &fx.t;
    let at = f["access_token"].as_str();
    let id = f["id_token"].as_str();
    let h = header(id);
    let c = claims(id);
    if fault != Fault::WrongState {
        assert_eq!(f["state"], STATE, "{fault}");
    }
    if fault != Fault::RotatedKey {
        assert_access_token_valid(t, f).await;
        assert_eq!(header(at)["kid"], original_kid, "{fault}");
    }
    // The claims a fault does not touch are right.
    let untouched = |name: &str| -> bool {
        match name {
            "iss" => !matches!(fault, Fault::WrongIss),
            "aud" => !matches!(fault, Fault::WrongAud | Fault::MultipleAudNoAzp),
            "sub" => fault != Fault::MissingSub,
            "nonce" => fault != Fault::WrongNonce,
            "at_hash" => !matches!(fault, Fault::MissingAtHash | Fault::WrongAtHash),
            "time" => !matches!(fault, Fault::MissingIat | Fault::Expired),
            _ => true,
        }
    };
    if untouched("iss") {
        assert_eq!(c["iss"], t.base.as_str(), "{fault}");
    }
    if untouched("aud") {
        assert_eq!(c["aud"], CLIENT, "{fault}");
    }
    if untouched("sub") {
        assert_eq!(c["sub"], "auth0|alice", "{fault}");
    }
    if untouched("nonce") {
        assert_eq!(c["nonce"], nonce, "{fault}");
    }
    if untouched("at_hash") {
        assert_eq!(c["at_hash"], at_hash(at).as_str(), "{fault}");
    }
    if untouched("time") {
        let iat = c["iat"].as_u64().unwrap();
        assert_eq!(c["exp"].as_u64().unwrap(), iat + 7200, "{fault}");
    }
    let signature_ok = |key: &DecodingKey| decode::<Value>(id, key, &signature_only()).is_ok();

    match fault {
        Fault::BadSignature => {
            assert_eq!(h["alg"], "RS256");
            assert_eq!(h["kid"], original_kid);
            let key = jwks_key(t, id).await.unwrap();
            assert!(!signature_ok(&key), "the altered signature must not verify");
            // Flipping the same bit back gives the valid token.
            let (signed, sig) = id.rsplit_once('.').unwrap();
            let mut bytes = b64d(sig);
            bytes[0] ^= 0x01;
            let repaired = format!(
                "{signed}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            );
            decode::<Value>(&repaired, &key, &strict(&t.base, CLIENT)).unwrap();
        }
        Fault::UnknownKey => {
            assert_eq!(h["alg"], "RS256");
            let kid = h["kid"].as_str().expect("a kid");
            assert_ne!(kid, original_kid);
            for _ in 0..3 {
                assert!(t.jwks().await.find(kid).is_none(), "never published");
            }
            let key = DecodingKey::from_rsa_components(&t.modulus, "AQAB").unwrap();
            assert!(!signature_ok(&key));
        }
        Fault::AlgNone => {
            assert_eq!(id.split('.').next().unwrap(), "eyJhbGciOiJub25lIn0");
            assert_eq!(h, json!({"alg": "none"}));
            assert!(id.ends_with('.'));
            assert_eq!(id.split('.').count(), 3);
        }
        Fault::Hs256PublicKey => {
            assert_eq!(h["alg"], "HS256");
            assert_eq!(h["kid"], original_kid);
            let pem = fx.key.public_key_pem();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            // The PEM is the tenant's public key ...
            let rsa = DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            decode::<Value>(at, &rsa, &strict(&t.base, AUDIENCE)).unwrap();
            // ... and the HMAC key of the token.
            let mut v = Validation::new(Algorithm::HS256);
            v.set_issuer(&[&t.base]);
            v.set_audience(&[CLIENT]);
            decode::<Value>(id, &DecodingKey::from_secret(pem.as_bytes()), &v).unwrap();
        }
        Fault::WrongIss => assert_eq!(c["iss"], OTHER_ISSUER),
        Fault::WrongAud => assert_eq!(c["aud"], OTHER_CLIENT),
        Fault::MultipleAudNoAzp => {
            assert_eq!(c["aud"], json!([CLIENT, OTHER_CLIENT]));
            assert!(c.get("azp").is_none());
        }
        Fault::MissingSub => assert!(c.get("sub").is_none()),
        Fault::MissingIat => {
            assert!(c.get("iat").is_none());
            assert!(c["exp"].as_u64().is_some());
        }
        Fault::Expired => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let exp = c["exp"].as_u64().unwrap();
            let iat = c["iat"].as_u64().unwrap();
            assert!(
                exp + 3590 <= now && exp + 3610 >= now,
                "exp {exp} now {now}"
            );
            assert_eq!(iat + 3600, exp);
        }
        Fault::WrongNonce => {
            assert_eq!(c["nonce"], format!("{WRONG_NONCE_PREFIX}{nonce}").as_str());
        }
        Fault::MissingAtHash => assert!(c.get("at_hash").is_none()),
        Fault::WrongAtHash => {
            assert_eq!(c["at_hash"], at_hash(OTHER_AT_HASH_INPUT).as_str());
            assert_ne!(c["at_hash"], at_hash(at).as_str());
        }
        Fault::WrongState => {
            assert_eq!(f["state"], WRONG_STATE);
            assert_ne!(f["state"], STATE);
            let mut clean = f.clone();
            clean.insert("state".into(), STATE.into());
            assert_clean(t, &clean, nonce).await;
        }
        Fault::RotatedKey => {
            let kid = h["kid"].as_str().unwrap();
            assert_ne!(kid, original_kid);
            assert_eq!(header(at)["kid"], kid, "the access token is rotated too");
            // Published from the second fetch on (see `rotated_key_is_published_late`).
            assert!(t.jwks().await.find(kid).is_none());
            assert!(t.jwks().await.find(kid).is_some());
            assert_clean(t, f, nonce).await;
        }
        Fault::NoKid => {
            assert_eq!(h["alg"], "RS256");
            assert!(h.get("kid").is_none());
            let jwks = t.jwks().await;
            assert_eq!(jwks.keys.len(), 1);
            let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
            decode::<Value>(id, &key, &strict(&t.base, CLIENT)).unwrap();
        }
    }
}

#[tokio::test]
async fn every_fault_shows_once_then_tokens_are_clean() {
    for fault in Fault::ALL {
        let fx = start_faulty(false).await;
        let original_kid = fx.t.jwks().await.keys[0].common.key_id.clone().unwrap();
        fx.faults.set_next(fault);
        let nonce = format!("nonce-{fault}");
        let f = sign_in(&fx.t, &nonce).await;
        assert!(fx.faults.pending().is_none(), "{fault} is consumed");
        assert_fault(&fx, fault, &f, &nonce, &original_kid).await;

        let nonce = format!("clean-after-{fault}");
        let f = sign_in(&fx.t, &nonce).await;
        assert_clean(&fx.t, &f, &nonce).await;
    }
}

#[tokio::test]
async fn a_denied_consent_does_not_consume_the_fault() {
    let fx = start_faulty(false).await;
    fx.faults.set_next(Fault::WrongIss);
    let (tx, jar) =
        fx.t.to_consent(&params(&[]), "alice@example.com", "alice-password-1")
            .await;
    let resp = fx.t.decide(&tx, &jar, "deny").await;
    let (_, f) = fragment(&location(&resp).unwrap());
    assert_eq!(f["error"], "access_denied");
    assert_eq!(fx.faults.pending(), Some(Fault::WrongIss));
    let f = sign_in(&fx.t, "n1").await;
    assert_eq!(claims(&f["id_token"])["iss"], OTHER_ISSUER);
    let f = sign_in(&fx.t, "n2").await;
    assert_clean(&fx.t, &f, "n2").await;
}

#[tokio::test]
async fn clear_removes_a_pending_fault() {
    let fx = start_faulty(false).await;
    fx.faults.set_next(Fault::AlgNone);
    fx.faults.set_next(Fault::Expired);
    fx.faults.clear();
    let f = sign_in(&fx.t, "n").await;
    assert_clean(&fx.t, &f, "n").await;
}

async fn post_fault(t: &Tenant, body: &str) -> reqwest::Response {
    t.http
        .post(t.url("test/next-fault"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn http_switch_works_only_when_enabled() {
    // Off by default: 404, and nothing changes.
    let off = start_faulty(false).await;
    let resp = post_fault(&off.t, r#"{"fault":"expired"}"#).await;
    assert_eq!(resp.status(), 404);
    assert!(off.faults.pending().is_none());
    let f = sign_in(&off.t, "n").await;
    assert_clean(&off.t, &f, "n").await;

    let on = start_faulty(true).await;
    let resp = post_fault(&on.t, r#"{"fault":"expired"}"#).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(on.faults.pending(), Some(Fault::Expired));
    let f = sign_in(&on.t, "n").await;
    let c = claims(&f["id_token"]);
    assert_eq!(
        c["iat"].as_u64().unwrap() + 3600,
        c["exp"].as_u64().unwrap()
    );
    assert!(c["exp"].as_u64().unwrap() < claims(&f["access_token"])["iat"].as_u64().unwrap());
    let f = sign_in(&on.t, "n2").await;
    assert_clean(&on.t, &f, "n2").await;

    // Every name is accepted; unknown names and bad bodies are 400 and change nothing.
    for fault in Fault::ALL {
        let resp = post_fault(&on.t, &json!({ "fault": fault }).to_string()).await;
        assert_eq!(resp.status(), 204, "{fault}");
        assert_eq!(on.faults.pending(), Some(fault));
    }
    for body in [
        r#"{"fault":"no_such_fault"}"#,
        r#"{"fault":"Expired"}"#,
        r#"{"fault":5}"#,
        r#"{"nope":1}"#,
        "not json",
        "",
    ] {
        let resp = post_fault(&on.t, body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"], "invalid_request");
        assert_eq!(on.faults.pending(), Some(Fault::NoKid), "{body}");
    }
    let resp = post_fault(&on.t, r#"{"fault":"bogus"}"#).await;
    let err: Value = resp.json().await.unwrap();
    let description = err["error_description"].as_str().unwrap();
    assert!(description.contains("bogus") && description.contains("rotated_key"));

    // null clears.
    let resp = post_fault(&on.t, r#"{"fault":null}"#).await;
    assert_eq!(resp.status(), 204);
    assert!(on.faults.pending().is_none());

    // A browser test may call it cross-origin.
    let resp =
        on.t.http
            .request(reqwest::Method::OPTIONS, on.t.url("test/next-fault"))
            .header("origin", "http://localhost:8080")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn rotated_key_is_published_late_and_signs_from_then_on() {
    let fx = start_faulty(false).await;
    let t = &fx.t;
    let old_kid = t.jwks().await.keys[0].common.key_id.clone().unwrap();
    fx.faults.set_next(Fault::RotatedKey);
    let f = sign_in(t, "rot").await;
    let new_kid = header(&f["id_token"])["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    assert_eq!(header(&f["access_token"])["kid"], new_kid.as_str());

    // First fetch after issuance: only the old key.
    let first = t.jwks().await;
    assert!(first.find(&new_kid).is_none());
    assert!(first.find(&old_kid).is_some());
    assert_eq!(first.keys.len(), 1);
    // Second fetch (the client's re-fetch): both, the old one first.
    let second = t.jwks().await;
    assert_eq!(second.keys.len(), 2);
    assert_eq!(
        second.keys[0].common.key_id.as_deref(),
        Some(old_kid.as_str())
    );
    let jwk = second.find(&new_kid).expect("the new kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let c = decode::<Value>(&f["id_token"], &key, &strict(&t.base, CLIENT))
        .unwrap()
        .claims;
    assert_eq!(c["nonce"], "rot");
    decode::<Value>(&f["access_token"], &key, &strict(&t.base, AUDIENCE)).unwrap();
    // And stays published.
    assert!(t.jwks().await.find(&new_kid).is_some());

    // Later tokens are signed with the new key and verify with it.
    for nonce in ["later-1", "later-2"] {
        let f = sign_in(t, nonce).await;
        assert_eq!(header(&f["id_token"])["kid"], new_kid.as_str());
        assert_eq!(header(&f["access_token"])["kid"], new_kid.as_str());
        let c = decode::<Value>(&f["id_token"], &key, &strict(&t.base, CLIENT))
            .unwrap()
            .claims;
        assert_eq!(c["nonce"], nonce);
        assert_clean(t, &f, nonce).await;
        // The tenant's own endpoints accept the new key's tokens.
        let resp = t
            .http
            .get(t.url("userinfo"))
            .bearer_auth(&f["access_token"])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn rotated_key_access_token_works_at_userinfo_before_publication() {
    let fx = start_faulty(false).await;
    fx.faults.set_next(Fault::RotatedKey);
    let f = sign_in(&fx.t, "n").await;
    let resp =
        fx.t.http
            .get(fx.t.url("userinfo"))
            .bearer_auth(&f["access_token"])
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn faulted_access_tokens_of_other_faults_work_at_userinfo() {
    let fx = start_faulty(false).await;
    for fault in [Fault::UnknownKey, Fault::AlgNone, Fault::NoKid] {
        fx.faults.set_next(fault);
        let f = sign_in(&fx.t, "n").await;
        let resp =
            fx.t.http
                .get(fx.t.url("userinfo"))
                .bearer_auth(&f["access_token"])
                .send()
                .await
                .unwrap();
        assert_eq!(resp.status(), 200, "{fault}");
    }
}
