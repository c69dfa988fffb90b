//! DPoP (RFC 9449) at the API, in-process on a free port against a test issuer: tokens
//! bound with `cnf.jkt` and proofs signed with `dpop::Signer`, each rule broken once; the
//! challenges of RFC 9449 §7.1; `--public-url` for `htu`; CORS for the `DPoP` header.

use std::collections::HashMap;

use appointments_api::{RunningApi, Settings};
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dpop::Signer;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use support::issuer::{TestIssuer, AUDIENCE};
use support::postgres::PgServer;
use support::{now, sign, Binary, Engine, KEY};

#[macro_use]
mod support;

const ORIGIN: &str = "http://localhost:8080";
const BOTH_SCOPES: &str = "read:appointments create:appointments";

struct Env {
    issuer: TestIssuer,
    api: RunningApi,
    http: reqwest::Client,
    /// The client's DPoP key.
    key: Signer,
    /// With [`Engine::Postgres`], the database the proofs used are kept in.
    pg: Option<PgServer>,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut Settings)) -> Env {
        Env::start_on_with(Engine::Sqlite, configure).await
    }

    /// With SQLite the proofs used are kept in memory; with PostgreSQL, in the database.
    async fn start_on_with(engine: Engine, configure: impl FnOnce(&mut Settings)) -> Env {
        let issuer = TestIssuer::start(true).await;
        let mut settings = Settings::new(issuer.issuer(), AUDIENCE);
        let pg = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => {
                let pg = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
                settings.database = appointments_api::Database::parse(&pg.url()).unwrap();
                Some(pg)
            }
        };
        configure(&mut settings);
        let api = appointments_api::spawn(settings).await.expect("API starts");
        Env {
            issuer,
            api,
            http: reqwest::Client::new(),
            key: Signer::generate(),
            pg,
        }
    }

    /// The collection's URL as this test addresses it.
    fn url(&self) -> String {
        format!("{}/api/appointments", self.api.base_url())
    }

    /// A token for `sub` bound to `key` (`cnf.jkt`).
    fn bound_token(&self, sub: &str, scope: &str, key: &Signer) -> String {
        self.token_with(sub, scope, |c| c["cnf"] = json!({ "jkt": key.jkt() }))
    }

    fn token_with(&self, sub: &str, scope: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.issuer.claims(sub, scope);
        edit(&mut claims);
        sign(&KEY, Some("key-1"), &claims)
    }

    /// A proof by this client's key for `htm` at the collection's URL, bound to `token`.
    fn proof(&self, htm: &str, token: &str) -> String {
        self.key.proof(htm, &self.url(), now(), Some(token), None)
    }

    /// `request` with `Authorization: DPoP <token>` and `DPoP: <proof>`.
    fn dpop(&self, request: RequestBuilder, token: &str, proof: &str) -> RequestBuilder {
        request
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof)
    }

    fn get(&self) -> RequestBuilder {
        self.http.get(self.url())
    }

    fn post(&self) -> RequestBuilder {
        self.http.post(self.url()).json(&json!({
            "title": "Bound",
            "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T11:00:00Z",
        }))
    }
}

