//! The static deployment, end to end: the release build, made for the public URL
//! `/appointments-demo/` (and for the root), served by nginx (Debian's package) with
//! deploy/nginx/appointments.conf, its SPA fallback, caching and security headers; sign-in,
//! the API and silent renewal in headless Chromium under that Content-Security-Policy, with
//! the implicit grant and then with the code flow; nginx's access log, in the template's
//! format, holds the paths but never a code, a state or a token. Also the GitHub Pages
//! recipe (a meta element and 404.html) on a host that sends no headers.
//!
//! Needs the sub-path build in `SPA_SUBPATH_DIST_DIR` and the root build in `SPA_DIST_DIR`
//! (`cargo xtask test` builds both),
//! nginx (`NGINX`, else /usr/sbin/nginx or `nginx` on PATH; `cargo xtask test` installs it)
//! and chromedriver (`CHROMEDRIVER`). The test starts its own nginx, as a child process with
//! its own configuration, logs and temp files in a temporary directory, on a free port of
//! 127.0.0.1; it never touches the system's nginx.
#![cfg(not(target_arch = "wasm32"))]

mod support;
// The test nginx the API's tests use (standard library only): one process of our own on a free
// port, in a temporary folder, killed on drop.
#[path = "../api/tests/support/nginx.rs"]
mod nginx;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use support::{
    click, find, sign_in_at_tenant, stored_issued_at, text_of, wait_until, CurrentUrl, Stack, ALICE,
};

