//! The end-to-end stack: dev-tenant, appointments-api and the built `dist/` served with
//! SPA fallback, each on a free port, and a headless browser driven over WebDriver:
//! Chromium through chromedriver, or Firefox ESR through geckodriver when
//! `E2E_BROWSER=firefox` (see [`Browser`]).

#![allow(dead_code)] // Each test file uses its own part of this module.

pub mod code_flow;
pub mod oidc_provider;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::routing::get;
use axum::Router;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};

pub const WAIT: Duration = Duration::from_secs(30);
pub const ALICE: (&str, &str) = ("alice@example.com", "alice-password-1");

pub struct Stack {
    /// `http://127.0.0.1:<port>`, the SPA's origin (`http://localhost:<port>` from
    /// [`Stack::start_cross_site`]).
    pub spa: String,
    pub tenant: String,
    pub api: String,
    /// Requests the appointments API has received (preflights included).
    pub api_requests: Arc<AtomicUsize>,
    pub faults: dev_tenant::FaultSwitch,
    driver: Driver,
}

/// How the dev tenant of a [`Stack`] differs from its demo settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantOptions {
    /// Seconds the tokens live, instead of the demo's hours.
    pub token_lifetime: Option<u64>,
    /// `--require-dpop-nonce`: every DPoP proof must carry the tenant's nonce.
    pub require_dpop_nonce: bool,
}

/// dev-tenant and appointments-api, each on a free port, for an SPA at `spa` (an origin)
/// whose `public_url` is `site` (an absolute URL ending in `/`).
struct Servers {
    tenant: String,
    api: String,
    api_requests: Arc<AtomicUsize>,
    faults: dev_tenant::FaultSwitch,
}

