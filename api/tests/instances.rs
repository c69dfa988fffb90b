//! Several instances: two `appointments-api` processes behind nginx (round-robin, the
//! `deploy/nginx/appointments-api.conf` template), sharing one PostgreSQL server of the test's
//! own. nginx's access log (the template's format, which names the instance) shows which
//! instance answered each request: a create through one is listed through the other,
//! concurrent first visits seed once, an `Idempotency-Key` retry and a replayed DPoP proof
//! reach the other instance and get the first answer and a refusal, no create is lost; a
//! stopped database gives 503 and `/readyz` 503, with one log line per instance, and its
//! return needs no restart; an instance started without its database starts, not ready.
//!
//! Needs PostgreSQL and nginx (`cargo xtask test` installs Debian's packages).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dpop::Signer;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::issuer::TestIssuer;
use support::nginx::{render, Nginx};
use support::postgres::PgServer;
use support::{sign, Binary, KEY};

mod support;

const TEMPLATE: &str = include_str!("../../deploy/nginx/appointments-api.conf");
const TEMPLATE_ACCESS_LOG: &str =
    "access_log /var/log/nginx/appointments-api.access.log appointments_api;";
const BOTH_SCOPES: &str = "read:appointments create:appointments";
/// How long a condition may take to come true.
const WAIT: Duration = Duration::from_secs(20);

struct Instance {
    binary: Binary,
    /// `http://127.0.0.1:<port>`.
    base: String,
}

impl Instance {
    /// The binary on a free port with `args`, once it says where it listens.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Instance {
        let mut all = vec!["--bind", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut binary = Binary::start_with_env(&all, env);
        let base = binary.wait_for_base_url();
        Instance { binary, base }
    }

    /// `127.0.0.1:<port>`, as nginx's log names it.
    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

/// One request as nginx logged it.
#[derive(Debug, Clone)]
struct Entry {
    request: String,
    status: u16,
    upstream: String,
}

struct Cluster {
    issuer: TestIssuer,
    pg: PgServer,
    nginx: Nginx,
    instances: Vec<Instance>,
    http: reqwest::Client,
    /// nginx log lines already looked at.
    logged: usize,
}

impl Cluster {
    async fn start() -> Cluster {
        let issuer = TestIssuer::start(true).await;
        let pg = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
        let mut nginx = Nginx::prepare();
        // Every instance checks DPoP proofs against the address clients use: nginx's.
        let (url, public) = (pg.url(), nginx.origin());
        let args = [
            "--database",
            url.as_str(),
            "--issuer",
            issuer.issuer(),
            "--public-url",
            public.as_str(),
        ];
        let instances = tokio::task::block_in_place(|| {
            vec![Instance::start(&args, &[]), Instance::start(&args, &[])]
        });
        assert_eq!(TEMPLATE.matches(TEMPLATE_ACCESS_LOG).count(), 1);
        let log = nginx.file("appointments-api.access.log");
        let server = render(
            &TEMPLATE.replace(
                TEMPLATE_ACCESS_LOG,
                &format!("access_log {} appointments_api;", log.display()),
            ),
            &[
                ("__LISTEN__", &format!("127.0.0.1:{}", nginx.port())),
                ("__SERVER_NAME__", "127.0.0.1 localhost"),
                ("__API_1__", instances[0].addr()),
                ("__API_2__", instances[1].addr()),
            ],
        );
        tokio::task::block_in_place(|| nginx.start(&server));
        Cluster {
            issuer,
            pg,
            nginx,
            instances,
            http: reqwest::Client::new(),
            logged: 0,
        }
    }

    /// The collection, through nginx.
    fn url(&self) -> String {
        format!("{}/api/appointments", self.nginx.origin())
    }

    fn token(&self, sub: &str) -> String {
        self.issuer.token(sub, BOTH_SCOPES)
    }