const PUBLIC_URL: &str = "/appointments-demo/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The template's access log, which the test points at a file of its own.
const TEMPLATE_ACCESS_LOG: &str = "access_log /var/log/nginx/appointments.access.log appointments;";
/// What the access log must never hold: the parameters of an authorization response.
const SECRETS_IN_URLS: [&str; 5] = [
    "code=",
    "state=",
    "access_token",
    "id_token",
    "refresh_token",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_release_build_under_a_sub_path_behind_nginx_signs_in_under_the_csp() {
    behind_nginx(&subpath_dist(), PUBLIC_URL).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_build_at_the_root_behind_nginx_signs_in_under_the_csp() {
    behind_nginx(&root_dist(), "/").await;
}

/// Serves `dist` (built for `public_url`) with deploy/nginx/appointments.conf, checks what
/// nginx answers over plain HTTP, then uses the app in headless Chromium.
async fn behind_nginx(dist: &Path, public_url: &str) {
    let site = Site::prepare(dist, public_url);
    let mut nginx = nginx::Nginx::prepare();
    let port = nginx.port();
    let origin = nginx.origin();
    let (stack, config) = Stack::start_for_static_site(&origin, public_url).await;
    site.write_config(&config);
    nginx.start(&template_server(&site, port, &stack));
    let app = format!("{origin}{public_url}");

    // ---- What nginx answers, over plain HTTP. ----
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let csp = app_csp(&stack.tenant, &stack.api);
    let index_html = std::fs::read_to_string(dist.join("index.html")).expect("index.html");
    assert_no_inline_script(&index_html);

    for path in ["", "index.html", "appointments", "callback", "tokens"] {
        let (status, headers, body) = get(&http, &format!("{app}{path}")).await;
        assert_eq!(
            status, 200,
            "{public_url}{path}: the SPA fallback serves index.html"
        );
        assert_eq!(body, index_html, "{public_url}{path} is index.html");
        assert_header(&headers, "content-type", "text/html; charset=utf-8", path);
        assert_header(&headers, "cache-control", "no-cache", path);
        assert_security_headers(&headers, &csp, path);
    }

    let (status, headers, body) = get(&http, &format!("{app}config.json")).await;
    assert_eq!(status, 200, "config.json");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("config.json is JSON"),
        config
    );
    assert_header(&headers, "content-type", "application/json", "config.json");
    assert_header(&headers, "cache-control", "no-cache", "config.json");
    assert_security_headers(&headers, &csp, "config.json");

    let (status, headers, _) = get(&http, &format!("{app}silent-callback.html")).await;
    assert_eq!(status, 200, "silent-callback.html");
    assert_header(
        &headers,
        "cache-control",
        "no-cache",
        "silent-callback.html",
    );
    assert_header(
        &headers,
        "content-security-policy",
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
        "silent-callback.html",
    );
    assert_header(
        &headers,
        "referrer-policy",
        "no-referrer",
        "silent-callback.html",
    );
    assert_header(
        &headers,
        "x-content-type-options",
        "nosniff",
        "silent-callback.html",
    );
    assert_header(
        &headers,
        "x-frame-options",
        "SAMEORIGIN",
        "silent-callback.html",
    );

    let hashed = hashed_files(dist);
    assert!(
        hashed.iter().any(|(name, _)| name.ends_with("_bg.wasm"))
            && hashed.iter().any(|(name, _)| name.ends_with(".js"))
            && hashed.iter().any(|(name, _)| name.ends_with(".css")),
        "the build has hashed .wasm, .js and .css files: {hashed:?}"
    );
    for (name, content_type) in &hashed {
        let (status, headers, _) = get(&http, &format!("{app}{name}")).await;
        assert_eq!(status, 200, "{name}");
        assert_header(&headers, "content-type", content_type, name);
        assert_header(&headers, "cache-control", IMMUTABLE, name);
        assert_security_headers(&headers, &csp, name);
    }
    if public_url != "/" {
        // The sub-path without its slash: nginx's redirect to the directory.
        let bare = public_url.trim_end_matches('/');
        let (status, headers, _) = get(&http, &format!("{origin}{bare}")).await;
        assert_eq!(status, 301, "{bare}");
        let location = headers["location"].to_str().expect("location");
        assert_eq!(location, app, "{bare} redirects to {public_url}");
    }
    // A hashed name that is not there is a 404, never index.html cached for a year.
    let missing = "appointments-spa-0123456789abcdef_bg.wasm";
    let (status, headers, _) = get(&http, &format!("{app}{missing}")).await;
    assert_eq!(status, 404, "{missing}");
    assert_security_headers(&headers, &csp, missing);

    // The code flow's callback, as the tenant's redirect makes the browser ask for it, with
    // a Referer that carries a query (other sites' links may): the log keeps neither query.
    let answer = http
        .get(format!("{app}callback?code=canary-code&state=canary-state"))
        .header(
            "referer",
            format!("{app}callback?code=canary-referer-code&state=canary-referer-state"),
        )
        .send()
        .await
        .expect("GET callback?code=…");
    assert_eq!(answer.status().as_u16(), 200, "the callback is index.html");

    // ---- The app in headless Chromium, under those headers. ----
    sign_in_create_and_renew(&stack, &app).await;

    // ---- The code flow: config.json edited on the host, as an operator would. ----
    let mut code_flow = config.clone();
    code_flow["response_type"] = "code".into();
    site.write_config(&code_flow);
    sign_in_with_the_code_flow(&stack, &app).await;

    // ---- The access log: the app's paths, and not one code, state or token. ----
    let log = site.access_log();
    for secret in SECRETS_IN_URLS.iter().chain(&["canary"]) {
        assert!(
            !log.contains(secret),
            "the access log holds `{secret}`:\n{log}"
        );
    }
    let callback = format!("\"GET {public_url}callback HTTP/1.1\"");
    assert!(
        log.lines().filter(|line| line.contains(&callback)).count() >= 3,
        "the access log has the canary's and both sign-ins' {callback}:\n{log}"
    );
    assert!(
        log.contains(&format!(
            "\"GET {public_url}silent-callback.html HTTP/1.1\""
        )),
        "the access log has silent renewal's landing page:\n{log}"
    );
    assert!(
        log.contains(&format!("\"{app}callback\"")),
        "the canary's Referer is logged without its query:\n{log}"
    );
    assert_eq!(
        std::fs::read_to_string(site.dir.join("access.log")).unwrap_or_default(),
        "",
        "the server's access_log replaces the http context's (combined) one"
    );
    drop(nginx);
}

/// The code flow behind the same host: config.json now says `"response_type": "code"`. In a
/// fresh browser: sign-in, whose code comes back in the callback's query and is exchanged at
/// the tenant's token endpoint (connect-src), the list, and a renewal, which without
/// `offline_access` in the scope is the hidden iframe with `prompt=none`, landing on
/// `silent-callback.html?code=…`; then no CSP violation.
async fn sign_in_with_the_code_flow(stack: &Stack, app: &str) {
    let browser = stack.browser_with_console_log().await;
    browser
        .goto(&format!("{app}appointments"))
        .await
        .expect("open the deep link");
    click(&browser, "#sign-in").await;
    let authorize = format!("{}/authorize?", stack.tenant);
    wait_until("the browser is at the tenant's /authorize", || async {
        browser.current_url_string().await.starts_with(&authorize)
    })
    .await;
    let url = browser.current_url_string().await;
    assert!(
        url.contains("response_type=code") && url.contains("code_challenge_method=S256"),
        "{url}"
    );
    sign_in_at_tenant(&browser, stack, ALICE, "accept").await;
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "the API answered: {list}");
    assert_eq!(
        browser.current_url_string().await,
        format!("{app}appointments"),
        "back on the deep link, with no code in the address bar"
    );
    let exchanges = browser
        .execute(
            "return performance.getEntriesByType('resource')\
               .filter(e => e.name.includes('/oauth/token')).length",
            vec![],
        )
        .await
        .expect("resource timing");
    assert_eq!(
        exchanges,
        json!(1),
        "one code exchange at the token endpoint"
    );

    browser
        .goto(&format!("{app}tokens"))
        .await
        .expect("open the token inspector");
    find(&browser, "#access-token-claims").await;
    let first = stored_issued_at(&browser).await.expect("a stored session");
    click(&browser, "#renew-now").await;
    wait_until("the session was renewed in the iframe", || async {
        stored_issued_at(&browser).await.is_some_and(|t| t > first)
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal succeeded"
    );
    assert_no_csp_violation(stack, &browser).await;
    browser.close().await.expect("close");
}

/// GitHub Pages can neither rewrite nor send headers: deploy/github-pages/prepare.sh puts the
/// policy in a `<meta>` element and copies index.html to 404.html. Here nginx plays such a
/// host: the files as they are, 404.html with status 404 for any other path, no headers of
/// the app's.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_without_headers_or_rewrites_works_with_the_meta_csp_and_404_html() {
    let dist = subpath_dist();
    let site = Site::prepare(&dist, PUBLIC_URL);
    let mut nginx = nginx::Nginx::prepare();
    let port = nginx.port();
    let origin = nginx.origin();
    let (stack, config) = Stack::start_for_static_site(&origin, PUBLIC_URL).await;
    site.write_config(&config);
    let prepared = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/github-pages/prepare.sh"))
        .arg(site.docroot())
        .arg(&stack.tenant)
        .arg(&stack.api)
        .status()
        .expect("run deploy/github-pages/prepare.sh");
    assert!(prepared.success(), "prepare.sh failed: {prepared}");
    let server = format!(
        "server {{\n\
         \x20   listen 127.0.0.1:{port};\n\
         \x20   root {root};\n\
         \x20   types {{ text/html html; text/css css; application/javascript js;\n\
         \x20            application/json json; image/svg+xml svg; application/wasm wasm; }}\n\
         \x20   error_page 404 {PUBLIC_URL}404.html;\n\
         }}\n",
        root = site.root().display()
    );
    nginx.start(&format!("{BUILD_TYPES}{server}"));
    let app = format!("{origin}{PUBLIC_URL}");

    let http = reqwest::Client::new();
    let index_html =
        std::fs::read_to_string(site.docroot().join("index.html")).expect("index.html");
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\" />",
        app_csp(&stack.tenant, &stack.api)
            .strip_suffix("; frame-ancestors 'none'")
            .expect("frame-ancestors last")
    );
    assert!(index_html.contains(&meta), "index.html has {meta}");
    let before_meta = &index_html[..index_html.find(&meta).expect("the meta element")];
    assert!(
        !before_meta.contains("<script") && !before_meta.contains("<link"),
        "the policy comes before every script and stylesheet"
    );
    let (status, headers, body) = get(&http, &format!("{app}appointments")).await;
    assert_eq!(status, 404, "a deep link gets 404.html, as on GitHub Pages");
    assert_eq!(body, index_html, "404.html is index.html");
    assert!(headers.get("content-security-policy").is_none());

    sign_in_create_and_renew(&stack, &app).await;
    drop(nginx);
}

