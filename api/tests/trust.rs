//! Which issuer and which keys the API trusts, against a test provider on a free port:
//! issuers with or without a trailing slash and with a path, `iss` against the
//! discovered issuer, a discovery document naming another issuer, and one shared JWKS
//! fetch for concurrent requests however slowly the provider answers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appointments_api::{RunningApi, Settings};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use reqwest::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::{json, Value};
use support::{now, sign, Binary, TestKey, KEY, OTHER_KEY};

mod support;

const AUDIENCE: &str = "appointments:api";

// ---------------------------------------------------------------- the provider

/// How the provider answers JWKS requests.
#[derive(Clone, Copy)]
enum JwksAnswer {
    Keys,
    /// The keys, after a delay.
    SlowKeys(Duration),
    /// 500, after a delay.
    SlowError(Duration),
    /// Never (the API's client times out).
    Hang,
}

#[derive(Clone)]
struct ProviderState {
    /// Served at any path ending in `/.well-known/openid-configuration`; `None`: 404.
    discovery: Arc<Mutex<Option<Value>>>,
    discovery_delay: Arc<Mutex<Duration>>,
    /// Served at any path containing `jwks` or `certs`.
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_answer: Arc<Mutex<JwksAnswer>>,
    discovery_paths: Arc<Mutex<Vec<String>>>,
    jwks_paths: Arc<Mutex<Vec<String>>>,
    jwks_hits: Arc<AtomicUsize>,
}

/// An OpenID provider: its origin is `base` (`http://127.0.0.1:<port>`, no slash).
struct Provider {
    base: String,
    state: ProviderState,
}