impl Servers {
    async fn start(spa: &str, site: &str, tenant_options: TenantOptions) -> Servers {
        let tenant_listener = bind().await;
        let tenant = origin(&tenant_listener);
        let issuer = format!("{tenant}/");
        let mut settings = dev_tenant::Settings::demo(&issuer).expect("dev-tenant settings");
        for client in &mut settings.tenant.clients {
            client.callbacks.push(format!("{site}callback"));
            client.callbacks.push(format!("{site}silent-callback.html"));
            client.logout_urls.push(site.to_string());
            client.web_origins.push(spa.to_string());
        }
        settings.require_dpop_nonce = tenant_options.require_dpop_nonce;
        if let Some(seconds) = tenant_options.token_lifetime {
            settings.token_lifetime = seconds;
        }
        let faults = settings.faults.clone();
        tokio::spawn(dev_tenant::serve(tenant_listener, settings));

        let api_listener = bind().await;
        let api = origin(&api_listener);
        let mut api_settings = appointments_api::Settings::new(issuer, "appointments:api");
        api_settings.allowed_origins = vec![spa.to_string()];
        // Tests rotate the tenant's key seconds after the API first fetched it; the API's
        // own tests cover the re-fetch rate limit.
        api_settings.jwks_min_refetch_interval = std::time::Duration::ZERO;
        let api_requests = Arc::new(AtomicUsize::new(0));
        let counter = api_requests.clone();
        let api_app = appointments_api::app(api_settings)
            .await
            .expect("appointments-api starts")
            .layer(axum::middleware::from_fn(
                move |request: Request, next: Next| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    next.run(request)
                },
            ));
        tokio::spawn(async move { axum::serve(api_listener, api_app).await });
        Servers {
            tenant,
            api,
            api_requests,
            faults,
        }
    }

    /// The SPA's `config.json` for these servers.
    fn config(&self) -> Value {
        json!({
            "domain": self.tenant,
            "client_id": "appointments-spa",
            "audience": "appointments:api",
            "api_base_url": self.api,
            "scope": "openid profile email read:appointments create:appointments",
        })
    }

    async fn into_stack(self, spa: String) -> Stack {
        Stack {
            spa,
            tenant: self.tenant,
            api: self.api,
            api_requests: self.api_requests,
            faults: self.faults,
            driver: Driver::start().await,
        }
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Self::start_with(|config| config).await
    }

    /// Starts everything; `edit` may change the `config.json` the SPA receives.
    pub async fn start_with(edit: impl Fn(Value) -> Value + Send + Sync + 'static) -> Stack {
        Self::start_custom(edit, None).await
    }

    /// As [`Stack::start_with`], with the tenant issuing tokens that live `token_lifetime`
    /// seconds when given.
    pub async fn start_custom(
        edit: impl Fn(Value) -> Value + Send + Sync + 'static,
        token_lifetime: Option<u64>,
    ) -> Stack {
        Self::start_knowing_the_origin(move |_, config| edit(config), token_lifetime).await
    }

    /// As [`Stack::start_custom`], with the SPA's own origin given to `edit`.
    pub async fn start_knowing_the_origin(
        edit: impl Fn(&str, Value) -> Value,
        token_lifetime: Option<u64>,
    ) -> Stack {
        let options = TenantOptions {
            token_lifetime,
            ..TenantOptions::default()
        };
        Self::start_serving_the_spa_at("127.0.0.1", edit, options).await
    }

    /// As [`Stack::start_with`], with the dev tenant set up as `options` say.
    pub async fn start_with_tenant(
        edit: impl Fn(Value) -> Value + Send + Sync + 'static,
        options: TenantOptions,
    ) -> Stack {
        Self::start_serving_the_spa_at("127.0.0.1", move |_, config| edit(config), options).await
    }

    /// As [`Stack::start_custom`], with the app and the tenant on different sites, as an
    /// app and its Auth0 tenant are: the SPA at `http://localhost:<port>`, dev-tenant and
    /// the API still at `http://127.0.0.1:<port>` (host names make the site; ports do not).
    /// The tenant lists the `localhost` callback, silent-callback and logout URLs and web
    /// origin, the API allows that origin by CORS, and the SPA's CSP names the tenant and
    /// the API. Silent renewal's iframe is then a third-party frame, with the tenant's
    /// cookie subject to [`ThirdPartyCookies`].
    pub async fn start_cross_site(
        edit: impl Fn(Value) -> Value + Send + Sync + 'static,
        token_lifetime: Option<u64>,
    ) -> Stack {
        let options = TenantOptions {
            token_lifetime,
            ..TenantOptions::default()
        };
        Self::start_serving_the_spa_at("localhost", move |_, config| edit(config), options).await
    }

    /// The SPA at `http://<host>:<port>` (`host` names the loopback interface the listener
    /// is bound to), with dev-tenant and the API on `127.0.0.1`.
    async fn start_serving_the_spa_at(
        host: &str,
        edit: impl Fn(&str, Value) -> Value,
        options: TenantOptions,
    ) -> Stack {
        let spa_listener = bind().await;
        let port = spa_listener.local_addr().expect("bound").port();
        let spa = format!("http://{host}:{port}");
        let servers = Servers::start(&spa, &format!("{spa}/"), options).await;
        let config = edit(&spa, servers.config());
        let dist = dist_dir();
        let index = dist.join("index.html");
        assert!(
            index.exists(),
            "{} is missing: build the app first (`cargo xtask test` does, with trunk)",
            index.display()
        );
        let app = Router::new()
            .route(
                "/config.json",
                get(move || async move { axum::Json(config) }),
            )
            // A "tenant" whose discovery answers with a chosen status: `domain` set to
            // `<spa>/status/500` gets a 500 from its discovery URL.
            .route(
                "/status/{code}/.well-known/openid-configuration",
                get(
                    |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                        axum::http::StatusCode::from_u16(code)
                            .unwrap_or(axum::http::StatusCode::BAD_REQUEST)
                    },
                ),
            )
            .fallback_service(ServeDir::new(&dist).fallback(ServeFile::new(index)))
            .layer(axum::middleware::from_fn_with_state(
                (servers.tenant.clone(), servers.api.clone()),
                security_headers,
            ));
        tokio::spawn(async move { axum::serve(spa_listener, app).await });

        servers.into_stack(spa).await
    }

    /// A new browser session with a fresh profile (no cookies, no storage), in the browser
    /// `E2E_BROWSER` names, with third-party cookies [allowed](ThirdPartyCookies::Allowed).
    pub async fn browser(&self) -> Client {
        self.browser_with(ThirdPartyCookies::Allowed).await
    }

    /// As [`Stack::browser`], with third-party cookies allowed or blocked as asked, e.g.
    /// `stack.browser_with(ThirdPartyCookies::Blocked)` for a browser that refuses the
    /// tenant's cookies in a frame under another site.
    pub async fn browser_with(&self, cookies: ThirdPartyCookies) -> Client {
        self.connect(cookies, json!({})).await
    }

    /// The browser these tests drive (`E2E_BROWSER`).
    pub fn browser_kind(&self) -> Browser {
        self.driver.browser
    }

    /// A WebDriver session with a fresh profile in the driver's browser, with `cookies`
    /// pinned and `extra` capabilities.
    async fn connect(&self, cookies: ThirdPartyCookies, extra: Value) -> Client {
        let browser = self.driver.browser;
        let mut capabilities = browser.capabilities(cookies);
        if let (Value::Object(all), Value::Object(extra)) = (&mut capabilities, extra) {
            all.extend(extra);
        }
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let (server, url) = self.driver.server_for_a_new_session().await;
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("a WebDriver session in headless {browser:?}: {e}"));
        if let Ok(Some(session)) = client.session_id().await {
            self.driver.opened(server, session);
        }
        if browser == Browser::Firefox {
            // Chromium takes its window size as a flag; Firefox over WebDriver.
            client
                .set_window_size(1280, 900)
                .await
                .expect("a 1280x900 window");
        }
        client
    }
}

