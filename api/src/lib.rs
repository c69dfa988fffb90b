//! `appointments-api`: the OAuth 2.0 resource server of the Auth0 implicit-grant sample.
//!
//! It validates Auth0-style RS256 access tokens against the issuer's JWKS, sent as
//! `Bearer` or bound to a key with DPoP (RFC 9449), and serves each user's appointments
//! from SQLite (one machine) or PostgreSQL (several instances sharing one database).
//!
//! Embedding it (e.g. in a test) on a free port:
//!
//! ```no_run
//! # async fn demo() -> Result<(), appointments_api::StartupError> {
//! let mut settings = appointments_api::Settings::new("http://127.0.0.1:7002/", "appointments:api");
//! settings.allowed_origins = vec!["http://127.0.0.1:8080".into()];
//! let api = appointments_api::spawn(settings).await?; // in-memory database, 127.0.0.1:0
//! let url = format!("{}/api/appointments", api.base_url());
//! # let _ = url;
//! api.shutdown().await;
//! # Ok(()) }
//! ```

pub mod auth;
mod body;
pub mod config;
pub mod routes;
pub mod store;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::Router;
use tokio::net::TcpListener;

pub use config::{ConfigError, Database, Settings, USAGE};

/// Why the API could not start.
#[derive(Debug)]
pub enum StartupError {
    /// A setting is invalid (for settings built in code rather than parsed).
    Config(String),
    /// The database could not be opened or set up (a SQLite file that cannot be used, a
    /// PostgreSQL URL this build cannot use, or a server that refuses the schema; not a
    /// server that does not answer).
    Database(String),
    /// The HTTP client for the JWKS could not be built.
    HttpClient(String),
    /// Binding or serving failed.
    Io(std::io::Error),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::Config(m) => write!(f, "invalid settings: {m}"),
            StartupError::Database(m) => f.write_str(m),
            StartupError::HttpClient(m) => write!(f, "cannot build the HTTP client: {m}"),
            StartupError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartupError {}

/// Builds the router: checks the settings, opens the database and applies its migrations.
/// The JWKS is fetched later, when the first token arrives. A PostgreSQL server that does
/// not answer is no error: the API starts not ready (`/readyz` answers 503) and sets the
/// schema up once the server answers.
///
/// Settings built in code are checked as the command line's are: a bad one is a
/// [`StartupError::Config`], never a panic.
pub async fn app(mut settings: Settings) -> Result<Router, StartupError> {
    let config_error =
        |what: &str, message: String| StartupError::Config(format!("{what}: {message}"));
    settings.issuer =
        config::validate_issuer(&settings.issuer).map_err(|m| config_error("issuer", m))?;
    if settings.audience.trim().is_empty() {
        return Err(StartupError::Config("audience must not be empty".into()));
    }
    if let Some(uri) = settings.jwks_uri.take() {
        settings.jwks_uri = Some(
            config::check_jwks_uri(&settings.issuer, uri)
                .map_err(|m| config_error("jwks_uri", m))?,
        );
    }
    if settings.leeway_secs > config::MAX_LEEWAY_SECS {
        return Err(config_error(
            "leeway_secs",
            format!(
                "{} is more than {}",
                settings.leeway_secs,
                config::MAX_LEEWAY_SECS
            ),
        ));
    }
    if let Some(url) = settings.public_url.take() {
        settings.public_url =
            Some(config::validate_public_url(&url).map_err(|m| config_error("public_url", m))?);
    }
    // tower-http's CORS layer panics on a `*` in a list: only real origins get there.
    let origins = settings
        .allowed_origins
        .iter()
        .map(|o| {
            let origin = config::parse_origin(o).map_err(|m| config_error("allowed origin", m))?;
            HeaderValue::from_str(&origin)
                .map_err(|_| config_error("allowed origin", format!("{o:?} is not valid")))
        })
        .collect::<Result<Vec<_>, _>>()?;

    if let Some(size) = settings.db_pool_size {
        config::parse_pool_size(&size.to_string()).map_err(|m| config_error("db_pool_size", m))?;
    }
    let options = store::StoreOptions {
        sample_data: settings.sample_data,
        pool_size: settings.db_pool_size,
    };
    let store = store::Store::open(&settings.database, options)
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;

    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .user_agent(concat!("appointments-api/", env!("CARGO_PKG_VERSION")))
        .redirect(auth::discovery::redirect_policy())
        .build()
        .map_err(|e| StartupError::HttpClient(e.to_string()))?;
    // With a shared database, the DPoP proofs used are kept there: a proof one instance
    // accepted is refused by every other.
    let auth = Arc::new(match store.shared_replay_cache() {
        Some(used) => auth::Authenticator::with_replay_cache(&settings, client, used),
        None => auth::Authenticator::new(&settings, client),
    });
    Ok(routes::router(routes::AppState { auth, store }, origins))
}

/// Serves the API on `listener` until `shutdown` completes (then drains in-flight requests).
pub async fn serve_with_shutdown(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let router = app(settings).await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(StartupError::Io)
}

/// Serves the API on `listener` forever.
pub async fn serve(listener: TcpListener, settings: Settings) -> Result<(), StartupError> {
    serve_with_shutdown(listener, settings, std::future::pending()).await
}

/// The API running in the background on `127.0.0.1:<free port>`; stops when
/// [`RunningApi::shutdown`] is called or the value is dropped.
pub struct RunningApi {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), StartupError>>>,
}

impl RunningApi {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the API on `127.0.0.1:0` (ignoring `settings.bind`) in a background task.
/// The database is opened before this returns, so a bad path is an error here.
pub async fn spawn(settings: Settings) -> Result<RunningApi, StartupError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(StartupError::Io)?;
    let addr = listener.local_addr().map_err(StartupError::Io)?;
    let router = app(settings).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .map_err(StartupError::Io)
    });
    Ok(RunningApi {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
