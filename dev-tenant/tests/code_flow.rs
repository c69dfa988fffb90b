//! The authorization code flow with PKCE, the token endpoint (codes and refresh tokens
//! with rotation), revocation, CORS, discovery and the session cookie, at the protocol
//! level.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use common::*;
use dev_tenant::config::{Api, Client, TenantConfig};
use dev_tenant::{Clock, Fault, Settings};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

const ALICE: (&str, &str) = ("alice@example.com", "alice-password-1");
const STATE: &str = "st 1&x=y";
const NONCE: &str = "n-0S6_WzA2Mj";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const OFFLINE_SCOPES: &str =
    "openid profile email offline_access read:appointments create:appointments";
const ORIGIN: &str = "http://localhost:8080";

fn challenge_of(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
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

/// Splits `callback?a=b&..` into the part before `?` and the decoded query.
fn query(location: &str) -> (String, HashMap<String, String>) {
    assert!(!location.contains('#'), "no fragment: {location}");
    let (base, q) = location.split_once('?').expect("a query");
    let map = url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (base.to_string(), map)
}

/// The demo tenant with `edit` applied and a clock the test can move.
async fn start_edited(edit: impl FnOnce(&mut Settings)) -> (Tenant, Clock) {
    let clock = Clock::default();
    let c = clock.clone();
    let t = start_with(move |issuer| {
        let mut s = Settings::demo(issuer).unwrap();
        s.clock = c;
        edit(&mut s);
        s
    })
    .await;
    (t, clock)
}

/// A second client, `other-spa`, with the same callback and the given grant types.
fn other_client(id: &str, grant_types: &[&str]) -> Client {
    Client {
        client_id: id.into(),
        name: format!("{id} app"),
        callbacks: vec![CALLBACK.into()],
        logout_urls: vec![],
        web_origins: vec!["http://localhost:9090".into()],
        grant_types: grant_types.iter().map(|g| g.to_string()).collect(),
    }
}

/// Signs Alice in with `params` from a fresh browser and accepts consent; the callback
/// query and the browser's cookies.
async fn sign_in_code(
    t: &Tenant,
    params: &[(String, String)],
) -> (HashMap<String, String>, String) {
    let (tx, jar) = t.to_consent(params, ALICE.0, ALICE.1).await;
    let resp = t.decide(&tx, &jar, "accept").await;
    assert_eq!(resp.status(), 302);
    let (base, q) = query(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    (q, jar)
}

/// A fresh code, silently, for a browser already signed in and consented (`jar`).
async fn silent_code(t: &Tenant, jar: &str, overrides: &[(&str, &str)]) -> String {
    let mut all = vec![("prompt", "none")];
    all.extend_from_slice(overrides);
    let path = format!(
        "authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(code_params(&all))
            .finish()
    );
    let resp = t.get_with(&path, jar).await;
    assert_eq!(resp.status(), 302);
    let (_, q) = query(&location(&resp).unwrap());
    assert_eq!(q.get("state").map(String::as_str), Some(STATE), "{q:?}");
    q.get("code")
        .cloned()
        .unwrap_or_else(|| panic!("a code: {q:?}"))
}

async fn post(
    t: &Tenant,
    path: &str,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = t.http.post(t.url(path)).form(form);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

/// `POST /oauth/token` for `code` with the demo client, the callback and `verifier`.
async fn redeem(t: &Tenant, code: &str, verifier: &str) -> reqwest::Response {
    redeem_as(t, code, verifier, CLIENT, CALLBACK).await
}

async fn redeem_as(
    t: &Tenant,
    code: &str,
    verifier: &str,
    client: &str,
    redirect_uri: &str,
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", redirect_uri),
        ("client_id", client),
    ];
    post(t, "oauth/token", &form, None).await
}

async fn refresh(t: &Tenant, refresh_token: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    post(t, "oauth/token", &form, None).await
}

/// A 200 token answer's JSON, after checking its caching headers.
async fn tokens(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    v
}

/// Asserts an OAuth JSON error with `status` and `error`; returns the description.
async fn oauth_error(resp: reqwest::Response, status: u16, error: &str) -> String {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], error, "{v}");
    v["error_description"]
        .as_str()
        .expect("a description")
        .to_string()
}

