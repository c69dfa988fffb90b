//! The API in-process on a free port, against a test issuer (JWKS and discovery)
//! on another free port, spoken to over HTTP with reqwest. The tests that read or write
//! appointments run twice, on SQLite and on PostgreSQL (`<name>::sqlite`,
//! `<name>::postgres`, each PostgreSQL test with a server of its own).

use std::collections::HashMap;
use std::time::Duration;

use appointments_api::{Database, RunningApi, Settings, StartupError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use support::issuer::{TestIssuer, AUDIENCE};
use support::postgres::PgServer;
use support::{now, sign, Binary, Engine, KEY, OTHER_KEY};

#[macro_use]
mod support;

const ORIGIN: &str = "http://localhost:8080";

// ---------------------------------------------------------------- harness

struct Env {
    issuer: TestIssuer,
    api: RunningApi,
    http: reqwest::Client,
    /// The database server, with [`Engine::Postgres`]; stopped on drop.
    pg: Option<PgServer>,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(true, |_| {}).await
    }

    /// The API on `engine`: SQLite in memory, or PostgreSQL (a server of this test's own).
    async fn start_on(engine: Engine) -> Env {
        Env::start_on_with(engine, true, |_| {}).await
    }

    async fn start_with(discovery: bool, configure: impl FnOnce(&mut Settings)) -> Env {
        Env::start_on_with(Engine::Sqlite, discovery, configure).await
    }

    async fn start_on_with(
        engine: Engine,
        discovery: bool,
        configure: impl FnOnce(&mut Settings),
    ) -> Env {
        let issuer = TestIssuer::start(discovery).await;
        let mut settings = Settings::new(issuer.issuer(), AUDIENCE);
        let pg = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => {
                let pg = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
                settings.database = Database::parse(&pg.url()).unwrap();
                Some(pg)
            }
        };
        configure(&mut settings);
        let api = appointments_api::spawn(settings).await.expect("API starts");
        Env {
            issuer,
            api,
            http: reqwest::Client::new(),
            pg,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base_url())
    }

    fn get(&self) -> RequestBuilder {
        self.http.get(self.url("/api/appointments"))
    }

    fn post(&self) -> RequestBuilder {
        self.http.post(self.url("/api/appointments"))
    }

    async fn list(&self, token: &str) -> Vec<Value> {
        let response = self.get().bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn create(&self, token: &str, body: Value) -> reqwest::Response {
        self.post()
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// `Bearer k="v", k="v"` → map (no escapes: our values never contain quotes).
fn challenge_params(value: &str) -> HashMap<String, String> {
    let rest = value.strip_prefix("Bearer ").expect("Bearer challenge");
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("key=\"value\"");
        let (val, after) = after.split_once('"').expect("closing quote");
        params.insert(key.trim().to_string(), val.to_string());
        rest = after.trim_start_matches(',').trim();
    }
    params
}

fn appointment(title: &str, start: &str, end: &str) -> Value {
    json!({ "title": title, "start": start, "end": end })
}

// ---------------------------------------------------------------- on both stores

on_both_engines!(
    bad_requests_get_rfc6750_errors,
    new_user_gets_sorted_sample_appointments,
    no_sample_data_gives_an_empty_list,
    post_creates_and_users_are_isolated,
    post_validation_names_the_bad_field,
    an_idempotency_key_makes_a_create_safe_to_send_again,
    readiness_follows_the_database,
);

// ---------------------------------------------------------------- bad requests

async fn bad_requests_get_rfc6750_errors(engine: Engine) {
    let env = Env::start_on(engine).await;
    let iss = env.issuer.issuer().to_string();
    let good = env.issuer.token("auth0|alice", "read:appointments");

    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = env.issuer.claims("auth0|alice", "read:appointments");
        f(&mut c);
        c
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "key-1"})),
        b64(&claims(&|_| {}))
    );
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("key-1".into());
        let secret = EncodingKey::from_secret(KEY.public_pem.as_bytes());
        jsonwebtoken::encode(&header, &claims(&|_| {}), &secret).unwrap()
    };
    let with_alg = |alg: Algorithm| {
        let mut header = Header::new(alg);
        header.kid = Some("key-1".into());
        jsonwebtoken::encode(&header, &claims(&|_| {}), &KEY.encoding).unwrap()
    };
    let flipped_signature = {
        let (signed, sig) = good.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[10] ^= 0x01;
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let unknown_key = sign(&OTHER_KEY, Some("not-published"), &claims(&|_| {}));
    let tok = |f: &dyn Fn(&mut Value)| sign(&KEY, Some("key-1"), &claims(f));
    let wrong_iss = tok(&|c| c["iss"] = json!("https://evil.example.com/"));
    let no_slash_iss = tok(&|c| c["iss"] = json!(iss.trim_end_matches('/')));
    let wrong_aud = tok(&|c| c["aud"] = json!("another:api"));
    let expired = tok(&|c| c["exp"] = json!(now() - 3600));
    let not_yet = tok(&|c| c["nbf"] = json!(now() + 3600));
    let no_exp = tok(&|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    let no_scope = tok(&|c| {
        c.as_object_mut().unwrap().remove("scope");
    });
    let other_scope = tok(&|c| c["scope"] = json!("openid profile create:appointments"));

    struct Case {
        name: &'static str,
        request: RequestBuilder,
        status: StatusCode,
        /// `None`: the bare `Bearer realm="appointments"` challenge.
        error: Option<&'static str>,
        scope: Option<&'static str>,
        body_error: &'static str,
    }
    let case = |name, request, status, error: Option<&'static str>| Case {
        name,
        request,
        status,
        error,
        scope: None,
        body_error: error.unwrap_or("unauthorized"),
    };
    let bearer = |t: &str| format!("Bearer {t}");
    let cases = vec![
        case("no token", env.get(), StatusCode::UNAUTHORIZED, None),
        case(
            "Basic scheme",
            env.get().header(AUTHORIZATION, "Basic dXNlcjpwYXNz"),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "Bearer without token",
            env.get().header(AUTHORIZATION, "Bearer"),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "two tokens",
            env.get()
                .header(AUTHORIZATION, format!("Bearer {good} {good}")),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "invalid characters",
            env.get().header(AUTHORIZATION, "Bearer abc,def"),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "two Authorization headers",
            env.get()
                .header(AUTHORIZATION, bearer(&good))
                .header(AUTHORIZATION, bearer(&good)),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "header and query",
            env.http
                .get(env.url(&format!("/api/appointments?access_token={good}")))
                .bearer_auth(&good),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "query only",
            env.http
                .get(env.url(&format!("/api/appointments?access_token={good}"))),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "header and form body",
            env.post()
                .bearer_auth(&good)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("access_token={good}")),
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
        ),
        case(
            "not a JWT",
            env.get().bearer_auth("abc.def"),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "alg none",
            env.get().bearer_auth(&alg_none),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "HS256 with the public key as secret",
            env.get().bearer_auth(&hs256_with_public_key),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "RS384",
            env.get().bearer_auth(with_alg(Algorithm::RS384)),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "PS256",
            env.get().bearer_auth(with_alg(Algorithm::PS256)),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "wrong signature",
            env.get().bearer_auth(&flipped_signature),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "unknown key",
            env.get().bearer_auth(&unknown_key),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "wrong iss",
            env.get().bearer_auth(&wrong_iss),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "iss without trailing slash",
            env.get().bearer_auth(&no_slash_iss),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "wrong aud",
            env.get().bearer_auth(&wrong_aud),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "expired",
            env.get().bearer_auth(&expired),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "not yet valid",
            env.get().bearer_auth(&not_yet),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        case(
            "missing exp",
            env.get().bearer_auth(&no_exp),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        Case {
            scope: Some("read:appointments"),
            ..case(
                "no scope",
                env.get().bearer_auth(&no_scope),
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
            )
        },
        Case {
            scope: Some("read:appointments"),
            ..case(
                "other scopes",
                env.get().bearer_auth(&other_scope),
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
            )
        },
        Case {
            scope: Some("create:appointments"),
            ..case(
                "read scope POSTing",
                env.post().bearer_auth(&good).json(&appointment(
                    "x",
                    "2030-01-01T10:00:00Z",
                    "2030-01-01T11:00:00Z",
                )),
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
            )
        },
    ];

    let tokens = [
        &good,
        &alg_none,
        &hs256_with_public_key,
        &flipped_signature,
        &wrong_iss,
    ];
    for case in cases {
        let name = case.name;
        let response = case.request.send().await.unwrap();
        assert_eq!(response.status(), case.status, "{name}");
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .unwrap_or_else(|| panic!("{name}: no WWW-Authenticate"))
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], case.body_error, "{name}: {body}");
        let description = body["error_description"]
            .as_str()
            .expect("error_description");
        assert!(!description.is_empty(), "{name}");
        for t in tokens {
            assert!(
                !body.to_string().contains(t.as_str()),
                "{name}: token echoed"
            );
        }
        match case.error {
            None => assert_eq!(challenge, "Bearer realm=\"appointments\"", "{name}"),
            Some(error) => {
                let params = challenge_params(&challenge);
                assert_eq!(params["realm"], "appointments", "{name}: {challenge}");
                assert_eq!(params["error"], error, "{name}: {challenge}");
                assert_eq!(params["error_description"], description, "{name}");
                assert_eq!(
                    params.get("scope").map(String::as_str),
                    case.scope,
                    "{name}"
                );
            }
        }
    }
    // One fetch for the first key lookup; the unknown kid came within the
    // re-fetch interval, so no more.
    assert_eq!(env.issuer.hits(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_and_concurrent_requests_share_a_fetch() {
    let env = Env::start_with(true, |s| {
        s.jwks_min_refetch_interval = Duration::from_secs(60)
    })
    .await;
    let good = env.issuer.token("auth0|alice", "read:appointments");
    let unknown = sign(
        &OTHER_KEY,
        Some("key-9"),
        &env.issuer.claims("auth0|alice", "read:appointments"),
    );

    let requests = (0..6).map(|i| {
        let token = if i % 2 == 0 {
            good.clone()
        } else {
            unknown.clone()
        };
        env.get().bearer_auth(token).send()
    });
    let statuses: Vec<StatusCode> = futures_join_all(requests).await;
    for (i, status) in statuses.iter().enumerate() {
        let expected = if i % 2 == 0 {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(*status, expected, "request {i}");
    }
    // The first fetch may come before or after an unknown kid is seen; either way
    // at most one re-fetch.
    assert!(env.issuer.hits() <= 2, "{} fetches", env.issuer.hits());
    let before = env.issuer.hits();
    for _ in 0..3 {
        let r = env.get().bearer_auth(&unknown).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(env.issuer.hits(), before, "re-fetch is rate-limited");
}

async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<StatusCode>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().unwrap().status());
    }
    out
}

#[tokio::test]
async fn jwks_unreachable_is_503_not_401() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let issuer = format!("http://{closed}/");
    let mut settings = Settings::new(&issuer, AUDIENCE);
    settings.database = Database::Memory;
    let api = appointments_api::spawn(settings).await.unwrap();
    let claims = json!({"iss": issuer, "aud": AUDIENCE, "sub": "a", "exp": now() + 60, "scope": "read:appointments"});
    let token = sign(&KEY, Some("key-1"), &claims);
    let response = reqwest::Client::new()
        .get(format!("{}/api/appointments", api.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    api.shutdown().await;
}

// ---------------------------------------------------------------- good path

async fn new_user_gets_sorted_sample_appointments(engine: Engine) {
    let env = Env::start_on(engine).await;
    let token = env.issuer.token("auth0|alice", "openid read:appointments");
    let list = env.list(&token).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let starts: Vec<&str> = list.iter().map(|a| a["start"].as_str().unwrap()).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    for a in &list {
        assert!(a["id"].as_str().is_some_and(|id| id.len() == 32));
        assert!(a["title"].is_string() && a["end"].is_string());
        assert!(a["location"].is_string() || a["location"].is_null());
    }
    assert!(list.iter().any(|a| a["title"] == "Dental check-up"));
    // Seeded once only.
    assert_eq!(env.list(&token).await, list);

    // Auth0's `permissions` array works as well as `scope`; no kid with one key works.
    let mut claims = env.issuer.claims("auth0|alice", "");
    claims["permissions"] = json!(["read:appointments"]);
    assert_eq!(env.list(&sign(&KEY, None, &claims)).await, list);

    // A token expired within the leeway is still fine.
    let mut claims = env.issuer.claims("auth0|alice", "read:appointments");
    claims["exp"] = json!(now() - 5);
    assert_eq!(env.list(&sign(&KEY, Some("key-1"), &claims)).await, list);
}

async fn no_sample_data_gives_an_empty_list(engine: Engine) {
    let env = Env::start_on_with(engine, true, |s| s.sample_data = false).await;
    let token = env.issuer.token("auth0|alice", "read:appointments");
    assert_eq!(env.list(&token).await, Vec::<Value>::new());
}

async fn post_creates_and_users_are_isolated(engine: Engine) {
    let env = Env::start_on(engine).await;
    let alice = env
        .issuer
        .token("auth0|alice", "read:appointments create:appointments");
    let bob = env
        .issuer
        .token("auth0|bob", "read:appointments create:appointments");

    let response = env
        .create(
            &alice,
            json!({"title": " Vet visit ", "start": "2030-05-01T10:00:00+02:00",
                   "end": "2030-05-01T11:00:00+02:00", "location": "Main St 1", "extra": 1}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/appointments/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["title"], "Vet visit");
    assert_eq!(created["start"], "2030-05-01T08:00:00Z");
    assert_eq!(created["end"], "2030-05-01T09:00:00Z");
    assert_eq!(created["location"], "Main St 1");

    let alice_list = env.list(&alice).await;
    assert_eq!(alice_list.len(), 4);
    assert_eq!(
        alice_list.last().unwrap(),
        &created,
        "sorted by start: 2030 is last"
    );

    let r = env
        .create(
            &bob,
            appointment("Bob's", "2029-01-01T00:00:00Z", "2029-01-01T01:00:00Z"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let bobs: Value = r.json().await.unwrap();
    assert_eq!(bobs["location"], Value::Null);
    let bob_list = env.list(&bob).await;
    assert_eq!(bob_list.len(), 4);
    for a in &alice_list {
        assert!(!bob_list.contains(a), "bob sees alice's {a}");
    }
    assert!(!env.list(&alice).await.contains(&bobs));
}

async fn post_validation_names_the_bad_field(engine: Engine) {
    let env = Env::start_on(engine).await;
    let token = env.issuer.token("auth0|carol", "create:appointments");
    let (s, e) = ("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z");
    let long = "x".repeat(201);
    let cases: Vec<(&str, String)> = vec![
        ("body", "not json".into()),
        ("body", "[1,2]".into()),
        ("body", "\"x\"".into()),
        ("title", json!({"start": s, "end": e}).to_string()),
        (
            "title",
            json!({"title": "  ", "start": s, "end": e}).to_string(),
        ),
        (
            "title",
            json!({"title": 5, "start": s, "end": e}).to_string(),
        ),
        (
            "title",
            json!({"title": long, "start": s, "end": e}).to_string(),
        ),
        (
            "start",
            json!({"title": "t", "start": "tomorrow", "end": e}).to_string(),
        ),
        ("start", json!({"title": "t", "end": e}).to_string()),
        (
            "end",
            json!({"title": "t", "start": s, "end": "2030-01-01"}).to_string(),
        ),
        (
            "end",
            json!({"title": "t", "start": s, "end": s}).to_string(),
        ),
        (
            "end",
            json!({"title": "t", "start": e, "end": s}).to_string(),
        ),
        (
            "location",
            json!({"title": "t", "start": s, "end": e, "location": long}).to_string(),
        ),
        (
            "location",
            json!({"title": "t", "start": s, "end": e, "location": 3}).to_string(),
        ),
    ];
    for (field, body) in cases {
        let response = env
            .post()
            .bearer_auth(&token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_appointment", "{body}");
        assert_eq!(error["field"], field, "{body}: {error}");
        assert!(error["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }

    let huge = json!({"title": "t", "start": s, "end": e, "location": "y".repeat(17 * 1024)});
    let response = env.create(&token, huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn cors_preflight_and_error_responses() {
    let env = Env::start().await;
    let preflight = |origin: &str| {
        env.http
            .request(reqwest::Method::OPTIONS, env.url("/api/appointments"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight(ORIGIN).await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );

    let other = preflight("http://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // The SPA can read auth errors: CORS headers on a 401 too.
    let r = env.get().header("origin", ORIGIN).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");

    let token = env.issuer.token("auth0|alice", "read:appointments");
    let r = env
        .get()
        .header("origin", ORIGIN)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn key_rotation_new_kid_is_accepted_after_refetch() {
    let env = Env::start_with(true, |s| s.jwks_min_refetch_interval = Duration::ZERO).await;
    let old = env.issuer.token("auth0|alice", "read:appointments");
    env.list(&old).await;
    assert_eq!(env.issuer.hits(), 1);

    env.issuer
        .state
        .keys
        .lock()
        .unwrap()
        .push(OTHER_KEY.jwk("key-2"));
    let new = sign(
        &OTHER_KEY,
        Some("key-2"),
        &env.issuer.claims("auth0|alice", "read:appointments"),
    );
    assert_eq!(env.list(&new).await.len(), 3);
    assert_eq!(env.issuer.hits(), 2);
    // Both keys now known: no more fetches.
    env.list(&old).await;
    env.list(&new).await;
    assert_eq!(env.issuer.hits(), 2);
}

#[tokio::test]
async fn jwks_location_without_discovery_and_explicit() {
    // No discovery document: <issuer>.well-known/jwks.json.
    let env = Env::start_with(false, |_| {}).await;
    let token = env.issuer.token("auth0|alice", "read:appointments");
    assert_eq!(env.list(&token).await.len(), 3);
    assert_eq!(env.issuer.hits(), 1);

    // Explicit jwks_uri.
    let issuer = TestIssuer::start(false).await;
    let mut settings = Settings::new(issuer.issuer(), AUDIENCE);
    settings.jwks_uri = Some(format!("{}custom/jwks", issuer.issuer()).parse().unwrap());
    let api = appointments_api::spawn(settings).await.unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/api/appointments", api.base_url()))
        .bearer_auth(issuer.token("auth0|alice", "read:appointments"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(issuer.hits(), 1);
}

async fn an_idempotency_key_makes_a_create_safe_to_send_again(engine: Engine) {
    let env = Env::start_on(engine).await;
    let token = env
        .issuer
        .token("auth0|alice", "read:appointments create:appointments");
    let body = appointment("Vet", "2030-05-01T10:00:00Z", "2030-05-01T11:00:00Z");
    let send = |key: Option<&str>, body: &Value| {
        let mut request = env.post().bearer_auth(&token).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };

    let first = send(Some("a1b2-c3"), &body).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let created: Value = first.json().await.unwrap();

    // Sent again (the answer was lost, say): the first answer, nothing new.
    let again = send(Some("a1b2-c3"), &body).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.json::<Value>().await.unwrap(), created);
    // A structured-field string is the same key.
    let quoted = send(Some("\"a1b2-c3\""), &body).await.unwrap();
    assert_eq!(quoted.json::<Value>().await.unwrap(), created);
    assert_eq!(env.list(&token).await.len(), 3 + 1);

    // The key with another appointment: 422, and nothing stored.
    let other = appointment("Dentist", "2030-05-01T10:00:00Z", "2030-05-01T11:00:00Z");
    let reused = send(Some("a1b2-c3"), &other).await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = reused.json().await.unwrap();
    assert_eq!(error["error"], "idempotency_key_reused", "{error}");
    assert!(error["error_description"].is_string());
    // Bad keys: 400 invalid_request, before anything is stored.
    for bad in ["", "has space", &"k".repeat(256), "caf\u{e9}"] {
        let response = env
            .post()
            .bearer_auth(&token)
            .header("idempotency-key", bad.as_bytes())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{bad:?}: {error}");
    }
    let two = env
        .post()
        .bearer_auth(&token)
        .header("idempotency-key", "x")
        .header("idempotency-key", "y")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(two.status(), StatusCode::BAD_REQUEST);
    // Another user's same key is her own.
    let bob = env
        .issuer
        .token("auth0|bob", "read:appointments create:appointments");
    let bobs = env
        .post()
        .bearer_auth(&bob)
        .header("idempotency-key", "a1b2-c3")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), StatusCode::CREATED);
    assert!(bobs.headers().get("idempotent-replayed").is_none());
    assert_ne!(bobs.json::<Value>().await.unwrap()["id"], created["id"]);
    assert_eq!(env.list(&token).await.len(), 3 + 1, "still one of alice's");
}

async fn readiness_follows_the_database(engine: Engine) {
    let mut env = Env::start_on(engine).await;
    let ready = env.http.get(env.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    let expected = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgresql",
    };
    assert_eq!(body["database"], expected, "{body}");
    assert_eq!(env.issuer.hits(), 0, "no token needed");
    if env.pg.is_none() {
        return;
    }

    // PostgreSQL stopped: /readyz and every request that needs the database get 503 with
    // Retry-After and RFC 6750's JSON shape, nothing of the database's own error; /healthz
    // stays 200 (the process is alive).
    let token = env
        .issuer
        .token("auth0|alice", "read:appointments create:appointments");
    env.list(&token).await;
    let pg = env.pg.as_mut().unwrap();
    tokio::task::block_in_place(|| pg.stop());
    let body = appointment("Down", "2030-05-01T10:00:00Z", "2030-05-01T11:00:00Z");
    for request in [
        env.http.get(env.url("/readyz")),
        env.get().bearer_auth(&token),
        env.post().bearer_auth(&token).json(&body),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "5");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "temporarily_unavailable", "{error}");
        let description = error["error_description"].as_str().unwrap();
        assert!(
            !description.contains("connect") && !description.contains("os error"),
            "no internals: {description}"
        );
    }
    let health = env.http.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let pg = env.pg.as_mut().unwrap();
    tokio::task::block_in_place(|| pg.run());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = env.http.get(env.url("/readyz")).send().await.unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        env.list(&token).await.len(),
        3,
        "nothing lost, nothing added"
    );
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let env = Env::start().await;
    let r = env.http.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(env.issuer.hits(), 0);
}

#[tokio::test]
async fn bad_database_path_is_a_startup_error() {
    let mut settings = Settings::new("http://127.0.0.1:1/", AUDIENCE);
    settings.database = Database::Path("/nonexistent-dir/sub/appointments.sqlite3".into());
    match appointments_api::spawn(settings).await {
        Err(StartupError::Database(message)) => {
            assert!(
                message.contains("/nonexistent-dir/sub/appointments.sqlite3"),
                "{message}"
            )
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("started with a bad database path"),
    }
}

#[tokio::test]
async fn settings_built_in_code_are_checked_not_panicked_on() {
    let issuer = "http://127.0.0.1:1/";
    /// What is wrong, how to get it wrong, what the error says.
    type Case = (&'static str, fn(&mut Settings), &'static str);
    let cases: Vec<Case> = vec![
        (
            "a wildcard origin",
            |s| s.allowed_origins = vec!["*".into()],
            "no wildcards",
        ),
        (
            "a wildcard among origins",
            |s| s.allowed_origins.push("*".into()),
            "no wildcards",
        ),
        (
            "a wildcard subdomain",
            |s| s.allowed_origins = vec!["https://*.example.com".into()],
            "wildcards are not supported",
        ),
        (
            "an origin with a path",
            |s| s.allowed_origins = vec!["http://localhost:8080/app".into()],
            "no path",
        ),
        (
            "an issuer with a query",
            |s| s.issuer = "https://dev-abc.us.auth0.com/?x=1".into(),
            "query",
        ),
        (
            "plain http keys under an https issuer",
            |s| {
                s.issuer = "https://dev-abc.us.auth0.com/".into();
                s.jwks_uri = Some("http://dev-abc.us.auth0.com/keys".parse().unwrap());
            },
            "plain http under the https issuer",
        ),
        (
            "a leeway that would overflow the clock",
            |s| s.leeway_secs = u64::MAX,
            "leeway_secs",
        ),
        ("an empty audience", |s| s.audience = " ".into(), "audience"),
        (
            "a pool of no connections",
            |s| s.db_pool_size = Some(0),
            "db_pool_size",
        ),
        (
            "a public URL with a path",
            |s| s.public_url = Some("https://api.example.com/appointments".into()),
            "public_url",
        ),
    ];
    for (name, configure, expected) in cases {
        let mut settings = Settings::new(issuer, AUDIENCE);
        configure(&mut settings);
        match appointments_api::app(settings.clone()).await {
            Err(StartupError::Config(message)) => {
                assert!(message.contains(expected), "{name}: {message}")
            }
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name}: accepted"),
        }
        match appointments_api::spawn(settings).await {
            Err(StartupError::Config(_)) => {}
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name}: started"),
        }
    }
    // Origins are taken in the form browsers send them.
    let mut settings = Settings::new(issuer, AUDIENCE);
    settings.allowed_origins = vec!["HTTP://LOCALHOST:8080/".into()];
    let api = appointments_api::spawn(settings)
        .await
        .expect("a normalised origin");
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", api.base_url()))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    api.shutdown().await;
}

#[tokio::test]
async fn file_database_persists_across_restarts() {
    let dir = std::env::temp_dir().join(format!("appointments-api-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("db.sqlite3");
    let _ = std::fs::remove_file(&path);
    let issuer = TestIssuer::start(true).await;
    let token = issuer.token("auth0|dave", "read:appointments create:appointments");
    let start = |path: std::path::PathBuf| {
        let mut settings = Settings::new(issuer.issuer(), AUDIENCE);
        settings.database = Database::Path(path);
        appointments_api::spawn(settings)
    };
    let http = reqwest::Client::new();
    let api = start(path.clone()).await.unwrap();
    let r = http
        .post(format!("{}/api/appointments", api.base_url()))
        .bearer_auth(&token)
        .json(&appointment(
            "Kept",
            "2031-01-01T10:00:00Z",
            "2031-01-01T11:00:00Z",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    api.shutdown().await;

    let api = start(path.clone()).await.unwrap();
    let list: Vec<Value> = http
        .get(format!("{}/api/appointments", api.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.iter().any(|a| a["title"] == "Kept"));
    api.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- bodies

/// The API served from a listener with a small receive buffer (inherited by its
/// connections), so that a body the server leaves unread cannot hide in kernel
/// buffers: closing such a connection resets it while the client is still sending.
async fn api_with_small_receive_buffer(issuer: &TestIssuer) -> std::net::SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(64).unwrap();
    let addr = listener.local_addr().unwrap();
    let router = appointments_api::app(Settings::new(issuer.issuer(), AUDIENCE))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// Sends `head` and then `body` over a fresh connection with a small send buffer,
/// all of it before reading anything (as simple clients do), and returns the answer.
async fn send_all_then_read(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let exchange = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("an answer within 20 s")
        .unwrap_or_else(|e| panic!("the connection failed: {e}"))
}

/// Every answer to a body over 16 KiB is the 413 with its JSON error, never a reset
/// connection: the API reads the rest of the body before answering.
#[tokio::test]
async fn oversized_bodies_always_get_their_413() {
    let issuer = TestIssuer::start(true).await;
    let addr = api_with_small_receive_buffer(&issuer).await;
    let url = format!("http://{addr}/api/appointments");
    let token = issuer.token("auth0|alice", "create:appointments");
    let body = vec![b'x'; 1024 * 1024];
    let kept_alive = reqwest::Client::new();
    for i in 0..50 {
        // Half on one kept-alive connection (it must stay usable after a 413), half
        // on fresh connections.
        let fresh;
        let http = if i % 2 == 0 {
            &kept_alive
        } else {
            fresh = reqwest::Client::new();
            &fresh
        };
        let response = http
            .post(&url)
            .bearer_auth(&token)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("iteration {i}: {e:?}"));
        assert_eq!(
            response.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "iteration {i}"
        );
        let error: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("iteration {i}: {e:?}"));
        assert_eq!(error["error"], "request_too_large", "iteration {i}");
        assert!(error["error_description"].is_string(), "iteration {i}");
    }
    let token = issuer.token("auth0|alice", "read:appointments");
    let r = kept_alive
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The same from a client that writes its whole request before reading, with a
/// Content-Length and with a chunked body that grows past the limit.
#[tokio::test]
async fn oversized_bodies_sent_in_full_before_reading_get_their_413() {
    let issuer = TestIssuer::start(true).await;
    let addr = api_with_small_receive_buffer(&issuer).await;
    let token = issuer.token("auth0|alice", "create:appointments");
    let head = |framing: &str| {
        format!(
            "POST /api/appointments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
        )
    };
    let plain = vec![b'x'; 1024 * 1024];
    let mut chunked = Vec::new();
    for _ in 0..16 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend_from_slice(&[b'x'; 64 * 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    for i in 0..20 {
        let (framing, body) = if i % 2 == 0 {
            (format!("Content-Length: {}", plain.len()), &plain)
        } else {
            ("Transfer-Encoding: chunked".to_string(), &chunked)
        };
        let answer = send_all_then_read(addr, &head(&framing), body).await;
        assert!(
            answer.starts_with("HTTP/1.1 413 "),
            "iteration {i}: {answer}"
        );
        assert!(
            answer.contains("\"error\":\"request_too_large\""),
            "iteration {i}: {answer}"
        );
    }
}

// ---------------------------------------------------------------- the binary

const BIN: &str = env!("CARGO_BIN_EXE_appointments-api");

#[test]
fn binary_help_and_bad_flags() {
    let help = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--issuer",
        "--audience",
        "--jwks-uri",
        "--bind",
        "--allowed-origins",
        "--database",
        "--db-pool-size",
        "--public-url",
        "--no-sample-data",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }

    let bad = std::process::Command::new(BIN)
        .args(["--issuer", "https://dev-abc.us.auth0.com/?tenant=x"])
        .env_remove("AUTH0_ISSUER")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--issuer") && err.contains("must not have a query"),
        "{err}"
    );

    let unknown = std::process::Command::new(BIN)
        .arg("--verbose")
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

#[tokio::test]
async fn binary_serves_logs_without_tokens_and_stops_on_sigint() {
    let issuer = TestIssuer::start(true).await;
    let mut child = Binary::start(&[
        "--bind",
        "127.0.0.1:0",
        "--database",
        ":memory:",
        "--issuer",
        issuer.issuer(),
    ]);
    let banner = child.wait_for("listening on");
    assert!(
        banner.contains(issuer.issuer()) && banner.contains(AUDIENCE),
        "{banner}"
    );
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap();

    let token = issuer.token("auth0|erin", "read:appointments");
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{base}/api/appointments?access_token={token}&x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    child.wait_for("GET /api/appointments 400");
    let r = http
        .get(format!("{base}/api/appointments"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let line = child.wait_for("GET /api/appointments 200");
    assert!(line.contains("sub=auth0|erin"), "{line}");

    let status = std::process::Command::new("kill")
        .args(["-INT", &child.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait_for("stopped");
    assert!(child.child.wait().unwrap().success());
    let all = child.output.join("\n");
    assert!(
        !all.contains(&token) && !all.contains("access_token"),
        "{all}"
    );
    let (_, signature) = token.rsplit_once('.').unwrap();
    assert!(!all.contains(signature));
}
