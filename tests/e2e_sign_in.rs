//! The sign-in flow end to end, in headless Chromium, or Firefox ESR with
//! `E2E_BROWSER=firefox` (`cargo xtask test` runs both): the SPA, dev-tenant and
//! appointments-api, each on a free port. Needs the built app (`SPA_DIST_DIR`, built by
//! `cargo xtask test`) and chromedriver (`CHROMEDRIVER`) or geckodriver (`GECKODRIVER`).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::{
    click, find, sign_in_at_tenant, sign_in_to_list, stored_session, text_of, wait_until,
    CurrentUrl, Stack, ALICE,
};

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_lands_on_the_appointments_list_with_no_token_in_the_address_bar() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;

    sign_in_to_list(&browser, &stack, ALICE, "/").await;

    let list = text_of(&browser, "#appointments-list").await;
    assert!(
        list.contains("Dental check-up"),
        "seeded appointments are listed: {list}"
    );
    assert_eq!(text_of(&browser, ".user-name").await, "Alice Example");
    let url = browser.current_url_string().await;
    assert_eq!(
        url,
        format!("{}/appointments", stack.spa),
        "no fragment, no token"
    );

    // Back must not reach an address with a token in it.
    browser.back().await.expect("back");
    wait_until("Back left the SPA's callback entry", || async {
        !browser
            .current_url_string()
            .await
            .starts_with(&format!("{}/appointments", stack.spa))
    })
    .await;
    let previous = browser.current_url_string().await;
    assert!(
        !previous.contains("access_token") && !previous.contains("id_token"),
        "{previous}"
    );

    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deep_link_while_signed_out_returns_there_after_sign_in() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;

    browser
        .goto(&format!("{}/appointments", stack.spa))
        .await
        .expect("open the deep link");
    wait_until("the login page asks to sign in", || async {
        browser
            .current_url_string()
            .await
            .contains("return_to=%2Fappointments")
    })
    .await;
    click(&browser, "#sign-in").await;
    sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;

    text_of(&browser, "#appointments-list").await;
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", stack.spa)
    );

    // Sign out, then the same deep link again: back to sign-in, and back here after.
    click(&browser, ".site-header button").await;
    text_of(&browser, "#sign-in").await;
    browser
        .goto(&format!("{}/appointments", stack.spa))
        .await
        .expect("deep link");
    click(&browser, "#sign-in").await;
    sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;
    text_of(&browser, "#appointments-list").await;
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", stack.spa)
    );

    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_at_the_tenant_shows_the_error_screen_and_stores_nothing() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;

    browser
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    click(&browser, "#sign-in").await;
    sign_in_at_tenant(&browser, &stack, ALICE, "deny").await;

    let error = text_of(&browser, "[role=alert]").await;
    assert!(error.contains("Sign-in failed"), "{error}");
    assert!(
        error.contains("access_denied"),
        "the error code is shown: {error}"
    );
    text_of(&browser, "#try-again").await;
    let url = browser.current_url_string().await;
    assert!(!url.contains('#'), "the fragment is cleared: {url}");
    assert_eq!(
        stored_session(&browser).await,
        serde_json::json!([null, null]),
        "no session stored"
    );

    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_config_names_the_field() {
    let stack = Stack::start_with(|mut config| {
        config["client_id"] = serde_json::Value::Null;
        config
    })
    .await;
    let browser = stack.browser().await;
    browser
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    let error = text_of(&browser, "[role=alert]").await;
    assert!(error.contains("configuration is not valid"), "{error}");
    assert!(error.contains("client_id"), "the field is named: {error}");
    browser.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_only_mode_signs_in_and_warns_that_injection_goes_undetected() {
    let stack = Stack::start_with(|mut config| {
        config["response_type"] = "token".into();
        config["scope"] = "read:appointments".into();
        config
    })
    .await;
    let browser = stack.browser().await;
    browser
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    assert!(text_of(&browser, "[role=note]").await.contains("RFC 9700"));
    click(&browser, "#sign-in").await;
    sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;
    text_of(&browser, "#appointments-list").await;
    let note = text_of(&browser, "[role=note]").await;
    assert!(note.contains("cannot detect"), "{note}");
    browser.close().await.expect("close");
}

/// `[startTime, responseEnd]` of every request this page made for a URL containing `part`,
/// from the browser's Resource Timing.
async fn requests_for(browser: &fantoccini::Client, part: &str) -> Vec<(f64, f64)> {
    let entries = browser
        .execute(
            "return performance.getEntriesByType('resource')
                .filter(e => e.name.includes(arguments[0]))
                .map(e => [e.startTime, e.responseEnd]);",
            vec![serde_json::json!(part)],
        )
        .await
        .expect("resource timing");
    serde_json::from_value(entries).expect("pairs of numbers")
}

#[tokio::test(flavor = "multi_thread")]
async fn on_the_callback_the_keys_are_fetched_alongside_discovery_and_only_there() {
    const DISCOVERY: &str = "/.well-known/openid-configuration";
    const JWKS: &str = "/.well-known/jwks.json";
    let stack = Stack::start().await;
    // A sequential fetch fails every attempt: it starts about 10 ms after discovery answers,
    // once discovery is parsed. Under load Chromium once reported the early request as
    // starting 0.5 ms after discovery's answer, so one attempt in three must show the overlap.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let browser = stack.browser().await;
        browser.goto(&stack.spa).await.expect("open the app");
        find(&browser, "#sign-in").await;
        assert_eq!(requests_for(&browser, DISCOVERY).await.len(), 1);
        assert!(
            requests_for(&browser, JWKS).await.is_empty(),
            "the login page has no token to check, so it fetches no keys"
        );

        click(&browser, "#sign-in").await;
        sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;
        find(&browser, "#appointments-list").await;
        let discovery = requests_for(&browser, DISCOVERY).await;
        let jwks = requests_for(&browser, JWKS).await;
        browser.close().await.expect("close");
        let overlap = matches!((discovery.as_slice(), jwks.as_slice()),
            ([(_, discovery_end)], [(jwks_start, _)]) if jwks_start < discovery_end);
        if overlap {
            return;
        }
        seen.push((discovery, jwks));
    }
    panic!("the JWKS request never started before discovery answered: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_falls_back_to_auth0_paths_only_on_404_and_names_other_failures() {
    // `<spa>/status/N` stands in for a tenant whose discovery answers N; a closed port for
    // one that does not answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed = format!(
        "http://127.0.0.1:{}",
        closed.local_addr().expect("port").port()
    );
    for (domain, expected) in [
        ("{spa}/status/404", None),
        (
            "{spa}/status/500",
            Some("{spa}/status/500/.well-known/openid-configuration answered HTTP 500"),
        ),
        (
            "{spa}/status/403",
            Some("{spa}/status/403/.well-known/openid-configuration answered HTTP 403"),
        ),
        (
            closed.as_str(),
            Some("No readable answer from {closed}/.well-known/openid-configuration"),
        ),
    ] {
        let stack = Stack::start_knowing_the_origin(
            |spa, mut config| {
                config["domain"] = domain.replace("{spa}", spa).into();
                config
            },
            None,
        )
        .await;
        let browser = stack.browser().await;
        browser
            .goto(&format!("{}/", stack.spa))
            .await
            .expect("open the app");
        match expected {
            None => {
                text_of(&browser, "#sign-in").await;
            }
            Some(expected) => {
                let expected = expected
                    .replace("{spa}", &stack.spa)
                    .replace("{closed}", &closed);
                let error = text_of(&browser, "[role=alert]").await;
                assert!(error.contains(&expected), "{domain}: {error}");
                assert!(
                    browser
                        .find(fantoccini::Locator::Css("#sign-in"))
                        .await
                        .is_err(),
                    "{domain}: no sign-in with an unusable tenant"
                );
            }
        }
        browser.close().await.expect("close");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_path_to_the_callback_lands_on_the_list_instead_of_waiting() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    browser
        .goto(&format!("{}/?return_to=%2Fcallback", stack.spa))
        .await
        .expect("open the app");
    click(&browser, "#sign-in").await;
    sign_in_at_tenant(&browser, &stack, ALICE, "accept").await;
    text_of(&browser, "#appointments-list").await;
    assert_eq!(
        browser.current_url_string().await,
        format!("{}/appointments", stack.spa)
    );
    browser.close().await.expect("close");
}

/// `index.html` is what every route first paints: the header and a neutral loading state,
/// no sign-in button. The app then takes its place without moving anything: from the
/// document's start (a script Chromium runs before the page's own, over the DevTools
/// protocol), every frame's position of the page's content is recorded, and it never
/// changes while the static page, the app's loading state and the sign-in page follow each
/// other. One header and one main landmark at the end.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_paint_suits_every_route_and_the_app_replaces_it_without_a_jump() {
    let stack = Stack::start().await;
    for path in ["/", "/callback", "/appointments", "/tokens?x=1"] {
        let page = reqwest::get(format!("{}{path}", stack.spa))
            .await
            .expect("the static site answers")
            .text()
            .await
            .expect("index.html");
        assert!(
            page.contains(r#"<header class="site-header">"#),
            "{path}: {page}"
        );
        assert!(page.contains(r#"role="status""#), "{path}: {page}");
        assert!(!page.contains("sign-in"), "{path}: no sign-in button");
        assert!(
            !page.contains("<a ") && !page.contains("<button"),
            "{path}: nothing focusable"
        );
    }

    let browser = stack.browser().await;
    let chromium = stack.browser_kind() == support::Browser::Chromium;
    if chromium {
        browser
            .issue_cmd(BeforeThePage(
                "window.mainTops = [];\
                 const record = () => {\
                   const main = document.querySelector('main');\
                   if (main) window.mainTops.push(Math.round(main.getBoundingClientRect().top));\
                   requestAnimationFrame(record);\
                 };\
                 requestAnimationFrame(record);",
            ))
            .await
            .expect("a script before the page");
    }
    browser
        .goto(&format!("{}/", stack.spa))
        .await
        .expect("open the app");
    find(&browser, "#sign-in").await;
    let landmarks = browser
        .execute(
            "return [document.querySelectorAll('header').length, document.querySelectorAll('main').length]",
            vec![],
        )
        .await
        .expect("landmarks");
    assert_eq!(landmarks, serde_json::json!([1, 1]), "one header, one main");
    if chromium {
        let tops = browser
            .execute("return window.mainTops", vec![])
            .await
            .expect("the recorded positions");
        let tops: Vec<i64> = serde_json::from_value(tops).expect("numbers");
        assert!(!tops.is_empty(), "frames were recorded");
        assert!(
            tops.iter().all(|top| *top == tops[0]),
            "the content moved between frames: {tops:?}"
        );
    }
    browser.close().await.expect("close");
}

/// Chromium's `Page.addScriptToEvaluateOnNewDocument` (DevTools protocol, through
/// chromedriver): `0` runs in every document from its start, before the page's scripts.
#[derive(Debug)]
struct BeforeThePage(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for BeforeThePage {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": self.0 },
        });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}
