//! A local authorization server that answers the OAuth 2.0 / OpenID Connect implicit
//! grant and the authorization code flow with PKCE and refresh-token rotation as an
//! Auth0 tenant does, so a single-page app can run its whole sign-in flow locally,
//! offline.
//!
//! See [`config`] for the demo clients, API and users, and for the binary's flags.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! let mut tenant = dev_tenant::config::TenantConfig::default();
//! tenant.clients[0].callbacks.push("http://127.0.0.1:4444/callback".into());
//! let settings = dev_tenant::Settings::new(
//!     &format!("http://127.0.0.1:{port}/"),
//!     tenant,
//!     dev_tenant::keys::SigningKey::generate()?,
//! )?;
//! tokio::spawn(dev_tenant::serve(listener, settings));
//! # Ok(()) }
//! ```
//!
//! Flow: `GET /authorize` shows the login form (`POST /u/login`, fields `tx`, `username`,
//! `password`), which redirects (303) to `GET /u/consent?tx=..`; its form
//! (`POST /u/consent`, fields `tx`, `decision` = `accept` | `deny`) redirects (302) to
//! the callback with the result in the fragment (implicit grant) or a code in the query
//! (`response_type=code`, redeemed at `POST /oauth/token`, see [`oauth`]). These pages
//! need the `dev_tenant_browser` cookie `/authorize` set (and consent the session cookie
//! the login set): a client that scripts them must carry both. A later request with the session cookie
//! skips the login form, and the consent page once consent is on record; `prompt=none`
//! answers silently (see [`authorize`]).
//!
//! For clients' negative tests, [`faults`] breaks the next authorization response on
//! purpose ([`Settings::faults`], or `POST /test/next-fault` with
//! `--enable-fault-injection`).
//!
//! DPoP (RFC 9449): `/oauth/token` binds tokens to the key of a `DPoP` proof, `/authorize`
//! takes `dpop_jkt`, and `/userinfo` takes DPoP-bound tokens with proofs (see [`oauth`],
//! [`userinfo`], [`dpop`]). To exercise the client's nonce retry, set
//! [`Settings::require_dpop_nonce`] (binary flag `--require-dpop-nonce`).

pub mod authorize;
pub mod avatars;
pub mod code;
pub mod config;
pub mod discovery;
pub mod dpop;
pub mod faults;
pub mod keys;
pub mod limits;
pub mod logout;
pub mod oauth;
pub mod pages;
pub mod refresh;
pub mod session;
pub mod tokens;
pub mod userinfo;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub use crate::faults::{Fault, FaultSwitch};

use crate::config::{
    TenantConfig, DEFAULT_CODE_LIFETIME, DEFAULT_REFRESH_TOKEN_IDLE,
    DEFAULT_REFRESH_TOKEN_LIFETIME, DEFAULT_TOKEN_LIFETIME,
};
use crate::keys::{KeyError, KeyRing, SigningKey};

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer URL, ending in `/` (e.g. `http://localhost:7002/`); every endpoint lives under it.
    pub issuer: String,
    /// Clients, APIs and users.
    pub tenant: TenantConfig,
    /// The RS256 key that signs tokens (until a [`faults::Fault::RotatedKey`] replaces it).
    pub key: SigningKey,
    /// Lifetime of issued tokens in seconds (`expires_in`), default 7200.
    pub token_lifetime: u64,
    /// Absolute lifetime of a refresh token family in seconds, counted from the sign-in
    /// (`--refresh-token-lifetime`), default 30 days.
    pub refresh_token_lifetime: u64,
    /// Idle lifetime of a refresh token in seconds (`--refresh-token-idle`): one unused
    /// this long expires; default 15 days.
    pub refresh_token_idle: u64,
    /// How long an authorization code can be redeemed, in seconds (`--code-lifetime`),
    /// default 60.
    pub code_lifetime: u64,
    /// The clock authorization codes, refresh tokens, DPoP proofs (`iat`) and DPoP nonces
    /// are timed by. Tests keep a clone and [`Clock::advance`] it instead of sleeping.
    pub clock: Clock,
    /// Test-only fault injection: keep a clone and call [`FaultSwitch::set_next`] to break
    /// the next authorization response (see [`faults`]). Nothing is pending by default.
    pub faults: FaultSwitch,
    /// Serve `POST /test/next-fault` (binary flag `--enable-fault-injection`); default false.
    pub fault_injection_endpoint: bool,
    /// Demand a server nonce in DPoP proofs at `/oauth/token` and `/userinfo` (binary flag
    /// `--require-dpop-nonce`; RFC 9449 §8): a proof without the current nonce is answered
    /// `use_dpop_nonce` with a `DPoP-Nonce` header, and the client retries. Default false.
    /// See [`dpop`].
    pub require_dpop_nonce: bool,
}

/// Why [`Settings`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    Issuer(String),
    Config(config::ConfigError),
    Key(KeyError),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Issuer(e) => write!(f, "issuer: {e}"),
            SettingsError::Config(e) => write!(f, "config: {e}"),
            SettingsError::Key(e) => write!(f, "key: {e}"),
        }
    }
}