impl Provider {
    async fn start(discovery: Option<Value>) -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = ProviderState {
            discovery: Arc::new(Mutex::new(discovery)),
            discovery_delay: Arc::new(Mutex::new(Duration::ZERO)),
            keys: Arc::new(Mutex::new(vec![KEY.jwk("key-1")])),
            jwks_answer: Arc::new(Mutex::new(JwksAnswer::Keys)),
            discovery_paths: Arc::default(),
            jwks_paths: Arc::default(),
            jwks_hits: Arc::default(),
        };
        let router = Router::new().fallback(answer).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Provider { base, state }
    }

    /// A provider whose discovery document says `issuer` (`{base}` is replaced by
    /// the provider's origin) with its JWKS at `{base}/jwks`.
    async fn with_issuer(issuer: &str) -> Provider {
        let provider = Provider::start(None).await;
        let issuer = issuer.replace("{base}", &provider.base);
        provider.set_discovery(Some(json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/jwks", provider.base),
        })));
        provider
    }

    fn set_discovery(&self, doc: Option<Value>) {
        *self.state.discovery.lock().unwrap() = doc;
    }

    fn set_jwks_answer(&self, answer: JwksAnswer) {
        *self.state.jwks_answer.lock().unwrap() = answer;
    }

    fn discovery_paths(&self) -> Vec<String> {
        self.state.discovery_paths.lock().unwrap().clone()
    }

    fn jwks_paths(&self) -> Vec<String> {
        self.state.jwks_paths.lock().unwrap().clone()
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn answer(State(s): State<ProviderState>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    if path.ends_with("/.well-known/openid-configuration") {
        s.discovery_paths.lock().unwrap().push(path);
        let delay = *s.discovery_delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        let doc = s.discovery.lock().unwrap().clone();
        return match doc {
            Some(doc) => Json(doc).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if path.contains("jwks") || path.contains("certs") {
        s.jwks_paths.lock().unwrap().push(path);
        s.jwks_hits.fetch_add(1, Ordering::SeqCst);
        let answer = *s.jwks_answer.lock().unwrap();
        match answer {
            JwksAnswer::Keys => {}
            JwksAnswer::SlowKeys(delay) => tokio::time::sleep(delay).await,
            JwksAnswer::SlowError(delay) => {
                tokio::time::sleep(delay).await;
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            JwksAnswer::Hang => std::future::pending::<()>().await,
        }
        let keys = s.keys.lock().unwrap().clone();
        return Json(json!({ "keys": keys })).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

// ---------------------------------------------------------------- the API

async fn start_api(issuer: &str, configure: impl FnOnce(&mut Settings)) -> RunningApi {
    let mut settings = Settings::new(issuer, AUDIENCE);
    configure(&mut settings);
    appointments_api::spawn(settings).await.expect("API starts")
}

fn token(key: &TestKey, kid: &str, iss: &str) -> String {
    let claims = json!({
        "iss": iss,
        "sub": "auth0|alice",
        "aud": AUDIENCE,
        "exp": now() + 3600,
        "scope": "read:appointments",
    });
    sign(key, Some(kid), &claims)
}

async fn get(api: &RunningApi, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/appointments", api.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the API answers")
}

async fn status(api: &RunningApi, token: &str) -> StatusCode {
    get(api, token).await.status()
}

/// `n` requests at once; their answers in order, and how long they all took.
async fn concurrently(api: &RunningApi, token: &str, n: usize) -> (Vec<Answer>, Duration) {
    let started = Instant::now();
    let url = format!("{}/api/appointments", api.base_url());
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let request = reqwest::Client::new().get(&url).bearer_auth(token).send();
            tokio::spawn(async move { Answer::read(request.await.expect("the API answers")).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("request task"));
    }
    (answers, started.elapsed())
}

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    challenge: Option<String>,
    body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
        };
        let retry_after = header(RETRY_AFTER);
        let challenge = header(WWW_AUTHENTICATE);
        Answer {
            status: response.status(),
            retry_after,
            challenge,
            body: response.json().await.unwrap_or(Value::Null),
        }
    }

    /// 503 `temporarily_unavailable` as CONTRACTS.md says: `Retry-After`, a JSON
    /// body, no challenge (the token is not at fault).
    fn assert_keys_unavailable(&self, what: &str) {
        assert_eq!(self.status, StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert!(
            self.retry_after
                .as_deref()
                .is_some_and(|v| v.parse::<u32>().is_ok()),
            "{what}: Retry-After {:?}",
            self.retry_after
        );
        assert_eq!(self.challenge, None, "{what}");
        assert_eq!(self.body["error"], "temporarily_unavailable", "{what}");
        assert!(
            self.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {}",
            self.body
        );
    }
}

/// Polls `condition` every 50 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------- issuers

#[tokio::test]
async fn issuer_with_a_path_with_or_without_a_trailing_slash() {
    let provider = Provider::start(None).await;
    let realm = format!("{}/realms/demo", provider.base);
    provider.set_discovery(Some(json!({
        "issuer": realm,
        "jwks_uri": format!("{realm}/protocol/openid-connect/certs"),
    })));
    for configured in [realm.clone(), format!("{realm}/")] {
        let api = start_api(&configured, |_| {}).await;
        assert_eq!(
            status(&api, &token(&KEY, "key-1", &realm)).await,
            StatusCode::OK,
            "configured {configured}"
        );
        let with_slash = get(&api, &token(&KEY, "key-1", &format!("{realm}/"))).await;
        assert_eq!(
            with_slash.status(),
            StatusCode::UNAUTHORIZED,
            "configured {configured}: iss must be the discovered issuer exactly"
        );
        let challenge = with_slash.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains("(iss)"), "{challenge}");
        api.shutdown().await;
    }
    assert_eq!(
        provider.discovery_paths(),
        vec!["/realms/demo/.well-known/openid-configuration"; 2]
    );
    assert_eq!(
        provider.jwks_paths(),
        vec!["/realms/demo/protocol/openid-connect/certs"; 2]
    );
}

#[tokio::test]
async fn iss_must_equal_the_discovered_issuer_exactly() {
    // Configured with the slash, discovered without: tokens carry the discovered form.
    let provider = Provider::with_issuer("{base}").await;
    let base = provider.base.clone();
    let api = start_api(&format!("{base}/"), |_| {}).await;
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &base)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &format!("{base}/"))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        provider.discovery_paths(),
        vec!["/.well-known/openid-configuration"]
    );

    // Configured without, discovered with.
    let provider = Provider::with_issuer("{base}/").await;
    let base = provider.base.clone();
    let api = start_api(&base, |_| {}).await;
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &format!("{base}/"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &base)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        provider.discovery_paths(),
        vec!["/.well-known/openid-configuration"]
    );
}

