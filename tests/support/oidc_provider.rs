//! The end-to-end stack with an OpenID provider this project did not write:
//! node-oidc-provider (`tests/interop/provider.mjs`, OpenID Certified) instead of dev-tenant,
//! with appointments-api and the built `dist/` in-process, each on a free port.
//!
//! The provider's issuer is its natural `http://localhost:<port>`, without a trailing
//! slash. The SPA is served at `http://localhost:<port>` too: the provider's session cookie
//! is `SameSite=Lax`, so silent renewal's iframe carries it only when the app and the
//! provider are the same site (`127.0.0.1` and `localhost` are different sites). Both bind
//! 127.0.0.1; Chromium resolves `localhost` to the loopback addresses itself and falls back
//! from `::1` to `127.0.0.1`.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::Next;
use axum::routing::get;
use axum::Router;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use tower_http::services::{ServeDir, ServeFile};

use super::{bind, click, dist_dir, find, security_headers, wait_until, CurrentUrl, Driver, Stack};

/// The client registered at the provider (`provider.mjs`).
pub const CLIENT_ID: &str = "appointments-spa";
pub const AUDIENCE: &str = "appointments:api";

/// Which of its flows the app's `config.json` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The default: `response_type` `id_token token`, renewed in a hidden iframe.
    Implicit,
    /// `response_type` `code` (PKCE) with `offline_access`: renewed with refresh tokens.
    Code,
    /// As `Code`, with `dpop: true`.
    Dpop,
}

/// The app's scope in the code flow: `offline_access` asks for a refresh token.
pub const CODE_FLOW_SCOPE: &str =
    "openid profile email read:appointments create:appointments offline_access";

/// node-oidc-provider, the API and the SPA. Derefs to a [`Stack`] whose `tenant` is the
/// provider's issuer, so the suite's browser and storage helpers work unchanged.
pub struct Interop {
    pub stack: Stack,
    /// `http://localhost:<port>`, no trailing slash: the provider's `issuer` and the
    /// tokens' `iss`.
    pub issuer: String,
    provider: ProviderProcess,
}

impl std::ops::Deref for Interop {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl Interop {
    /// Starts everything; the provider's tokens live `token_lifetime` seconds (default one
    /// hour).
    pub async fn start(token_lifetime: Option<u64>) -> Interop {
        Self::launch(Flow::Implicit, token_lifetime, true).await
    }

    /// As [`Interop::start`], with the app configured for the code flow with PKCE and
    /// refresh tokens ([`CODE_FLOW_SCOPE`]).
    pub async fn start_code_flow(token_lifetime: Option<u64>) -> Interop {
        Self::launch(Flow::Code, token_lifetime, true).await
    }

    /// As [`Interop::start_code_flow`], with DPoP (`dpop: true`): the provider binds the
    /// tokens to the browser's key and demands a nonce in every proof.
    pub async fn start_dpop() -> Interop {
        Self::launch(Flow::Dpop, None, true).await
    }

    /// The provider, the static SPA and chromedriver, without appointments-api (whose
    /// `api_base_url` then points nowhere): for checking the provider's side alone.
    pub async fn start_without_api() -> Interop {
        Self::launch(Flow::Implicit, None, false).await
    }

