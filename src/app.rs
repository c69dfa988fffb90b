//! Start-up: load `config.json` and the tenant's endpoints, then provide the auth state
//! and the router to every page.

use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::auth::{AuthProvider, SigningKeys, Tenant};
use crate::browser::{http, location, storage};
use crate::components::{loading, Header};
use crate::config::{is_allowed_origin_url, Config, ConfigError};
use crate::oidc::discovery::{self, DiscoveryError};
use crate::pages::startup_error_page;
use crate::routes::{switch, Route};
use crate::weburl::Url;

#[derive(Debug, Clone, PartialEq)]
pub enum StartupError {
    Config(ConfigError),
    /// No readable answer: the server is down, unreachable, or does not allow this origin
    /// (CORS).
    TenantUnreachable {
        url: String,
    },
    /// Discovery answered with a status other than 200, or 404 (which means Auth0's fixed
    /// paths).
    DiscoveryStatus {
        url: String,
        status: u16,
    },
    Discovery(DiscoveryError),
}

#[derive(Clone, PartialEq)]
enum Startup {
    Loading,
    Ready(Tenant),
    Failed(StartupError),
}

#[function_component(App)]
pub fn app() -> Html {
    let startup = use_state(|| Startup::Loading);
    {
        let startup = startup.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                startup.set(match load_tenant().await {
                    Ok(tenant) => Startup::Ready(tenant),
                    Err(error) => Startup::Failed(error),
                });
            });
        });
    }
    match &*startup {
        // The same markup as index.html's first paint, so mounting moves nothing.
        Startup::Loading => html! {
            <>
                <header class="site-header"><span class="brand">{ "Appointments" }</span></header>
                <main class="page" id="main">{ loading("Loading…") }</main>
            </>
        },
        Startup::Failed(error) => html! {
            <>
                <header class="site-header"><span class="brand">{ "Appointments" }</span></header>
                { startup_error_page(error) }
            </>
        },
        Startup::Ready(tenant) => html! {
            <AuthProvider tenant={tenant.clone()}>
                <BrowserRouter>
                    <Header />
                    <main class="page" id="main">
                        <Switch<Route> render={switch} />
                    </main>
                </BrowserRouter>
            </AuthProvider>
        },
    }
}

/// `config.json` first (it names the tenant), then the tenant's discovery document and, on a
/// callback, its JWKS.
async fn load_tenant() -> Result<Tenant, StartupError> {
    let base = location::app_base_url().ok_or_else(|| {
        StartupError::Config(ConfigError::Unavailable("the page has no base URL".into()))
    })?;
    let config_url = base
        .join("config.json")
        .map_err(|e| StartupError::Config(ConfigError::Unavailable(e.to_string())))?;
    let response = http::get(config_url.as_str())
        .await
        .map_err(|why| StartupError::Config(ConfigError::Unavailable(why)))?;
    if response.status != 200 {
        return Err(StartupError::Config(ConfigError::Unavailable(format!(
            "{config_url} answered HTTP {}",
            response.status
        ))));
    }
    let config = Config::from_json(&response.body, &base).map_err(StartupError::Config)?;

    let discovery_url = discovery::discovery_url(&config.domain);
    // On a callback the signature check needs the JWKS right after discovery. Sign-in
    // remembered where discovery said the keys are (else Auth0's fixed path), so they are
    // fetched at the same time as discovery and kept only if discovery names that same URL:
    // one round trip instead of two, with any provider.
    let usual_jwks_uri = location::has_captured_response().then(|| {
        storage::remembered_jwks_uri()
            .and_then(|uri| Url::parse(&uri).ok())
            .filter(is_allowed_origin_url)
            .unwrap_or_else(|| discovery::auth0_defaults(&config.domain).jwks_uri)
    });
    let early_keys = async {
        match &usual_jwks_uri {
            Some(uri) => SigningKeys::prefetch(uri).await,
            None => None,
        }
    };
    let (discovery_answer, early_keys) =
        futures::future::join(http::get(discovery_url.as_str()), early_keys).await;
    let metadata = match discovery_answer {
        Err(_) => {
            return Err(StartupError::TenantUnreachable {
                url: discovery_url.to_string(),
            })
        }
        Ok(answer) if answer.status == 200 => {
            discovery::parse(&answer.body, &config.domain).map_err(StartupError::Discovery)?
        }
        // No discovery document here: Auth0's fixed paths.
        Ok(answer) if answer.status == 404 => discovery::auth0_defaults(&config.domain),
        Ok(answer) => {
            return Err(StartupError::DiscoveryStatus {
                url: discovery_url.to_string(),
                status: answer.status,
            })
        }
    };
    let keys = match early_keys {
        Some(keys) if usual_jwks_uri.as_ref() == Some(&metadata.jwks_uri) => {
            SigningKeys::with(keys)
        }
        _ => SigningKeys::default(),
    };
    Ok(Tenant {
        config: Rc::new(config),
        metadata: Rc::new(metadata),
        keys,
    })
}