/// The verified claims of a token of `t` for audience `aud`.
async fn verified(t: &Tenant, token: &str, aud: &str) -> Value {
    let kid = decode_header(token).unwrap().kid.expect("a kid");
    let jwks = t.jwks().await;
    let key = DecodingKey::from_jwk(jwks.find(&kid).expect("published")).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[&t.base]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    decode::<Value>(token, &key, &v).unwrap().claims
}

#[tokio::test]
async fn happy_path_code_refresh_rotation_revoke() {
    let t = start().await;
    let (q, jar) = sign_in_code(&t, &code_params(&[])).await;
    assert_eq!(q["state"], STATE);
    assert_eq!(q.len(), 2, "code and state only: {q:?}");
    let code = &q["code"];

    let v = tokens(redeem(&t, code, VERIFIER).await).await;
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["scope"], OFFLINE_SCOPES);
    let access = verified(&t, v["access_token"].as_str().unwrap(), AUDIENCE).await;
    assert_eq!(access["sub"], "auth0|alice");
    assert_eq!(access["azp"], CLIENT);
    assert_eq!(access["scope"], OFFLINE_SCOPES);
    assert_eq!(
        access["permissions"],
        json!(["read:appointments", "create:appointments"])
    );
    let id = verified(&t, v["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(id["sub"], "auth0|alice");
    assert_eq!(id["nonce"], NONCE);
    assert_eq!(id["email"], "alice@example.com");
    assert!(id.get("at_hash").is_none(), "as Auth0: no at_hash here");
    let sid = id["sid"].as_str().expect("a sid").to_string();
    let first = v["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();

    // Refresh: a new refresh token, a new ID token of the same session without nonce.
    let v = tokens(refresh(&t, &first, None).await).await;
    let second = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first, "rotated");
    assert_eq!(v["scope"], OFFLINE_SCOPES);
    let id = verified(&t, v["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(
        (id["sub"].as_str(), id["sid"].as_str()),
        (Some("auth0|alice"), Some(sid.as_str()))
    );
    assert!(id.get("nonce").is_none());
    assert!(id.get("at_hash").is_none());
    verified(&t, v["access_token"].as_str().unwrap(), AUDIENCE).await;

    // The rotated token works again (JSON body this time), and a scope subset narrows the
    // access token only.
    let resp = t
        .http
        .post(t.url("oauth/token"))
        .json(
            &json!({"grant_type": "refresh_token", "refresh_token": second,
                      "client_id": CLIENT, "scope": "openid read:appointments"}),
        )
        .send()
        .await
        .unwrap();
    let v = tokens(resp).await;
    assert_eq!(v["scope"], "openid read:appointments");
    let access = verified(&t, v["access_token"].as_str().unwrap(), AUDIENCE).await;
    assert_eq!(access["permissions"], json!(["read:appointments"]));
    let third = v["refresh_token"].as_str().unwrap().to_string();
    let v = tokens(refresh(&t, &third, None).await).await;
    assert_eq!(
        v["scope"], OFFLINE_SCOPES,
        "the family keeps what was granted"
    );
    let fourth = v["refresh_token"].as_str().unwrap().to_string();
    // A scope never granted is refused, and the token stays usable.
    let d = oauth_error(
        refresh(&t, &fourth, Some("openid delete:everything")).await,
        400,
        "invalid_scope",
    )
    .await;
    assert!(d.contains("delete:everything"), "{d}");

    // Logging out of the tenant does not revoke refresh tokens (as at Auth0).
    let resp = t.get_with("v2/logout", &jar).await;
    assert_eq!(resp.status(), 200);

    // Revoke: 200, empty body; the family is gone.
    let resp = post(
        &t,
        "oauth/revoke",
        &[("token", &fourth), ("client_id", CLIENT)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
    let d = oauth_error(refresh(&t, &fourth, None).await, 403, "invalid_grant").await;
    assert_eq!(d, "Unknown or invalid refresh token.");
}

#[tokio::test]
async fn pkce_is_required_and_s256_only() {
    let t = start().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("code_challenge", "")], "code_challenge"),
        (&[("code_challenge_method", "plain")], "S256"),
        (&[("code_challenge_method", "")], "S256"),
        (&[("code_challenge", "too-short")], "43"),
        (&[("code_challenge", &"A".repeat(44))], "43"),
    ];
    for (overrides, says) in cases {
        let resp = t.authorize(&code_params(overrides)).await;
        assert_eq!(resp.status(), 302, "{overrides:?}");
        let (base, q) = query(&location(&resp).unwrap());
        assert_eq!(base, CALLBACK);
        assert_eq!(q["error"], "invalid_request", "{overrides:?}");
        assert!(q["error_description"].contains(says), "{q:?}");
        assert_eq!(q["state"], STATE);
        assert!(!q.contains_key("code"));
    }
    // response_mode=fragment moves errors (and codes) to the fragment.
    let resp = t
        .authorize(&code_params(&[
            ("code_challenge", ""),
            ("response_mode", "fragment"),
        ]))
        .await;
    let (_, f) = fragment(&location(&resp).unwrap());
    assert_eq!(f["error"], "invalid_request");
    // An unknown response_mode is an error in the query.
    let resp = t
        .authorize(&code_params(&[("response_mode", "form_post")]))
        .await;
    let (_, q) = query(&location(&resp).unwrap());
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("form_post"));
    // nonce is optional in the code flow.
    let resp = t.authorize(&code_params(&[("nonce", "")])).await;
    assert_eq!(resp.status(), 200, "the login form");
}

