//! `cargo xtask bench` runs this (a benchmark: it reports, it does not pass or fail):
//! first-load timings in headless Chromium, and the appointments API under load: with wrk
//! and a Bearer token, then with the bench's own load client, Bearer and DPoP (a fresh
//! proof signed for every request); the same on PostgreSQL, one instance and two behind
//! nginx, and what the DPoP replay cache costs in memory and in PostgreSQL. It writes its
//! results as JSON to `$BENCH_REPORT`.

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

/// An nginx and a PostgreSQL server of the bench's own: the API tests' helpers.
#[cfg(not(target_arch = "wasm32"))]
#[path = "../api/tests/support/nginx.rs"]
mod nginx;
#[cfg(not(target_arch = "wasm32"))]
#[path = "../api/tests/support/postgres.rs"]
mod postgres;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    host::main();
}

/// The bench drives a browser from the host; there is nothing to run inside wasm.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod host {

    use std::process::Command;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::support::{answer_tenant, callback_url, find, Stack, ALICE};
    use serde_json::{json, Value};

    const LOADS: usize = 20;
    /// The API load runs: this many connections, each sending one request after another,
    /// for this long (wrk's `-c64 -d20s`).
    const CONNECTIONS: usize = 64;
    const DURATION: Duration = Duration::from_secs(20);

    #[tokio::main]
    pub async fn main() {
        let report_path = std::env::var("BENCH_REPORT")
            .unwrap_or_else(|_| "target/bench/browser-and-api.json".into());
        let stack = Stack::start().await;
        // `BENCH_LOADS=0` skips the browser part, e.g. while working on the API.
        let loads = std::env::var("BENCH_LOADS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(LOADS);

        // (a) navigation start to the Sign in button, and to the first contentful paint
        // (index.html's header and loading state, before the wasm has run).
        let (first_contentful_paint, sign_in_ready): (Vec<f64>, Vec<f64>) =
            timings(&stack, loads, async |browser| {
                browser
                    .goto(&format!("{}/", stack.spa))
                    .await
                    .expect("open the app");
                find(browser, "#sign-in").await;
                (
                    first_contentful_paint(browser).await,
                    mark(browser, "app:sign-in-ready").await,
                )
            })
            .await
            .into_iter()
            .unzip();

        // (b) navigation to /callback#... to the list: config, discovery, JWKS, the signature
        // check and the API call included.
        let callback_to_list = timings(&stack, loads, async |browser| {
            browser
                .goto(&format!("{}/", stack.spa))
                .await
                .expect("open the app");
            let callback = callback_url(browser, &stack, ALICE).await;
            browser.goto(&callback).await.expect("the callback");
            find(browser, "#appointments-list").await;
            mark(browser, "app:appointments-rendered").await
        })
        .await;

        let (api, api_schemes) = load_test(&stack).await;
        let api_postgres = postgres_load_test(&stack).await;
        let report = json!({
            "loads": loads,
            "first_contentful_paint_ms": summary(&first_contentful_paint),
            "sign_in_ready_ms": summary(&sign_in_ready),
            "callback_to_list_ms": summary(&callback_to_list),
            "api": api,
            "api_schemes": api_schemes,
            "api_postgres": api_postgres,
        });
        if let Some(dir) = std::path::Path::new(&report_path).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(
            &report_path,
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("cannot write {report_path}: {e}"));
    }

    /// Runs `measure` `n` times, each in a fresh browser (no cache, no storage).
    async fn timings<T>(
        stack: &Stack,
        n: usize,
        measure: impl AsyncFn(&fantoccini::Client) -> T,
    ) -> Vec<T> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let browser = stack.browser().await;
            samples.push(measure(&browser).await);
            browser.close().await.expect("close");
        }
        samples
    }

    /// The `startTime` of a User Timing mark: milliseconds from navigation start.
    async fn mark(browser: &fantoccini::Client, name: &str) -> f64 {
        let value = browser
            .execute(
                "const m = performance.getEntriesByName(arguments[0], 'mark'); return m.length ? m[0].startTime : null;",
                vec![json!(name)],
            )
            .await
            .expect("read the mark");
        value.as_f64().unwrap_or_else(|| panic!("no mark {name}"))
    }

    /// Paint Timing's `first-contentful-paint`: milliseconds from navigation start.
    async fn first_contentful_paint(browser: &fantoccini::Client) -> f64 {
        let value = browser
            .execute(
                "const p = performance.getEntriesByName('first-contentful-paint'); return p.length ? p[0].startTime : null;",
                vec![],
            )
            .await
            .expect("read the paint timing");
        value.as_f64().expect("a first contentful paint")
    }

    fn summary(samples: &[f64]) -> Value {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if sorted.is_empty() {
            0.0
        } else if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
        };
        json!({ "median": median, "worst": sorted.last().copied().unwrap_or(0.0), "samples": sorted })
    }

    /// `GET /api/appointments` under load: with wrk and a Bearer token; then with the
    /// bench's own client, Bearer and DPoP, so that those two compare.
    async fn load_test(stack: &Stack) -> (Value, Value) {
        let token = access_token(stack).await;
        let key = Arc::new(dpop::Signer::generate());
        let bound = bound_access_token(stack, &key).await;
        // A production-like API: a SQLite file in WAL mode, its own process-wide state.
        let dir = std::env::temp_dir().join(format!("appointments-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let mut settings =
            appointments_api::Settings::new(format!("{}/", stack.tenant), "appointments:api");
        settings.database = appointments_api::Database::Path(dir.join("bench.sqlite3"));
        let api = appointments_api::spawn(settings)
            .await
            .expect("the API starts");
        let url = format!("{}/api/appointments", api.base_url());
        let wrk = wrk(&url, &token).await;

        let bearer: Credentials = Arc::new(move || (format!("Bearer {token}"), None));
        let proof_url = url.clone();
        let with_proof: Credentials = Arc::new(move || {
            let proof = key.proof("GET", &proof_url, dpop::now(), Some(&bound), None);
            (format!("DPoP {bound}"), Some(proof))
        });
        let bearer_figures = load(&url, bearer).await;
        let dpop_figures = load(&url, with_proof.clone()).await;
        let schemes = json!({
            "tool": format!(
                "the bench's own client (reqwest in a 2-thread runtime of its own), {CONNECTIONS} \
                 connections for {} s; DPoP signs a fresh ES256 proof before each request",
                DURATION.as_secs()
            ),
            "bearer": bearer_figures,
            "dpop": dpop_figures,
            "proof_signing_us": signing_cost(&with_proof),
        });
        (wrk, schemes)
    }

    /// The API on PostgreSQL (a durable server of the bench's own: fsync and synchronous
    /// commits on, as in production), all on this machine: one instance addressed directly,
    /// then two instances behind nginx (`deploy/nginx/appointments-api.conf`, round-robin),
    /// each with wrk (Bearer) and the bench's own client (Bearer, and DPoP, whose replay
    /// check is then an `INSERT` in the shared database); and the replay cache's cost alone.
    async fn postgres_load_test(stack: &Stack) -> Value {
        let token = access_token(stack).await;
        let key = Arc::new(dpop::Signer::generate());
        let bound = bound_access_token(stack, &key).await;
        let pg = tokio::task::spawn_blocking(|| {
            let mut pg = super::postgres::PgServer::init(true);
            pg.run();
            pg
        })
        .await
        .expect("PostgreSQL starts (cargo xtask bench installs it)");
        let database = appointments_api::Database::parse(&pg.url()).expect("its URL");
        let settings = |public_url: Option<String>| {
            let mut settings =
                appointments_api::Settings::new(format!("{}/", stack.tenant), "appointments:api");
            settings.database = database.clone();
            settings.public_url = public_url;
            settings
        };
        let replay_cache = replay_cache_cost(&database).await;

        let one = appointments_api::spawn(settings(None))
            .await
            .expect("the API on PostgreSQL");
        let url = format!("{}/api/appointments", one.base_url());
        let one_instance = measure(&url, &token, &key, &bound).await;
        one.shutdown().await;

        let mut nginx = super::nginx::Nginx::prepare();
        let public = nginx.origin();
        let mut instances = Vec::new();
        for _ in 0..2 {
            instances.push(
                appointments_api::spawn(settings(Some(public.clone())))
                    .await
                    .expect("an instance on PostgreSQL"),
            );
        }
        let template = include_str!("../deploy/nginx/appointments-api.conf");
        let log = nginx.file("appointments-api.access.log");
        let server = super::nginx::render(
            &template.replace(
                "access_log /var/log/nginx/appointments-api.access.log appointments_api;",
                &format!("access_log {} appointments_api;", log.display()),
            ),
            &[
                ("__LISTEN__", &format!("127.0.0.1:{}", nginx.port())),
                ("__SERVER_NAME__", "127.0.0.1"),
                ("__API_1__", &instances[0].addr().to_string()),
                ("__API_2__", &instances[1].addr().to_string()),
            ],
        );
        tokio::task::block_in_place(|| nginx.start(&server));
        let url = format!("{public}/api/appointments");
        let two_behind_nginx = measure(&url, &token, &key, &bound).await;
        for instance in instances {
            instance.shutdown().await;
        }
        drop(nginx);
        drop(pg);
        json!({
            "database": "PostgreSQL of this machine's packages, fsync on, on this machine",
            "one_instance": one_instance,
            "two_instances_behind_nginx": two_behind_nginx,
            "replay_cache": replay_cache,
        })
    }

    /// wrk with a Bearer token, then the bench's own client with Bearer and with DPoP.
    async fn measure(url: &str, token: &str, key: &Arc<dpop::Signer>, bound: &str) -> Value {
        let wrk = wrk(url, token).await;
        let bearer_token = token.to_string();
        let bearer: Credentials = Arc::new(move || (format!("Bearer {bearer_token}"), None));
        let (proof_url, bound, key) = (url.to_string(), bound.to_string(), key.clone());
        let with_proof: Credentials = Arc::new(move || {
            let proof = key.proof("GET", &proof_url, dpop::now(), Some(&bound), None);
            (format!("DPoP {bound}"), Some(proof))
        });
        json!({
            "wrk_bearer": wrk,
            "bearer": load(url, bearer).await,
            "dpop": load(url, with_proof).await,
        })
    }

    /// The DPoP replay cache alone: one `first_use` after another (the latency a request
    /// pays), and 64 at a time (what the cache sustains), in memory and in PostgreSQL.
    async fn replay_cache_cost(database: &appointments_api::Database) -> Value {
        use appointments_api::auth::replay::{JtiCache, MemoryJtiCache, MEMORY_CAPACITY};
        use appointments_api::store::{Store, StoreOptions};
        const SEQUENTIAL: u32 = 5000;
        const TASKS: u32 = 64;
        const EACH: u32 = 200;
        let store = Store::open(database, StoreOptions::default())
            .await
            .expect("the store");
        let caches: [(&str, Arc<dyn JtiCache>); 2] = [
            ("memory", Arc::new(MemoryJtiCache::new(MEMORY_CAPACITY))),
            (
                "postgresql",
                store
                    .shared_replay_cache()
                    .expect("PostgreSQL keeps the proofs"),
            ),
        ];
        let mut figures = serde_json::Map::new();
        for (name, cache) in caches {
            let now = dpop::now();
            let started = Instant::now();
            for i in 0..SEQUENTIAL {
                let first = cache
                    .first_use("bench-key", &format!("seq-{i}"), now, now + 301)
                    .await;
                assert_eq!(first, Ok(true));
            }
            let sequential_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(SEQUENTIAL);
            let started = Instant::now();
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let cache = cache.clone();
                    tokio::spawn(async move {
                        for i in 0..EACH {
                            let jti = format!("par-{t}-{i}");
                            let first = cache.first_use("bench-key", &jti, now, now + 301).await;
                            assert_eq!(first, Ok(true));
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("a cache task");
            }
            let per_second = f64::from(TASKS * EACH) / started.elapsed().as_secs_f64();
            figures.insert(
                name.to_string(),
                json!({
                    "sequential_us_per_check": sequential_us,
                    "checks_per_second_64_at_a_time": per_second,
                }),
            );
        }
        Value::Object(figures)
    }

    /// 64 connections for 20 s with wrk (`-t2`), one Bearer token.
    async fn wrk(url: &str, token: &str) -> Value {
        let (url, token) = (url.to_string(), token.to_string());
        let output = tokio::task::spawn_blocking(move || {
            Command::new("wrk")
                .args(["-t2", "-c64", "-d20s", "--latency", "-H"])
                .arg(format!("Authorization: Bearer {token}"))
                .arg(url)
                .output()
        })
        .await
        .expect("wrk task")
        .expect("wrk runs (cargo xtask bench installs it)");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let field = |prefix: &str| {
            text.lines().find_map(|line| {
                line.trim()
                    .strip_prefix(prefix)
                    .map(|rest| rest.trim().to_string())
            })
        };
        json!({
            "tool": "wrk -t2 -c64 -d20s",
            "requests_per_second": field("Requests/sec:").and_then(|v| v.parse::<f64>().ok()),
            "p50": field("50%"),
            "p99": field("99%"),
            "non_2xx": field("Non-2xx or 3xx responses:").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
            "socket_errors": field("Socket errors:"),
            "raw": text,
        })
    }

    /// What a request carries: the `Authorization` value and, for DPoP, the proof.
    type Credentials = Arc<dyn Fn() -> (String, Option<String>) + Send + Sync>;

    /// `GET url` from [`CONNECTIONS`] connections for [`DURATION`], each request with fresh
    /// `credentials()`, made before its latency clock starts (their cost is in the client's
    /// CPU share, and apart in [`signing_cost`]). The client runs in a runtime of its
    /// own, as wrk is a process of its own, so that it does not queue behind the API's tasks.
    async fn load(url: &str, credentials: Credentials) -> Value {
        let url = url.to_string();
        let (authorization, proof) = credentials();
        let first = send(&reqwest::Client::new(), &url, authorization, proof)
            .await
            .expect("a request");
        assert!(first, "{url} refuses the load client's credentials");
        let runs = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the load client's runtime");
            runtime.block_on(async move {
                let started = Instant::now();
                let deadline = started + DURATION;
                let workers: Vec<_> = (0..CONNECTIONS)
                    .map(|_| tokio::spawn(connection(url.clone(), credentials.clone(), deadline)))
                    .collect();
                let mut runs = Vec::new();
                for worker in workers {
                    runs.push(worker.await.expect("a load worker"));
                }
                (runs, started.elapsed())
            })
        })
        .await
        .expect("the load client");
        let (runs, elapsed) = runs;
        let mut latencies: Vec<Duration> = Vec::new();
        let (mut non_2xx, mut errors) = (0u64, 0u64);
        for run in runs {
            latencies.extend(run.latencies);
            non_2xx += run.non_2xx;
            errors += run.errors;
        }
        latencies.sort();
        let percentile = |p: f64| {
            let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            latencies.get(index).map(|d| d.as_secs_f64() * 1000.0)
        };
        json!({
            "requests": latencies.len(),
            "requests_per_second": latencies.len() as f64 / elapsed.as_secs_f64(),
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "non_2xx": non_2xx,
            "errors": errors,
        })
    }

    struct Run {
        latencies: Vec<Duration>,
        non_2xx: u64,
        errors: u64,
    }

    /// One connection's requests, one after another, until `deadline`.
    async fn connection(url: String, credentials: Credentials, deadline: Instant) -> Run {
        // A client of its own keeps each worker on one keep-alive connection, as wrk's.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("an HTTP client");
        let mut run = Run {
            latencies: Vec::new(),
            non_2xx: 0,
            errors: 0,
        };
        while Instant::now() < deadline {
            let (authorization, proof) = credentials();
            let started = Instant::now();
            match send(&http, &url, authorization, proof).await {
                Ok(ok) => {
                    run.latencies.push(started.elapsed());
                    run.non_2xx += u64::from(!ok);
                }
                Err(_) => run.errors += 1,
            }
        }
        run
    }

    /// One `GET`, read to the end; whether it answered 2xx.
    async fn send(
        http: &reqwest::Client,
        url: &str,
        authorization: String,
        proof: Option<String>,
    ) -> reqwest::Result<bool> {
        let mut request = http.get(url).header("authorization", authorization);
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        let response = request.send().await?;
        let ok = response.status().is_success();
        response.bytes().await?;
        Ok(ok)
    }

    /// Microseconds the load client takes to make one request's credentials (for DPoP, to
    /// sign a proof), on one thread.
    fn signing_cost(credentials: &Credentials) -> f64 {
        const N: u32 = 2000;
        let started = Instant::now();
        for _ in 0..N {
            std::hint::black_box(credentials());
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(N)
    }

    /// A DPoP-bound access token for Alice, as the SPA gets one with `dpop: true`: the code
    /// flow with PKCE, `dpop_jkt` at `/authorize` and the code exchanged with a proof of `key`.
    async fn bound_access_token(stack: &Stack, key: &dpop::Signer) -> String {
        let verifier = "bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
        // S256 is base64url(SHA-256(verifier)): the same sum as a proof's `ath`.
        let challenge = dpop::ath(verifier);
        let redirect_uri = format!("{}/callback", stack.spa);
        let mut authorize = url::Url::parse(&format!("{}/authorize", stack.tenant)).expect("url");
        authorize.query_pairs_mut().extend_pairs([
            ("client_id", "appointments-spa"),
            ("redirect_uri", redirect_uri.as_str()),
            ("response_type", "code"),
            ("audience", "appointments:api"),
            ("scope", "read:appointments"),
            ("state", "bench"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", key.jkt().as_str()),
        ]);
        let location = answer_tenant(stack, authorize.as_str(), ALICE).await;
        let code = url::Url::parse(&location)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_else(|| panic!("no code in the redirect {location}"));
        let token_endpoint = format!("{}/oauth/token", stack.tenant);
        let response: Value = reqwest::Client::new()
            .post(&token_endpoint)
            .header(
                "dpop",
                key.proof("POST", &token_endpoint, dpop::now(), None, None),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "appointments-spa"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .expect("the token endpoint")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(response["token_type"], "DPoP", "{response}");
        response["access_token"]
            .as_str()
            .expect("an access token")
            .to_string()
    }

    /// An access token from the tenant's real pages, driven over HTTP.
    async fn access_token(stack: &Stack) -> String {
        let mut authorize = url::Url::parse(&format!("{}/authorize", stack.tenant)).expect("url");
        authorize.query_pairs_mut().extend_pairs([
            ("client_id", "appointments-spa"),
            ("redirect_uri", &format!("{}/callback", stack.spa)),
            ("response_type", "token"),
            ("audience", "appointments:api"),
            ("scope", "read:appointments"),
            ("state", "bench"),
        ]);
        let location = answer_tenant(stack, authorize.as_str(), ALICE).await;
        let fragment = location.split_once('#').map(|(_, f)| f).unwrap_or_default();
        url::form_urlencoded::parse(fragment.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .expect("an access token")
    }
}