/// The recipes must not drift apart: nginx's policy is the one the tests enforce; Netlify's
/// differs only in frame-ancestors 'self' (one rule covers silent-callback.html too); the
/// meta element leaves frame-ancestors out (ignored there).
#[test]
fn the_recipes_send_the_same_policy() {
    let nginx = include_str!("../deploy/nginx/appointments.conf");
    let netlify_headers = include_str!("../deploy/netlify/_headers");
    let netlify_redirects = include_str!("../deploy/netlify/_redirects");
    let meta = include_str!("../deploy/github-pages/csp-meta.html");

    let policy = between(nginx, "set $appointments_csp \"", "\";");
    assert_eq!(policy, app_csp("__TENANT_ORIGIN__", "__API_ORIGIN__"));
    assert_eq!(
        between(nginx, "set $silent_callback_csp \"", "\";"),
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    );
    assert_eq!(
        between(meta, "content=\"", "\""),
        policy
            .strip_suffix("; frame-ancestors 'none'")
            .expect("frame-ancestors last")
    );

    // _headers: rules that overlap (the catch-all and the others) share no header name.
    let mut rules: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
    for line in netlify_headers.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix("  ") {
            let (name, value) = header.split_once(": ").expect("Name: value");
            rules
                .last_mut()
                .expect("a path first")
                .1
                .push((name, value));
        } else {
            rules.push((line.trim(), Vec::new()));
        }
    }
    let (all, all_headers) = &rules[0];
    assert_eq!(*all, "__PUBLIC_URL__*");
    let value_of = |name: &str| {
        all_headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("_headers sets {name} on every path"))
    };
    assert_eq!(
        value_of("Content-Security-Policy"),
        policy.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
    );
    assert_eq!(value_of("Referrer-Policy"), "no-referrer");
    assert_eq!(value_of("X-Content-Type-Options"), "nosniff");
    for (path, headers) in &rules[1..] {
        assert!(
            ["wasm", "js", "css", "svg"]
                .iter()
                .any(|ext| *path == format!("__PUBLIC_URL__*.{ext}")),
            "{path}: only hashed file types get their own rule"
        );
        assert_eq!(
            headers,
            &vec![("Cache-Control", IMMUTABLE)],
            "{path}: only Cache-Control, which the catch-all does not set"
        );
    }

    let redirects: Vec<Vec<&str>> = netlify_redirects
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        redirects,
        vec![vec!["__PUBLIC_URL__*", "__PUBLIC_URL__index.html", "200"]]
    );
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}")) + start.len();
    let to = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end} after {start}"));
    &text[from..from + to]
}