#[tokio::test]
async fn code_in_fragment_and_silent_renewal() {
    let t = start().await;
    // Without a session, prompt=none answers login_required in the query.
    let resp = t.authorize(&code_params(&[("prompt", "none")])).await;
    let (_, q) = query(&location(&resp).unwrap());
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], STATE);

    let (_, jar) = sign_in_code(&t, &code_params(&[("scope", "openid profile")])).await;
    // Silent: a code at once; offline_access was never consented to: consent_required.
    let code = silent_code(&t, &jar, &[("scope", "openid profile")]).await;
    let v = tokens(redeem(&t, &code, VERIFIER).await).await;
    assert!(
        v.get("refresh_token").is_none(),
        "no offline_access asked for"
    );
    assert!(v.get("id_token").is_some());
    let resp = t
        .get_with(
            &format!(
                "authorize?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(code_params(&[("prompt", "none")]))
                    .finish()
            ),
            &jar,
        )
        .await;
    let (_, q) = query(&location(&resp).unwrap());
    assert_eq!(q["error"], "consent_required");

    // response_mode=fragment: the code in the fragment.
    let path = format!(
        "authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(code_params(&[
                ("prompt", "none"),
                ("scope", "openid"),
                ("response_mode", "fragment"),
            ]))
            .finish()
    );
    let resp = t.get_with(&path, &jar).await;
    let (base, f) = fragment(&location(&resp).unwrap());
    assert_eq!(base, CALLBACK);
    assert_eq!(f["state"], STATE);
    tokens(redeem(&t, &f["code"], VERIFIER).await).await;
}

