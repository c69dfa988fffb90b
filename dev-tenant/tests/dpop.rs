//! DPoP (RFC 9449) at the protocol level: proofs at `/oauth/token` (binding, `dpop_jkt`,
//! replay, `htu`, refresh token binding, the server nonce), `/userinfo` with DPoP-bound
//! tokens, CORS and discovery. Proofs are made with `dpop::Signer`, timed by the tenant's
//! clock.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use dev_tenant::dpop::NONCE_PERIOD_SECS;
use dev_tenant::{Clock, Settings};
use dpop::Signer;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

const ALICE: (&str, &str) = ("alice@example.com", "alice-password-1");
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const OFFLINE_SCOPES: &str =
    "openid profile email offline_access read:appointments create:appointments";
const ORIGIN: &str = "http://localhost:8080";

/// A tenant with a clock the test keeps; `require_nonce` as `--require-dpop-nonce`. The
/// clock starts a second into a nonce window, so that no test crosses into the next one
/// unless it advances the clock itself.
async fn start_dpop(require_nonce: bool) -> (Tenant, Clock) {
    let clock = Clock::default();
    let into_window = clock.unix_now() % NONCE_PERIOD_SECS;
    clock.advance(Duration::from_secs(NONCE_PERIOD_SECS - into_window + 1));
    let c = clock.clone();
    let t = start_with(move |issuer| {
        let mut s = Settings::demo(issuer).unwrap();
        s.clock = c;
        s.require_dpop_nonce = require_nonce;
        s
    })
    .await;
    (t, clock)
}

/// A code-flow authorization request, with `overrides` as in [`params`].
fn code_params(overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![
        ("response_type", "code"),
        ("scope", OFFLINE_SCOPES),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    all.extend_from_slice(overrides);
    params(&all)
}

/// The decoded query of a redirect to the callback.
fn query(location: &str) -> HashMap<String, String> {
    let (base, q) = location.split_once('?').expect("a query");
    assert_eq!(base, CALLBACK);
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Signs Alice in with `overrides` and accepts consent: a code.
async fn code(t: &Tenant, overrides: &[(&str, &str)]) -> String {
    let (tx, jar) = t
        .to_consent(&code_params(overrides), ALICE.0, ALICE.1)
        .await;
    let resp = t.decide(&tx, &jar, "accept").await;
    assert_eq!(resp.status(), 302);
    let q = query(&location(&resp).unwrap());
    q.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("a code: {q:?}"))
}

/// `POST /oauth/token` with `form` and each of `proofs` as a `DPoP` header.
async fn token_request(t: &Tenant, form: &[(&str, &str)], proofs: &[&str]) -> reqwest::Response {
    let mut req = t.http.post(t.url("oauth/token")).form(form);
    for p in proofs {
        req = req.header("dpop", *p);
    }
    req.send().await.unwrap()
}

async fn redeem(t: &Tenant, code: &str, proofs: &[&str]) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CALLBACK),
        ("client_id", CLIENT),
    ];
    token_request(t, &form, proofs).await
}

async fn refresh(t: &Tenant, refresh_token: &str, proofs: &[&str]) -> reqwest::Response {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT),
    ];
    token_request(t, &form, proofs).await
}

/// A proof by `signer` for the token endpoint, at the tenant's time.
fn token_proof(t: &Tenant, clock: &Clock, signer: &Signer, nonce: Option<&str>) -> String {
    signer.proof("POST", &t.url("oauth/token"), clock.unix_now(), None, nonce)
}

/// A 200 token answer's JSON, checking its `token_type`.
async fn tokens(resp: reqwest::Response, token_type: &str) -> Value {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], token_type, "{v}");
    v
}

/// Asserts an OAuth JSON error with `status` and `error`; returns the description.
async fn oauth_error(resp: reqwest::Response, status: u16, error: &str) -> String {
    assert_eq!(resp.status(), status);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], error, "{v}");
    v["error_description"]
        .as_str()
        .expect("a description")
        .to_string()
}

/// The verified claims of an access token of `t`.
async fn access_claims(t: &Tenant, token: &str) -> Value {
    let kid = decode_header(token).unwrap().kid.expect("a kid");
    let jwks = t.jwks().await;
    let key = DecodingKey::from_jwk(jwks.find(&kid).expect("published")).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&t.base]);
    v.set_audience(&[AUDIENCE]);
    decode::<Value>(token, &key, &v).unwrap().claims
}