impl std::error::Error for SettingsError {}

impl From<KeyError> for SettingsError {
    fn from(e: KeyError) -> Self {
        SettingsError::Key(e)
    }
}

impl Settings {
    /// Validates the issuer (a trailing `/` is added if missing) and the tenant config;
    /// token lifetime is [`DEFAULT_TOKEN_LIFETIME`].
    pub fn new(issuer: &str, tenant: TenantConfig, key: SigningKey) -> Result<Self, SettingsError> {
        let issuer = config::normalize_issuer(issuer).map_err(SettingsError::Issuer)?;
        tenant.validate().map_err(SettingsError::Config)?;
        Ok(Settings {
            issuer,
            tenant,
            key,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            refresh_token_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
            refresh_token_idle: DEFAULT_REFRESH_TOKEN_IDLE,
            code_lifetime: DEFAULT_CODE_LIFETIME,
            clock: Clock::default(),
            faults: FaultSwitch::default(),
            fault_injection_endpoint: false,
            require_dpop_nonce: false,
        })
    }

    /// The demo tenant ([`TenantConfig::default`]) with a freshly generated key.
    pub fn demo(issuer: &str) -> Result<Self, SettingsError> {
        Self::new(issuer, TenantConfig::default(), SigningKey::generate()?)
    }
}

/// Shared server state.
pub(crate) struct AppState {
    pub issuer: String,
    pub tenant: TenantConfig,
    pub keys: KeyRing,
    pub token_lifetime: u64,
    pub faults: FaultSwitch,
    pub clock: Clock,
    pub transactions: authorize::Transactions,
    pub codes: code::Codes,
    pub refresh_tokens: refresh::RefreshTokens,
    pub sessions: session::Sessions,
    pub consents: session::Consents,
    pub opaque_tokens: tokens::OpaqueTokens,
    pub dpop: dpop::Dpop,
    pub throttle: Mutex<limits::LoginThrottle>,
}

pub(crate) type Shared = Arc<AppState>;

impl AppState {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// Whether cookies should carry `Secure`.
    pub fn secure(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// A clock that reads the real time plus an offset tests can move forward.
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<AtomicU64>);

impl Clock {
    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(millis))
            });
    }

    /// The current instant on this clock.
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(Duration::from_millis(self.0.load(Ordering::SeqCst)))
            .unwrap_or(now)
    }

    /// Seconds since the Unix epoch on this clock: the system time plus how far the clock
    /// was advanced. DPoP proofs' `iat` and the server nonces are timed by it.
    pub fn unix_now(&self) -> u64 {
        now().saturating_add(self.0.load(Ordering::SeqCst) / 1000)
    }
}

/// Locks a mutex, recovering from poisoning (the maps stay usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A random 256-bit identifier, base64url.
pub(crate) fn random_id() -> Option<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses `application/x-www-form-urlencoded` text; the first value of a name wins.
pub(crate) fn parse_form(input: &[u8]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(input) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// The query of a request to an endpoint: empty values count as absent.
pub(crate) struct QueryParams(HashMap<String, String>);

impl QueryParams {
    pub(crate) fn parse(query: Option<String>) -> Self {
        QueryParams(parse_form(query.unwrap_or_default().as_bytes()))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Builds the tenant's router. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as [`serve`] does): the limits
/// per client address (see [`limits`]) read the peer address from it, and without it
/// every request counts as coming from one address.
pub fn router(settings: Settings) -> Router {
    let fault_injection_endpoint = settings.fault_injection_endpoint;
    let mut issuer = settings.issuer;
    if !issuer.ends_with('/') {
        issuer.push('/');
    }
    let state: Shared = Arc::new(AppState {
        issuer,
        tenant: settings.tenant,
        keys: KeyRing::new(settings.key),
        token_lifetime: settings.token_lifetime,
        faults: settings.faults,
        clock: settings.clock,
        transactions: authorize::Transactions::default(),
        codes: code::Codes::new(Duration::from_secs(settings.code_lifetime)),
        refresh_tokens: refresh::RefreshTokens::new(
            Duration::from_secs(settings.refresh_token_lifetime),
            Duration::from_secs(settings.refresh_token_idle),
        ),
        sessions: session::Sessions::default(),
        consents: session::Consents::default(),
        opaque_tokens: tokens::OpaqueTokens::default(),
        dpop: dpop::Dpop::new(settings.require_dpop_nonce),
        throttle: Mutex::new(limits::LoginThrottle::default()),
    });
    let mut routes = Router::new();
    if fault_injection_endpoint {
        routes = routes.merge(faults::routes());
    }
    routes
        .merge(discovery::routes())
        .merge(userinfo::routes())
        .merge(authorize::routes())
        .merge(logout::routes())
        .merge(oauth::routes())
        .route("/avatars/{file}", get(avatars::avatar))
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
}

/// Serves the tenant on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, settings: Settings) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(settings).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