/// In headless Chromium, with the app at `app` (`http://127.0.0.1:<port>/appointments-demo/`):
/// a deep link while signed out, sign-in through the tenant and back to the deep link, the
/// user's picture from the tenant, a POST to the API, and silent renewal; then asserts that
/// the console shows no Content-Security-Policy violation.
async fn sign_in_create_and_renew(stack: &Stack, app: &str) {
    let browser = stack.browser_with_console_log().await;

    // A deep link while signed out: index.html by the fallback, then sign-in and back.
    browser
        .goto(&format!("{app}appointments"))
        .await
        .expect("open the deep link");
    click(&browser, "#sign-in").await;
    sign_in_at_tenant(&browser, stack, ALICE, "accept").await;
    let list = text_of(&browser, "#appointments-list").await;
    assert!(list.contains("Dental check-up"), "the API answered: {list}");
    assert_eq!(
        browser.current_url_string().await,
        format!("{app}appointments"),
        "back on the deep link, under the sub-path"
    );
    // The user's picture comes from the tenant (img-src).
    wait_until("the user's picture from the tenant has loaded", || async {
        browser
            .execute(
                "const img = document.querySelector('img.avatar'); \
                 return !!img && img.complete && img.naturalWidth > 0",
                vec![],
            )
            .await
            .is_ok_and(|loaded| loaded == json!(true))
    })
    .await;

    // A POST to the API (connect-src, CORS preflight) from the create form.
    fill_create_form(&browser).await;
    click(&browser, "#create-appointment button[type=submit]").await;
    support::wait_until_listed(&browser, "Deployed check").await;

    // Silent renewal: the tenant's /authorize in a hidden iframe (frame-src), landing on
    // silent-callback.html, framed by the app (its frame-ancestors 'self').
    browser
        .goto(&format!("{app}tokens"))
        .await
        .expect("open the token inspector");
    find(&browser, "#access-token-claims").await;
    let first = stored_issued_at(&browser).await.expect("a stored session");
    click(&browser, "#renew-now").await;
    wait_until("the session was renewed silently", || async {
        stored_issued_at(&browser).await.is_some_and(|t| t > first)
    })
    .await;
    assert!(
        browser.find(Locator::Css("#renewal-failed")).await.is_err(),
        "renewal succeeded"
    );
    assert_eq!(browser.current_url_string().await, format!("{app}tokens"));

    assert_no_csp_violation(stack, &browser).await;
    browser.close().await.expect("close");
}

