//! Every screen of the sample, the tenant's pages included, checked for accessibility and
//! layout in headless Chromium, and photographed for the integrator's guide.
//!
//! On each screen:
//! - **axe-core** (`.tools/node_modules/axe-core/axe.min.js`, installed by
//!   `npm install --prefix .tools axe-core@4`) runs at 1280 px and at 360 px wide; any
//!   `serious` or `critical` violation fails the test, listed with its rule, help text and
//!   the selectors of the offending elements;
//! - **keyboard:** Tab, from the top of the page, reaches every visible control, the
//!   screen's main control among them, and each focused element shows a focus indicator
//!   (an outline or a box shadow) with at least 3:1 contrast against what surrounds it
//!   (WCAG 2.2 SC 1.4.11 and 2.4.7);
//! - **errors are announced:** an error message sits in a live region (`role="alert"`,
//!   `role="status"` or `aria-live`);
//! - **layout:** no horizontal scrolling at 360x740 (a small phone) nor at 1280x900;
//! - **screenshots** of each screen go to `docs/screenshots/<screen>.png` (1280x900, and
//!   `<screen>-360.png` for a few), written only when missing or when
//!   `UPDATE_SCREENSHOTS=1`, so that a plain test run never changes the tree.
//!
//! Every problem on every screen of a test is collected before the test fails, so one
//! run lists them all.
//!
//! When this suite was written, the app failed it in four ways, each to be fixed in the
//! app rather than here: the focus outline (`--focus: #ffb020` in `assets/style.css`) has
//! 1.8:1 contrast on white; the signed-in header's `.user` row does not wrap, so the page
//! is 382 px wide on a 360 px phone; the token inspector's key id (`.token-kind code`)
//! does not wrap; and its `pre.json` blocks scroll at 360 px but cannot be focused (axe
//! `scrollable-region-focusable`, serious).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::path::{Path, PathBuf};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use support::{click, find, sign_in_to, wait_until, CurrentUrl, Stack, ALICE};

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (360, 740);

/// One screen to check.
struct Screen<'a> {
    /// Its name in reports and in `docs/screenshots/<name>.png`.
    name: &'a str,
    /// Present once the screen is fully rendered.
    ready: &'a str,
    /// The control a keyboard user must be able to reach with Tab.
    main_control: &'a str,
    /// An error message that must be announced to screen readers.
    announced: Option<&'a str>,
    /// Also photograph it 360 px wide.
    phone_screenshot: bool,
}

impl<'a> Screen<'a> {
    fn new(name: &'a str, ready: &'a str, main_control: &'a str) -> Self {
        Screen {
            name,
            ready,
            main_control,
            announced: None,
            phone_screenshot: false,
        }
    }

    fn announcing(mut self, css: &'a str) -> Self {
        self.announced = Some(css);
        self
    }

    fn with_phone_screenshot(mut self) -> Self {
        self.phone_screenshot = true;
        self
    }
}

/// The problems found so far, across screens; [`Audit::finish`] fails with all of them.
#[derive(Default)]
struct Audit {
    problems: Vec<String>,
}

impl Audit {
    fn problem(&mut self, screen: &str, what: String) {
        eprintln!("[{screen}] {what}");
        self.problems.push(format!("[{screen}] {what}"));
    }

    fn finish(self) {
        assert!(
            self.problems.is_empty(),
            "{} accessibility or layout problem(s):\n\n{}\n",
            self.problems.len(),
            self.problems.join("\n\n")
        );
    }

    /// Every check on the screen the browser shows now.
    async fn check(&mut self, browser: &Client, screen: Screen<'_>) {
        eprintln!(
            "screen {}: {}",
            screen.name,
            browser.current_url_string().await
        );
        resize(browser, DESKTOP).await;
        find(browser, screen.ready).await;
        self.keyboard(browser, &screen).await;
        if let Some(css) = screen.announced {
            self.announced(browser, &screen, css).await;
        }

        let mut seen = Vec::new();
        for size in [DESKTOP, PHONE] {
            resize(browser, size).await;
            self.axe(browser, &screen, size, &mut seen).await;
            self.no_horizontal_scroll(browser, &screen, size).await;
            if size == PHONE && screen.phone_screenshot {
                screenshot(browser, &format!("{}-360", screen.name)).await;
            }
        }
        resize(browser, DESKTOP).await;
        screenshot(browser, screen.name).await;
    }