#[tokio::test]
async fn verifier_checks() {
    let t = start().await;
    let (q, jar) = sign_in_code(&t, &code_params(&[])).await;
    let code = &q["code"];
    // Malformed verifiers are refused before the code is looked at: it stays good.
    for bad in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+/", "a".repeat(41)),
    ] {
        let d = oauth_error(redeem(&t, code, &bad).await, 400, "invalid_request").await;
        assert!(d.contains("code_verifier"), "{d}");
    }
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("client_id", CLIENT),
    ];
    let d = oauth_error(
        post(&t, "oauth/token", &form, None).await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(d, "Missing required parameter: code_verifier");
    tokens(redeem(&t, code, VERIFIER).await).await;

    // A well-formed wrong verifier: invalid_grant, and the code is spent.
    let code = silent_code(&t, &jar, &[]).await;
    let d = oauth_error(
        redeem(&t, &code, &"b".repeat(43)).await,
        403,
        "invalid_grant",
    )
    .await;
    assert_eq!(d, "Failed to verify code verifier");
    oauth_error(redeem(&t, &code, VERIFIER).await, 403, "invalid_grant").await;

    // Any verifier of the allowed alphabet and length works with its own challenge.
    let verifier = "A-._~z09".repeat(16);
    let challenge = challenge_of(&verifier);
    let code = silent_code(&t, &jar, &[("code_challenge", &challenge)]).await;
    tokens(redeem(&t, &code, &verifier).await).await;
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_gave() {
    let t = start().await;
    let (q, _) = sign_in_code(&t, &code_params(&[])).await;
    let v = tokens(redeem(&t, &q["code"], VERIFIER).await).await;
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    let d = oauth_error(redeem(&t, &q["code"], VERIFIER).await, 403, "invalid_grant").await;
    assert_eq!(d, "Invalid authorization code");
    oauth_error(refresh(&t, &rt, None).await, 403, "invalid_grant").await;
    // Made-up codes too.
    oauth_error(redeem(&t, "made-up", VERIFIER).await, 403, "invalid_grant").await;
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let (t, _) = start_edited(|s| {
        s.tenant
            .clients
            .push(other_client("other-spa", &["authorization_code"]));
        s.tenant.clients[0]
            .callbacks
            .push("http://localhost:8080/other-callback".into());
    })
    .await;
    let (q, jar) = sign_in_code(&t, &code_params(&[])).await;
    oauth_error(
        redeem_as(&t, &q["code"], VERIFIER, "other-spa", CALLBACK).await,
        403,
        "invalid_grant",
    )
    .await;
    oauth_error(redeem(&t, &q["code"], VERIFIER).await, 403, "invalid_grant").await;
    let code = silent_code(&t, &jar, &[]).await;
    let d = oauth_error(
        redeem_as(
            &t,
            &code,
            VERIFIER,
            CLIENT,
            "http://localhost:8080/other-callback",
        )
        .await,
        403,
        "invalid_grant",
    )
    .await;
    assert!(d.contains("redirect_uri"), "{d}");
}

#[tokio::test]
async fn codes_expire() {
    let (t, clock) = start_edited(|s| s.code_lifetime = 5).await;
    let (q, jar) = sign_in_code(&t, &code_params(&[])).await;
    clock.advance(Duration::from_secs(5));
    oauth_error(redeem(&t, &q["code"], VERIFIER).await, 403, "invalid_grant").await;
    let code = silent_code(&t, &jar, &[]).await;
    clock.advance(Duration::from_secs(4));
    tokens(redeem(&t, &code, VERIFIER).await).await;

    // The default lifetime is 60 s.
    let (t, clock) = start_edited(|_| {}).await;
    let (q, jar) = sign_in_code(&t, &code_params(&[])).await;
    clock.advance(Duration::from_secs(59));
    tokens(redeem(&t, &q["code"], VERIFIER).await).await;
    let code = silent_code(&t, &jar, &[]).await;
    clock.advance(Duration::from_secs(60));
    oauth_error(redeem(&t, &code, VERIFIER).await, 403, "invalid_grant").await;
}

/// Signs in and redeems; the first refresh token.
async fn first_refresh_token(t: &Tenant) -> String {
    let (q, _) = sign_in_code(t, &code_params(&[])).await;
    let v = tokens(redeem(t, &q["code"], VERIFIER).await).await;
    v["refresh_token"].as_str().unwrap().to_string()
}

async fn rotate(t: &Tenant, token: &str) -> String {
    let v = tokens(refresh(t, token, None).await).await;
    v["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let t = start().await;
    let first = first_refresh_token(&t).await;
    let second = rotate(&t, &first).await;
    let third = rotate(&t, &second).await;
    // Another sign-in's family is not affected.
    let other = first_refresh_token(&t).await;
    let d = oauth_error(refresh(&t, &first, None).await, 403, "invalid_grant").await;
    assert_eq!(d, "Unknown or invalid refresh token.");
    oauth_error(refresh(&t, &third, None).await, 403, "invalid_grant").await;
    oauth_error(refresh(&t, &second, None).await, 403, "invalid_grant").await;
    rotate(&t, &other).await;
    // Tokens that are not ours, or of another client.
    oauth_error(
        refresh(&t, "made.up.token", None).await,
        403,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn refresh_tokens_expire_idle_and_absolute() {
    let (t, clock) = start_edited(|s| {
        s.refresh_token_lifetime = 100;
        s.refresh_token_idle = 30;
    })
    .await;
    // Idle: each use restarts the 30 s.
    let mut token = first_refresh_token(&t).await;
    for _ in 0..2 {
        clock.advance(Duration::from_secs(29));
        token = rotate(&t, &token).await;
    }
    clock.advance(Duration::from_secs(30));
    oauth_error(refresh(&t, &token, None).await, 403, "invalid_grant").await;

    // Absolute: 100 s from sign-in, however often it is used.
    let mut token = first_refresh_token(&t).await;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(25));
        token = rotate(&t, &token).await;
    }
    clock.advance(Duration::from_secs(24));
    token = rotate(&t, &token).await;
    clock.advance(Duration::from_secs(1));
    oauth_error(refresh(&t, &token, None).await, 403, "invalid_grant").await;
}

#[tokio::test]
async fn refresh_idle_expiry_on_the_real_clock() {
    let (t, _) = start_edited(|s| {
        s.refresh_token_lifetime = 60;
        s.refresh_token_idle = 1;
    })
    .await;
    let token = first_refresh_token(&t).await;
    let token = rotate(&t, &token).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    oauth_error(refresh(&t, &token, None).await, 403, "invalid_grant").await;
}

#[tokio::test]
async fn grants_the_client_lacks_are_unauthorized_client() {
    let (t, _) = start_edited(|s| {
        s.tenant
            .clients
            .push(other_client("implicit-only", &["implicit"]));
        s.tenant
            .clients
            .push(other_client("code-only", &["authorization_code"]));
    })
    .await;
    // /authorize: to the redirect URI with state, in the response type's mode.
    let resp = t
        .authorize(&code_params(&[("client_id", "implicit-only")]))
        .await;
    let (_, q) = query(&location(&resp).unwrap());
    assert_eq!(q["error"], "unauthorized_client");
    assert_eq!(q["state"], STATE);
    let resp = t.authorize(&params(&[("client_id", "code-only")])).await;
    let (_, f) = fragment(&location(&resp).unwrap());
    assert_eq!(f["error"], "unauthorized_client");
    assert_eq!(f["state"], STATE);
    // The implicit grant still works for the client that has it.
    assert_eq!(
        t.authorize(&params(&[("client_id", "implicit-only")]))
            .await
            .status(),
        200
    );

    // /oauth/token: JSON 403.
    let d = oauth_error(
        redeem_as(&t, "whatever", VERIFIER, "implicit-only", CALLBACK).await,
        403,
        "unauthorized_client",
    )
    .await;
    assert_eq!(
        d,
        "Grant type 'authorization_code' not allowed for the client."
    );

    // Without the refresh_token grant, offline_access gives no refresh token, and the
    // refresh grant is refused.
    let (q, _) = sign_in_code(&t, &code_params(&[("client_id", "code-only")])).await;
    let v = tokens(redeem_as(&t, &q["code"], VERIFIER, "code-only", CALLBACK).await).await;
    assert!(v.get("refresh_token").is_none(), "{v}");
    assert!(!v["scope"].as_str().unwrap().contains("offline_access"));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "x.0.y"),
        ("client_id", "code-only"),
    ];
    oauth_error(
        post(&t, "oauth/token", &form, None).await,
        403,
        "unauthorized_client",
    )
    .await;
}