/// No CSP violation in the console. A canary proves the console is read: a fetch the policy
/// must refuse.
async fn assert_no_csp_violation(stack: &Stack, browser: &Client) {
    let mut console = stack.browser_log(browser).await;
    browser
        .execute(
            "fetch('http://127.0.0.1:9/csp-canary').catch(() => {}); return null",
            vec![],
        )
        .await
        .expect("run the canary");
    let deadline = Instant::now() + support::WAIT;
    while !console.iter().any(|line| line.contains("csp-canary")) {
        assert!(
            Instant::now() < deadline,
            "the canary's CSP violation never reached the console log: {console:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        console.extend(stack.browser_log(browser).await);
    }
    let violations: Vec<&String> = console
        .iter()
        .filter(|line| line.contains("Content Security Policy") && !line.contains("csp-canary"))
        .collect();
    assert!(
        violations.is_empty(),
        "the app ran into its Content-Security-Policy: {violations:#?}"
    );
}

/// The release build made for `/appointments-demo/`.
fn subpath_dist() -> PathBuf {
    let dir = std::env::var_os("SPA_SUBPATH_DIST_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
            "SPA_SUBPATH_DIST_DIR is not set: it must name the release build made with public URL \
             {PUBLIC_URL} (`cargo xtask test` builds it with \
             `cargo xtask dist --public-url {PUBLIC_URL} --out DIR` and sets the variable)"
        )
        });
    let index = dir.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap_or_else(|e| {
        panic!(
            "SPA_SUBPATH_DIST_DIR: cannot read {}: {e}; build it with \
             `cargo xtask dist --public-url {PUBLIC_URL} --out DIR`",
            index.display()
        )
    });
    assert!(
        html.contains(&format!("<base href=\"{PUBLIC_URL}\"")),
        "{} was not built with public URL {PUBLIC_URL} (no <base href=\"{PUBLIC_URL}\">)",
        index.display()
    );
    dir
}

/// The release build made for the root: `SPA_DIST_DIR` (as the other end-to-end tests), else
/// dist/.
fn root_dist() -> PathBuf {
    let dir = std::env::var_os("SPA_DIST_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist"));
    let index = dir.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; build the app first (`cargo xtask test` does, and sets \
             SPA_DIST_DIR)",
            index.display()
        )
    });
    assert!(
        html.contains("<base href=\"/\""),
        "{} was not built for the root (no <base href=\"/\">)",
        index.display()
    );
    dir
}

/// A temporary directory: a copy of the build at `www/<public_url>`, and the template's
/// access log. Removed on drop.
struct Site {
    dir: PathBuf,
    public_url: String,
}

impl Site {
    fn prepare(dist: &Path, public_url: &str) -> Site {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "appointments-e2e-deploy-{}-{unique}",
            std::process::id()
        ));
        let site = Site {
            dir,
            public_url: public_url.to_string(),
        };
        copy_dir(dist, &site.docroot()).expect("copy the build");
        site
    }

    fn root(&self) -> PathBuf {
        self.dir.join("www")
    }

    /// Where the build is served from: root + public URL.
    fn docroot(&self) -> PathBuf {
        self.root().join(self.public_url.trim_matches('/'))
    }

    /// As an operator does after deploying: config.json for this tenant and API.
    fn write_config(&self, config: &Value) {
        std::fs::write(
            self.docroot().join("config.json"),
            serde_json::to_string_pretty(config).expect("json"),
        )
        .expect("write config.json");
    }

    /// The template's access log, which [`template_server`] points here.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("appointments.access.log")).unwrap_or_default()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The MIME types the build needs, and not wasm's: the template must set application/wasm
/// itself. (The test's nginx loads no `mime.types`.)
const BUILD_TYPES: &str = "types { text/html html; text/css css; application/javascript js;\n\
                           application/json json; image/svg+xml svg; }\n\
                           default_type application/octet-stream;\n";

