//! Command-line flags and the JSON tenant configuration (clients, APIs, users).
//!
//! # Defaults
//!
//! Without `--config`, the tenant registers:
//!
//! - one single-page application, `client_id` **`appointments-spa`**, named
//!   "Appointments (local demo)", with allowed callback URLs
//!   `http://localhost:8080/callback` and `http://127.0.0.1:8080/callback` (and
//!   `/silent-callback.html` on both, for silent renewal), allowed
//!   logout URLs `http://localhost:8080/` and `http://127.0.0.1:8080/`, allowed web
//!   origins `http://localhost:8080` and `http://127.0.0.1:8080`, and the grant types
//!   `implicit`, `authorization_code` and `refresh_token`;
//! - one API, identifier **`appointments:api`**, with scopes `read:appointments`
//!   ("Read your appointments") and `create:appointments` ("Create appointments"), and
//!   offline access allowed (`allow_offline_access`, so the code flow can have refresh
//!   tokens);
//! - two users (RBAC permissions in brackets):
//!   - `alice@example.com` / `alice-password-1`, "Alice Example", `sub` `auth0|alice`
//!     \[`read:appointments`, `create:appointments`\];
//!   - `bob@example.com` / `bob-password-1`, "Bob Example", `sub` `auth0|bob`
//!     \[`read:appointments`\].
//!
//! Each user's `picture` is an SVG avatar served by the tenant itself at
//! `<issuer>avatars/<name>.svg`, where `<name>` is the part of `sub` after `|`.
//!
//! # Config file
//!
//! `--config FILE` replaces clients, APIs and users with the file's:
//!
//! ```json
//! {"clients":[{"client_id":"my-spa","name":"My SPA",
//!              "callbacks":["http://localhost:3000/callback"],
//!              "logout_urls":["http://localhost:3000/"],
//!              "web_origins":["http://localhost:3000"],
//!              "grant_types":["authorization_code","refresh_token"]}],
//!  "apis":[{"identifier":"my:api","allow_offline_access":true,
//!           "scopes":[{"value":"read:things","description":"Read things"}]}],
//!  "users":[{"sub":"auth0|carol","email":"carol@example.com","password":"pw",
//!            "name":"Carol","permissions":["read:things"]}]}
//! ```
//!
//! # Flags
//!
//! `--bind ADDR` (default `127.0.0.1:7002`), `--issuer URL` (default
//! `http://localhost:<bind port>/`), `--config FILE`, `--key FILE` (RS256 private key
//! PEM, PKCS#8 or PKCS#1; otherwise a 2048-bit key is generated at start),
//! `--token-lifetime SECS` (default 7200), `--refresh-token-lifetime SECS` (absolute
//! lifetime of a refresh token family, default 2592000 = 30 days),
//! `--refresh-token-idle SECS` (a refresh token unused this long expires, default
//! 1296000 = 15 days; at most the absolute lifetime, which it follows when only that is
//! shortened), `--code-lifetime SECS` (default 60), `--enable-fault-injection` (serve the
//! test-only `POST /test/next-fault`, see [`crate::faults`]; off by default),
//! `--require-dpop-nonce` (DPoP proofs at `/oauth/token` and `/userinfo` must carry a
//! server nonce, RFC 9449 §8, see [`crate::dpop`]; off by default), `--help`.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default bind address.
pub const DEFAULT_BIND: &str = "127.0.0.1:7002";
/// Default access/id token lifetime in seconds.
pub const DEFAULT_TOKEN_LIFETIME: u64 = 7200;
/// Default absolute lifetime of a refresh token family in seconds: 30 days, Auth0's
/// default for rotating refresh tokens.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: u64 = 30 * 24 * 3600;
/// Default idle (inactivity) lifetime of a refresh token in seconds: 15 days, as at Auth0.
pub const DEFAULT_REFRESH_TOKEN_IDLE: u64 = 15 * 24 * 3600;
/// Default lifetime of an authorization code in seconds.
pub const DEFAULT_CODE_LIFETIME: u64 = 60;
/// Longest refresh token lifetime accepted (one year, Auth0's maximum).
pub const MAX_REFRESH_TOKEN_LIFETIME: u64 = 31_557_600;
/// Longest authorization code lifetime accepted.
pub const MAX_CODE_LIFETIME: u64 = 600;
/// The OIDC scopes the tenant understands, with the text shown on the consent page.
pub const OIDC_SCOPES: [(&str, &str); 3] = [
    ("openid", "Sign you in with your account"),
    ("profile", "Your name, nickname and picture"),
    ("email", "Your email address"),
];

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// Allowed callback URLs; `redirect_uri` must equal one of them exactly.
    pub callbacks: Vec<String>,
    /// Allowed logout URLs; `returnTo` / `post_logout_redirect_uri` must equal one exactly.
    #[serde(default)]
    pub logout_urls: Vec<String>,
    /// Allowed web origins (Auth0's "Allowed Web Origins"): the origins whose pages may
    /// call `/oauth/token` and `/oauth/revoke` (CORS). The implicit grant does not use them.
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// The grants the client may use (Auth0's `grant_types`): `implicit`,
    /// `authorization_code`, `refresh_token`. Default: all three, as Auth0 gives a new
    /// single-page application.
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
}