#[tokio::test]
async fn offline_access_needs_the_api_to_allow_it() {
    let (t, _) = start_edited(|s| s.tenant.apis[0].allow_offline_access = false).await;
    let (q, _) = sign_in_code(&t, &code_params(&[])).await;
    let v = tokens(redeem(&t, &q["code"], VERIFIER).await).await;
    assert!(v.get("refresh_token").is_none(), "{v}");
    assert_eq!(
        v["scope"],
        "openid profile email read:appointments create:appointments"
    );

    // Without an audience there is no refresh token either.
    let t = start().await;
    let (q, _) = sign_in_code(&t, &code_params(&[("audience", "")])).await;
    let v = tokens(redeem(&t, &q["code"], VERIFIER).await).await;
    assert!(v.get("refresh_token").is_none(), "{v}");
    // The opaque access token is good for /userinfo.
    let resp = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(v["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The implicit grant ignores offline_access, as before.
    let f = t
        .sign_in(&params(&[("scope", OFFLINE_SCOPES)]), ALICE.0, ALICE.1)
        .await;
    assert_eq!(
        f["scope"],
        "openid profile email read:appointments create:appointments"
    );
    assert!(!f.contains_key("refresh_token"));
    assert!(f.contains_key("id_token") && f.contains_key("access_token"));
}

#[tokio::test]
async fn token_endpoint_errors() {
    let t = start().await;
    let d = oauth_error(
        post(&t, "oauth/token", &[("client_id", CLIENT)], None).await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(d, "Missing required parameter: grant_type");
    let form = [("grant_type", "password"), ("client_id", CLIENT)];
    let d = oauth_error(
        post(&t, "oauth/token", &form, None).await,
        400,
        "unsupported_grant_type",
    )
    .await;
    assert_eq!(d, "Unsupported grant type: password");
    let d = oauth_error(
        redeem_as(&t, "c", VERIFIER, "nobody", CALLBACK).await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(d, "Unknown client.");
    oauth_error(
        redeem_as(&t, "c", VERIFIER, "", CALLBACK).await,
        400,
        "invalid_request",
    )
    .await;
    let form = [("grant_type", "refresh_token"), ("client_id", CLIENT)];
    oauth_error(
        post(&t, "oauth/token", &form, None).await,
        400,
        "invalid_request",
    )
    .await;
    // Over-long values.
    let long = "x".repeat(300);
    oauth_error(redeem(&t, &long, VERIFIER).await, 400, "invalid_request").await;
    // JSON that is not an object of strings.
    for body in ["[1]", r#"{"grant_type": 5}"#, "not json"] {
        let resp = t
            .http
            .post(t.url("oauth/token"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        oauth_error(resp, 400, "invalid_request").await;
    }
    // Only POST.
    let resp = t.http.get(t.url("oauth/token")).send().await.unwrap();
    assert_eq!(resp.status(), 405);

    // Revocation.
    let resp = post(
        &t,
        "oauth/revoke",
        &[("token", "anything"), ("client_id", CLIENT)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
    let resp = post(
        &t,
        "oauth/revoke",
        &[("token", "anything"), ("client_id", "nobody")],
        None,
    )
    .await;
    oauth_error(resp, 401, "invalid_client").await;
    let resp = post(&t, "oauth/revoke", &[("client_id", CLIENT)], None).await;
    oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn revoking_needs_the_tokens_own_client_and_takes_the_family() {
    let (t, _) = start_edited(|s| {
        s.tenant.clients.push(other_client(
            "other-spa",
            &["authorization_code", "refresh_token"],
        ));
    })
    .await;
    let first = first_refresh_token(&t).await;
    let second = rotate(&t, &first).await;
    let resp = post(
        &t,
        "oauth/revoke",
        &[("token", &second), ("client_id", "other-spa")],
        None,
    )
    .await;
    assert_eq!(resp.status(), 200, "whatever the token");
    let third = rotate(&t, &second).await;
    // An older token of the family revokes it all.
    let resp = post(
        &t,
        "oauth/revoke",
        &[("token", &first), ("client_id", CLIENT)],
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    oauth_error(refresh(&t, &third, None).await, 403, "invalid_grant").await;
}

#[tokio::test]
async fn cors_allows_the_clients_web_origins_only() {
    let (t, _) = start_edited(|s| {
        s.tenant
            .clients
            .push(other_client("other-spa", &["authorization_code"]));
    })
    .await;
    // Preflight: any client's origin.
    for (origin, path) in [
        (ORIGIN, "oauth/token"),
        ("http://127.0.0.1:8080", "oauth/revoke"),
    ] {
        let resp = t
            .http
            .request(reqwest::Method::OPTIONS, t.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(resp.headers()["access-control-allow-origin"], origin);
        assert_eq!(resp.headers()["access-control-allow-methods"], "POST");
        assert!(resp.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("content-type"));
        assert!(resp
            .headers()
            .get("access-control-allow-credentials")
            .is_none());
    }
    let resp = t
        .http
        .request(reqwest::Method::OPTIONS, t.url("oauth/token"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // The token request: from the client's origin, readable (errors too).
    let (q, jar) = sign_in_code(&t, &code_params(&[])).await;
    let bad = [
        ("grant_type", "authorization_code"),
        ("code", "made-up"),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CALLBACK),
        ("client_id", CLIENT),
    ];
    let resp = post(&t, "oauth/token", &bad, Some(ORIGIN)).await;
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(resp.headers()["vary"], "Origin");
    oauth_error(resp, 403, "invalid_grant").await;
    // From an origin the client does not list (another client's, or a stranger's):
    // refused unread, and the code is not spent.
    let good = [
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CALLBACK),
        ("client_id", CLIENT),
    ];
    for origin in ["http://localhost:9090", "https://evil.example", "null"] {
        let resp = post(&t, "oauth/token", &good, Some(origin)).await;
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        let d = oauth_error(resp, 403, "access_denied").await;
        assert!(d.contains(origin), "{d}");
    }
    let resp = post(&t, "oauth/token", &good, Some(ORIGIN)).await;
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    let v = tokens(resp).await;
    let rt = v["refresh_token"].as_str().unwrap();
    // Revocation from a stranger is refused; from the client's origin it works.
    let form = [("token", rt), ("client_id", CLIENT)];
    let resp = post(&t, "oauth/revoke", &form, Some("https://evil.example")).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let resp = post(&t, "oauth/revoke", &form, Some(ORIGIN)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    oauth_error(refresh(&t, rt, None).await, 403, "invalid_grant").await;
    // An unknown client's error is readable from any client's origin.
    let resp = post(
        &t,
        "oauth/token",
        &[("grant_type", "refresh_token"), ("client_id", "nobody")],
        Some(ORIGIN),
    )
    .await;
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    oauth_error(resp, 401, "invalid_client").await;
    drop(jar);
}

#[tokio::test]
async fn discovery_names_the_code_flow() {
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
    assert_eq!(d["token_endpoint"], t.url("oauth/token").as_str());
    assert_eq!(d["revocation_endpoint"], t.url("oauth/revoke").as_str());
    assert_eq!(
        d["response_types_supported"],
        json!(["code", "token", "id_token", "id_token token"])
    );
    assert_eq!(d["response_modes_supported"], json!(["query", "fragment"]));
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "implicit", "refresh_token"])
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert!(d["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("offline_access")));
}

#[tokio::test]
async fn the_session_cookie_is_samesite_none_and_secure() {
    let t = start().await;
    let (tx, jar) = t.start_sign_in(&code_params(&[])).await;
    let resp = t.login(&tx, &jar, ALICE.0, ALICE.1).await;
    let cookie = set_cookie(&resp, "dev_tenant_session").expect("a session cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=None",
        "; Secure",
        "Path=/",
        "Max-Age=86400",
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("SameSite=Lax"), "{cookie}");
    // Logout expires it with the same attributes (a browser ignores it otherwise).
    let jar = jar_after(&jar, &resp);
    let resp = t.get_with("v2/logout", &jar).await;
    let cleared = set_cookie(&resp, "dev_tenant_session").expect("cleared");
    for attribute in ["SameSite=None", "; Secure", "Max-Age=0", "Path=/"] {
        assert!(
            cleared.contains(attribute),
            "{attribute} missing: {cleared}"
        );
    }
    // The browser cookie (login CSRF) stays SameSite=Lax.
    let resp = t.authorize(&code_params(&[])).await;
    let browser = set_cookie(&resp, "dev_tenant_browser").unwrap();
    assert!(browser.contains("SameSite=Lax"), "{browser}");
}

#[tokio::test]
async fn faults_reach_the_code_flow() {
    let faults = dev_tenant::FaultSwitch::default();
    let f = faults.clone();
    let t = start_with(move |issuer| {
        let mut s = Settings::demo(issuer).unwrap();
        s.faults = f;
        s
    })
    .await;
    let (_, jar) = sign_in_code(&t, &code_params(&[])).await;
    // wrong_state breaks the redirect carrying the code; the token answer is clean.
    faults.set_next(Fault::WrongState);
    let path = format!(
        "authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(code_params(&[("prompt", "none")]))
            .finish()
    );
    let resp = t.get_with(&path, &jar).await;
    let (_, q) = query(&location(&resp).unwrap());
    assert_eq!(q["state"], dev_tenant::faults::WRONG_STATE);
    assert_eq!(faults.pending(), None);
    tokens(redeem(&t, &q["code"], VERIFIER).await).await;
    // Other faults wait for the token answer.
    faults.set_next(Fault::WrongNonce);
    let code = silent_code(&t, &jar, &[]).await;
    assert_eq!(faults.pending(), Some(Fault::WrongNonce));
    let v = tokens(redeem(&t, &code, VERIFIER).await).await;
    let id = verified(&t, v["id_token"].as_str().unwrap(), CLIENT).await;
    assert_eq!(id["nonce"], format!("wrong-{NONCE}"));
    assert_eq!(faults.pending(), None);
}

#[test]
fn config_files_name_grant_types_and_offline_access() {
    let json = r#"{"clients":[{"client_id":"c","name":"C","callbacks":["http://localhost:3000/cb"],
        "web_origins":["http://localhost:3000"],"grant_types":["authorization_code"]}],
        "apis":[{"identifier":"a","allow_offline_access":true}],
        "users":[{"sub":"auth0|u","email":"u@example.com","password":"p","name":"U"}]}"#;
    let t = TenantConfig::from_json(json).unwrap();
    assert!(t.clients[0].allows("authorization_code"));
    assert!(!t.clients[0].allows("implicit"));
    assert!(t.clients[0].allows_origin("http://localhost:3000/"));
    let api: &Api = t.api("a").unwrap();
    assert!(api.allow_offline_access);
}