/// A proof `key` signs with the header and claims edited: one rule broken at a time.
fn forged(key: &Signer, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let mut header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk() });
    let mut claims = json!({ "jti": format!("forged-{}", rand_suffix()), "iat": now() });
    edit(&mut header, &mut claims);
    key.sign(&header, &claims)
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A challenge split into its scheme and its parameters (our values hold no quotes).
fn challenge(value: &str) -> (String, HashMap<String, String>) {
    let (scheme, mut rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params = HashMap::new();
    while !rest.trim().is_empty() {
        let (key, after) = rest.split_once("=\"").expect("key=\"value\"");
        let (val, after) = after.split_once('"').expect("closing quote");
        params.insert(key.trim().to_string(), val.to_string());
        rest = after.trim_start_matches(',').trim_start();
    }
    (scheme.to_string(), params)
}

/// What an error answer must be.
struct Expected {
    status: StatusCode,
    /// `Bearer` or `DPoP`: the challenge's scheme.
    scheme: &'static str,
    error: &'static str,
    scope: Option<&'static str>,
}

const fn refused(status: StatusCode, scheme: &'static str, error: &'static str) -> Expected {
    Expected {
        status,
        scheme,
        error,
        scope: None,
    }
}

const BAD_PROOF: Expected = refused(StatusCode::UNAUTHORIZED, "DPoP", "invalid_dpop_proof");
const BAD_TOKEN: Expected = refused(StatusCode::UNAUTHORIZED, "DPoP", "invalid_token");
const BAD_REQUEST: Expected = refused(StatusCode::BAD_REQUEST, "DPoP", "invalid_request");

/// Sends `request` and checks the answer against `expected`: status, one challenge of the
/// right scheme whose `error_description` is the body's, and no credential echoed.
async fn assert_refused(
    name: &str,
    request: RequestBuilder,
    expected: &Expected,
    secrets: &[&str],
) {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), expected.status, "{name}");
    let fields: Vec<String> = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(fields.len(), 1, "{name}: {fields:?}");
    let (scheme, params) = challenge(&fields[0]);
    let body: Value = response.json().await.unwrap();
    assert_eq!(scheme, expected.scheme, "{name}: {fields:?}");
    assert_eq!(params["realm"], "appointments", "{name}");
    let algs = params.get("algs").map(String::as_str);
    let expected_algs = (expected.scheme == "DPoP").then_some("ES256");
    assert_eq!(algs, expected_algs, "{name}: {fields:?}");
    assert_eq!(params["error"], expected.error, "{name}: {fields:?}");
    assert_eq!(
        params.get("scope").map(String::as_str),
        expected.scope,
        "{name}"
    );
    assert_eq!(body["error"], expected.error, "{name}: {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(!description.is_empty(), "{name}");
    assert_eq!(params["error_description"], description, "{name}");
    for secret in secrets {
        assert!(!fields[0].contains(secret), "{name}: a credential echoed");
        assert!(
            !body.to_string().contains(secret),
            "{name}: a credential echoed"
        );
    }
}