    /// axe-core's serious and critical violations, each reported once per screen.
    async fn axe(
        &mut self,
        browser: &Client,
        screen: &Screen<'_>,
        (width, _): (u32, u32),
        seen: &mut Vec<String>,
    ) {
        let violations = run_axe(browser).await;
        for violation in violations.as_array().into_iter().flatten() {
            let id = violation["id"].as_str().unwrap_or("?");
            let impact = violation["impact"].as_str().unwrap_or("?");
            let targets: Vec<String> = violation["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|node| {
                    let target = node["target"].to_string();
                    let summary = node["failureSummary"]
                        .as_str()
                        .unwrap_or("")
                        .replace('\n', " ");
                    format!("    {target}: {summary}")
                })
                .collect();
            let key = format!("{id} {targets:?}");
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let report = format!(
                "axe {id} ({impact}) at {width} px: {}\n  {}\n{}",
                violation["help"].as_str().unwrap_or(""),
                violation["helpUrl"].as_str().unwrap_or(""),
                targets.join("\n")
            );
            if matches!(impact, "serious" | "critical") {
                self.problem(screen.name, report);
            } else {
                // Moderate and minor findings are worth reading, not failing on.
                eprintln!("[{}] (not failing) {report}", screen.name);
            }
        }
    }

    /// Tab from the top of the page: every visible control is reached, the main control
    /// among them, and each shows a focus indicator with enough contrast.
    async fn keyboard(&mut self, browser: &Client, screen: &Screen<'_>) {
        let controls = browser
            .execute(KEYBOARD_START, vec![json!(screen.main_control)])
            .await
            .expect("prepare the keyboard walk");
        let control_count = controls["controls"].as_u64().unwrap_or(0);
        if !controls["main_present"].as_bool().unwrap_or(false) {
            self.problem(
                screen.name,
                format!(
                    "the main control `{}` is not on the page",
                    screen.main_control
                ),
            );
        }
        let mut reached_main = false;
        // Focus indicators below 3:1, grouped by colours: (description, elements).
        let mut faint: Vec<(String, Vec<String>)> = Vec::new();
        // Each control, up to 8 stops for the parts of a date and time input, plus the way
        // out of the page and back in.
        for _ in 0..control_count * 8 + 3 {
            press_tab(browser).await;
            let step = browser
                .execute(KEYBOARD_STEP, vec![json!(screen.main_control)])
                .await
                .expect("where the focus is");
            if step["again"].as_bool().unwrap_or(false) {
                break; // Back at a control already seen: the whole cycle is done.
            }
            if step["on_body"].as_bool().unwrap_or(false) || step["same"].as_bool().unwrap_or(false)
            {
                continue; // Focus left the page (into the browser); the next Tab returns.
            }
            let element = step["element"].as_str().unwrap_or("?");
            reached_main |= step["is_main"].as_bool().unwrap_or(false);
            if !step["indicator"].as_bool().unwrap_or(false) {
                self.problem(
                    screen.name,
                    format!(
                        "focus is not visible on {element}: no outline and no box shadow \
                         (outline: {})",
                        step["outline"]
                    ),
                );
            } else if let Some(ratio) = step["contrast"].as_f64() {
                if ratio < 3.0 {
                    let what = format!(
                        "{ratio:.2}:1, outline {} against {}",
                        step["outline"], step["background"]
                    );
                    match faint.iter_mut().find(|(w, _)| *w == what) {
                        Some((_, elements)) => elements.push(element.to_string()),
                        None => faint.push((what, vec![element.to_string()])),
                    }
                }
            }
        }
        for (what, elements) in faint {
            self.problem(
                screen.name,
                format!(
                    "the focus indicator has too little contrast (WCAG 1.4.11 asks for 3:1): \
                     {what}, on {}",
                    elements.join(", ")
                ),
            );
        }
        let finish = browser
            .execute(KEYBOARD_FINISH, vec![])
            .await
            .expect("controls Tab did not reach");
        for element in finish["unreached"].as_array().into_iter().flatten() {
            self.problem(
                screen.name,
                format!("Tab never reaches {}", element.as_str().unwrap_or("?")),
            );
        }
        if !reached_main {
            self.problem(
                screen.name,
                format!(
                    "Tab from the top of the page never reaches the main control `{}`",
                    screen.main_control
                ),
            );
        }
    }

    /// The error message is inside a live region, so screen readers announce it.
    async fn announced(&mut self, browser: &Client, screen: &Screen<'_>, css: &str) {
        let live = browser
            .execute(
                "const el = document.querySelector(arguments[0]);\
                 if (!el) return 'missing';\
                 return el.closest('[role=alert],[role=status],[aria-live]:not([aria-live=off])') ? 'live' : 'silent';",
                vec![json!(css)],
            )
            .await
            .expect("live region check");
        match live.as_str() {
            Some("live") => {}
            Some("missing") => {
                self.problem(screen.name, format!("no error message `{css}` on the screen"))
            }
            _ => self.problem(
                screen.name,
                format!(
                    "the error message `{css}` is not in a live region (role=alert, role=status or aria-live), so it is not announced"
                ),
            ),
        }
    }

    async fn no_horizontal_scroll(
        &mut self,
        browser: &Client,
        screen: &Screen<'_>,
        (width, height): (u32, u32),
    ) {
        let sizes = browser.execute(OVERFLOW, vec![]).await.expect("page sizes");
        let scroll_width = sizes["scrollWidth"].as_f64().unwrap_or(0.0);
        let inner_width = sizes["innerWidth"].as_f64().unwrap_or(0.0);
        if scroll_width > inner_width {
            self.problem(
                screen.name,
                format!(
                    "at {width}x{height} the page scrolls sideways: it is {scroll_width} px wide in a {inner_width} px window; widest elements: {}",
                    sizes["culprits"]
                ),
            );
        }
    }
}

