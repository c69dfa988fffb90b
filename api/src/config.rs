//! Settings from command-line flags and environment variables (flags win).
//!
//! See the "Appointments API" section of CONTRACTS.md for the table this follows.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// Default issuer: the local dev tenant.
pub const DEFAULT_ISSUER: &str = "http://localhost:7002/";
/// Default API identifier (the `aud` the tokens must carry).
pub const DEFAULT_AUDIENCE: &str = "appointments:api";
/// Default listening address.
pub const DEFAULT_BIND: &str = "127.0.0.1:7001";
/// Default CORS origins (the SPA served by `trunk serve`).
pub const DEFAULT_ALLOWED_ORIGINS: &str = "http://localhost:8080,http://127.0.0.1:8080";
/// The largest clock-skew leeway accepted, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 300;
/// Default SQLite file, relative to the working directory.
pub const DEFAULT_DATABASE: &str = "appointments.sqlite3";
/// Connections to a SQLite file by default (an in-memory database always has one).
pub const DEFAULT_SQLITE_POOL_SIZE: usize = 4;
/// Connections to PostgreSQL by default, per instance.
pub const DEFAULT_POSTGRES_POOL_SIZE: usize = 10;
/// The largest `--db-pool-size` accepted.
pub const MAX_POOL_SIZE: usize = 1000;

/// Where appointments are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A private in-memory database (`:memory:`), gone when the process ends.
    Memory,
    /// A SQLite file (opened in WAL mode, created if missing).
    Path(PathBuf),
    /// A PostgreSQL server (or a PostgreSQL-compatible one), shared by every instance.
    Postgres(PostgresUrl),
}

/// A `postgres://` or `postgresql://` URL. Shown (`Display`, `Debug`) with its password
/// replaced by `***`, so that neither the log nor a debug print holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// Checks `value` as tokio-postgres will read it.
    pub fn parse(value: &str) -> Result<PostgresUrl, String> {
        let value = value.trim();
        let shown = redact_password(value);
        value.parse::<tokio_postgres::Config>().map_err(|e| {
            // tokio-postgres says what is wrong in the error's source.
            let why = std::error::Error::source(&e)
                .map(|s| format!("{e}: {s}"))
                .unwrap_or_else(|| e.to_string());
            format!("{shown} is not a PostgreSQL URL ({why})")
        })?;
        Ok(PostgresUrl(value.to_string()))
    }

    /// The URL as given, password included: for connecting, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// `value` with the password of its user information, and any `password=` query