/// The grant types this tenant knows.
pub const GRANT_TYPES: [&str; 3] = ["implicit", "authorization_code", "refresh_token"];

fn default_grant_types() -> Vec<String> {
    GRANT_TYPES.iter().map(|g| g.to_string()).collect()
}

impl Client {
    /// Whether the client may use `grant_type`.
    pub fn allows(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether `origin` (e.g. `http://localhost:8080`) is one of the client's allowed web
    /// origins; a trailing `/` on either side does not matter.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.web_origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
    }
}

/// One permission (scope) of an API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub value: String,
    pub description: String,
}

/// A registered API (resource server); `audience` must equal an `identifier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub identifier: String,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Auth0's "Allow Offline Access": whether a refresh token may be issued for this API
    /// (when the application asks for `offline_access`). Default false, as at Auth0.
    #[serde(default)]
    pub allow_offline_access: bool,
}

/// A user who can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Stable subject, e.g. `auth0|alice`.
    pub sub: String,
    pub email: String,
    pub password: String,
    pub name: String,
    /// RBAC permissions: API scopes this user may be granted.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default = "yes")]
    pub email_verified: bool,
}

fn yes() -> bool {
    true
}

impl User {
    /// The `nickname` claim: the part of the email before `@`.
    pub fn nickname(&self) -> &str {
        self.email.split('@').next().unwrap_or(&self.email)
    }

    /// The avatar's file stem: the part of `sub` after the last `|`, with characters
    /// other than ASCII letters, digits, `-` and `_` replaced by `-`.
    pub fn avatar_name(&self) -> String {
        let tail = self.sub.rsplit('|').next().unwrap_or(&self.sub);
        tail.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }

    /// The `picture` claim: an avatar served by this tenant.
    pub fn picture(&self, issuer: &str) -> String {
        format!("{issuer}avatars/{}.svg", self.avatar_name())
    }
}

/// Clients, APIs and users of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub clients: Vec<Client>,
    #[serde(default)]
    pub apis: Vec<Api>,
    pub users: Vec<User>,
}

impl Default for TenantConfig {
    /// The demo tenant described in the module documentation.
    fn default() -> Self {
        let origins = ["http://localhost:8080", "http://127.0.0.1:8080"];
        TenantConfig {
            clients: vec![Client {
                client_id: "appointments-spa".into(),
                name: "Appointments (local demo)".into(),
                callbacks: origins
                    .iter()
                    .flat_map(|o| [format!("{o}/callback"), format!("{o}/silent-callback.html")])
                    .collect(),
                logout_urls: origins.iter().map(|o| format!("{o}/")).collect(),
                web_origins: origins.iter().map(|o| o.to_string()).collect(),
                grant_types: default_grant_types(),
            }],
            apis: vec![Api {
                identifier: "appointments:api".into(),
                scopes: vec![
                    Scope {
                        value: "read:appointments".into(),
                        description: "Read your appointments".into(),
                    },
                    Scope {
                        value: "create:appointments".into(),
                        description: "Create appointments".into(),
                    },
                ],
                allow_offline_access: true,
            }],
            users: vec![
                User {
                    sub: "auth0|alice".into(),
                    email: "alice@example.com".into(),
                    password: "alice-password-1".into(),
                    name: "Alice Example".into(),
                    permissions: vec!["read:appointments".into(), "create:appointments".into()],
                    email_verified: true,
                },
                User {
                    sub: "auth0|bob".into(),
                    email: "bob@example.com".into(),
                    password: "bob-password-1".into(),
                    name: "Bob Example".into(),
                    permissions: vec!["read:appointments".into()],
                    email_verified: true,
                },
            ],
        }
    }
}

