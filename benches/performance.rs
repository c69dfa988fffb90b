//! `cargo xtask bench` runs this (a benchmark: it reports, it does not pass or fail):
//! first-load timings in headless Chromium, and the appointments API under load with wrk.
//! It writes its results as JSON to `$BENCH_REPORT`.

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

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

    use super::support::{answer_tenant, callback_url, find, Stack, ALICE};
    use serde_json::{json, Value};

    const LOADS: usize = 20;

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

        // (a) navigation start to the Sign in button.
        let sign_in_ready = timings(&stack, loads, async |browser| {
            browser
                .goto(&format!("{}/", stack.spa))
                .await
                .expect("open the app");
            find(browser, "#sign-in").await;
            mark(browser, "app:sign-in-ready").await
        })
        .await;

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

        let api = load_test(&stack).await;
        let report = json!({
            "loads": loads,
            "sign_in_ready_ms": summary(&sign_in_ready),
            "callback_to_list_ms": summary(&callback_to_list),
            "api": api,
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
    async fn timings(
        stack: &Stack,
        n: usize,
        measure: impl AsyncFn(&fantoccini::Client) -> f64,
    ) -> Vec<f64> {
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

    /// `GET /api/appointments` with a valid token, 64 connections for 20 s, with wrk.
    async fn load_test(stack: &Stack) -> Value {
        let token = access_token(stack).await;
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