/// parameter, replaced by `***`.
fn redact_password(value: &str) -> String {
    let Ok(mut url) = Url::parse(value) else {
        // Not a URL at all: show only its scheme.
        return match value.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => "(not a URL)".into(),
        };
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl Database {
    /// Parses a `postgres://` or `postgresql://` URL (PostgreSQL); otherwise `:memory:`,
    /// `sqlite::memory:`, `sqlite://PATH`, `sqlite:PATH` or a plain path (SQLite).
    pub fn parse(value: &str) -> Result<Database, String> {
        let value = value.trim();
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return PostgresUrl::parse(value).map(Database::Postgres);
        }
        if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
            return Err(
                "a PostgreSQL URL starts with postgres:// or postgresql://, e.g. \
                 postgres://appointments@db.internal:5432/appointments"
                    .into(),
            );
        }
        let path = value
            .strip_prefix("sqlite://")
            .or_else(|| value.strip_prefix("sqlite:"))
            .unwrap_or(value);
        if path.is_empty() {
            return Err("must be a SQLite file path, :memory: or a postgres:// URL".into());
        }
        if path == ":memory:" {
            return Ok(Database::Memory);
        }
        Ok(Database::Path(PathBuf::from(path)))
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Memory => f.write_str(":memory:"),
            Database::Path(p) => write!(f, "{}", p.display()),
            Database::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// Everything the API needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The token issuer: an absolute http(s) URL, with or without a path and a trailing
    /// `/`. Discovery's `issuer` must equal it (give or take one trailing `/`) and tokens'
    /// `iss` must equal discovery's `issuer` exactly; without discovery, this exactly.
    pub issuer: String,
    /// The API identifier that `aud` must contain.
    pub audience: String,
    /// Where to fetch the signing keys; `None` means discovery, then `<issuer>/.well-known/jwks.json`.
    /// Under an https issuer it must be https.
    pub jwks_uri: Option<Url>,
    /// The listening address (used by the binary and [`crate::spawn`] ignores it).
    pub bind: SocketAddr,
    /// Origins allowed by CORS, serialized as browsers send them (`http://localhost:8080`).
    pub allowed_origins: Vec<String>,
    /// Where appointments are stored.
    pub database: Database,
    /// Connections the pool keeps at most; `None`: [`DEFAULT_POSTGRES_POOL_SIZE`] for
    /// PostgreSQL, [`DEFAULT_SQLITE_POOL_SIZE`] for a SQLite file (`:memory:` always 1).
    pub db_pool_size: Option<usize>,
    /// Give a user seen for the first time three sample appointments.
    pub sample_data: bool,
    /// Clock-skew leeway for `exp` and `nbf`, in seconds (at most [`MAX_LEEWAY_SECS`]).
    pub leeway_secs: u64,
    /// An unknown `kid` re-fetches the JWKS at most this often.
    pub jwks_min_refetch_interval: Duration,
    /// The origin clients address (`https://api.example.com`), when a proxy stands in front:
    /// a DPoP proof's `htu` must name it. `None`: `http://` and the request's own `Host`.
    pub public_url: Option<String>,
}

impl Settings {
    /// Settings for embedding the API (tests, other crates): the given issuer and
    /// audience, an in-memory database, sample data on, the default CORS origins,
    /// `127.0.0.1:0`, JWKS from discovery.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Settings {
        Settings {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            allowed_origins: parse_origins(DEFAULT_ALLOWED_ORIGINS).expect("valid default origins"),
            database: Database::Memory,
            db_pool_size: None,
            sample_data: true,
            leeway_secs: 30,
            jwks_min_refetch_interval: Duration::from_secs(10),
            public_url: None,
        }
    }

    /// Parses the command line (without the program name) and the environment.
    /// Flags win over environment variables; anything unset gets the documented default.
    pub fn from_args_and_env<A, S, E, K, V>(args: A, env: E) -> Result<Settings, ConfigError>
    where
        A: IntoIterator<Item = S>,
        S: Into<String>,
        E: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: HashMap<String, String> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let mut flags: HashMap<&'static str, String> = HashMap::new();
        let mut sample_data = true;

        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(ConfigError::Help);
            }
            if arg == "--no-sample-data" {
                sample_data = false;
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let Some(spec) = OPTIONS.iter().find(|o| o.flag == name) else {
                return Err(ConfigError::UnknownArgument(arg));
            };
            let value = match inline {
                Some(v) => v,
                None => match args.next() {
                    Some(v) => v,
                    None => {
                        return Err(ConfigError::Invalid {
                            source: spec.flag.to_string(),
                            message: "needs a value".into(),
                        })
                    }
                },
            };
            flags.insert(spec.flag, value);
        }

        // Flag, else non-empty environment variable, else None (default).
        let lookup = |flag: &'static str| -> Option<(String, String)> {
            let spec = OPTIONS.iter().find(|o| o.flag == flag).expect("known flag");
            if let Some(v) = flags.get(flag) {
                return Some((spec.flag.to_string(), v.clone()));
            }
            env.get(spec.env)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (spec.env.to_string(), v.clone()))
        };
        let invalid = |source: String, message: String| ConfigError::Invalid { source, message };

        let issuer = match lookup("--issuer") {
            Some((src, v)) => validate_issuer(&v).map_err(|m| invalid(src, m))?,
            None => DEFAULT_ISSUER.to_string(),
        };
        let audience = match lookup("--audience") {
            Some((src, v)) => {
                let v = v.trim().to_string();
                if v.is_empty() {
                    return Err(invalid(src, "must not be empty".into()));
                }
                v
            }
            None => DEFAULT_AUDIENCE.to_string(),
        };
        let jwks_uri = match lookup("--jwks-uri") {
            Some((src, v)) => Some(
                validate_http_url(&v)
                    .and_then(|uri| check_jwks_uri(&issuer, uri))
                    .map_err(|m| invalid(src, m))?,
            ),
            None => None,
        };
        let bind = match lookup("--bind") {
            Some((src, v)) => v.trim().parse::<SocketAddr>().map_err(|_| {
                invalid(
                    src,
                    format!("{v:?} is not an IP address and port, e.g. 127.0.0.1:7001"),
                )
            })?,
            None => DEFAULT_BIND.parse().expect("valid default bind address"),
        };
        let allowed_origins = match lookup("--allowed-origins") {
            Some((src, v)) => parse_origins(&v).map_err(|m| invalid(src, m))?,
            None => parse_origins(DEFAULT_ALLOWED_ORIGINS).expect("valid default origins"),
        };
        let database = match lookup("--database") {
            Some((src, v)) => Database::parse(&v).map_err(|m| invalid(src, m))?,
            None => Database::Path(PathBuf::from(DEFAULT_DATABASE)),
        };
        let db_pool_size = match lookup("--db-pool-size") {
            Some((src, v)) => Some(parse_pool_size(&v).map_err(|m| invalid(src, m))?),
            None => None,
        };
        let public_url = match lookup("--public-url") {
            Some((src, v)) => Some(validate_public_url(&v).map_err(|m| invalid(src, m))?),
            None => None,
        };

        Ok(Settings {
            issuer,
            audience,
            jwks_uri,
            bind,
            allowed_origins,
            database,
            db_pool_size,
            sample_data,
            public_url,
            ..Settings::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE)
        })
    }
}