/// deploy/nginx/appointments.conf, rendered for this stack, its access log in `site`.
fn template_server(site: &Site, port: u16, stack: &Stack) -> String {
    let template = include_str!("../deploy/nginx/appointments.conf");
    assert_eq!(
        template.matches(TEMPLATE_ACCESS_LOG).count(),
        1,
        "the template has `{TEMPLATE_ACCESS_LOG}`"
    );
    let access_log = site.dir.join("appointments.access.log");
    let server = nginx::render(
        &template.replace(
            TEMPLATE_ACCESS_LOG,
            &format!("access_log {} appointments;", access_log.display()),
        ),
        &[
            ("__LISTEN__", &format!("127.0.0.1:{port}")),
            ("__SERVER_NAME__", "localhost 127.0.0.1"),
            ("__ROOT__", &site.root().display().to_string()),
            ("__PUBLIC_URL__", &site.public_url),
            ("__TENANT_ORIGIN__", &stack.tenant),
            ("__API_ORIGIN__", &stack.api),
        ],
    );
    format!("{BUILD_TYPES}{server}")
}

/// The Content-Security-Policy of the app's pages and files, as the template renders it.
fn app_csp(tenant: &str, api: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' {tenant}; connect-src 'self' {tenant} {api}; frame-src 'self' {tenant}; \
         base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
    )
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, HeaderMap, String) {
    let response = http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    (status, headers, body)
}

/// Exactly one `name` header, equal to `expected`.
fn assert_header(headers: &HeaderMap, name: &str, expected: &str, what: &str) {
    let values: Vec<_> = headers.get_all(name).iter().collect();
    assert_eq!(values.len(), 1, "{what}: one {name} header, got {values:?}");
    assert_eq!(
        values[0].to_str().unwrap_or_default(),
        expected,
        "{what}: {name}"
    );
}

fn assert_security_headers(headers: &HeaderMap, csp: &str, what: &str) {
    assert_header(headers, "content-security-policy", csp, what);
    assert_header(headers, "referrer-policy", "no-referrer", what);
    assert_header(headers, "x-content-type-options", "nosniff", what);
    assert_header(headers, "x-frame-options", "DENY", what);
}

/// `script-src 'self'` refuses inline scripts: every `<script>` must load a file.
fn assert_no_inline_script(html: &str) {
    for (at, _) in html.match_indices("<script") {
        let tag = &html[at..at + html[at..].find('>').unwrap_or(html.len() - at)];
        assert!(
            tag.contains(" src="),
            "index.html has an inline script ({tag}…), which the Content-Security-Policy \
             refuses: build with `cargo xtask dist`, which moves trunk's loader to a file"
        );
    }
}

/// The build's files with a content hash in their names, with the type nginx must send.
fn hashed_files(dist: &Path) -> Vec<(String, &'static str)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dist).expect("read the build") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let (stem, content_type) = if let Some(stem) = name.strip_suffix("_bg.wasm") {
            (stem, "application/wasm")
        } else if let Some(stem) = name.strip_suffix(".js") {
            (stem, "application/javascript; charset=utf-8")
        } else if let Some(stem) = name.strip_suffix(".css") {
            (stem, "text/css")
        } else if let Some(stem) = name.strip_suffix(".svg") {
            (stem, "image/svg+xml")
        } else {
            continue;
        };
        let hash = stem.rsplit('-').next().unwrap_or_default();
        // Trunk writes the 64-bit hash in hex without leading zeros.
        if (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            files.push((name, content_type));
        }
    }
    files.sort();
    files
}

/// The create form; times go in as `datetime-local` values, as in e2e_session.rs.
async fn fill_create_form(browser: &Client) {
    find(browser, "#create-appointment input[name=title]")
        .await
        .send_keys("Deployed check")
        .await
        .expect("type");
    find(browser, "#create-appointment input[name=location]")
        .await
        .send_keys("Static host")
        .await
        .expect("type");
    browser
        .execute(
            "document.querySelector('#create-appointment input[name=start]').value = arguments[0];\
             document.querySelector('#create-appointment input[name=end]').value = arguments[1];",
            vec![json!("2031-06-01T09:00"), json!("2031-06-01T10:00")],
        )
        .await
        .expect("set the times");
}