/// Marks the start of the page so that the first Tab goes to its first control, and
/// counts the controls a keyboard user should reach.
const KEYBOARD_START: &str = r#"
const CONTROLS = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"]), [contenteditable=""], [contenteditable=true]';
const visible = el => {
  if (el.disabled || el.closest('[inert], [hidden], [aria-hidden=true]')) return false;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') return false;
  return el.getClientRects().length > 0;
};
window.__a11yControls = [...document.querySelectorAll(CONTROLS)].filter(visible);
window.__a11ySeen = [];
window.__a11yLast = null;
if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
// Focus a marker at the very start of the body, out of the Tab order, so that the next
// Tab goes to the first control whatever had the focus before.
const marker = document.createElement('span');
marker.tabIndex = -1;
marker.id = '__a11y-start';
document.body.insertBefore(marker, document.body.firstChild);
marker.focus();
return {
  controls: window.__a11yControls.length,
  main_present: document.querySelector(arguments[0]) !== null,
};
"#;

/// Where the focus is after one Tab, and how its focus indicator looks.
const KEYBOARD_STEP: &str = r#"
const el = document.activeElement;
if (!el || el === document.body || el.id === '__a11y-start' || el === document.documentElement) {
  return { on_body: true };
}
// Tab moves through the parts of a date input (day, month, year...) on the same element.
if (el === window.__a11yLast) return { same: true };
window.__a11yLast = el;
if (window.__a11ySeen.includes(el)) return { again: true };
window.__a11ySeen.push(el);
const describe = e => {
  let text = (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 40);
  return '<' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.getAttribute('name') ? ' name=' + e.getAttribute('name') : '') + '>' + (text ? ' "' + text + '"' : '');
};
const parse = c => {
  const m = c.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/);
  return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null;
};
const luminance = ([r, g, b]) => {
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
};
// The colour the outline is drawn on: the first opaque background around the element.
const backdrop = start => {
  for (let e = start; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] >= 0.99) return c;
  }
  return [255, 255, 255, 1];
};
const style = getComputedStyle(el);
const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
const shadow = style.boxShadow && style.boxShadow !== 'none';
let contrast = null, background = null;
if (outline && style.outlineStyle !== 'auto') {
  // `auto` is the browser's own two-tone ring, designed to show on any background.
  const ring = parse(style.outlineColor);
  const offset = parseFloat(style.outlineOffset) || 0;
  const behind = offset >= 0 ? backdrop(el.parentElement) : backdrop(el);
  if (ring && ring[3] >= 0.99) {
    const [a, b] = [luminance(ring), luminance(behind)].sort((x, y) => y - x);
    contrast = (a + 0.05) / (b + 0.05);
    background = 'rgb(' + behind.slice(0, 3).join(', ') + ')';
  }
}
return {
  element: describe(el),
  is_main: el.matches(arguments[0]),
  indicator: outline || shadow,
  outline: style.outlineStyle + ' ' + style.outlineWidth + ' ' + style.outlineColor +
    (shadow ? '; box-shadow ' + style.boxShadow : ''),
  contrast,
  background,
};
"#;

