//! Silent authentication (`prompt=none`), consent on record, and short token lifetimes.

mod common;

use std::collections::HashMap;

use base64::Engine;
use common::*;
use dev_tenant::{Fault, Settings};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

const STATE: &str = "st 1&x=y";

fn at_hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

fn validation(issuer: &str, aud: &str) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v
}

/// Verified claims of a token of `t`, checked against its JWKS.
async fn verified(t: &Tenant, token: &str, aud: &str) -> Value {
    let kid = decode_header(token).unwrap().kid.expect("a kid");
    let jwks = t.jwks().await;
    let key = DecodingKey::from_jwk(jwks.find(&kid).expect("published")).unwrap();
    decode::<Value>(token, &key, &validation(&t.base, aud))
        .unwrap()
        .claims
}

async fn authorize_with(
    t: &Tenant,
    overrides: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = t.http.get(t.url("authorize")).query(&params(overrides));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// A `prompt=none` request: asserts the answer is a redirect to the callback that a
/// hidden iframe may follow, and returns the fragment.
async fn silent(
    t: &Tenant,
    overrides: &[(&str, &str)],
    cookie: Option<&str>,
) -> HashMap<String, String> {
    let mut all = vec![("prompt", "none")];
    all.extend_from_slice(overrides);
    let resp = authorize_with(t, &all, cookie).await;
    assert_eq!(resp.status(), 302, "prompt=none always redirects");
    for h in ["x-frame-options", "content-security-policy", "set-cookie"] {
        assert!(resp.headers().get(h).is_none(), "{h} on a redirect");
    }
    assert!(resp.headers().get("content-type").is_none(), "no page");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (base, f) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    f
}

/// Signs alice in with `params`, accepts; returns the session cookie and the fragment.
async fn accepted(t: &Tenant, params: &[(String, String)]) -> (String, HashMap<String, String>) {
    let (tx, cookie) = t
        .to_consent(params, "alice@example.com", "alice-password-1")
        .await;
    let resp = t.decide(&tx, &cookie, "accept").await;
    assert_eq!(resp.status(), 302);
    let (_, f) = fragment(&location(&resp).unwrap());
    (cookie, f)
}

#[tokio::test]
async fn without_a_session_login_is_required() {
    let t = start().await;
    let f = silent(&t, &[], None).await;
    assert_eq!(f["error"], "login_required");
    assert!(!f["error_description"].is_empty());
    assert_eq!(f["state"], STATE);
    assert!(!f.contains_key("access_token") && !f.contains_key("id_token"));
    // No state sent, none echoed.
    let f = silent(&t, &[("state", "")], None).await;
    assert_eq!(f["error"], "login_required");
    assert!(!f.contains_key("state"));
    // A cookie of no live session is no session.
    let f = silent(&t, &[], Some("dev_tenant_session=made-up")).await;
    assert_eq!(f["error"], "login_required");
}

#[tokio::test]
async fn untrusted_requests_still_get_the_error_page() {
    let t = start().await;
    for overrides in [
        vec![("prompt", "none"), ("client_id", "nope")],
        vec![
            ("prompt", "none"),
            ("redirect_uri", "https://evil.example/cb"),
        ],
        vec![("prompt", "none"), ("redirect_uri", "")],
    ] {
        let resp = authorize_with(&t, &overrides, None).await;
        assert_eq!(resp.status(), 400, "{overrides:?}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
    // Other request errors go to the callback, as usual.
    let f = silent(&t, &[("nonce", "")], None).await;
    assert_eq!(f["error"], "invalid_request");
    let f = silent(&t, &[("prompt", "none login")], None).await;
    assert_eq!(f["error"], "invalid_request");
    assert_eq!(f["state"], STATE);
}

#[tokio::test]
async fn a_session_without_consent_on_record_needs_consent() {
    let t = start().await;
    // Signed in, consent page never answered.
    let (_, cookie) = t
        .to_consent(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let f = silent(&t, &[], Some(&cookie)).await;
    assert_eq!(f["error"], "consent_required");
    assert!(!f["error_description"].is_empty());
    assert_eq!(f["state"], STATE);
    assert!(!f.contains_key("access_token"));

    // Declined: still no consent.
    let (tx, cookie) = t
        .to_consent(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    t.decide(&tx, &cookie, "deny").await;
    let f = silent(&t, &[], Some(&cookie)).await;
    assert_eq!(f["error"], "consent_required");

    // Consent for fewer scopes covers those, not more.
    let (cookie, _) = accepted(&t, &params(&[("scope", "openid profile")])).await;
    let f = silent(&t, &[("scope", "openid profile")], Some(&cookie)).await;
    assert!(f.contains_key("access_token"), "{f:?}");
    let f = silent(&t, &[("scope", "openid profile")], Some(&cookie)).await;
    assert!(!f.contains_key("error"), "{f:?}");
    let f = silent(&t, &[], Some(&cookie)).await;
    assert_eq!(f["error"], "consent_required");
    // Unknown scopes need no consent: they are never granted.
    let f = silent(
        &t,
        &[("scope", "openid profile delete:everything")],
        Some(&cookie),
    )
    .await;
    assert!(f.contains_key("access_token"), "{f:?}");
}

#[tokio::test]
async fn after_sign_in_prompt_none_returns_fresh_tokens() {
    let t = start().await;
    let (cookie, first) = accepted(&t, &params(&[])).await;

    let f = silent(
        &t,
        &[("nonce", "silent-nonce-2"), ("state", "s2")],
        Some(&cookie),
    )
    .await;
    assert!(!f.contains_key("error"), "{f:?}");
    assert_eq!(f["state"], "s2");
    assert_eq!(f["token_type"], "Bearer");
    assert_eq!(f["expires_in"], "7200");
    assert_eq!(f["scope"], ALL_SCOPES);
    let at = &f["access_token"];
    let id = &f["id_token"];
    assert_ne!(id, &first["id_token"]);
    let access = verified(&t, at, AUDIENCE).await;
    assert_eq!(access["sub"], "auth0|alice");
    assert_eq!(access["scope"], ALL_SCOPES);
    let claims = verified(&t, id, CLIENT).await;
    assert_eq!(claims["sub"], "auth0|alice");
    assert_eq!(claims["nonce"], "silent-nonce-2");
    assert_eq!(claims["at_hash"], at_hash(at).as_str());
    // The access token works at userinfo.
    let resp = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Other response types.
    let f = silent(
        &t,
        &[("response_type", "id_token"), ("nonce", "n3")],
        Some(&cookie),
    )
    .await;
    assert!(!f.contains_key("access_token") && !f.contains_key("token_type"));
    let claims = verified(&t, &f["id_token"], CLIENT).await;
    assert_eq!(claims["nonce"], "n3");
    assert!(claims.get("at_hash").is_none());
    let f = silent(
        &t,
        &[("response_type", "token"), ("nonce", "")],
        Some(&cookie),
    )
    .await;
    assert!(f.contains_key("access_token") && !f.contains_key("id_token"));

    // An injected fault applies to a silent answer as to any other.
    let mut kept = None;
    let t = start_with(|issuer| {
        let s = Settings::demo(issuer).unwrap();
        kept = Some(s.faults.clone());
        s
    })
    .await;
    let faults = kept.unwrap();
    let (cookie, _) = accepted(&t, &params(&[])).await;
    faults.set_next(Fault::WrongState);
    let f = silent(&t, &[], Some(&cookie)).await;
    assert_eq!(f["state"], dev_tenant::faults::WRONG_STATE);
    let f = silent(&t, &[], Some(&cookie)).await;
    assert_eq!(f["state"], STATE);
}

#[tokio::test]
async fn after_logout_login_is_required_again() {
    let t = start().await;
    let (cookie, _) = accepted(&t, &params(&[])).await;
    assert!(silent(&t, &[], Some(&cookie))
        .await
        .contains_key("id_token"));
    let resp = t
        .http
        .get(t.url("v2/logout"))
        .query(&[
            ("client_id", CLIENT),
            ("returnTo", "http://localhost:8080/"),
        ])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let after = silent(&t, &[], Some(&cookie)).await;
    assert_eq!(after["error"], "login_required");
    assert_eq!(after["state"], STATE);

    // The same through OIDC logout; consent stays on record across sessions.
    let (_, cookie) = t
        .to_consent(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let f2 = silent(&t, &[], Some(&cookie)).await;
    assert!(f2.contains_key("id_token"), "{f2:?}");
    let resp = t
        .http
        .get(t.url("oidc/logout"))
        .query(&[
            ("id_token_hint", f2["id_token"].as_str()),
            ("post_logout_redirect_uri", "http://localhost:8080/"),
        ])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        silent(&t, &[], Some(&cookie)).await["error"],
        "login_required"
    );
}

#[tokio::test]
async fn second_interactive_sign_in_skips_login_and_consent() {
    let t = start().await;
    let (cookie, _) = accepted(&t, &params(&[])).await;
    let resp = authorize_with(&t, &[("nonce", "again")], Some(&cookie)).await;
    assert_eq!(resp.status(), 302, "no login form, no consent page");
    assert!(resp.headers().get("x-frame-options").is_none());
    let (base, f) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    assert_eq!(f["state"], STATE);
    let claims = verified(&t, &f["id_token"], CLIENT).await;
    assert_eq!(claims["nonce"], "again");
    assert_eq!(claims["at_hash"], at_hash(&f["access_token"]).as_str());

    // Another user's session needs its own consent.
    let (tx, bob) = t
        .to_consent(&params(&[]), "bob@example.com", "bob-password-1")
        .await;
    let resp = authorize_with(&t, &[], Some(&bob)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        silent(&t, &[], Some(&bob)).await["error"],
        "consent_required"
    );
    t.decide(&tx, &bob, "accept").await;
    assert_eq!(authorize_with(&t, &[], Some(&bob)).await.status(), 302);

    // The HTML pages still refuse to be framed.
    let resp = authorize_with(&t, &[], None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn a_short_token_lifetime_applies_to_every_token() {
    let t = start_with(|issuer| {
        let mut s = Settings::demo(issuer).unwrap();
        s.token_lifetime = 5;
        s
    })
    .await;
    let (cookie, interactive) = accepted(&t, &params(&[])).await;
    let silent_answer = silent(&t, &[], Some(&cookie)).await;
    for f in [interactive, silent_answer] {
        assert_eq!(f["expires_in"], "5");
        for (token, aud) in [(&f["access_token"], AUDIENCE), (&f["id_token"], CLIENT)] {
            let c = verified(&t, token, aud).await;
            assert_eq!(
                c["exp"].as_u64().unwrap(),
                c["iat"].as_u64().unwrap() + 5,
                "{aud}"
            );
        }
    }
    // Opaque access tokens too.
    let f = silent(&t, &[("audience", "")], Some(&cookie)).await;
    assert_eq!(f["expires_in"], "5");
    assert!(!f["access_token"].contains('.'));
}