    async fn list(&self, token: &str) -> Vec<Value> {
        let response = self
            .http
            .get(self.url())
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn create(&self, token: &str, title: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.http.post(self.url()).bearer_auth(token).json(&json!({
            "title": title,
            "start": "2031-03-01T10:00:00Z",
            "end": "2031-03-01T11:00:00Z",
        }));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    /// The next `n` requests nginx logged (it logs once it has answered: waits for them).
    async fn next_entries(&mut self, n: usize) -> Vec<Entry> {
        let path = self.nginx.file("appointments-api.access.log");
        let deadline = Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() >= self.logged + n {
                let entries = lines[self.logged..self.logged + n]
                    .iter()
                    .map(|line| parse_entry(line))
                    .collect();
                self.logged += n;
                return entries;
            }
            assert!(
                Instant::now() < deadline,
                "nginx logged {} lines: {text}",
                lines.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts that both instances are among `entries`' upstreams, and nothing else.
    fn assert_both_served(&self, what: &str, entries: &[Entry]) {
        for instance in &self.instances {
            assert!(
                entries.iter().any(|e| e.upstream == instance.addr()),
                "{what}: {} served none of {entries:?}",
                instance.addr()
            );
        }
        for entry in entries {
            assert!(
                self.instances.iter().any(|i| i.addr() == entry.upstream),
                "{what}: {entry:?}"
            );
        }
    }

    async fn readyz(&self, instance: usize) -> StatusCode {
        self.http
            .get(format!("{}/readyz", self.instances[instance].base))
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// `… "GET /api/appointments HTTP/1.1" 200 123 upstream=127.0.0.1:1234 upstream_status=200 …`
fn parse_entry(line: &str) -> Entry {
    let (_, rest) = line.split_once('"').expect("a quoted request");
    let (request, rest) = rest.split_once('"').expect("a quoted request");
    let mut words = rest.split_whitespace();
    let status = words.next().and_then(|s| s.parse().ok()).expect("a status");
    let upstream = rest
        .split_whitespace()
        .find_map(|w| w.strip_prefix("upstream="))
        .expect("the instance")
        .to_string();
    Entry {
        request: request.to_string(),
        status,
        upstream,
    }
}

/// `n` copies of `make()`'s request, let go at once.
async fn all_at_once<F, Fut>(n: usize, make: F) -> Vec<reqwest::Response>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let request = make(i);
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    responses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_nginx_share_one_postgresql() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.token("auth0|alice");

    // A create through one instance is listed through the other.
    let created = cluster.create(&alice, "Shared", None).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let list = cluster.list(&alice).await;
    assert!(list.contains(&created), "{list:?}");
    let entries = cluster.next_entries(2).await;
    assert_ne!(entries[0].upstream, entries[1].upstream, "{entries:?}");
    cluster.assert_both_served("create, then list", &entries);

    // A new user's first requests at both instances at once: the samples, once.
    let carol = cluster.token("auth0|carol");
    let (http, url) = (cluster.http.clone(), cluster.url());
    let visits = all_at_once(16, |_| {
        let request = http.get(&url).bearer_auth(&carol).send();
        async move { request.await.unwrap() }
    })
    .await;
    for visit in visits {
        assert_eq!(visit.status(), StatusCode::OK);
        let list: Vec<Value> = visit.json().await.unwrap();
        assert_eq!(list.len(), 3, "seeded once: {list:?}");
    }
    let entries = cluster.next_entries(16).await;
    cluster.assert_both_served("first visits", &entries);
    assert_eq!(cluster.list(&carol).await.len(), 3);
    cluster.next_entries(1).await;

    // A retry with the same Idempotency-Key reaches the other instance: the first answer.
    let first = cluster.create(&alice, "Once", Some("retry-7f3a")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = cluster.create(&alice, "Once", Some("retry-7f3a")).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let entries = cluster.next_entries(2).await;
    assert_ne!(entries[0].upstream, entries[1].upstream, "{entries:?}");
    let titles: Vec<Value> = cluster
        .list(&alice)
        .await
        .into_iter()
        .map(|a| a["title"].clone())
        .collect();
    assert_eq!(
        titles.iter().filter(|t| *t == "Once").count(),
        1,
        "{titles:?}"
    );
    cluster.next_entries(1).await;

    // A DPoP proof accepted by one instance is refused by the other.
    let key = Signer::generate();
    let mut claims = cluster.issuer.claims("auth0|dora", "read:appointments");
    claims["cnf"] = json!({ "jkt": key.jkt() });
    let bound = sign(&KEY, Some("key-1"), &claims);
    let proof = key.proof("GET", &cluster.url(), dpop::now(), Some(&bound), None);
    let send = |proof: &str| {
        http.get(&url)
            .header(AUTHORIZATION, format!("DPoP {bound}"))
            .header("dpop", proof)
            .send()
    };
    assert_eq!(send(&proof).await.unwrap().status(), StatusCode::OK);
    let replayed = send(&proof).await.unwrap();
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let challenge = replayed.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    let entries = cluster.next_entries(2).await;
    assert_ne!(entries[0].upstream, entries[1].upstream, "{entries:?}");
    assert_eq!((entries[0].status, entries[1].status), (200, 401));
    let fresh = key.proof("GET", &cluster.url(), dpop::now(), Some(&bound), None);
    assert_eq!(send(&fresh).await.unwrap().status(), StatusCode::OK);
    cluster.next_entries(1).await;

    // Creates at both instances at once: none lost.
    let erin = cluster.token("auth0|erin");
    let responses = all_at_once(20, |i| {
        let request = http.post(&url).bearer_auth(&erin).json(&json!({
            "title": format!("Erin {i}"),
            "start": "2031-04-01T10:00:00Z",
            "end": "2031-04-01T11:00:00Z",
        }));
        async move { request.send().await.unwrap() }
    })
    .await;
    for response in responses {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let entries = cluster.next_entries(20).await;
    cluster.assert_both_served("concurrent creates", &entries);
    assert!(entries
        .iter()
        .all(|e| e.request.starts_with("POST /api/appointments")));
    assert_eq!(cluster.list(&erin).await.len(), 3 + 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_at_every_instance_and_its_end_needs_no_restart() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.token("auth0|alice");
    assert_eq!(
        cluster
            .create(&alice, "Before", Some("k-before"))
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(cluster.list(&alice).await.len(), 4);
    assert_eq!(cluster.list(&alice).await.len(), 4);
    for i in 0..2 {
        assert_eq!(cluster.readyz(i).await, StatusCode::OK);
    }
    cluster.next_entries(3).await;

    tokio::task::block_in_place(|| cluster.pg.stop());
    let key = Signer::generate();
    let mut claims = cluster.issuer.claims("auth0|dora", "read:appointments");
    claims["cnf"] = json!({ "jkt": key.jkt() });
    let bound = sign(&KEY, Some("key-1"), &claims);
    for round in 0..3 {
        let proof = key.proof("GET", &cluster.url(), dpop::now(), Some(&bound), None);
        for response in [
            cluster
                .http
                .get(cluster.url())
                .bearer_auth(&alice)
                .send()
                .await
                .unwrap(),
            cluster.create(&alice, "During", None).await,
            // The proofs used are in the database too: no answer rather than a guess.
            cluster
                .http
                .get(cluster.url())
                .header(AUTHORIZATION, format!("DPoP {bound}"))
                .header("dpop", proof)
                .send()
                .await
                .unwrap(),
        ] {
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "round {round}"
            );
            assert_eq!(response.headers()["retry-after"], "5");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"], "temporarily_unavailable", "{error}");
        }
    }
    let entries = cluster.next_entries(9).await;
    cluster.assert_both_served("during the outage", &entries);
    assert!(entries.iter().all(|e| e.status == 503), "{entries:?}");
    for i in 0..2 {
        assert_eq!(
            cluster.readyz(i).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "instance {i}"
        );
    }
    // One line per instance for the whole outage, however many requests it failed.
    for instance in &mut cluster.instances {
        let binary = &mut instance.binary;
        tokio::task::block_in_place(|| {
            binary.wait_for_count(" 503 ", 4);
            binary.wait_for("GET /readyz 503");
        });
        assert_eq!(
            binary.count("database unavailable"),
            1,
            "{:#?}",
            binary.output
        );
        assert!(binary.child.try_wait().unwrap().is_none(), "still running");
        assert_eq!(binary.count("panicked"), 0);
    }

    tokio::task::block_in_place(|| cluster.pg.run());
    let deadline = Instant::now() + WAIT;
    for i in 0..2 {
        while cluster.readyz(i).await != StatusCode::OK {
            assert!(Instant::now() < deadline, "instance {i} not ready again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Nothing lost, nothing half-made, and both instances answer again.
    let list = cluster.list(&alice).await;
    assert_eq!(list.len(), 4, "{list:?}");
    let retry = cluster.create(&alice, "Before", Some("k-before")).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        cluster.create(&alice, "After", None).await.status(),
        StatusCode::CREATED
    );
    let entries = cluster.next_entries(3).await;
    cluster.assert_both_served("after the outage", &entries);
    for instance in &mut cluster.instances {
        let binary = &mut instance.binary;
        tokio::task::block_in_place(|| binary.wait_for("database available again"));
        assert_eq!(binary.count("database unavailable"), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_without_its_database_starts_not_ready_and_says_so() {
    let issuer = TestIssuer::start(true).await;
    let mut pg = tokio::task::spawn_blocking(|| PgServer::init(false))
        .await
        .unwrap();
    // From the environment, as a container gets them; a password that must never be shown.
    let url = format!(
        "postgres://postgres:s3cret-pw@127.0.0.1:{}/postgres",
        pg.port()
    );
    let mut instance = tokio::task::block_in_place(|| {
        Instance::start(
            &["--issuer", issuer.issuer()],
            &[("DATABASE_URL", url.as_str()), ("DB_POOL_SIZE", "3")],
        )
    });
    let line = tokio::task::block_in_place(|| {
        instance
            .binary
            .seen_or_wait_for("not reachable at start-up")
    });
    assert!(line.contains("not ready"), "{line}");
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", instance.base));
    assert_eq!(
        get("/healthz").send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/readyz").send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let token = issuer.token("auth0|ida", "read:appointments");
    let response = get("/api/appointments")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );

    tokio::task::block_in_place(|| pg.run());
    let deadline = Instant::now() + WAIT;
    while get("/readyz").send().await.unwrap().status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "not ready once the database answers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list: Vec<Value> = get("/api/appointments")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 3);
    let binary = &mut instance.binary;
    tokio::task::block_in_place(|| binary.wait_for("GET /api/appointments 200"));
    assert_eq!(
        binary.count("schema at version 3"),
        1,
        "{:#?}",
        binary.output
    );
    let all = binary.output.join("\n");
    assert!(!all.contains("s3cret-pw"), "{all}");
    assert!(all.contains("postgres://postgres:***@127.0.0.1"), "{all}");
    // One line said the database was missing; the requests it failed added none.
    assert_eq!(binary.count("not reachable"), 1);
    assert_eq!(binary.count("database unavailable"), 0, "{all}");
}