/// A problem with the tenant configuration; `entry` names the bad entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// E.g. `clients[0] ("my-spa")` or `the file`.
    pub entry: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn bad(entry: String, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        entry,
        problem: problem.into(),
    }
}

fn check_url(entry: &str, what: &str, value: &str, path_required: bool) -> Result<(), ConfigError> {
    let url = url::Url::parse(value).map_err(|e| {
        bad(
            entry.to_string(),
            format!("{what} {value:?} is not a URL ({e})"),
        )
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(
            entry.to_string(),
            format!("{what} {value:?} must be http or https"),
        ));
    }
    if url.fragment().is_some() {
        return Err(bad(
            entry.to_string(),
            format!("{what} {value:?} must not have a fragment"),
        ));
    }
    if !path_required && url.path() != "/" {
        return Err(bad(
            entry.to_string(),
            format!("{what} {value:?} must be an origin"),
        ));
    }
    Ok(())
}

impl TenantConfig {
    /// Parses and validates a JSON configuration.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: TenantConfig = serde_json::from_str(text).map_err(|e| {
            bad(
                "the file".into(),
                format!("is not a valid tenant config: {e}"),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a JSON configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(path.display().to_string(), format!("cannot be read: {e}")))?;
        Self::from_json(&text)
    }

    /// Checks every entry; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.clients.is_empty() {
            return Err(bad("clients".into(), "at least one client is required"));
        }
        if self.users.is_empty() {
            return Err(bad("users".into(), "at least one user is required"));
        }
        let mut ids = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let entry = format!("clients[{i}] ({:?})", c.client_id);
            if c.client_id.trim().is_empty() {
                return Err(bad(entry, "client_id is empty"));
            }
            if !ids.insert(c.client_id.as_str()) {
                return Err(bad(entry, "client_id is registered twice"));
            }
            if c.name.trim().is_empty() {
                return Err(bad(entry, "name is empty"));
            }
            if c.callbacks.is_empty() {
                return Err(bad(entry, "callbacks is empty"));
            }
            for cb in &c.callbacks {
                check_url(&entry, "callback", cb, true)?;
            }
            for u in &c.logout_urls {
                check_url(&entry, "logout URL", u, true)?;
            }
            for o in &c.web_origins {
                let o = format!("{}/", o.trim_end_matches('/'));
                check_url(&entry, "web origin", &o, false)?;
            }
            for g in &c.grant_types {
                if !GRANT_TYPES.contains(&g.as_str()) {
                    return Err(bad(
                        entry,
                        format!(
                            "grant type {g:?} is not supported (only {})",
                            GRANT_TYPES.join(", ")
                        ),
                    ));
                }
            }
        }
        let mut apis = HashSet::new();
        let mut all_scopes = HashSet::new();
        for (i, a) in self.apis.iter().enumerate() {
            let entry = format!("apis[{i}] ({:?})", a.identifier);
            if a.identifier.trim().is_empty() {
                return Err(bad(entry, "identifier is empty"));
            }
            if !apis.insert(a.identifier.as_str()) {
                return Err(bad(entry, "identifier is registered twice"));
            }
            let mut seen = HashSet::new();
            for s in &a.scopes {
                if s.value.is_empty() || s.value.chars().any(|c| c.is_whitespace()) {
                    return Err(bad(
                        entry,
                        format!("scope {:?} is empty or has spaces", s.value),
                    ));
                }
                if OIDC_SCOPES.iter().any(|(o, _)| *o == s.value) {
                    return Err(bad(
                        entry,
                        format!("scope {:?} is reserved by OIDC", s.value),
                    ));
                }
                if !seen.insert(s.value.as_str()) {
                    return Err(bad(entry, format!("scope {:?} is defined twice", s.value)));
                }
                all_scopes.insert(s.value.as_str());
            }
        }
        let mut subs = HashSet::new();
        let mut emails = HashSet::new();
        let mut avatars = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let entry = format!("users[{i}] ({:?})", u.email);
            if u.sub.trim().is_empty() {
                return Err(bad(entry, "sub is empty"));
            }
            if !subs.insert(u.sub.as_str()) {
                return Err(bad(entry, format!("sub {:?} is used twice", u.sub)));
            }
            let at = u.email.find('@');
            if !matches!(at, Some(p) if p > 0 && p + 1 < u.email.len()) {
                return Err(bad(entry, "email is not an email address"));
            }
            if !emails.insert(u.email.to_ascii_lowercase()) {
                return Err(bad(entry, "email is used twice"));
            }
            if !avatars.insert(u.avatar_name()) {
                return Err(bad(
                    entry,
                    "sub gives the same avatar name as another user's",
                ));
            }
            if u.password.is_empty() {
                return Err(bad(entry, "password is empty"));
            }
            if u.name.trim().is_empty() {
                return Err(bad(entry, "name is empty"));
            }
            for p in &u.permissions {
                if !all_scopes.contains(p.as_str()) {
                    return Err(bad(
                        entry,
                        format!("permission {p:?} is not a scope of any API"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub fn api(&self, identifier: &str) -> Option<&Api> {
        self.apis.iter().find(|a| a.identifier == identifier)
    }

    pub fn user_by_sub(&self, sub: &str) -> Option<&User> {
        self.users.iter().find(|u| u.sub == sub)
    }

    /// Case-insensitive email match.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Run(Flags),
}

/// Parsed flags of the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    pub bind: SocketAddr,
    /// `None`: `http://localhost:<bound port>/`.
    pub issuer: Option<String>,
    pub config: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub token_lifetime: u64,
    /// `--refresh-token-lifetime`: absolute lifetime of a refresh token family.
    pub refresh_token_lifetime: u64,
    /// `--refresh-token-idle`: a refresh token unused this long expires.
    pub refresh_token_idle: u64,
    /// `--code-lifetime`: how long an authorization code can be redeemed.
    pub code_lifetime: u64,
    /// `--enable-fault-injection`: serve `POST /test/next-fault`.
    pub enable_fault_injection: bool,
    /// `--require-dpop-nonce`: DPoP proofs must carry a server nonce.
    pub require_dpop_nonce: bool,
}

/// A bad flag: names the flag and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagError(pub String);

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FlagError {}

/// Usage text for `--help`.
pub const USAGE: &str = "\
dev-tenant: a local authorization server answering the OAuth 2.0 / OIDC implicit grant and
authorization code flow (PKCE, refresh token rotation) as an Auth0 tenant does

USAGE: dev-tenant [FLAGS]

  --bind ADDR             address to listen on (default 127.0.0.1:7002)
  --issuer URL            issuer URL, ending in / (default http://localhost:<bind port>/)
  --config FILE           JSON file with clients, apis and users (replaces the demo ones)
  --key FILE              RS256 private key, PEM (PKCS#8 or PKCS#1); default: generated at start
  --token-lifetime SECS   lifetime of issued tokens in seconds (default 7200)
  --refresh-token-lifetime SECS
                          absolute lifetime of a refresh token (of its rotation family),
                          from sign-in (default 2592000, 30 days; at most 31557600)
  --refresh-token-idle SECS
                          a refresh token unused this long expires (default 1296000,
                          15 days; at most the absolute lifetime)
  --code-lifetime SECS    how long an authorization code can be redeemed (default 60;
                          at most 600)
  --require-dpop-nonce    DPoP proofs at /oauth/token and /userinfo must carry a server nonce
                          (RFC 9449 section 8): a proof without the current one is answered
                          use_dpop_nonce with a DPoP-Nonce header to retry with; nonces
                          change every 120 seconds (the previous one is still accepted)
  --enable-fault-injection
                          FOR TESTS ONLY: serve POST /test/next-fault, which makes the next
                          authorization response carry a broken token, e.g.
                          curl -X POST -d '{\"fault\":\"expired\"}' http://localhost:7002/test/next-fault
                          faults: bad_signature unknown_key alg_none hs256_public_key wrong_iss
                          wrong_aud multiple_aud_no_azp missing_sub missing_iat expired
                          wrong_nonce missing_at_hash wrong_at_hash wrong_state rotated_key
                          no_kid ({\"fault\":null} clears; off by default: 404)
  --help                  print this help
";

/// Normalises an issuer URL: must be absolute http(s) without query or fragment;
/// a trailing `/` is added if missing.
pub fn normalize_issuer(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| format!("{value:?} is not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("{value:?} must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?} must not have a query or fragment"));
    }
    let mut s = url.to_string();
    if !s.ends_with('/') {
        s.push('/');
    }
    Ok(s)
}

/// A flag's value as a number of seconds from 1 to `max`.
fn seconds(name: &str, value: &str, max: u64) -> Result<u64, FlagError> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 && n <= max => Ok(n),
        _ => Err(FlagError(format!(
            "{name}: {value:?} is not a number of seconds between 1 and {max}"
        ))),
    }
}

/// Parses the flags (without the program name). Accepts `--flag VALUE` and `--flag=VALUE`.
pub fn parse_args<I, S>(args: I) -> Result<Command, FlagError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut flags = Flags {
        bind: DEFAULT_BIND
            .parse()
            .map_err(|_| FlagError("--bind: bad default".into()))?,
        issuer: None,
        config: None,
        key: None,
        token_lifetime: DEFAULT_TOKEN_LIFETIME,
        refresh_token_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
        refresh_token_idle: DEFAULT_REFRESH_TOKEN_IDLE,
        code_lifetime: DEFAULT_CODE_LIFETIME,
        enable_fault_injection: false,
        require_dpop_nonce: false,
    };
    let mut idle_given = false;
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Ok(Command::Help);
        }
        if name == "--enable-fault-injection" || name == "--require-dpop-nonce" {
            if inline.is_some() {
                return Err(FlagError(format!("{name}: takes no value")));
            }
            if name == "--enable-fault-injection" {
                flags.enable_fault_injection = true;
            } else {
                flags.require_dpop_nonce = true;
            }
            continue;
        }
        let known = [
            "--bind",
            "--issuer",
            "--config",
            "--key",
            "--token-lifetime",
            "--refresh-token-lifetime",
            "--refresh-token-idle",
            "--code-lifetime",
        ];
        if !known.contains(&name.as_str()) {
            return Err(FlagError(format!("{name}: unknown flag (try --help)")));
        }
        let value = match inline.or_else(|| args.next()) {
            Some(v) if !v.is_empty() => v,
            _ => return Err(FlagError(format!("{name}: a value is required"))),
        };
        match name.as_str() {
            "--bind" => {
                flags.bind = value.parse().map_err(|_| {
                    FlagError(format!(
                        "--bind: {value:?} is not an address like 127.0.0.1:7002"
                    ))
                })?
            }
            "--issuer" => {
                flags.issuer = Some(
                    normalize_issuer(&value).map_err(|e| FlagError(format!("--issuer: {e}")))?,
                )
            }
            "--config" => flags.config = Some(PathBuf::from(value)),
            "--key" => flags.key = Some(PathBuf::from(value)),
            "--token-lifetime" => flags.token_lifetime = seconds(&name, &value, 30 * 24 * 3600)?,
            "--refresh-token-lifetime" => {
                flags.refresh_token_lifetime = seconds(&name, &value, MAX_REFRESH_TOKEN_LIFETIME)?
            }
            "--refresh-token-idle" => {
                flags.refresh_token_idle = seconds(&name, &value, MAX_REFRESH_TOKEN_LIFETIME)?;
                idle_given = true;
            }
            _ => flags.code_lifetime = seconds(&name, &value, MAX_CODE_LIFETIME)?,
        }
    }
    if flags.refresh_token_idle > flags.refresh_token_lifetime {
        if idle_given {
            return Err(FlagError(format!(
                "--refresh-token-idle: {} seconds is longer than the refresh token lifetime ({} seconds)",
                flags.refresh_token_idle, flags.refresh_token_lifetime
            )));
        }
        // Only the absolute lifetime was shortened: the idle lifetime follows it.
        flags.refresh_token_idle = flags.refresh_token_lifetime;
    }
    Ok(Command::Run(flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        TenantConfig::default().validate().unwrap();
    }

    #[test]
    fn flags() {
        assert_eq!(parse_args(["--help"]).unwrap(), Command::Help);
        let Command::Run(f) =
            parse_args(["--bind=127.0.0.1:9000", "--token-lifetime", "60"]).unwrap()
        else {
            panic!("expected run")
        };
        assert_eq!(f.bind.port(), 9000);
        assert_eq!(f.token_lifetime, 60);
        let Command::Run(f) = parse_args(["--token-lifetime=5"]).unwrap() else {
            panic!("expected run")
        };
        assert_eq!(f.token_lifetime, 5);
        assert!(parse_args(["--bind", "nope"])
            .unwrap_err()
            .0
            .starts_with("--bind:"));
        assert!(parse_args(["--frob"]).unwrap_err().0.starts_with("--frob:"));
        assert!(parse_args(["--key"]).unwrap_err().0.starts_with("--key:"));
        let Command::Run(f) = parse_args(["--issuer", "http://localhost:1234"]).unwrap() else {
            panic!("expected run")
        };
        assert_eq!(f.issuer.as_deref(), Some("http://localhost:1234/"));
        assert!(!f.enable_fault_injection);
        let Command::Run(f) =
            parse_args(["--enable-fault-injection", "--bind=127.0.0.1:9"]).unwrap()
        else {
            panic!("expected run")
        };
        assert!(f.enable_fault_injection);
        assert_eq!(f.bind.port(), 9);
        assert!(parse_args(["--enable-fault-injection=yes"])
            .unwrap_err()
            .0
            .starts_with("--enable-fault-injection:"));
        assert!(!f.require_dpop_nonce);
        let Command::Run(f) = parse_args(["--require-dpop-nonce"]).unwrap() else {
            panic!("expected run")
        };
        assert!(f.require_dpop_nonce);
        assert!(!f.enable_fault_injection);
        assert!(parse_args(["--require-dpop-nonce=1"])
            .unwrap_err()
            .0
            .starts_with("--require-dpop-nonce:"));
    }

    #[test]
    fn refresh_and_code_lifetimes() {
        let Command::Run(f) = parse_args(Vec::<String>::new()).unwrap() else {
            panic!("expected run")
        };
        assert_eq!(f.refresh_token_lifetime, DEFAULT_REFRESH_TOKEN_LIFETIME);
        assert_eq!(f.refresh_token_idle, DEFAULT_REFRESH_TOKEN_IDLE);
        assert_eq!(f.code_lifetime, DEFAULT_CODE_LIFETIME);
        let Command::Run(f) = parse_args([
            "--refresh-token-lifetime=20",
            "--refresh-token-idle",
            "5",
            "--code-lifetime=2",
        ])
        .unwrap() else {
            panic!("expected run")
        };
        assert_eq!(
            (
                f.refresh_token_lifetime,
                f.refresh_token_idle,
                f.code_lifetime
            ),
            (20, 5, 2)
        );
        let Command::Run(f) = parse_args(["--refresh-token-lifetime=20"]).unwrap() else {
            panic!("expected run")
        };
        assert_eq!(
            f.refresh_token_idle, 20,
            "the idle lifetime follows a shorter one"
        );
        let e = parse_args(["--refresh-token-lifetime=20", "--refresh-token-idle=21"]).unwrap_err();
        assert!(e.0.starts_with("--refresh-token-idle:"), "{e}");
        for (flag, value) in [
            ("--refresh-token-lifetime", "0"),
            ("--refresh-token-lifetime", "31557601"),
            ("--refresh-token-idle", "x"),
            ("--code-lifetime", "601"),
            ("--code-lifetime", "-1"),
        ] {
            let e = parse_args([format!("{flag}={value}")]).unwrap_err();
            assert!(e.0.starts_with(flag), "{e}");
        }
    }

    #[test]
    fn grant_types_default_and_are_checked() {
        let json = r#"{"clients":[{"client_id":"a","name":"A","callbacks":["http://x/cb"]}],
            "users":[{"sub":"s","email":"e@x","password":"p","name":"N"}]}"#;
        let t = TenantConfig::from_json(json).unwrap();
        assert!(GRANT_TYPES.iter().all(|g| t.clients[0].allows(g)));
        let json = json.replace(
            r#""callbacks""#,
            r#""grant_types":["password"],"callbacks""#,
        );
        let e = TenantConfig::from_json(&json).unwrap_err();
        assert!(e.problem.contains("\"password\""), "{e}");
        let api = r#"{"identifier":"i"}"#;
        let api: Api = serde_json::from_str(api).unwrap();
        assert!(
            !api.allow_offline_access,
            "off unless asked for, as at Auth0"
        );
    }

    #[test]
    fn usage_lists_every_fault() {
        for f in crate::faults::Fault::ALL {
            assert!(USAGE.contains(f.name()), "{f} missing from --help");
        }
    }
}