#[tokio::test]
async fn without_discovery_iss_must_equal_the_configured_issuer_exactly() {
    // 404 at discovery: Auth0's fixed path under the issuer's own path.
    let provider = Provider::start(None).await;
    let realm = format!("{}/realms/demo", provider.base);
    let api = start_api(&realm, |_| {}).await;
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &realm)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &format!("{realm}/"))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        provider.discovery_paths(),
        vec!["/realms/demo/.well-known/openid-configuration"]
    );
    assert_eq!(
        provider.jwks_paths(),
        vec!["/realms/demo/.well-known/jwks.json"]
    );

    // A configured JWKS URI: no discovery at all, and iss is the configured issuer
    // even though the provider's discovery would say otherwise.
    let provider = Provider::with_issuer("{base}").await;
    let base = provider.base.clone();
    let api = start_api(&format!("{base}/"), |s| {
        s.jwks_uri = Some(format!("{base}/custom/jwks").parse().unwrap())
    })
    .await;
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &format!("{base}/"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &base)).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(provider.discovery_paths().is_empty());
    assert_eq!(provider.jwks_paths(), vec!["/custom/jwks"]);
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_not_used() {
    let provider = Provider::with_issuer("https://evil.example.com/").await;
    *provider.state.discovery_delay.lock().unwrap() = Duration::from_millis(300);
    let issuer = format!("{}/", provider.base);
    let api = start_api(&issuer, |_| {}).await;
    let good = token(&KEY, "key-1", &issuer);

    let (answers, _) = concurrently(&api, &good, 5).await;
    for (i, answer) in answers.iter().enumerate() {
        answer.assert_keys_unavailable(&format!("request {i}"));
    }
    assert_eq!(provider.discovery_paths().len(), 1, "one shared fetch");
    assert_eq!(provider.jwks_hits(), 0, "its jwks_uri is not followed");

    // Once the provider names the right issuer, the next fetch (after the back-off)
    // uses it: a refused document is not remembered.
    provider.set_discovery(Some(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", provider.base),
    })));
    let recovered = eventually(Duration::from_secs(10), || async {
        status(&api, &good).await == StatusCode::OK
    })
    .await;
    assert!(recovered, "never accepted the corrected discovery document");
    assert_eq!(provider.jwks_hits(), 1);
}

