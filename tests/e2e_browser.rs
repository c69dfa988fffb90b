//! The test browsers' own settings, checked in the browser `E2E_BROWSER` names: what
//! [`ThirdPartyCookies`] means for a site framed by another site. A page at
//! `http://localhost:<port>` frames `http://127.0.0.1:<port>` (another site: ports do not
//! count, host names do), which sets a `SameSite=None; Secure` cookie and then shows the
//! cookies it is sent. Before that, `127.0.0.1` set a cookie of its own as a top-level page,
//! as the tenant's login does.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use fantoccini::Locator;
use support::{find, Browser, Stack, ThirdPartyCookies};

const SET: &str = "; SameSite=None; Secure; Path=/";

/// Serves, on one port for both host names: `/top-level` sets `top-level=1`, `/frame` sets
/// `framed=1` and moves on to `/cookies`, which shows the `Cookie` header it was sent, and
/// `/framing` frames `http://127.0.0.1:<port>/frame`.
async fn cookie_site() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let app = Router::new()
        .route(
            "/top-level",
            get(|| async {
                (
                    [(SET_COOKIE, format!("top-level=1{SET}"))],
                    Html("<p id=done>set</p>"),
                )
            }),
        )
        .route(
            "/frame",
            get(|| async {
                (
                    [(SET_COOKIE, format!("framed=1{SET}"))],
                    Html("<script>location.replace('/cookies')</script>"),
                )
            }),
        )
        .route(
            "/cookies",
            get(|headers: HeaderMap| async move {
                let sent = headers
                    .get(COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                Html(format!("<p id=cookies>[{sent}]</p>")).into_response()
            }),
        )
        .route(
            "/framing",
            get(move || async move {
                Html(format!(
                    "<iframe id=frame src=\"http://127.0.0.1:{port}/frame\"></iframe>"
                ))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The cookies the framed `127.0.0.1` page was sent, sorted, in a fresh browser.
async fn cookies_in_a_cross_site_frame(stack: &Stack, cookies: ThirdPartyCookies) -> String {
    let port = cookie_site().await;
    let browser = stack.browser_with(cookies).await;
    browser
        .goto(&format!("http://127.0.0.1:{port}/top-level"))
        .await
        .expect("the top-level visit");
    find(&browser, "#done").await;
    browser
        .goto(&format!("http://localhost:{port}/framing"))
        .await
        .expect("the framing page");
    let frame = find(&browser, "#frame").await;
    frame.enter_frame().await.expect("into the frame");
    let shown = find(&browser, "#cookies")
        .await
        .text()
        .await
        .expect("the cookies");
    browser
        .enter_parent_frame()
        .await
        .expect("out of the frame");
    assert!(browser.find(Locator::Css("#frame")).await.is_ok());
    browser.close().await.expect("close");
    let mut sent: Vec<&str> = shown
        .trim_matches(['[', ']'])
        .split("; ")
        .filter(|c| !c.is_empty())
        .collect();
    sent.sort();
    sent.join("; ")
}

#[tokio::test(flavor = "multi_thread")]
async fn third_party_cookies_are_pinned_allowed_by_default_and_blocked_on_request() {
    let stack = Stack::start().await;
    let allowed = cookies_in_a_cross_site_frame(&stack, ThirdPartyCookies::Allowed).await;
    let blocked = cookies_in_a_cross_site_frame(&stack, ThirdPartyCookies::Blocked).await;
    match stack.browser_kind() {
        // One cookie jar per site: the framed site gets its top-level cookie too.
        Browser::Chromium => assert_eq!(allowed, "framed=1; top-level=1"),
        // Total Cookie Protection: a jar of its own under `localhost`, without the cookie
        // `127.0.0.1` set as a top-level page.
        Browser::Firefox => assert_eq!(allowed, "framed=1"),
    }
    assert_eq!(blocked, "", "no cookie set or sent in a cross-site frame");
}