/// The controls the walk did not reach; removes the start marker.
const KEYBOARD_FINISH: &str = r#"
const marker = document.getElementById('__a11y-start');
if (marker) marker.remove();
const describe = e => '<' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (e.getAttribute('name') ? ' name=' + e.getAttribute('name') : '') + '> "' +
  (e.innerText || e.value || '').trim().slice(0, 40) + '"';
const unreached = window.__a11yControls.filter(e => e.isConnected && !window.__a11ySeen.includes(e)).map(describe);
if (document.activeElement) document.activeElement.blur();
return { unreached };
"#;

/// The page's width against the window's and, if it is wider, the elements that stick
/// out: the innermost ones, leaving out content clipped by a scrolling box.
const OVERFLOW: &str = r#"
const innerWidth = window.innerWidth;
const scrollWidth = document.documentElement.scrollWidth;
const sticksOut = e => e.getBoundingClientRect().right > innerWidth + 0.5;
const clipped = e => {
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return true;
  }
  return false;
};
const describe = e => '<' + e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
  '> ' + JSON.stringify((e.innerText || '').trim().slice(0, 30)) +
  ' right edge at ' + Math.round(e.getBoundingClientRect().right) + ' px' +
  (e.parentElement ? ', in <' + e.parentElement.tagName.toLowerCase() +
    (e.parentElement.className ? '.' + String(e.parentElement.className).trim().split(/\s+/).join('.') : '') + '>' : '');
const culprits = scrollWidth <= innerWidth ? [] : [...document.querySelectorAll('body *')]
  .filter(e => sticksOut(e) && !clipped(e) && ![...e.children].some(sticksOut))
  .slice(0, 6)
  .map(describe);
return { innerWidth, scrollWidth, culprits };
"#;

fn axe_source() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\ninstall axe-core first: npm install --prefix .tools axe-core@4",
            path.display()
        )
    })
}

/// Injects axe-core into the page unless it is there already, runs it, and returns its
/// violations (rule, impact, help, and each node's selectors and summary).
async fn run_axe(browser: &Client) -> Value {
    let loaded = browser
        .execute("return typeof window.axe === 'object';", vec![])
        .await
        .expect("look for axe");
    if loaded != json!(true) {
        browser
            .execute(&axe_source(), vec![])
            .await
            .expect("inject axe-core");
    }
    let answer = browser
        .execute_async(
            r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] }).then(
  results => done({ violations: results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({ target: n.target, failureSummary: n.failureSummary })),
  })) }),
  error => done({ error: String(error) }));
"#,
            vec![],
        )
        .await
        .expect("run axe-core");
    assert!(
        answer["error"].is_null(),
        "axe-core failed: {}",
        answer["error"]
    );
    answer["violations"].clone()
}

async fn press_tab(browser: &Client) {
    let tab: char = Key::Tab.into();
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: tab })
        .then(KeyAction::Up { value: tab });
    browser.perform_actions(keys).await.expect("press Tab");
}

/// Resizes the window and waits until the page has the new width.
async fn resize(browser: &Client, (width, height): (u32, u32)) {
    browser
        .set_window_size(width, height)
        .await
        .expect("resize the window");
    wait_until(&format!("the page is {width} px wide"), || async {
        browser
            .execute("return window.innerWidth;", vec![])
            .await
            .ok()
            .and_then(|w| w.as_u64())
            == Some(u64::from(width))
    })
    .await;
}

fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/screenshots")
        .join(format!("{name}.png"))
}

/// Photographs the window for the guide, when the file is missing or when
/// `UPDATE_SCREENSHOTS=1`; focus is cleared and the page scrolled to the top first.
async fn screenshot(browser: &Client, name: &str) {
    let path = screenshot_path(name);
    let update = std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1");
    if path.exists() && !update {
        return;
    }
    browser
        .execute(
            "if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await
        .expect("blur and scroll up");
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("docs/screenshots");
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}

async fn open(browser: &Client, stack: &Stack, path: &str) {
    browser
        .goto(&format!("{}{path}", stack.spa))
        .await
        .expect("open the app");
}

/// Waits until the element `css` holds `text`.
async fn wait_for_text(browser: &Client, css: &str, text: &str) {
    wait_until(&format!("`{css}` says {text:?}"), || async {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.is_ok_and(|t| t.contains(text)),
            Err(_) => false,
        }
    })
    .await;
}

