//! Issued tokens verify against the tenant's own JWKS; userinfo; discovery; avatars.

mod common;

use base64::Engine;
use common::*;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

fn validation(issuer: &str, aud: &str) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v
}

fn at_hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

async fn key_for(t: &Tenant, token: &str) -> DecodingKey {
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("a kid");
    let jwks = t.jwks().await;
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    DecodingKey::from_jwk(jwk).unwrap()
}

#[tokio::test]
async fn tokens_verify_against_the_jwks() {
    let t = start().await;
    let f = t
        .sign_in(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let at = &f["access_token"];
    let key = key_for(&t, at).await;

    let claims: Value = decode(at, &key, &validation(&t.base, AUDIENCE))
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], t.base.as_str());
    assert!(t.base.ends_with('/'));
    assert_eq!(claims["sub"], "auth0|alice");
    assert_eq!(
        claims["aud"],
        serde_json::json!([AUDIENCE, format!("{}userinfo", t.base)])
    );
    assert_eq!(claims["azp"], CLIENT);
    assert_eq!(claims["scope"], ALL_SCOPES);
    assert_eq!(claims["scope"].as_str(), Some(f["scope"].as_str()));
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 7200);

    let id = &f["id_token"];
    let key = key_for(&t, id).await;
    let claims: Value = decode(id, &key, &validation(&t.base, CLIENT))
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], t.base.as_str());
    assert_eq!(claims["sub"], "auth0|alice");
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["at_hash"], at_hash(at).as_str());
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["nickname"], "alice");
    assert_eq!(
        claims["picture"],
        format!("{}avatars/alice.svg", t.base).as_str()
    );
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());

    // The picture is served by the tenant itself.
    let resp = t
        .http
        .get(claims["picture"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    assert!(resp.text().await.unwrap().contains(">AE</text>"));
    let resp = t
        .http
        .get(t.url("avatars/nobody.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn bob_lacks_create_appointments() {
    let t = start().await;
    let f = t
        .sign_in(&params(&[]), "bob@example.com", "bob-password-1")
        .await;
    assert_eq!(f["scope"], "openid profile email read:appointments");
    let at = &f["access_token"];
    let key = key_for(&t, at).await;
    let claims: Value = decode(at, &key, &validation(&t.base, AUDIENCE))
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "auth0|bob");
    let scope = claims["scope"].as_str().unwrap();
    assert!(scope.split(' ').any(|s| s == "read:appointments"));
    assert!(!scope.split(' ').any(|s| s == "create:appointments"));
}

#[tokio::test]
async fn unknown_scopes_are_dropped() {
    let t = start().await;
    let f = t
        .sign_in(
            &params(&[("scope", "openid delete:everything read:appointments")]),
            "alice@example.com",
            "alice-password-1",
        )
        .await;
    assert_eq!(f["scope"], "openid read:appointments");
}

#[tokio::test]
async fn userinfo_answers_for_good_tokens_only() {
    let t = start().await;
    let f = t
        .sign_in(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let resp = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(&f["access_token"])
        .header("origin", "http://localhost:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["sub"], "auth0|alice");
    assert_eq!(u["name"], "Alice Example");
    assert_eq!(u["email"], "alice@example.com");
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["nickname"], "alice");
    assert_eq!(
        u["picture"],
        format!("{}avatars/alice.svg", t.base).as_str()
    );

    // The id_token is not an access token for userinfo (wrong audience).
    let mut tampered = f["access_token"].clone();
    tampered.push('x');
    for bad in [
        f["id_token"].as_str(),
        "nonsense",
        tampered.as_str(),
        "a.b.c",
    ] {
        let resp = t
            .http
            .get(t.url("userinfo"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{bad}");
        let www = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(www.starts_with("Bearer error=\"invalid_token\""), "{www}");
    }
    let resp = t.http.get(t.url("userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // A token signed by another tenant's key is refused.
    let other = start().await;
    let f2 = other
        .sign_in(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let resp = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(&f2["access_token"])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Preflight allows Authorization.
    let resp = t
        .http
        .request(reqwest::Method::OPTIONS, t.url("userinfo"))
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"));
}

#[tokio::test]
async fn without_audience_the_access_token_is_opaque() {
    let t = start().await;
    let f = t
        .sign_in(
            &params(&[("audience", "")]),
            "bob@example.com",
            "bob-password-1",
        )
        .await;
    let at = &f["access_token"];
    assert!(!at.contains('.'), "opaque, not a JWT");
    assert_eq!(f["scope"], "openid profile email");
    let resp = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["sub"], "auth0|bob");
    // at_hash covers the opaque token too.
    let key = key_for(&t, &f["id_token"]).await;
    let claims: Value = decode(&f["id_token"], &key, &validation(&t.base, CLIENT))
        .unwrap()
        .claims;
    assert_eq!(claims["at_hash"], at_hash(at).as_str());
}

#[tokio::test]
async fn discovery_document() {
    let t = start().await;
    let resp = t
        .http
        .get(t.url(".well-known/openid-configuration"))
        .header("origin", "http://localhost:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    let d: Value = resp.json().await.unwrap();
    assert_eq!(d["issuer"], t.base.as_str());
    assert_eq!(d["authorization_endpoint"], t.url("authorize").as_str());
    assert_eq!(d["jwks_uri"], t.url(".well-known/jwks.json").as_str());
    assert_eq!(d["userinfo_endpoint"], t.url("userinfo").as_str());
    assert_eq!(d["end_session_endpoint"], t.url("oidc/logout").as_str());
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        d["response_types_supported"],
        serde_json::json!(["code", "token", "id_token", "id_token token"])
    );
    let jwks = t
        .http
        .get(t.url(".well-known/jwks.json"))
        .header("origin", "http://localhost:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");
    let j: Value = jwks.json().await.unwrap();
    let k = &j["keys"][0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["n"], t.modulus.as_str());
    assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
}