/// The browser the end-to-end tests drive: `E2E_BROWSER=firefox` for Firefox ESR, unset or
/// `chromium` for Chromium. Both run headless with a fresh profile per session and with
/// nothing that reaches out to the network on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Browser {
    /// Debian's `chromium` (`CHROMIUM` overrides `/usr/bin/chromium`), through chromedriver
    /// (`CHROMEDRIVER`, else `chromedriver` on the `PATH`).
    Chromium,
    /// Debian's `firefox-esr` (`FIREFOX` overrides `/usr/bin/firefox-esr`), through
    /// geckodriver (`GECKODRIVER`, else `geckodriver` on the `PATH`; `cargo xtask test`
    /// installs it into `~/.cargo/bin`).
    Firefox,
}

impl Browser {
    /// The browser `E2E_BROWSER` names; anything but `chromium`, `firefox` or unset fails.
    pub fn from_env() -> Browser {
        match std::env::var("E2E_BROWSER").as_deref() {
            Err(_) | Ok("" | "chromium") => Browser::Chromium,
            Ok("firefox") => Browser::Firefox,
            Ok(other) => panic!("E2E_BROWSER={other}: expected chromium or firefox"),
        }
    }

    /// Prints why the rest of a check is skipped in this browser, and says whether it is:
    /// `if stack.browser_kind().skips("...", "why") { return; }`. Chromium skips nothing.
    pub fn skips(self, what: &str, why: &str) -> bool {
        if self == Browser::Chromium {
            return false;
        }
        eprintln!("SKIPPED in {self:?}: {what}: {why}");
        true
    }

    fn capabilities(self, cookies: ThirdPartyCookies) -> Value {
        let blocked = cookies == ThirdPartyCookies::Blocked;
        match self {
            Browser::Chromium => json!({
                "goog:chromeOptions": {
                    "binary": std::env::var("CHROMIUM")
                        .unwrap_or_else(|_| "/usr/bin/chromium".into()),
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        "--disable-quic", "--window-size=1280,900",
                        // As Firefox's below: no heuristic lifts the block. With third-party
                        // cookies blocked, Chromium (source, 148) honours the 3PCD heuristics'
                        // temporary grants, e.g. 15 minutes of third-party cookies for a site
                        // the user interacted with in an A→B→A redirect, as a sign-in is.
                        "--disable-features=TpcdHeuristicsGrants",
                    ],
                    // Settings' third-party cookies choice: 0 allows them, 1 blocks them.
                    // Without it, Chromium 148 under chromedriver blocks them, and the older
                    // `profile.block_third_party_cookies: false` does not change that
                    // (measured with tests/e2e_browser.rs, which checks both settings).
                    "prefs": {
                        "profile.cookie_controls_mode": if blocked { 1 } else { 0 },
                    },
                }
            }),
            Browser::Firefox => json!({
                "moz:firefoxOptions": {
                    "binary": std::env::var("FIREFOX")
                        .unwrap_or_else(|_| "/usr/bin/firefox-esr".into()),
                    "args": ["-headless"],
                    "prefs": firefox_prefs(cookies),
                }
            }),
        }
    }
}