#[tokio::test]
async fn dpop_requests_are_checked_rule_by_rule() {
    let env = Env::start().await;
    let token = env.bound_token("auth0|alice", BOTH_SCOPES, &env.key);
    let other_key = Signer::generate();

    // Accepted: a list, a creation, a query the proof need not name.
    let r = env
        .dpop(env.get(), &token, &env.proof("GET", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 3);
    let r = env
        .dpop(env.post(), &token, &env.proof("POST", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["title"], "Bound");
    let r = env
        .dpop(
            env.http.get(format!("{}?view=week", env.url())),
            &token,
            &env.proof("GET", &token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: Vec<Value> = r.json().await.unwrap();
    assert!(list.iter().any(|a| a["title"] == "Bound"), "{list:?}");

    let proof_with = |edit: &dyn Fn(&mut Value, &mut Value)| {
        forged(&env.key, |header, claims| {
            claims["htm"] = json!("GET");
            claims["htu"] = json!(env.url());
            claims["ath"] = json!(dpop::ath(&token));
            edit(header, claims);
        })
    };
    let alg_none = {
        let header = json!({ "typ": "dpop+jwt", "alg": "none", "jwk": env.key.jwk() });
        let claims = json!({ "htm": "GET", "htu": env.url(), "iat": now(),
            "jti": "none-1", "ath": dpop::ath(&token) });
        format!("{}.{}.", b64(&header), b64(&claims))
    };
    let hmac_proof = {
        let header = json!({ "typ": "dpop+jwt", "alg": "HS256", "jwk": env.key.jwk() });
        let claims = json!({ "htm": "GET", "htu": env.url(), "iat": now(),
            "jti": "hmac-1", "ath": dpop::ath(&token) });
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let secret = env.key.jwk()["x"].as_str().unwrap().to_string();
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            input.as_bytes(),
        );
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let unbound = env.issuer.token("auth0|alice", BOTH_SCOPES);
    let expired_bound = env.token_with("auth0|alice", BOTH_SCOPES, |c| {
        c["cnf"] = json!({ "jkt": env.key.jkt() });
        c["exp"] = json!(now() - 3600);
    });
    let mtls_bound = env.token_with("auth0|alice", BOTH_SCOPES, |c| {
        c["cnf"] = json!({ "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" });
    });
    let read_only = env.bound_token("auth0|alice", "read:appointments", &env.key);
    let another_url = format!("{}/api/other", env.api.base_url());
    let localhost_url = env.url().replace("127.0.0.1", "localhost");

    let cases: Vec<(&str, RequestBuilder, Expected)> = vec![
        (
            "no proof",
            env.get().header(AUTHORIZATION, format!("DPoP {token}")),
            BAD_PROOF,
        ),
        (
            "proof for POST sent with GET",
            env.dpop(env.get(), &token, &env.proof("POST", &token)),
            BAD_PROOF,
        ),
        (
            "proof for another path",
            env.dpop(
                env.get(),
                &token,
                &env.key
                    .proof("GET", &another_url, now(), Some(&token), None),
            ),
            BAD_PROOF,
        ),
        (
            "proof for another host name",
            env.dpop(
                env.get(),
                &token,
                &env.key
                    .proof("GET", &localhost_url, now(), Some(&token), None),
            ),
            BAD_PROOF,
        ),
        (
            "stale iat",
            env.dpop(
                env.get(),
                &token,
                &env.key
                    .proof("GET", &env.url(), now() - 400, Some(&token), None),
            ),
            BAD_PROOF,
        ),
        (
            "future iat",
            env.dpop(
                env.get(),
                &token,
                &env.key
                    .proof("GET", &env.url(), now() + 120, Some(&token), None),
            ),
            BAD_PROOF,
        ),
        (
            "iat at the end of time",
            env.dpop(
                env.get(),
                &token,
                &env.key
                    .proof("GET", &env.url(), u64::MAX, Some(&token), None),
            ),
            BAD_PROOF,
        ),
        (
            "ath of another token",
            env.dpop(env.get(), &token, &env.proof("GET", &unbound)),
            BAD_PROOF,
        ),
        (
            "no ath",
            env.dpop(
                env.get(),
                &token,
                &env.key.proof("GET", &env.url(), now(), None, None),
            ),
            BAD_PROOF,
        ),
        (
            "alg none",
            env.dpop(env.get(), &token, &alg_none),
            BAD_PROOF,
        ),
        (
            "HMAC proof keyed with the public key",
            env.dpop(env.get(), &token, &hmac_proof),
            BAD_PROOF,
        ),
        (
            "typ JWT",
            env.dpop(
                env.get(),
                &token,
                &proof_with(&|h, _| h["typ"] = json!("JWT")),
            ),
            BAD_PROOF,
        ),
        (
            "private key in the jwk",
            env.dpop(
                env.get(),
                &token,
                &proof_with(&|h, _| h["jwk"]["d"] = json!("AAAA")),
            ),
            BAD_PROOF,
        ),
        (
            "garbage proof",
            env.dpop(env.get(), &token, "not-a-proof"),
            BAD_PROOF,
        ),
        (
            "proof key is not the token's cnf.jkt",
            env.dpop(
                env.get(),
                &token,
                &other_key.proof("GET", &env.url(), now(), Some(&token), None),
            ),
            BAD_TOKEN,
        ),
        (
            "unbound token sent as DPoP",
            env.dpop(env.get(), &unbound, &env.proof("GET", &unbound)),
            BAD_TOKEN,
        ),
        (
            "bound token failing its own checks (exp)",
            env.dpop(env.get(), &expired_bound, &env.proof("GET", &expired_bound)),
            BAD_TOKEN,
        ),
        (
            "token bound by mTLS sent as DPoP",
            env.dpop(env.get(), &mtls_bound, &env.proof("GET", &mtls_bound)),
            BAD_TOKEN,
        ),
        (
            "bound token sent as Bearer",
            env.get().bearer_auth(&token),
            refused(StatusCode::UNAUTHORIZED, "Bearer", "invalid_token"),
        ),
        (
            "bound token sent as Bearer with its proof",
            env.get()
                .bearer_auth(&token)
                .header("dpop", env.proof("GET", &token)),
            refused(StatusCode::UNAUTHORIZED, "Bearer", "invalid_token"),
        ),
        (
            "token bound by mTLS sent as Bearer",
            env.get().bearer_auth(&mtls_bound),
            refused(StatusCode::UNAUTHORIZED, "Bearer", "invalid_token"),
        ),
        (
            "two DPoP headers",
            env.get()
                .header(AUTHORIZATION, format!("DPoP {token}"))
                .header("dpop", env.proof("GET", &token))
                .header("dpop", env.proof("GET", &token)),
            BAD_REQUEST,
        ),
        (
            "DPoP scheme without a token",
            env.get()
                .header(AUTHORIZATION, "DPoP")
                .header("dpop", env.proof("GET", &token)),
            BAD_REQUEST,
        ),
        (
            "DPoP scheme with two tokens",
            env.get()
                .header(AUTHORIZATION, format!("DPoP {token} {token}"))
                .header("dpop", env.proof("GET", &token)),
            BAD_REQUEST,
        ),
        (
            "DPoP token also in the query",
            env.dpop(
                env.http.get(format!("{}?access_token={token}", env.url())),
                &token,
                &env.proof("GET", &token),
            ),
            BAD_REQUEST,
        ),
        (
            "read scope POSTing",
            env.dpop(env.post(), &read_only, &env.proof("POST", &read_only)),
            Expected {
                scope: Some("create:appointments"),
                ..refused(StatusCode::FORBIDDEN, "DPoP", "insufficient_scope")
            },
        ),
    ];
    for (name, request, expected) in cases {
        assert_refused(name, request, &expected, &[&token, &unbound]).await;
    }
}

on_both_engines!(
    a_proof_is_accepted_once_per_key,
    a_proof_used_at_one_instance_is_refused_at_another_sharing_the_database,
);

async fn a_proof_is_accepted_once_per_key(engine: Engine) {
    let env = Env::start_on_with(engine, |_| {}).await;
    let token = env.bound_token("auth0|alice", "read:appointments", &env.key);
    let proof = env.proof("GET", &token);
    let first = env.dpop(env.get(), &token, &proof).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_refused(
        "replayed proof",
        env.dpop(env.get(), &token, &proof),
        &BAD_PROOF,
        &[&token],
    )
    .await;
    assert_refused(
        "replayed again",
        env.dpop(env.get(), &token, &proof),
        &BAD_PROOF,
        &[&token],
    )
    .await;

    // The same jti from another key is another proof.
    let with_jti = |key: &Signer, token: &str| {
        forged(key, |_, claims| {
            claims["jti"] = json!("shared-jti");
            claims["htm"] = json!("GET");
            claims["htu"] = json!(env.url());
            claims["ath"] = json!(dpop::ath(token));
        })
    };
    let bob_key = Signer::generate();
    let bob = env.bound_token("auth0|bob", "read:appointments", &bob_key);
    for (key, token) in [(&env.key, &token), (&bob_key, &bob)] {
        let r = env
            .dpop(env.get(), token, &with_jti(key, token))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "the first use of shared-jti by this key"
        );
    }
    assert_refused(
        "shared-jti again",
        env.dpop(env.get(), &bob, &with_jti(&bob_key, &bob)),
        &BAD_PROOF,
        &[&bob],
    )
    .await;
}

/// Two instances behind one public URL (as behind a load balancer). With PostgreSQL they
/// share the proofs used: a proof replayed to the other instance is refused there. With
/// SQLite each keeps its own in memory, and the other instance cannot know: the reason
/// several instances need the shared database.
async fn a_proof_used_at_one_instance_is_refused_at_another_sharing_the_database(engine: Engine) {
    const PUBLIC: &str = "https://api.example.com";
    let set_public = |s: &mut Settings| s.public_url = Some(PUBLIC.into());
    let env = Env::start_on_with(engine, set_public).await;
    let mut settings = Settings::new(env.issuer.issuer(), AUDIENCE);
    set_public(&mut settings);
    if let Some(pg) = &env.pg {
        settings.database = appointments_api::Database::parse(&pg.url()).unwrap();
    }
    let other = appointments_api::spawn(settings)
        .await
        .expect("a second instance");
    let token = env.bound_token("auth0|alice", "read:appointments", &env.key);
    let url = format!("{PUBLIC}/api/appointments");
    let at = |api: &RunningApi| env.http.get(format!("{}/api/appointments", api.base_url()));

    let proof = env.key.proof("GET", &url, now(), Some(&token), None);
    let first = env.dpop(at(&env.api), &token, &proof).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let replayed = env.dpop(at(&other), &token, &proof);
    match engine {
        Engine::Postgres => {
            assert_refused(
                "replayed at the other instance",
                replayed,
                &BAD_PROOF,
                &[&token],
            )
            .await
        }
        Engine::Sqlite => assert_eq!(
            replayed.send().await.unwrap().status(),
            StatusCode::OK,
            "each SQLite instance remembers only its own proofs"
        ),
    }
    // A fresh proof is fine at either.
    for api in [&env.api, &other] {
        let proof = env.key.proof("GET", &url, now(), Some(&token), None);
        let r = env.dpop(at(api), &token, &proof).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn no_credentials_get_a_challenge_for_each_scheme() {
    let env = Env::start().await;
    for request in [env.get(), env.post(), env.get().header("dpop", "x.y.z")] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let fields: Vec<&str> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "Bearer realm=\"appointments\"",
                "DPoP realm=\"appointments\", algs=\"ES256\""
            ]
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains("Bearer") && description.contains("DPoP"),
            "{description}"
        );
    }
}

#[tokio::test]
async fn public_url_is_the_htu_behind_a_proxy() {
    let public = "https://api.example.com";
    let env = Env::start_with(|s| s.public_url = Some(format!("{public}/"))).await;
    let token = env.bound_token("auth0|alice", "read:appointments", &env.key);
    let public_url = format!("{public}/api/appointments");
    let for_public = env.key.proof("GET", &public_url, now(), Some(&token), None);
    let r = env
        .dpop(env.get(), &token, &for_public)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Default port and case are the same URL.
    let same = env.key.proof(
        "GET",
        "HTTPS://API.example.com:443/api/appointments",
        now(),
        Some(&token),
        None,
    );
    let r = env.dpop(env.get(), &token, &same).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let internal = env.proof("GET", &token);
    assert_refused(
        "proof for the internal address",
        env.dpop(env.get(), &token, &internal),
        &BAD_PROOF,
        &[&token],
    )
    .await;
    let plain_http = env.key.proof(
        "GET",
        "http://api.example.com/api/appointments",
        now(),
        Some(&token),
        None,
    );
    assert_refused(
        "proof for http://",
        env.dpop(env.get(), &token, &plain_http),
        &BAD_PROOF,
        &[&token],
    )
    .await;

    // Without --public-url the request's own Host counts, and forwarded headers do not.
    let direct = Env::start().await;
    let token = direct.bound_token("auth0|alice", "read:appointments", &direct.key);
    let for_public = direct
        .key
        .proof("GET", &public_url, now(), Some(&token), None);
    let forwarded = direct
        .get()
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "api.example.com")
        .header("forwarded", "proto=https;host=api.example.com");
    assert_refused(
        "forwarded headers",
        direct.dpop(forwarded, &token, &for_public),
        &BAD_PROOF,
        &[&token],
    )
    .await;
}

#[test]
fn a_public_url_that_is_not_an_origin_stops_the_binary() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_appointments-api"))
        .args([
            "--database",
            ":memory:",
            "--public-url",
            "https://api.example.com/v1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--public-url") && err.contains("not an origin"),
        "{err}"
    );
}