    async fn launch(flow: Flow, token_lifetime: Option<u64>, with_api: bool) -> Interop {
        let spa_listener = bind().await;
        let spa_port = spa_listener.local_addr().expect("bound").port();
        let spa = format!("http://localhost:{spa_port}");

        let provider = ProviderProcess::start(&spa, token_lifetime).await;
        let issuer = provider.issuer.clone();

        let api_requests = Arc::new(AtomicUsize::new(0));
        let api = if with_api {
            start_api(&issuer, &spa, api_requests.clone()).await
        } else {
            "http://127.0.0.1:9".to_string()
        };

        let mut config = json!({
            "domain": issuer,
            "client_id": CLIENT_ID,
            "audience": AUDIENCE,
            "api_base_url": api,
            "scope": "openid profile email read:appointments create:appointments",
        });
        if matches!(flow, Flow::Code | Flow::Dpop) {
            config["response_type"] = "code".into();
            config["scope"] = CODE_FLOW_SCOPE.into();
        }
        if flow == Flow::Dpop {
            config["dpop"] = true.into();
        }
        let dist = dist_dir();
        let index = dist.join("index.html");
        assert!(
            index.exists(),
            "{} is missing: build the app first (`cargo xtask dist --out target/e2e-dist`, \
             then SPA_DIST_DIR=$PWD/target/e2e-dist)",
            index.display()
        );
        let app = Router::new()
            .route(
                "/config.json",
                get(move || {
                    let config = config.clone();
                    async move { axum::Json(config) }
                }),
            )
            .fallback_service(ServeDir::new(&dist).fallback(ServeFile::new(index)))
            // The policy a deployment sends, with the provider as the tenant.
            .layer(axum::middleware::from_fn_with_state(
                (issuer.clone(), api.clone()),
                security_headers,
            ));
        tokio::spawn(async move { axum::serve(spa_listener, app).await });

        let stack = Stack {
            spa,
            tenant: issuer.clone(),
            api,
            api_requests,
            faults: Default::default(),
            driver: Driver::start().await,
        };
        Interop {
            stack,
            issuer,
            provider,
        }
    }

    /// What the provider has written to stderr so far (its warnings and errors, and a
    /// line per token endpoint grant and revoked grant).
    pub fn provider_log(&self) -> String {
        self.provider.log()
    }

    /// The provider's discovery document.
    pub async fn discovery(&self) -> Value {
        reqwest::Client::new()
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .expect("discovery")
            .json()
            .await
            .expect("discovery JSON")
    }

    /// A form POST from outside the browser to the endpoint discovery names `endpoint`
    /// (`token_endpoint`, `revocation_endpoint`), as the public client (`client_id`, no
    /// secret), from the app's origin: the status, the `Access-Control-Allow-Origin` it
    /// answered, and the body (JSON, else `null`).
    pub async fn post_form(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        let discovery = self.discovery().await;
        let url = discovery[endpoint]
            .as_str()
            .unwrap_or_else(|| panic!("no {endpoint} in {discovery}"));
        let mut body = form.to_vec();
        body.push(("client_id", CLIENT_ID));
        let answer = reqwest::Client::new()
            .post(url)
            .header("Origin", &self.spa)
            .form(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{endpoint} {url}: {e}"));
        let status = answer.status().as_u16();
        let allowed = answer
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, allowed, answer.json().await.unwrap_or(Value::Null))
    }

    /// A refresh at the provider's token endpoint from outside the browser, as a thief or
    /// another client would: the status and the body.
    pub async fn refresh_outside(&self, refresh_token: &str) -> (u16, Value) {
        let (status, _, body) = self
            .post_form(
                "token_endpoint",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                ],
            )
            .await;
        (status, body)
    }
}

/// appointments-api in-process, as `tests/support` starts it, trusting the provider's
/// issuer exactly as it writes `iss` (no trailing slash), for the app at `spa`.
async fn start_api(issuer: &str, spa: &str, requests: Arc<AtomicUsize>) -> String {
    let api_listener = bind().await;
    let api = super::origin(&api_listener);
    let mut settings = appointments_api::Settings::new(issuer, AUDIENCE);
    settings.allowed_origins = vec![spa.to_string()];
    let api_app = appointments_api::app(settings)
        .await
        .unwrap_or_else(|e| panic!("appointments-api does not start with issuer {issuer}: {e:?}"))
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                next.run(request)
            },
        ));
    tokio::spawn(async move { axum::serve(api_listener, api_app).await });
    api
}

/// `node tests/interop/provider.mjs <spa> [lifetime]`: killed on drop, and it exits by
/// itself when its stdin (held here) closes.
struct ProviderProcess {
    child: Child,
    _stdin: Option<ChildStdin>,
    issuer: String,
    stderr: Arc<Mutex<String>>,
}