/// Whether the browser keeps cookies for a site framed by another site (the tenant's
/// `/authorize` in silent renewal's iframe when the app and the tenant are different sites:
/// `localhost` and `127.0.0.1` are; ports do not matter). Pinned in every session, so that a
/// test does not depend on either browser's default or its heuristics.
///
/// `tests/e2e_browser.rs` shows what each setting does in each browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThirdPartyCookies {
    /// Chromium: third-party cookies allowed, in the site's one cookie jar (a cookie set at
    /// the top level is sent to the framed site, and the other way round). Firefox: Total
    /// Cookie Protection (`network.cookie.cookieBehavior` 5), its default: a framed site
    /// may set and read cookies, but in a jar of its own per top-level site, so cookies
    /// from a top-level visit are **not** sent to it in a frame under another site. The
    /// heuristics that would lift that partition after a pop-up or redirect are off.
    Allowed,
    /// Both browsers refuse cookies to a site framed by another site, and send it none
    /// (Chromium: Settings' "Block third-party cookies"; Firefox: `cookieBehavior` 1).
    Blocked,
}

/// Firefox's profile preferences: the cookie behaviour asked for, and nothing that goes to
/// the network by itself (updates, telemetry, Safe Browsing, captive-portal checks, add-on
/// updates), which would fail or stall on a closed network.
fn firefox_prefs(cookies: ThirdPartyCookies) -> Value {
    json!({
        "network.cookie.cookieBehavior": match cookies {
            ThirdPartyCookies::Allowed => 5,
            ThirdPartyCookies::Blocked => 1,
        },
        "privacy.restrict3rdpartystorage.heuristic.recently_visited": false,
        "privacy.restrict3rdpartystorage.heuristic.opened_window_after_interaction": false,
        "privacy.restrict3rdpartystorage.heuristic.window_open": false,
        "privacy.restrict3rdpartystorage.heuristic.redirect": false,
        "app.update.enabled": false,
        "app.update.auto": false,
        "app.normandy.enabled": false,
        "browser.shell.checkDefaultBrowser": false,
        "browser.startup.homepage_override.mstone": "ignore",
        "datareporting.policy.dataSubmissionEnabled": false,
        "datareporting.healthreport.uploadEnabled": false,
        "toolkit.telemetry.enabled": false,
        "toolkit.telemetry.unified": false,
        "toolkit.telemetry.archive.enabled": false,
        "toolkit.telemetry.server": "",
        "network.captive-portal-service.enabled": false,
        "network.connectivity-service.enabled": false,
        "browser.safebrowsing.malware.enabled": false,
        "browser.safebrowsing.phishing.enabled": false,
        "browser.safebrowsing.downloads.enabled": false,
        "browser.safebrowsing.blockedURIs.enabled": false,
        "browser.safebrowsing.provider.mozilla.updateURL": "",
        "browser.safebrowsing.provider.google4.updateURL": "",
        "extensions.update.enabled": false,
        "extensions.update.autoUpdateDefault": false,
        "extensions.getAddons.cache.enabled": false,
        "extensions.systemAddon.update.enabled": false,
        "browser.ping-centre.telemetry": false,
        "browser.newtabpage.activity-stream.feeds.telemetry": false,
        "browser.newtabpage.activity-stream.telemetry": false,
        "network.dns.disablePrefetch": true,
        "network.prefetch-next": false,
        "network.http.speculative-parallel-limit": 0,
        "browser.region.network.url": "",
        "browser.region.update.enabled": false,
        "browser.search.update": false,
        "services.settings.server": "",
        "browser.contentblocking.report.lockwise.enabled": false,
        "media.gmp-manager.url": "",
        "media.gmp-gmpopenh264.enabled": false,
    })
}