fn text(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {v}"))
        .to_string()
}

#[tokio::test]
async fn a_proof_binds_the_access_token_and_without_one_it_stays_bearer() {
    let (t, clock) = start_dpop(false).await;
    let signer = Signer::generate();

    let c = code(&t, &[]).await;
    let resp = redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await;
    assert!(
        resp.headers().get("dpop-nonce").is_none(),
        "no nonces unless required"
    );
    let v = tokens(resp, "DPoP").await;
    let claims = access_claims(&t, &text(&v, "access_token")).await;
    assert_eq!(claims["cnf"], json!({ "jkt": signer.jkt() }));
    assert!(v["refresh_token"].is_string());

    let c = code(&t, &[]).await;
    let v = tokens(redeem(&t, &c, &[]).await, "Bearer").await;
    let claims = access_claims(&t, &text(&v, "access_token")).await;
    assert!(claims.get("cnf").is_none(), "{claims}");
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_the_key() {
    let (t, clock) = start_dpop(false).await;
    let signer = Signer::generate();
    let other = Signer::generate();
    let jkt = signer.jkt();

    // Another key's proof: refused, and the code is spent.
    let c = code(&t, &[("dpop_jkt", &jkt)]).await;
    let d = oauth_error(
        redeem(&t, &c, &[&token_proof(&t, &clock, &other, None)]).await,
        403,
        "invalid_grant",
    )
    .await;
    assert!(d.contains("dpop_jkt"), "{d}");
    oauth_error(
        redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await,
        403,
        "invalid_grant",
    )
    .await;

    // No proof at all: refused.
    let c = code(&t, &[("dpop_jkt", &jkt)]).await;
    let d = oauth_error(redeem(&t, &c, &[]).await, 403, "invalid_grant").await;
    assert!(d.contains("DPoP proof"), "{d}");

    // The named key: bound tokens.
    let c = code(&t, &[("dpop_jkt", &jkt)]).await;
    let v = tokens(
        redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await,
        "DPoP",
    )
    .await;
    let claims = access_claims(&t, &text(&v, "access_token")).await;
    assert_eq!(claims["cnf"]["jkt"], jkt.as_str());

    // A malformed dpop_jkt, or one with the implicit grant, is invalid_request.
    let resp = t
        .authorize(&code_params(&[("dpop_jkt", "not-a-thumbprint")]))
        .await;
    let q = query(&location(&resp).unwrap());
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("dpop_jkt"), "{q:?}");
    let resp = t.authorize(&params(&[("dpop_jkt", &jkt)])).await;
    let (_, f) = fragment(&location(&resp).unwrap());
    assert_eq!(f["error"], "invalid_request");
}

