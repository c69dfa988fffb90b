//! A hidden iframe that follows an authorization request with `prompt=none` and hands back
//! the answer the tenant redirects to (a fragment, or the code flow's query), without the
//! user seeing anything.

use std::time::Duration;

use crate::weburl::Url;
use wasm_bindgen::JsCast;
use web_sys::HtmlIFrameElement;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilentError {
    /// No answer in time: the tenant showed a page (it needs the user) or is unreachable,
    /// or the browser blocks its cookies in frames.
    Timeout,
    Browser(String),
}

const POLL: Duration = Duration::from_millis(50);

/// Loads `authorize_url` in a hidden iframe and waits until it lands on `landing` (a page of
/// this origin), returning the fragment or query it arrived with.
pub async fn authorize_in_iframe(
    authorize_url: &Url,
    landing: &Url,
    timeout: Duration,
) -> Result<String, SilentError> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| SilentError::Browser("no document".into()))?;
    let body = document
        .body()
        .ok_or_else(|| SilentError::Browser("no body".into()))?;
    let iframe: HtmlIFrameElement = document
        .create_element("iframe")
        .map_err(|_| SilentError::Browser("cannot create an iframe".into()))?
        .dyn_into()
        .map_err(|_| SilentError::Browser("not an iframe".into()))?;
    iframe.set_hidden(true);
    let _ = iframe.set_attribute("aria-hidden", "true");
    let _ = iframe.set_attribute("tabindex", "-1");
    let _ = iframe.set_attribute("title", "session renewal");
    // Set before insertion: the first load of a new frame adds no entry to the tab's
    // history, so Back never lands on a URL with tokens.
    iframe.set_src(authorize_url.as_str());
    body.append_child(&iframe)
        .map_err(|_| SilentError::Browser("cannot insert the iframe".into()))?;

    let fragment = wait_for_landing(&iframe, landing, timeout).await;
    iframe.remove();
    fragment
}

async fn wait_for_landing(
    iframe: &HtmlIFrameElement,
    landing: &Url,
    timeout: Duration,
) -> Result<String, SilentError> {
    let polls = timeout.as_millis() / POLL.as_millis();
    for _ in 0..polls {
        gloo_timers::future::sleep(POLL).await;
        // Reading the frame's location throws while it is at the tenant (another origin).
        let Some(location) = iframe.content_window().map(|w| w.location()) else {
            continue;
        };
        let (Ok(href), Ok(hash), Ok(search)) =
            (location.href(), location.hash(), location.search())
        else {
            continue;
        };
        let at_landing = Url::parse(&href)
            .is_ok_and(|url| url.origin() == landing.origin() && url.path() == landing.path());
        if at_landing && hash.len() > 1 {
            return Ok(hash);
        }
        if at_landing && search.len() > 1 {
            return Ok(search);
        }
    }
    Err(SilentError::Timeout)
}