/// The headers a deployment sends (see deploy/): the app must work under them.
async fn security_headers(
    axum::extract::State((tenant, api)): axum::extract::State<(String, String)>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    // Silent renewal's landing page is framed by the app itself; nothing else may be framed.
    let ancestors = if request.uri().path().ends_with("/silent-callback.html") {
        "'self'"
    } else {
        "'none'"
    };
    let mut response = next.run(request).await;
    let csp = format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' {tenant}; connect-src 'self' {tenant} {api}; frame-src 'self' {tenant}; \
         base-uri 'self'; form-action 'none'; frame-ancestors {ancestors}"
    );
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", csp.as_str()),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        if let Ok(value) = axum::http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

fn dist_dir() -> PathBuf {
    std::env::var_os("SPA_DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist"))
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("a free port")
}

fn origin(listener: &TcpListener) -> String {
    let addr: SocketAddr = listener.local_addr().expect("bound");
    format!("http://{addr}")
}

/// The WebDriver servers of [`Browser::from_env`]'s browser: one chromedriver for all of a
/// stack's Chromium sessions, one geckodriver per Firefox session (geckodriver holds one
/// session at a time, and a test may open two browsers at once). Each on a free port.
struct Driver {
    browser: Browser,
    servers: std::sync::Mutex<Vec<DriverServer>>,
}

impl Driver {
    async fn start() -> Driver {
        let browser = Browser::from_env();
        let servers = match browser {
            Browser::Chromium => vec![DriverServer::start(browser).await],
            Browser::Firefox => Vec::new(),
        };
        Driver {
            browser,
            servers: std::sync::Mutex::new(servers),
        }
    }

    /// The index and URL of the server to open a new session on.
    async fn server_for_a_new_session(&self) -> (usize, String) {
        if self.browser == Browser::Chromium {
            return (0, self.url());
        }
        let server = DriverServer::start(self.browser).await;
        let url = server.url.clone();
        let mut servers = self.servers.lock().expect("driver servers");
        servers.push(server);
        (servers.len() - 1, url)
    }

    /// Remembers a session opened on `server`, to be ended when the stack is dropped.
    fn opened(&self, server: usize, session: String) {
        self.servers.lock().expect("driver servers")[server]
            .sessions
            .push(session);
    }

    /// chromedriver's URL.
    fn url(&self) -> String {
        self.servers.lock().expect("driver servers")[0].url.clone()
    }
}

/// A chromedriver or geckodriver process. Dropped, it ends the sessions still open on it,
/// so that their browsers quit (a browser outlives a killed driver, e.g. after a test
/// failed before closing its browser), then it is killed.
struct DriverServer {
    process: Child,
    port: u16,
    url: String,
    sessions: Vec<String>,
}

impl DriverServer {
    async fn start(browser: Browser) -> DriverServer {
        let port = bind().await.local_addr().expect("bound").port();
        let (variable, default) = match browser {
            Browser::Chromium => ("CHROMEDRIVER", "chromedriver"),
            Browser::Firefox => ("GECKODRIVER", "geckodriver"),
        };
        let program = std::env::var(variable).unwrap_or_else(|_| default.into());
        let mut command = Command::new(&program);
        match browser {
            Browser::Chromium => command.arg(format!("--port={port}")),
            // A free WebDriver BiDi port too: every geckodriver otherwise gives its Firefox
            // port 9222, and parallel tests' Firefoxes would fight over it. (Marionette's
            // port is already a free one.)
            Browser::Firefox => command.args([
                "--port".to_string(),
                port.to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--websocket-port".into(),
                "0".into(),
            ]),
        };
        let process = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} (set {variable}): {e}"));
        let server = DriverServer {
            process,
            port,
            url: format!("http://127.0.0.1:{port}"),
            sessions: Vec::new(),
        };
        wait_until(&format!("{program} listens"), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        server
    }