#[tokio::test]
async fn bad_proofs_are_invalid_dpop_proof_and_spend_nothing() {
    let (t, clock) = start_dpop(false).await;
    let signer = Signer::generate();
    let now = clock.unix_now();
    let token_url = t.url("oauth/token");
    let c = code(&t, &[]).await;

    let good = token_proof(&t, &clock, &signer, None);
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": signer.jwk() });
    let claims = |htu: &str, iat: u64| json!({ "htm": "POST", "htu": htu, "iat": iat, "jti": format!("j-{htu}-{iat}") });
    let bad: Vec<(&str, Vec<String>)> = vec![
        (
            "another URL (htu)",
            vec![signer.proof("POST", &t.url("userinfo"), now, None, None)],
        ),
        (
            "another method (htm)",
            vec![signer.proof("GET", &token_url, now, None, None)],
        ),
        (
            "too old",
            vec![signer.sign(&header, &claims(&token_url, now - 3600))],
        ),
        (
            "typ JWT",
            vec![signer.sign(
                &json!({ "typ": "JWT", "alg": "ES256", "jwk": signer.jwk() }),
                &claims(&token_url, now),
            )],
        ),
        ("not a JWT", vec!["nonsense".into()]),
        ("two headers", vec![good.clone(), good.clone()]),
    ];
    for (why, proofs) in &bad {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let resp = redeem(&t, &c, &proofs).await;
        assert_eq!(resp.status(), 400, "{why}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "invalid_dpop_proof", "{why}: {v}");
    }

    // None of those spent the code: the good proof redeems it.
    let v = tokens(redeem(&t, &c, &[&good]).await, "DPoP").await;
    let refresh_token = text(&v, "refresh_token");

    // The same proof again (here with the refresh token): a replay. The token still works.
    let d = oauth_error(
        refresh(&t, &refresh_token, &[&good]).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    assert!(d.contains("jti"), "{d}");
    tokens(
        refresh(
            &t,
            &refresh_token,
            &[&token_proof(&t, &clock, &signer, None)],
        )
        .await,
        "DPoP",
    )
    .await;
}

#[tokio::test]
async fn bound_refresh_tokens_need_a_proof_by_the_same_key() {
    let (t, clock) = start_dpop(false).await;
    let signer = Signer::generate();
    let other = Signer::generate();
    let c = code(&t, &[]).await;
    let v = tokens(
        redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await,
        "DPoP",
    )
    .await;
    let first = text(&v, "refresh_token");

    // Same key: rotation works, the new access token is bound too.
    let v = tokens(
        refresh(&t, &first, &[&token_proof(&t, &clock, &signer, None)]).await,
        "DPoP",
    )
    .await;
    let second = text(&v, "refresh_token");
    assert_ne!(second, first);
    let claims = access_claims(&t, &text(&v, "access_token")).await;
    assert_eq!(claims["cnf"]["jkt"], signer.jkt().as_str());

    // Another key, or none: refused, and the token is neither spent nor revoked.
    let d = oauth_error(
        refresh(&t, &second, &[&token_proof(&t, &clock, &other, None)]).await,
        403,
        "invalid_grant",
    )
    .await;
    assert!(d.contains("another DPoP key"), "{d}");
    let d = oauth_error(refresh(&t, &second, &[]).await, 403, "invalid_grant").await;
    assert!(d.contains("DPoP proof"), "{d}");
    // The retired first token with another key does not revoke the family either.
    oauth_error(
        refresh(&t, &first, &[&token_proof(&t, &clock, &other, None)]).await,
        403,
        "invalid_grant",
    )
    .await;

    // The rotated token keeps the binding.
    let v = tokens(
        refresh(&t, &second, &[&token_proof(&t, &clock, &signer, None)]).await,
        "DPoP",
    )
    .await;
    let third = text(&v, "refresh_token");
    oauth_error(refresh(&t, &third, &[]).await, 403, "invalid_grant").await;

    // An unbound family stays Bearer without proofs.
    let c = code(&t, &[]).await;
    let v = tokens(redeem(&t, &c, &[]).await, "Bearer").await;
    tokens(refresh(&t, &text(&v, "refresh_token"), &[]).await, "Bearer").await;
}

#[tokio::test]
async fn with_require_dpop_nonce_the_client_retries_with_the_servers_nonce() {
    let (t, clock) = start_dpop(true).await;
    let signer = Signer::generate();
    let c = code(&t, &[]).await;

    // First attempt without a nonce: use_dpop_nonce, a nonce to use, the code unspent.
    let resp = redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await;
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let d = oauth_error(resp, 400, "use_dpop_nonce").await;
    assert!(d.contains("nonce"), "{d}");

    // A made-up nonce: the same.
    let resp = redeem(
        &t,
        &c,
        &[&token_proof(&t, &clock, &signer, Some("made-up"))],
    )
    .await;
    assert_eq!(resp.headers()["dpop-nonce"], nonce.as_str());
    oauth_error(resp, 400, "use_dpop_nonce").await;

    // The retry with it succeeds, and the answer carries the nonce for next time.
    let resp = redeem(&t, &c, &[&token_proof(&t, &clock, &signer, Some(&nonce))]).await;
    assert_eq!(resp.headers()["dpop-nonce"], nonce.as_str());
    let v = tokens(resp, "DPoP").await;
    let mut refresh_token = text(&v, "refresh_token");

    // One window later the nonce is the previous one: still accepted; the answer offers
    // the new one.
    clock.advance(Duration::from_secs(NONCE_PERIOD_SECS));
    let resp = refresh(
        &t,
        &refresh_token,
        &[&token_proof(&t, &clock, &signer, Some(&nonce))],
    )
    .await;
    let newer = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_ne!(newer, nonce, "nonces rotate");
    refresh_token = text(&tokens(resp, "DPoP").await, "refresh_token");

    // Two windows later it is refused, with a fresh one to retry with.
    clock.advance(Duration::from_secs(NONCE_PERIOD_SECS));
    let resp = refresh(
        &t,
        &refresh_token,
        &[&token_proof(&t, &clock, &signer, Some(&nonce))],
    )
    .await;
    let fresh = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    oauth_error(resp, 400, "use_dpop_nonce").await;
    tokens(
        refresh(
            &t,
            &refresh_token,
            &[&token_proof(&t, &clock, &signer, Some(&fresh))],
        )
        .await,
        "DPoP",
    )
    .await;

    // Requests without DPoP are not asked for a nonce.
    let c = code(&t, &[]).await;
    let resp = redeem(&t, &c, &[]).await;
    assert!(resp.headers().get("dpop-nonce").is_none());
    tokens(resp, "Bearer").await;
}

/// `method /userinfo` with `authorization` and each of `proofs` as a `DPoP` header.
async fn userinfo(
    t: &Tenant,
    method: reqwest::Method,
    authorization: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut req = t
        .http
        .request(method, t.url("userinfo"))
        .header("authorization", authorization);
    for p in proofs {
        req = req.header("dpop", *p);
    }
    req.send().await.unwrap()
}

/// Asserts a 401 whose first challenge is `challenge_start`, with `error` in the body.
async fn refused(resp: reqwest::Response, challenge_start: &str, error: &str) -> String {
    assert_eq!(resp.status(), 401);
    let challenges: Vec<String> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        challenges[0].starts_with(challenge_start),
        "{challenges:?} should start with {challenge_start}"
    );
    assert!(
        challenges[0].contains(&format!("error=\"{error}\"")),
        "{challenges:?}"
    );
    assert_eq!(challenges.len(), 2, "the other scheme is offered too");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], error);
    challenges[0].clone()
}