impl ProviderProcess {
    async fn start(spa: &str, token_lifetime: Option<u64>) -> ProviderProcess {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules/oidc-provider/package.json").exists(),
            "{}/node_modules is missing: `cargo xtask test` installs it \
             (or `npm ci --prefix tests/interop`)",
            dir.display()
        );
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
        let mut command = Command::new(&node);
        command
            .current_dir(&dir)
            .arg("provider.mjs")
            .arg(spa)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(seconds) = token_lifetime {
            command.arg(seconds.to_string());
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {node} (set NODE): {e}"));

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let log = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = err.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buffer[..n]);
                log.lock().expect("log").push_str(&text);
            }
        });

        // The first line starting with the marker names the issuer; the rest of stdout is
        // drained so that the provider never blocks on a full pipe.
        let announced: Arc<Mutex<Option<Value>>> = Arc::default();
        let out = child.stdout.take().expect("piped stdout");
        let slot = announced.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(json) = line.strip_prefix("interop-provider listening ") {
                    *slot.lock().expect("slot") = serde_json::from_str(json).ok();
                }
            }
        });
        let mut process = ProviderProcess {
            child,
            _stdin: None,
            issuer: String::new(),
            stderr,
        };
        process._stdin = process.child.stdin.take();
        wait_until("node-oidc-provider announces its issuer", || {
            let ready = announced.lock().expect("slot").is_some();
            let exited = process.child.try_wait().ok().flatten();
            assert!(
                exited.is_none(),
                "node-oidc-provider exited ({exited:?}):\n{}",
                process.log()
            );
            async move { ready }
        })
        .await;
        let announced = announced.lock().expect("slot").take().expect("announced");
        process.issuer = announced["issuer"]
            .as_str()
            .expect("issuer in the announcement")
            .to_string();
        process
    }

    fn log(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("node-oidc-provider's stderr:\n{}", self.log());
        }
        self._stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// At the provider's own pages: fills its login form if it is shown (no provider session
/// yet), then confirms its consent page if it is shown. Returns once the browser is back
/// at the app.
pub async fn sign_in_at_provider(browser: &Client, interop: &Interop, user: &str, password: &str) {
    // With the `/`: `http://localhost:4000` is a prefix of `http://localhost:40001`.
    let (app, provider) = (format!("{}/", interop.spa), format!("{}/", interop.issuer));
    let at_app = |url: &str| url.starts_with(&app);
    loop {
        wait_until(
            "the provider's login or consent page, or the app",
            || async {
                let url = browser.current_url_string().await;
                // The app still on its sign-in page (making its DPoP key) has not left yet.
                (at_app(&url) && browser.find(Locator::Css("#sign-in")).await.is_err())
                    || (url.starts_with(&provider)
                        && (browser
                            .find(Locator::Css("input[name=login]"))
                            .await
                            .is_ok()
                            || consent_form(browser).await))
            },
        )
        .await;
        let url = browser.current_url_string().await;
        if at_app(&url) {
            return;
        }
        if let Ok(login) = browser.find(Locator::Css("input[name=login]")).await {
            login.send_keys(user).await.expect("type the login");
            find(browser, "input[name=password]")
                .await
                .send_keys(password)
                .await
                .expect("type the password");
            click(browser, "form button[type=submit]").await;
        } else {
            click(browser, "form button[type=submit]").await;
        }
        // This page is done once the browser has left it.
        wait_until("the provider's page was submitted", || async {
            browser.current_url_string().await != url
                || !(browser
                    .find(Locator::Css("input[name=login]"))
                    .await
                    .is_ok()
                    || consent_form(browser).await)
        })
        .await;
    }
}

/// The provider's consent page (its dev interaction with `prompt=consent`).
async fn consent_form(browser: &Client) -> bool {
    browser
        .find(Locator::Css("form input[name=prompt][value=consent]"))
        .await
        .is_ok()
}

/// The claims of a JWT, decoded by the browser (`atob`), without checking anything.
pub async fn jwt_part(browser: &Client, jwt: &str, part: usize) -> Value {
    browser
        .execute(
            "const s = arguments[0].split('.')[arguments[1]].replace(/-/g, '+').replace(/_/g, '/');\
             return JSON.parse(atob(s + '='.repeat((4 - s.length % 4) % 4)));",
            vec![json!(jwt), json!(part)],
        )
        .await
        .expect("a decodable JWT part")
}