struct OptionSpec {
    flag: &'static str,
    env: &'static str,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--issuer",
        env: "AUTH0_ISSUER",
    },
    OptionSpec {
        flag: "--audience",
        env: "AUTH0_AUDIENCE",
    },
    OptionSpec {
        flag: "--jwks-uri",
        env: "AUTH0_JWKS_URI",
    },
    OptionSpec {
        flag: "--bind",
        env: "BIND",
    },
    OptionSpec {
        flag: "--allowed-origins",
        env: "ALLOWED_ORIGINS",
    },
    OptionSpec {
        flag: "--database",
        env: "DATABASE_URL",
    },
    OptionSpec {
        flag: "--db-pool-size",
        env: "DB_POOL_SIZE",
    },
    OptionSpec {
        flag: "--public-url",
        env: "PUBLIC_URL",
    },
];

/// The `--help` text.
pub const USAGE: &str = "\
appointments-api: the appointments resource server (validates Auth0 RS256 access tokens)

Usage: appointments-api [OPTIONS]

Options (each also an environment variable; flags win):
  --issuer URL            AUTH0_ISSUER     token issuer, as its discovery document names it
                                           (a trailing '/' or not); may have a path
                                           [default: http://localhost:7002/]
                                           e.g. https://dev-abc.us.auth0.com/,
                                           https://sso.example.com/realms/demo
  --audience ID           AUTH0_AUDIENCE   API identifier tokens must be for
                                           [default: appointments:api]
  --jwks-uri URL          AUTH0_JWKS_URI   signing keys, https under an https issuer
                                           [default: from the issuer's discovery
                                           document, else <issuer>/.well-known/jwks.json]
  --bind ADDR:PORT        BIND             [default: 127.0.0.1:7001]
  --allowed-origins LIST  ALLOWED_ORIGINS  comma-separated CORS origins
                                           [default: http://localhost:8080,http://127.0.0.1:8080]
  --database PATH|URL     DATABASE_URL     a SQLite file, :memory:, or a PostgreSQL URL
                                           (postgres://user:password@host:5432/db) for
                                           several instances sharing one database
                                           [default: appointments.sqlite3]
  --db-pool-size N        DB_POOL_SIZE     database connections per instance, 1 to 1000
                                           [default: 10 for PostgreSQL, 4 for a SQLite file]
  --public-url ORIGIN     PUBLIC_URL       the origin clients address, e.g. https://api.example.com
                                           behind a proxy (DPoP proofs name it in htu)
                                           [default: http:// and the request's Host]
  --no-sample-data                         don't give new users sample appointments
  -h, --help                               print this help
";

/// Why the settings could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `--help` was asked for: print [`USAGE`] and exit 0.
    Help,
    /// An argument that is not a known flag.
    UnknownArgument(String),
    /// A flag or variable (named in `source`) has a bad value.
    Invalid { source: String, message: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Help => f.write_str("help requested"),
            ConfigError::UnknownArgument(a) => write!(f, "unknown argument {a:?}"),
            ConfigError::Invalid { source, message } => write!(f, "{source}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Checks an issuer: an absolute http(s) URL without credentials, query or fragment,
/// with or without a path and a trailing `/` (Auth0 `https://dev-abc.us.auth0.com/`,
/// Okta `https://x.okta.com/oauth2/default`, Keycloak `https://host/realms/demo`).
/// Returns it trimmed of surrounding whitespace and otherwise unchanged: it is
/// compared with discovery's `issuer`, and without discovery with tokens' `iss`.
pub fn validate_issuer(value: &str) -> Result<String, String> {
    let value = value.trim();
    let url = Url::parse(value).map_err(|e| {
        format!(
            "{value:?} is not an absolute URL ({e}); an issuer looks like \
             https://dev-abc.us.auth0.com/ or https://sso.example.com/realms/demo"
        )
    })?;
    if !is_http_with_host(&url) {
        return Err(format!(
            "{value:?} must be an http or https URL, e.g. https://dev-abc.us.auth0.com/"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?} must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{value:?} must not contain a user name or password"
        ));
    }
    Ok(value.to_string())
}

fn validate_http_url(value: &str) -> Result<Url, String> {
    let value = value.trim();
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not an absolute URL ({e})"))?;
    if !is_http_with_host(&url) {
        return Err(format!("{value:?} must be an http or https URL"));
    }
    Ok(url)
}

/// A JWKS URI for `issuer` (already validated): https under an https issuer.
pub fn check_jwks_uri(issuer: &str, jwks_uri: Url) -> Result<Url, String> {
    let issuer = Url::parse(issuer).map_err(|e| format!("issuer {issuer:?}: {e}"))?;
    crate::auth::discovery::check_jwks_scheme(&issuer, &jwks_uri)?;
    Ok(jwks_uri)
}

/// Checks `--public-url`: an http(s) origin (`scheme://host[:port]`, a trailing `/`
/// allowed), returned as browsers serialise origins. The API sees only its own path, so a
/// path prefix added by a proxy cannot be honoured and is refused rather than ignored.
pub fn validate_public_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    let url = Url::parse(value).map_err(|e| {
        format!("{value:?} is not an absolute URL ({e}); a public URL looks like https://api.example.com")
    })?;
    if !is_http_with_host(&url) {
        return Err(format!(
            "{value:?} must be an http or https origin, e.g. https://api.example.com"
        ));
    }
    if !is_origin_only(&url) {
        return Err(format!(
            "{value:?} is not an origin: scheme://host[:port] only (no path, query or user), \
             e.g. https://api.example.com"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn is_http_with_host(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some()
}

/// Nothing but scheme, host and port: no path (other than `/`), query, fragment or user.
fn is_origin_only(url: &Url) -> bool {
    url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// Checks `--db-pool-size`: a whole number from 1 to [`MAX_POOL_SIZE`].
pub fn parse_pool_size(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_POOL_SIZE).contains(&n) => Ok(n),
        _ => Err(format!(
            "{value:?} is not a pool size: a whole number from 1 to {MAX_POOL_SIZE}"
        )),
    }
}

/// Parses a comma-separated list of origins (`scheme://host[:port]`).
pub fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    let mut origins = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let origin = parse_origin(item)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// Parses one origin (`scheme://host[:port]`, a trailing `/` allowed) into the form
/// browsers send in `Origin`. A wildcard is not an origin.
pub fn parse_origin(item: &str) -> Result<String, String> {
    let item = item.trim();
    let url = Url::parse(item).map_err(|_| {
        format!(
            "{item:?} is not an origin like http://localhost:8080 (list each origin; no wildcards)"
        )
    })?;
    if !is_http_with_host(&url) {
        return Err(format!(
            "{item:?} is not an http(s) origin like http://localhost:8080"
        ));
    }
    if url.host_str().is_some_and(|h| h.contains('*')) {
        return Err(format!(
            "{item:?}: wildcards are not supported; list each origin"
        ));
    }
    if !is_origin_only(&url) {
        return Err(format!(
            "{item:?} is not an origin: no path, e.g. http://localhost:8080"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_args_and_env(
            args.iter().copied(),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults() {
        let s = parse(&[], &[]).unwrap();
        assert_eq!(s.issuer, "http://localhost:7002/");
        assert_eq!(s.audience, "appointments:api");
        assert_eq!(s.jwks_uri, None);
        assert_eq!(s.bind, "127.0.0.1:7001".parse().unwrap());
        assert_eq!(
            s.allowed_origins,
            vec!["http://localhost:8080", "http://127.0.0.1:8080"]
        );
        assert_eq!(s.database, Database::Path("appointments.sqlite3".into()));
        assert!(s.sample_data);
        assert_eq!(s.leeway_secs, 30);
        assert_eq!(s.jwks_min_refetch_interval, Duration::from_secs(10));
        assert_eq!(s.public_url, None);
    }

    #[test]
    fn env_is_used_and_flags_win() {
        let env = [
            ("AUTH0_ISSUER", "https://env.example.com/"),
            ("AUTH0_AUDIENCE", "env-aud"),
            ("BIND", "127.0.0.1:9000"),
            ("DATABASE_URL", "sqlite://env.db"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("AUTH0_JWKS_URI", "https://env.example.com/keys"),
            ("PUBLIC_URL", "https://env-api.example.com"),
        ];
        let s = parse(&[], &env).unwrap();
        assert_eq!(s.issuer, "https://env.example.com/");
        assert_eq!(s.audience, "env-aud");
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(s.database, Database::Path("env.db".into()));
        assert_eq!(s.allowed_origins, vec!["https://app.example.com"]);
        assert_eq!(s.jwks_uri.unwrap().as_str(), "https://env.example.com/keys");
        assert_eq!(s.public_url.as_deref(), Some("https://env-api.example.com"));

        let s = parse(
            &[
                "--issuer",
                "https://flag.example.com/",
                "--audience=flag-aud",
                "--bind",
                "127.0.0.1:9001",
                "--database",
                ":memory:",
                "--allowed-origins",
                "http://a.test:1, http://b.test/",
                "--no-sample-data",
                "--public-url",
                "HTTPS://API.Example.com:443/",
            ],
            &env,
        )
        .unwrap();
        assert_eq!(s.issuer, "https://flag.example.com/");
        assert_eq!(s.audience, "flag-aud");
        assert_eq!(s.bind.port(), 9001);
        assert_eq!(s.database, Database::Memory);
        assert_eq!(s.allowed_origins, vec!["http://a.test:1", "http://b.test"]);
        assert!(!s.sample_data);
        assert_eq!(s.public_url.as_deref(), Some("https://api.example.com"));
    }

    #[test]
    fn postgres_urls_select_postgresql_and_hide_their_password() {
        for (value, shown) in [
            (
                "postgres://app:s3cret@db.internal:5432/appointments",
                "postgres://app:***@db.internal:5432/appointments",
            ),
            (
                "postgresql://app@127.0.0.1/appointments?connect_timeout=2",
                "postgresql://app@127.0.0.1/appointments?connect_timeout=2",
            ),
            (
                "postgres://app@db/appointments?password=s3cret&sslmode=disable",
                "postgres://app@db/appointments?password=***&sslmode=disable",
            ),
        ] {
            let s = parse(&["--database", value], &[]).unwrap();
            let Database::Postgres(url) = &s.database else {
                panic!("{value}: {:?}", s.database)
            };
            assert_eq!(url.expose(), value);
            assert_eq!(s.database.to_string(), shown);
            assert!(!format!("{s:?}").contains("s3cret"), "{s:?}");
            let s = parse(&[], &[("DATABASE_URL", value)]).unwrap();
            assert!(matches!(s.database, Database::Postgres(_)));
        }
        for (value, why) in [
            (
                "postgres://app:s3cret@db/x?frobnicate=1",
                "not a PostgreSQL URL",
            ),
            ("postgres:/db", "postgres://"),
        ] {
            let message = parse(&["--database", value], &[]).unwrap_err().to_string();
            assert!(message.starts_with("--database: "), "{message}");
            assert!(message.contains(why), "{value}: {message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        // Anything else is SQLite.
        let s = parse(&["--database", "data/postgres.sqlite3"], &[]).unwrap();
        assert_eq!(s.database, Database::Path("data/postgres.sqlite3".into()));
    }

    #[test]
    fn the_pool_size_is_a_flag_or_a_variable() {
        assert_eq!(parse(&[], &[]).unwrap().db_pool_size, None);
        let s = parse(&["--db-pool-size", "25"], &[("DB_POOL_SIZE", "3")]).unwrap();
        assert_eq!(s.db_pool_size, Some(25));
        let s = parse(&[], &[("DB_POOL_SIZE", " 3 ")]).unwrap();
        assert_eq!(s.db_pool_size, Some(3));
        for bad in ["0", "-1", "many", "1001", ""] {
            match parse(&["--db-pool-size", bad], &[]) {
                Err(ConfigError::Invalid { source, message }) => {
                    assert_eq!(source, "--db-pool-size");
                    assert!(message.contains("1 to 1000"), "{message}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn public_url_is_an_origin() {
        for (value, expected) in [
            ("https://api.example.com", "https://api.example.com"),
            ("https://api.example.com/", "https://api.example.com"),
            ("http://localhost:7001", "http://localhost:7001"),
            (
                "https://api.example.com:8443",
                "https://api.example.com:8443",
            ),
        ] {
            assert_eq!(
                validate_public_url(value).as_deref(),
                Ok(expected),
                "{value}"
            );
        }
        for (value, why) in [
            ("https://api.example.com/v1", "not an origin"),
            ("https://api.example.com/?x=1", "not an origin"),
            ("https://u:p@api.example.com", "not an origin"),
            ("api.example.com", "not an absolute URL"),
            ("ftp://api.example.com", "http or https origin"),
        ] {
            let message = parse(&["--public-url", value], &[])
                .unwrap_err()
                .to_string();
            assert!(message.starts_with("--public-url: "), "{message}");
            assert!(message.contains(why), "{value}: {message}");
        }
        let message = parse(&[], &[("PUBLIC_URL", "https://x.test/api")])
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("PUBLIC_URL: "), "{message}");
    }

    #[test]
    fn issuers_of_any_provider_are_kept_as_written() {
        for issuer in [
            "https://dev-abc.us.auth0.com/",
            "https://dev-abc.us.auth0.com",
            "https://x.okta.com/oauth2/default",
            "https://sso.example.com/realms/demo",
            "https://sso.example.com/realms/demo/",
            "http://localhost:7002",
            "http://127.0.0.1:7002/",
            "http://tenant.internal:8080/",
        ] {
            let s = parse(&["--issuer", issuer], &[]).unwrap();
            assert_eq!(s.issuer, issuer);
            let s = parse(&[], &[("AUTH0_ISSUER", &format!(" {issuer} "))]).unwrap();
            assert_eq!(s.issuer, issuer, "trimmed, otherwise unchanged");
        }
    }

    #[test]
    fn bad_issuer_is_explained() {
        for (issuer, why) in [
            (
                "https://dev-abc.us.auth0.com/?tenant=x",
                "query or fragment",
            ),
            ("https://dev-abc.us.auth0.com/?", "query or fragment"),
            ("https://dev-abc.us.auth0.com/#x", "query or fragment"),
            (
                "https://user:pw@dev-abc.us.auth0.com/",
                "user name or password",
            ),
            ("file:///etc/issuer", "http or https"),
            ("/realms/demo", "not an absolute URL"),
        ] {
            let msg = parse(&["--issuer", issuer], &[]).unwrap_err().to_string();
            assert!(msg.starts_with("--issuer: "), "{msg}");
            assert!(msg.contains(why), "{issuer}: {msg}");
        }

        let e = parse(&[], &[("AUTH0_ISSUER", "dev-abc.us.auth0.com")]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("AUTH0_ISSUER: "), "{msg}");
        assert!(msg.contains("not an absolute URL"), "{msg}");

        let e = parse(&["--issuer", "ftp://x.test/"], &[]).unwrap_err();
        assert!(e.to_string().contains("http or https"), "{e}");
    }

    #[test]
    fn jwks_uri_is_https_under_an_https_issuer() {
        let e = parse(
            &[
                "--issuer",
                "https://x.okta.com/oauth2/default",
                "--jwks-uri",
                "http://x.okta.com/keys",
            ],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--jwks-uri: "), "{e}");
        assert!(
            e.to_string().contains("plain http under the https issuer"),
            "{e}"
        );
        let s = parse(
            &[
                "--issuer",
                "https://x.okta.com/oauth2/default",
                "--jwks-uri",
                "https://x.okta.com/keys",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(s.jwks_uri.unwrap().as_str(), "https://x.okta.com/keys");
        // The local dev tenant: plain http throughout.
        let s = parse(&["--jwks-uri", "http://localhost:7002/keys"], &[]).unwrap();
        assert_eq!(s.jwks_uri.unwrap().as_str(), "http://localhost:7002/keys");
    }

    #[test]
    fn origins_are_origins() {
        assert_eq!(
            parse_origin("http://localhost:8080/"),
            Ok("http://localhost:8080".into())
        );
        assert_eq!(
            parse_origin("HTTPS://App.Example.com:443"),
            Ok("https://app.example.com".into())
        );
        for bad in [
            "*",
            "null",
            "http://*.example.com",
            "http://u:p@x.test",
            "localhost:8080",
            "",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_bad_values_name_the_flag() {
        let cases: &[&[&str]] = &[
            &["--bind", "localhost"],
            &["--allowed-origins", "http://x.test/path"],
            &["--jwks-uri", "not a url"],
            &["--audience", " "],
            &["--database", ""],
            &["--issuer"],
        ];
        for args in cases {
            match parse(args, &[]) {
                Err(ConfigError::Invalid { source, .. }) => assert_eq!(source, args[0]),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        assert_eq!(
            parse(&["--frobnicate"], &[]).unwrap_err(),
            ConfigError::UnknownArgument("--frobnicate".into())
        );
        assert_eq!(parse(&["--help"], &[]).unwrap_err(), ConfigError::Help);
    }
}