    /// `DELETE /session/<id>` over a plain socket (this runs in `drop`, where nothing may be
    /// awaited), waiting at most a few seconds. An already closed session answers 404.
    fn end_session(&self, session: &str) {
        use std::io::{Read, Write};
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
        else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // Read the answer through, but not to the end of the connection: chromedriver keeps
        // it open despite `Connection: close`, which cost every test the read timeout.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(read) = stream.read(&mut chunk) {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..read]);
            if is_complete_response(&answer) {
                break;
            }
        }
    }
}

/// Whether `answer` holds an HTTP response's headers and its whole `Content-Length` body.
fn is_complete_response(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

impl Drop for DriverServer {
    fn drop(&mut self) {
        for session in &self.sessions {
            self.end_session(session);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Polls `condition` until it holds, failing the test after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for an element to be present.
pub async fn find(browser: &Client, css: &str) -> Element {
    match browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => {
            let url = browser.current_url_string().await;
            let text = browser
                .execute(
                    "return document.body ? document.body.innerText : ''",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!("no `{css}` on {url} after {WAIT:?}: {e}\npage text: {text}")
        }
    }
}

/// Waits for an element and returns its text.
pub async fn text_of(browser: &Client, css: &str) -> String {
    find(browser, css).await.text().await.expect("element text")
}

pub async fn click(browser: &Client, css: &str) {
    find(browser, css).await.click().await.expect("click");
}

pub trait CurrentUrl {
    async fn current_url_string(&self) -> String;
}

impl CurrentUrl for Client {
    async fn current_url_string(&self) -> String {
        self.current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }
}

/// At the tenant: fills the login form if it is shown (no tenant session yet), then
/// answers the consent screen if it is shown (consent not yet given). Returns at once if
/// the tenant sends the browser straight back to the app.
pub async fn sign_in_at_tenant(
    browser: &Client,
    stack: &Stack,
    (user, password): (&str, &str),
    consent: &str,
) {
    // Until the app has left for the tenant (with DPoP it makes a key first), the page is
    // still the app's, with its sign-in button: that is not the tenant sending it back.
    wait_until("the tenant's login or consent page, or the app", || async {
        let url = browser.current_url_string().await;
        (url.starts_with(&stack.spa) && browser.find(Locator::Css("#sign-in")).await.is_err())
            || (url.starts_with(&stack.tenant)
                && (browser.find(Locator::Css("#username")).await.is_ok()
                    || browser
                        .find(Locator::Css("button[value=accept]"))
                        .await
                        .is_ok()))
    })
    .await;
    if browser.current_url_string().await.starts_with(&stack.spa) {
        return;
    }
    if let Ok(field) = browser.find(Locator::Css("#username")).await {
        field.send_keys(user).await.expect("type the user");
        browser
            .find(Locator::Css("#password"))
            .await
            .expect("password field")
            .send_keys(password)
            .await
            .expect("type the password");
        click(browser, "form button[type=submit]").await;
    }
    click(browser, &format!("button[name=decision][value={consent}]")).await;
}

/// Ends the tenant's session from another tab, as signing out of another app would, and
/// comes back to the app's tab.
pub async fn end_tenant_session_in_another_tab(browser: &Client, stack: &Stack) {
    let app = open_another_tab(browser).await;
    end_tenant_session(browser, stack).await;
    back_to_the_app(browser, app).await;
}

/// Opens a new tab of the same browser (cookies shared, sessionStorage not) and switches to
/// it; returns the tab to come back to.
pub async fn open_another_tab(browser: &Client) -> fantoccini::wd::WindowHandle {
    let app = browser.window().await.expect("window");
    let other = browser.new_window(true).await.expect("new tab");
    browser
        .switch_to_window(other.handle)
        .await
        .expect("switch");
    app
}

/// Closes the current tab and returns to `app`.
pub async fn back_to_the_app(browser: &Client, app: fantoccini::wd::WindowHandle) {
    // Under load chromedriver has given up closing a tab after 20 s; the tab has done its
    // job by now either way.
    let _ = browser.close_window().await;
    browser
        .switch_to_window(app)
        .await
        .expect("back to the app");
}

/// Ends the tenant's session in the current tab, as signing out of another app would.
pub async fn end_tenant_session(browser: &Client, stack: &Stack) {
    browser
        .goto(&format!(
            "{}/v2/logout?client_id=appointments-spa",
            stack.tenant
        ))
        .await
        .expect("tenant logout");
}

/// After a logout: back at `home` (the app's `logout_return_to`), signed out, with none of
/// the app's keys left in web storage.
pub async fn assert_signed_out_at(browser: &Client, home: &str) {
    wait_until("the browser is back at logout_return_to", || async {
        browser.current_url_string().await == home
    })
    .await;
    text_of(browser, "#sign-in").await;
    let keys = storage_keys(browser).await;
    assert!(
        keys.iter().all(|k| !k.starts_with("appointments.auth")),
        "left behind: {keys:?}"
    );
}

/// Clicks Sign in, then answers the tenant outside the browser (login and consent over
/// HTTP) and returns the callback URL the tenant redirects to, tokens in its fragment.
/// The browser keeps the sign-in transaction, so opening the URL completes the sign-in.
pub async fn callback_url(
    browser: &Client,
    stack: &Stack,
    (user, password): (&str, &str),
) -> String {
    click(browser, "#sign-in").await;
    let authorize = format!("{}/authorize?", stack.tenant);
    wait_until("the browser is at the tenant's /authorize", || async {
        browser.current_url_string().await.starts_with(&authorize)
    })
    .await;
    let authorize_url = browser.current_url_string().await;
    answer_tenant(stack, &authorize_url, (user, password)).await
}

/// Follows an `/authorize` URL over HTTP: logs in, consents, and returns where the tenant
/// redirects to (the callback, tokens in its fragment). Carries the tenant's cookies as a
/// browser would: the browser cookie from `/authorize` (its pages refuse requests without
/// it) and the session cookie from the login (consent needs it).
pub async fn answer_tenant(
    stack: &Stack,
    authorize_url: &str,
    (user, password): (&str, &str),
) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client");
    let authorize = http.get(authorize_url).send().await.expect("authorize");
    let login_page = authorize.text().await.expect("page");
    let marker = "name=\"tx\" value=\"";
    let start = login_page.find(marker).expect("a login form") + marker.len();
    let tx = &login_page[start..start + login_page[start..].find('"').expect("end of tx")];
    let login = http
        .post(format!("{}/u/login", stack.tenant))
        .form(&[("tx", tx), ("username", user), ("password", password)])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 303, "the tenant took the login");
    let consent = http
        .post(format!("{}/u/consent", stack.tenant))
        .form(&[("tx", tx), ("decision", "accept")])
        .send()
        .await
        .expect("consent");
    consent
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect to the app")
        .to_string()
}

/// The SPA's session in web storage, if any (`null`s when none).
pub async fn stored_session(browser: &Client) -> Value {
    browser
        .execute(
            "return [sessionStorage.getItem('appointments.auth.session'), localStorage.getItem('appointments.auth.session')]",
            vec![],
        )
        .await
        .expect("read storage")
}

/// The stored session's `issued_at`, when there is one in sessionStorage.
pub async fn stored_issued_at(browser: &Client) -> Option<u64> {
    let stored = browser
        .execute(
            "return sessionStorage.getItem('appointments.auth.session')",
            vec![],
        )
        .await
        .ok()?;
    let session: Value = serde_json::from_str(stored.as_str()?).ok()?;
    session["issued_at"].as_u64()
}

/// Every key the app may leave in web storage, from both storages.
pub async fn storage_keys(browser: &Client) -> Vec<String> {
    let keys = browser
        .execute(
            "return Object.keys(sessionStorage).concat(Object.keys(localStorage))",
            vec![],
        )
        .await
        .expect("read storage");
    serde_json::from_value(keys).unwrap_or_default()
}

pub const BOB: (&str, &str) = ("bob@example.com", "bob-password-1");

/// Opens `path` signed out, signs in, and waits for `landmark` on the page it returns to.
pub async fn sign_in_to(
    browser: &fantoccini::Client,
    stack: &Stack,
    user: (&str, &str),
    path: &str,
    landmark: &str,
) {
    browser
        .goto(&format!("{}{path}", stack.spa))
        .await
        .expect("open the app");
    click(browser, "#sign-in").await;
    sign_in_at_tenant(browser, stack, user, "accept").await;
    find(browser, landmark).await;
}

/// Signs in from `path` and waits for the appointments list.
pub async fn sign_in_to_list(browser: &Client, stack: &Stack, user: (&str, &str), path: &str) {
    sign_in_to(browser, stack, user, path, "#appointments-list").await;
}

impl Stack {
    /// dev-tenant, appointments-api and the WebDriver server for an SPA that something else serves
    /// (e.g. nginx in `e2e_deploy.rs`) at `spa` (an origin, `http://127.0.0.1:<port>`) under
    /// `public_url` (`/` or `/appointments-demo/`). The tenant accepts that origin's
    /// callback, silent-callback and logout URLs, and the API allows it by CORS. Write the
    /// returned `config.json` next to the served `index.html`.
    pub async fn start_for_static_site(spa: &str, public_url: &str) -> (Stack, Value) {
        let spa = spa.trim_end_matches('/').to_string();
        let servers = Servers::start(
            &spa,
            &format!("{spa}{public_url}"),
            TenantOptions::default(),
        )
        .await;
        let config = servers.config();
        let stack = servers.into_stack(spa).await;
        (stack, config)
    }

    /// As [`Stack::browser`], with Chromium's console kept for [`Stack::browser_log`].
    /// Chromium only: geckodriver has no endpoint for the console.
    pub async fn browser_with_console_log(&self) -> Client {
        self.connect(
            ThirdPartyCookies::Allowed,
            json!({ "goog:loggingPrefs": { "browser": "ALL" } }),
        )
        .await
    }

    /// The browser's console messages since the last call (chromedriver's `se/log`, which
    /// needs [`Stack::browser_with_console_log`]), each as `LEVEL message`. CSP violations
    /// show here as `SEVERE ... Refused to ... Content Security Policy ...`. Chromium only.
    pub async fn browser_log(&self, browser: &Client) -> Vec<String> {
        assert_eq!(
            self.driver.browser,
            Browser::Chromium,
            "the console log is chromedriver's (se/log); geckodriver has none"
        );
        let session = browser
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.driver.url()))
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .expect("chromedriver answers se/log")
            .json()
            .await
            .expect("se/log answers JSON");
        answer["value"]
            .as_array()
            .unwrap_or_else(|| panic!("se/log: {answer}"))
            .iter()
            .map(|entry| {
                format!(
                    "{} {}",
                    entry["level"].as_str().unwrap_or("?"),
                    entry["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

/// Fills the create form; times go in as a `datetime-local` value (local time), which
/// typing would enter differently in each locale.
pub async fn fill_form(
    browser: &fantoccini::Client,
    title: &str,
    start: &str,
    end: &str,
    location: &str,
) {
    find(browser, "#create-appointment input[name=title]")
        .await
        .send_keys(title)
        .await
        .expect("type");
    find(browser, "#create-appointment input[name=location]")
        .await
        .send_keys(location)
        .await
        .expect("type");
    browser
        .execute(
            "document.querySelector('#create-appointment input[name=start]').value = arguments[0];\
             document.querySelector('#create-appointment input[name=end]').value = arguments[1];",
            vec![json!(start), json!(end)],
        )
        .await
        .expect("set the times");
}

/// Waits until the appointments list shows `title`.
pub async fn wait_until_listed(browser: &Client, title: &str) {
    wait_until(&format!("{title:?} is listed"), || async {
        match browser.find(Locator::Css("#appointments-list")).await {
            Ok(list) => list.text().await.is_ok_and(|text| text.contains(title)),
            Err(_) => false,
        }
    })
    .await;
}