#[tokio::test]
async fn the_log_says_once_per_fetch_why_discovery_was_refused() {
    let provider = Provider::with_issuer("{base}/other-tenant").await;
    *provider.state.discovery_delay.lock().unwrap() = Duration::from_millis(300);
    let issuer = format!("{}/", provider.base);
    let mut binary = Binary::start(&[
        "--bind",
        "127.0.0.1:0",
        "--database",
        ":memory:",
        "--issuer",
        &issuer,
    ]);
    let base = binary.wait_for_base_url();
    let good = token(&KEY, "key-1", &issuer);
    let url = format!("{base}/api/appointments");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let request = reqwest::Client::new().get(&url).bearer_auth(&good).send();
            tokio::spawn(async move { request.await.expect("the API answers").status() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    }
    for _ in 0..5 {
        binary.wait_for("GET /api/appointments 503");
    }
    let fetches = provider.discovery_paths().len();
    let why: Vec<&String> = binary
        .output
        .iter()
        .filter(|line| line.contains("names the issuer"))
        .collect();
    assert_eq!(fetches, 1);
    assert_eq!(why.len(), fetches, "{:?}", binary.output);
    assert!(
        why[0].contains(&format!("{}/other-tenant", provider.base))
            && why[0].contains("not the configured"),
        "{}",
        why[0]
    );
}

// ---------------------------------------------------------------- one fetch at a time

#[tokio::test]
async fn a_slow_failing_jwks_is_fetched_once_for_concurrent_requests() {
    let provider = Provider::with_issuer("{base}/").await;
    provider.set_jwks_answer(JwksAnswer::SlowError(Duration::from_millis(1500)));
    let issuer = format!("{}/", provider.base);
    let api = start_api(&issuer, |_| {}).await;
    let (answers, took) = concurrently(&api, &token(&KEY, "key-1", &issuer), 5).await;
    println!(
        "5 concurrent requests, JWKS 500 after 1.5 s: {} fetch(es), {took:?}",
        provider.jwks_hits()
    );
    for (i, answer) in answers.iter().enumerate() {
        answer.assert_keys_unavailable(&format!("request {i}"));
    }
    assert_eq!(provider.jwks_hits(), 1);
    // One fetch's time, not five (7.5 s).
    assert!(took < Duration::from_millis(3500), "{took:?}");
}

#[tokio::test]
async fn a_hanging_jwks_is_fetched_once_for_concurrent_requests() {
    let provider = Provider::with_issuer("{base}/").await;
    provider.set_jwks_answer(JwksAnswer::Hang);
    let issuer = format!("{}/", provider.base);
    let api = start_api(&issuer, |_| {}).await;
    let (answers, took) = concurrently(&api, &token(&KEY, "key-1", &issuer), 5).await;
    println!(
        "5 concurrent requests, JWKS hanging: {} fetch(es), {took:?}",
        provider.jwks_hits()
    );
    for (i, answer) in answers.iter().enumerate() {
        answer.assert_keys_unavailable(&format!("request {i}"));
    }
    assert_eq!(provider.jwks_hits(), 1);
    // The API's client gives up after 5 s: one time-out, not five (25 s).
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test]
async fn an_unknown_kid_burst_shares_one_refetch() {
    let provider = Provider::with_issuer("{base}/").await;
    let issuer = format!("{}/", provider.base);
    // No rate limit: only the sharing keeps the burst to one re-fetch.
    let api = start_api(&issuer, |s| s.jwks_min_refetch_interval = Duration::ZERO).await;
    assert_eq!(
        status(&api, &token(&KEY, "key-1", &issuer)).await,
        StatusCode::OK
    );
    assert_eq!(provider.jwks_hits(), 1);

    // A rotated-in key: five requests while the JWKS answers slowly.
    provider.set_jwks_answer(JwksAnswer::SlowKeys(Duration::from_millis(500)));
    provider
        .state
        .keys
        .lock()
        .unwrap()
        .push(OTHER_KEY.jwk("key-2"));
    let (answers, took) = concurrently(&api, &token(&OTHER_KEY, "key-2", &issuer), 5).await;
    println!(
        "5 concurrent requests with a new kid: {} re-fetch(es), {took:?}",
        provider.jwks_hits() - 1
    );
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i}: {}",
            answer.body
        );
    }
    assert_eq!(provider.jwks_hits(), 2);

    // A kid the issuer never published: one re-fetch, then 401 for all.
    let (answers, _) = concurrently(&api, &token(&OTHER_KEY, "key-9", &issuer), 5).await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "request {i}");
        assert!(
            answer
                .challenge
                .as_deref()
                .is_some_and(|c| c.contains("error=\"invalid_token\"")),
            "request {i}"
        );
    }
    assert_eq!(provider.jwks_hits(), 3);
}