#[tokio::test]
async fn cors_lets_the_spa_send_dpop_and_read_the_challenges() {
    let env = Env::start().await;
    let preflight = env
        .http
        .request(reqwest::Method::OPTIONS, env.url())
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, dpop",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], ORIGIN);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    let allowed: Vec<&str> = allowed.split(',').map(str::trim).collect();
    for header in ["authorization", "content-type", "dpop"] {
        assert!(allowed.contains(&header), "{header} not in {allowed:?}");
    }

    let token = env.bound_token("auth0|alice", "read:appointments", &env.key);
    let refused = env
        .dpop(env.get().header("origin", ORIGIN), &token, "garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = refused.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    let exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    for header in ["www-authenticate", "dpop-nonce", "location"] {
        assert!(exposed.contains(&header), "{header} not in {exposed:?}");
    }
}

#[tokio::test]
async fn the_log_holds_neither_token_nor_proof() {
    let issuer = TestIssuer::start(true).await;
    let mut child = Binary::start(&[
        "--bind",
        "127.0.0.1:0",
        "--database",
        ":memory:",
        "--issuer",
        issuer.issuer(),
    ]);
    let base = child.wait_for_base_url();
    let key = Signer::generate();
    let mut claims = issuer.claims("auth0|erin", "read:appointments");
    claims["cnf"] = json!({ "jkt": key.jkt() });
    let token = sign(&KEY, Some("key-1"), &claims);
    let url = format!("{base}/api/appointments");
    let proof = key.proof("GET", &url, now(), Some(&token), None);
    let http = reqwest::Client::new();
    for expected in [StatusCode::OK, StatusCode::UNAUTHORIZED] {
        let r = http
            .get(&url)
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", &proof)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected, "the second is a replay");
    }
    child.wait_for("GET /api/appointments 200");
    let line = child.wait_for("GET /api/appointments 401");
    assert!(line.contains("sub=-"), "{line}");
    let all = child.output.join("\n");
    for secret in [&token, &proof] {
        let (_, signature) = secret.rsplit_once('.').unwrap();
        assert!(!all.contains(signature), "{all}");
    }
}
