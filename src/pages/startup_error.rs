use yew::prelude::*;

use crate::app::StartupError;
use crate::browser::location;
use crate::components::ErrorPanel;
use crate::config::ConfigError;

/// Shown instead of the app when it cannot start: never a blank page.
pub fn startup_error_page(error: &StartupError) -> Html {
    let (title, message, code, hint) = match error {
        StartupError::Config(error) => (
            "The app's configuration is not valid",
            error.to_string(),
            match error {
                ConfigError::Field { field, .. } => format!("config_invalid:{field}"),
                ConfigError::NotJson(_) => "config_not_json".into(),
                ConfigError::Unavailable(_) => "config_unavailable".into(),
            },
            "Fix config.json next to index.html (the README lists every field), then reload this page.",
        ),
        StartupError::TenantUnreachable { url } => (
            "The sign-in server is not reachable",
            format!("No readable answer from {url}: the server is down or unreachable, or it does not allow this site to read it (CORS)."),
            "tenant_unreachable".into(),
            "Check `domain` in config.json, and that the tenant is running and reachable from this browser, then reload.",
        ),
        StartupError::DiscoveryStatus { url, status } => (
            "The sign-in server's discovery document could not be loaded",
            format!("{url} answered HTTP {status}."),
            "discovery_failed".into(),
            "A 404 would mean Auth0's fixed paths; any other status is an error at the tenant or a wrong `domain` in config.json. Fix it, then reload.",
        ),
        StartupError::Discovery(error) => (
            "The sign-in server's configuration is not usable",
            error.to_string(),
            "discovery_invalid".into(),
            "Check `domain` in config.json: it must be the tenant's domain or its exact issuer URL.",
        ),
    };
    let reload = Callback::from(|_: MouseEvent| location::reload());
    html! {
        <main class="page" id="main">
            { ErrorPanel::new(title, message)
                .main()
                .code(code)
                .detail(Some(hint.into()))
                .view(html! { <button type="button" class="button primary" onclick={reload}>{ "Reload" }</button> }) }
        </main>
    }
}
