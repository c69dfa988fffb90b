//! What the code-flow tests share: the configuration, the stored refresh token, and the
//! tenant's token endpoint used from outside the browser.

use fantoccini::Client;
use serde_json::{json, Value};

use super::{stored_session, Stack};

/// `config.json` for the code flow, with refresh tokens, in `storage` mode.
pub fn config(storage: &'static str) -> impl Fn(Value) -> Value + Send + Sync + 'static {
    move |mut config| {
        config["response_type"] = "code".into();
        config["scope"] =
            "openid profile email read:appointments create:appointments offline_access".into();
        config["token_storage"] = storage.into();
        config
    }
}

/// The session the app stored, from sessionStorage or localStorage.
pub async fn stored(browser: &Client) -> Option<Value> {
    let both = stored_session(browser).await;
    both.as_array()?
        .iter()
        .find_map(|text| serde_json::from_str(text.as_str()?).ok())
}

pub async fn stored_refresh_token(browser: &Client) -> Option<String> {
    Some(
        stored(browser).await?["refresh_token"]
            .as_str()?
            .to_string(),
    )
}

/// URLs of the requests this document made that contain `part` (Resource Timing).
pub async fn requests_to(browser: &Client, part: &str) -> Vec<String> {
    let names = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes(arguments[0]))",
            vec![json!(part)],
        )
        .await
        .expect("resource timing");
    serde_json::from_value(names).unwrap_or_default()
}

/// A refresh at the tenant outside the browser, as a thief or another client would.
pub async fn refresh_outside(stack: &Stack, refresh_token: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/oauth/token", stack.tenant))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "appointments-spa"),
        ])
        .send()
        .await
        .expect("token endpoint");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// From now on, records the `src` of every iframe the page inserts (silent renewal's is
/// removed once it has landed; Resource Timing lists a frame only if it finished loading
/// before that).
pub async fn watch_for_iframes(browser: &Client) {
    browser
        .execute(
            "window.insertedFrames = [];\
             new MutationObserver(records => {\
               for (const record of records)\
                 for (const node of record.addedNodes)\
                   if (node.tagName === 'IFRAME') window.insertedFrames.push(node.src);\
             }).observe(document.documentElement, { childList: true, subtree: true });",
            vec![],
        )
        .await
        .expect("watch for iframes");
}

/// The `src` of every iframe inserted since [`watch_for_iframes`].
pub async fn inserted_iframes(browser: &Client) -> Vec<String> {
    let sources = browser
        .execute("return window.insertedFrames", vec![])
        .await
        .expect("the inserted iframes");
    serde_json::from_value(sources).unwrap_or_default()
}