async fn type_into(browser: &Client, css: &str, text: &str) {
    let field = find(browser, css).await;
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type");
}

/// The signed-out pages, the tenant's login (with a wrong password, then right) and
/// consent pages, the three signed-in pages, and the notice shown when the API rejects
/// the session.
#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_journey_and_the_signed_in_pages() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    let mut audit = Audit::default();

    open(&browser, &stack, "/").await;
    audit
        .check(
            &browser,
            Screen::new("login", "#sign-in", "#sign-in").with_phone_screenshot(),
        )
        .await;

    open(&browser, &stack, "/no-such-page").await;
    wait_for_text(&browser, "main h1", "Page not found").await;
    audit
        .check(
            &browser,
            Screen::new("not-found", "main h1", "main a.button"),
        )
        .await;

    open(&browser, &stack, "/").await;
    click(&browser, "#sign-in").await;
    audit
        .check(
            &browser,
            Screen::new("tenant-login", "#username", "form button[type=submit]")
                .with_phone_screenshot(),
        )
        .await;

    type_into(&browser, "#username", ALICE.0).await;
    type_into(&browser, "#password", "not-the-password").await;
    click(&browser, "form button[type=submit]").await;
    audit
        .check(
            &browser,
            Screen::new("tenant-login-error", ".error", "form button[type=submit]")
                .announcing(".error"),
        )
        .await;

    type_into(&browser, "#username", ALICE.0).await;
    type_into(&browser, "#password", ALICE.1).await;
    click(&browser, "form button[type=submit]").await;
    audit
        .check(
            &browser,
            Screen::new(
                "tenant-consent",
                "button[value=accept]",
                "button[value=accept]",
            ),
        )
        .await;

    click(&browser, "button[name=decision][value=accept]").await;
    find(&browser, "#appointments-list").await;
    audit
        .check(
            &browser,
            Screen::new(
                "appointments",
                "#create-appointment",
                "#create-appointment button[type=submit]",
            )
            .with_phone_screenshot(),
        )
        .await;

    // The API refuses an appointment that ends before it starts; the form says why.
    type_into(
        &browser,
        "#create-appointment input[name=title]",
        "Backwards",
    )
    .await;
    browser
        .execute(
            "document.querySelector('#create-appointment input[name=start]').value = '2031-05-04T11:00';\
             document.querySelector('#create-appointment input[name=end]').value = '2031-05-04T10:00';",
            vec![],
        )
        .await
        .expect("set the times");
    click(&browser, "#create-appointment button[type=submit]").await;
    wait_for_text(&browser, ".form-error", "end").await;
    audit
        .check(
            &browser,
            Screen::new(
                "appointments-form-error",
                ".form-error",
                "#create-appointment button[type=submit]",
            )
            .announcing(".form-error"),
        )
        .await;

    open(&browser, &stack, "/profile").await;
    audit
        .check(
            &browser,
            Screen::new("profile", "#profile-userinfo-claims", "#sign-out"),
        )
        .await;

    open(&browser, &stack, "/tokens").await;
    audit
        .check(
            &browser,
            Screen::new("tokens", "#access-token-claims", "#renew-now"),
        )
        .await;

    // The API stops accepting the token (here: its signature is altered in storage): the
    // app forgets the session and says why on the sign-in page.
    browser
        .execute(
            "const key = 'appointments.auth.session';\
             const session = JSON.parse(sessionStorage.getItem(key));\
             const parts = session.access_token.split('.');\
             parts[2] = parts[2].split('').reverse().join('');\
             session.access_token = parts.join('.');\
             sessionStorage.setItem(key, JSON.stringify(session));",
            vec![],
        )
        .await
        .expect("alter the stored access token");
    open(&browser, &stack, "/appointments").await;
    audit
        .check(
            &browser,
            Screen::new("session-rejected", "#session-rejected", "#sign-in")
                .announcing("#session-rejected"),
        )
        .await;

    browser.close().await.expect("close");
    audit.finish();
}