#[tokio::test]
async fn userinfo_takes_bound_tokens_with_proofs_only() {
    use reqwest::Method;
    let (t, clock) = start_dpop(false).await;
    let signer = Signer::generate();
    let other = Signer::generate();
    let url = t.url("userinfo");
    let c = code(&t, &[]).await;
    let v = tokens(
        redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await,
        "DPoP",
    )
    .await;
    let at = text(&v, "access_token");
    let dpop_auth = format!("DPoP {at}");
    let proof = |s: &Signer, htm: &str, token: &str| {
        s.proof(htm, &url, clock.unix_now(), Some(token), None)
    };

    // GET and POST, each with its own proof.
    for method in [Method::GET, Method::POST] {
        let p = proof(&signer, method.as_str(), &at);
        let resp = userinfo(&t, method, &dpop_auth, &[&p]).await;
        assert_eq!(resp.status(), 200);
        let u: Value = resp.json().await.unwrap();
        assert_eq!(u["sub"], "auth0|alice");
    }

    // The bound token as a bearer token: refused.
    let www = refused(
        userinfo(&t, Method::GET, &format!("Bearer {at}"), &[]).await,
        "Bearer",
        "invalid_token",
    )
    .await;
    assert!(www.contains("DPoP"), "{www}");

    // ath of another token, no proof, a proof by another key, a replayed proof.
    let wrong_ath = proof(&signer, "GET", "another-token");
    let www = refused(
        userinfo(&t, Method::GET, &dpop_auth, &[&wrong_ath]).await,
        "DPoP",
        "invalid_dpop_proof",
    )
    .await;
    assert!(www.contains("algs=\"ES256\""), "{www}");
    refused(
        userinfo(&t, Method::GET, &dpop_auth, &[]).await,
        "DPoP",
        "invalid_dpop_proof",
    )
    .await;
    refused(
        userinfo(&t, Method::GET, &dpop_auth, &[&proof(&other, "GET", &at)]).await,
        "DPoP",
        "invalid_token",
    )
    .await;
    let once = proof(&signer, "GET", &at);
    assert_eq!(
        userinfo(&t, Method::GET, &dpop_auth, &[&once])
            .await
            .status(),
        200
    );
    refused(
        userinfo(&t, Method::GET, &dpop_auth, &[&once]).await,
        "DPoP",
        "invalid_dpop_proof",
    )
    .await;

    // An unbound token sent with the DPoP scheme: refused; as Bearer it works.
    let c = code(&t, &[]).await;
    let bearer = text(
        &tokens(redeem(&t, &c, &[]).await, "Bearer").await,
        "access_token",
    );
    refused(
        userinfo(
            &t,
            Method::GET,
            &format!("DPoP {bearer}"),
            &[&proof(&signer, "GET", &bearer)],
        )
        .await,
        "DPoP",
        "invalid_token",
    )
    .await;
    let resp = userinfo(&t, Method::GET, &format!("Bearer {bearer}"), &[]).await;
    assert_eq!(resp.status(), 200);

    // An opaque token (no audience) issued for a proof is bound as well.
    let c = code(&t, &[("audience", ""), ("scope", "openid profile")]).await;
    let v = tokens(
        redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await,
        "DPoP",
    )
    .await;
    let opaque = text(&v, "access_token");
    assert!(!opaque.contains('.'));
    refused(
        userinfo(&t, Method::GET, &format!("Bearer {opaque}"), &[]).await,
        "Bearer",
        "invalid_token",
    )
    .await;
    let p = proof(&signer, "GET", &opaque);
    let resp = userinfo(&t, Method::GET, &format!("DPoP {opaque}"), &[&p]).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn userinfo_asks_for_the_nonce_with_a_dpop_challenge() {
    let (t, clock) = start_dpop(true).await;
    let signer = Signer::generate();
    let c = code(&t, &[]).await;
    let first = redeem(&t, &c, &[&token_proof(&t, &clock, &signer, None)]).await;
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let v = tokens(
        redeem(&t, &c, &[&token_proof(&t, &clock, &signer, Some(&nonce))]).await,
        "DPoP",
    )
    .await;
    let at = text(&v, "access_token");
    let url = t.url("userinfo");
    let auth = format!("DPoP {at}");

    // The tenant's nonce serves at userinfo too; without one: 401 use_dpop_nonce.
    let p = signer.proof("GET", &url, clock.unix_now(), Some(&at), None);
    let resp = userinfo(&t, reqwest::Method::GET, &auth, &[&p]).await;
    let offered = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_eq!(offered, nonce);
    refused(resp, "DPoP", "use_dpop_nonce").await;

    let p = signer.proof("GET", &url, clock.unix_now(), Some(&at), Some(&offered));
    let resp = userinfo(&t, reqwest::Method::GET, &auth, &[&p]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["dpop-nonce"], offered.as_str());
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn cors_allows_the_dpop_header_and_exposes_the_nonce() {
    let (t, clock) = start_dpop(true).await;
    for path in ["oauth/token", "oauth/revoke", "userinfo"] {
        let method = if path == "userinfo" { "GET" } else { "POST" };
        let resp = t
            .http
            .request(reqwest::Method::OPTIONS, t.url(path))
            .header("origin", ORIGIN)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type,dpop")
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}");
        let allowed = resp.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("dpop"), "{path}: {allowed}");
    }

    // A token request from the SPA's origin can read DPoP-Nonce.
    let signer = Signer::generate();
    let c = code(&t, &[]).await;
    let resp = t
        .http
        .post(t.url("oauth/token"))
        .header("origin", ORIGIN)
        .header("dpop", token_proof(&t, &clock, &signer, None))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", c.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
            ("client_id", CLIENT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
    assert!(resp.headers().contains_key("dpop-nonce"));
    oauth_error(resp, 400, "use_dpop_nonce").await;

    // /userinfo exposes WWW-Authenticate and DPoP-Nonce.
    let resp = t
        .http
        .get(t.url("userinfo"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    let exposed = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}

#[tokio::test]
async fn discovery_lists_the_dpop_algorithm() {
    let t = start().await;
    let d: Value = t
        .http
        .get(t.url(".well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["dpop_signing_alg_values_supported"], json!(["ES256"]));
}