/// Cancelling at the tenant: the callback's error screen.
#[tokio::test(flavor = "multi_thread")]
async fn the_callback_error_screen() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    let mut audit = Audit::default();

    open(&browser, &stack, "/").await;
    click(&browser, "#sign-in").await;
    support::sign_in_at_tenant(&browser, &stack, ALICE, "deny").await;
    wait_for_text(&browser, "[role=alert]", "access_denied").await;
    audit
        .check(
            &browser,
            Screen::new("callback-error", "#try-again", "#try-again")
                .announcing(".panel.error .message")
                .with_phone_screenshot(),
        )
        .await;

    browser.close().await.expect("close");
    audit.finish();
}

/// Silent renewal after the tenant's session ended: the banner offering to sign in again.
#[tokio::test(flavor = "multi_thread")]
async fn the_renewal_failed_banner() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    let mut audit = Audit::default();

    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    support::end_tenant_session_in_another_tab(&browser, &stack).await;
    click(&browser, "#renew-now").await;
    wait_for_text(&browser, "#renewal-failed", "login_required").await;
    audit
        .check(
            &browser,
            Screen::new("renewal-failed", "#renewal-failed", "#sign-in-again")
                .announcing("#renewal-failed p"),
        )
        .await;

    browser.close().await.expect("close");
    audit.finish();
}

/// A `config.json` without `client_id`: the configuration error screen.
#[tokio::test(flavor = "multi_thread")]
async fn the_configuration_error_screen() {
    let stack = Stack::start_with(|mut config| {
        config["client_id"] = Value::Null;
        config
    })
    .await;
    let browser = stack.browser().await;
    let mut audit = Audit::default();

    open(&browser, &stack, "/").await;
    wait_for_text(&browser, "[role=alert]", "client_id").await;
    audit
        .check(
            &browser,
            Screen::new(
                "config-error",
                "[role=alert]",
                "[role=alert] .actions button",
            )
            .announcing(".panel.error .message"),
        )
        .await;

    browser.close().await.expect("close");
    audit.finish();
}

/// A renewal answered for another user: the sign-in page says why, and the tenant's logout
/// confirmation that a logout without `logout_hint` gets.
#[tokio::test(flavor = "multi_thread")]
async fn the_other_user_notice_and_the_tenant_logout_confirmation() {
    let stack = Stack::start().await;
    let browser = stack.browser().await;
    let mut audit = Audit::default();

    sign_in_to(&browser, &stack, ALICE, "/tokens", "#access-token-claims").await;
    let app = support::open_another_tab(&browser).await;
    support::end_tenant_session(&browser, &stack).await;
    support::sign_in_to_list(&browser, &stack, support::BOB, "/appointments").await;
    support::back_to_the_app(&browser, app).await;
    click(&browser, "#renew-now").await;
    wait_for_text(&browser, "#signed-out-other-user", "someone else").await;
    audit
        .check(
            &browser,
            Screen::new(
                "signed-out-other-user",
                "#signed-out-other-user",
                "#sign-in",
            )
            .announcing("#signed-out-other-user"),
        )
        .await;

    // Bob's tenant session, asked to end without a hint naming it.
    browser
        .goto(&format!(
            "{}/oidc/logout?client_id=appointments-spa&post_logout_redirect_uri={}/",
            stack.tenant, stack.spa
        ))
        .await
        .expect("the tenant's logout");
    audit
        .check(
            &browser,
            Screen::new(
                "tenant-logout-confirmation",
                "button[value=logout]",
                "button[value=logout]",
            ),
        )
        .await;

    browser.close().await.expect("close");
    audit.finish();
}

/// Discovery answering 500: the start-up error screen names the URL and the status.
#[tokio::test(flavor = "multi_thread")]
async fn the_discovery_error_screen() {
    let stack = Stack::start_knowing_the_origin(
        |spa, mut config| {
            config["domain"] = format!("{spa}/status/500").into();
            config
        },
        None,
    )
    .await;
    let browser = stack.browser().await;
    let mut audit = Audit::default();

    open(&browser, &stack, "/").await;
    wait_for_text(&browser, "[role=alert]", "answered HTTP 500").await;
    audit
        .check(
            &browser,
            Screen::new(
                "discovery-error",
                "[role=alert]",
                "[role=alert] .actions button",
            )
            .announcing(".panel.error .message"),
        )
        .await;

    browser.close().await.expect("close");
    audit.finish();
}
