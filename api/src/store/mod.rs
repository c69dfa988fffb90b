//! The appointments store: one interface, two engines behind it.
//!
//! - `sqlite`: a SQLite file (or `:memory:`), embedded, for one machine: the default, so
//!   that the demo needs nothing installed;
//! - [`postgres`]: PostgreSQL, shared by several instances behind a load balancer (written
//!   for PostgreSQL-compatible distributed engines too: no advisory locks, serialization
//!   failures retried);
//! - `schema`: the one schema both apply at start-up, as versioned migrations.
//!
//! Both behave the same: a user seen for the first time gets the sample appointments
//! exactly once (the `users` primary key decides, not a check-then-insert), lists are
//! per user and sorted by start, and a create sent again with the same `Idempotency-Key`
//! returns the first result.

pub mod postgres;
mod schema;
mod sqlite;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};

use crate::auth::replay::JtiCache;
use crate::config::{Database, DEFAULT_POSTGRES_POOL_SIZE, DEFAULT_SQLITE_POOL_SIZE};

pub use schema::{Migration, MIGRATIONS};

/// One appointment as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appointment {
    pub id: String,
    pub title: String,
    /// RFC 3339, UTC.
    pub start: String,
    /// RFC 3339, UTC.
    pub end: String,
    pub location: Option<String>,
}

/// A validated appointment to create.
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub title: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub location: Option<String>,
}

/// What a create did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new appointment.
    New(Appointment),
    /// The `Idempotency-Key` was used before by this user, for the same request: the
    /// appointment that request created.
    Replayed(Appointment),
}

impl Created {
    pub fn appointment(&self) -> &Appointment {
        match self {
            Created::New(a) | Created::Replayed(a) => a,
        }
    }
}

/// A client's `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): 1 to 255
/// visible ASCII characters, optionally sent as a quoted string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

impl IdempotencyKey {
    /// Checks a header value: `abc-123` or `"abc-123"`.
    pub fn parse(value: &[u8]) -> Result<IdempotencyKey, String> {
        let bad = || {
            format!(
                "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible \
                 ASCII characters (a UUID, say), optionally in double quotes"
            )
        };
        let value = std::str::from_utf8(value).map_err(|_| bad())?.trim();
        let value = match value.strip_prefix('"') {
            Some(rest) => rest.strip_suffix('"').ok_or_else(bad)?,
            None => value,
        };
        let visible = value.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
        if value.is_empty() || value.len() > MAX_IDEMPOTENCY_KEY_CHARS || !visible {
            return Err(bad());
        }
        Ok(IdempotencyKey(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the store could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database cannot be reached, is starting or stopping, is overloaded, or its schema
    /// is not set up yet: the request gets 503 and may be retried.
    Unavailable(String),
    /// Anything else (a bug, a damaged database): 500, logged.
    Internal(String),
    /// The `Idempotency-Key` was used before by this user for a different request: 422.
    IdempotencyKeyReused,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            StoreError::Internal(m) => write!(f, "database error: {m}"),
            StoreError::IdempotencyKeyReused => {
                f.write_str("the Idempotency-Key was used before for another request")
            }
        }
    }
}

impl std::error::Error for StoreError {}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Give a user seen for the first time the sample appointments.
    pub sample_data: bool,
    /// The pool's size; `None`: the engine's default.
    pub pool_size: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sample_data: true,
            pool_size: None,
        }
    }
}

/// The appointment store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    engine: Engine,
    /// Users already seeded: reading needs no write once a user is known. Rows are never
    /// deleted, so what one instance knows stays true whatever the others do.
    seen: Arc<Mutex<HashSet<String>>>,
    sample_data: bool,
    health: Arc<Health>,
}

#[derive(Clone)]
enum Engine {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the store. SQLite: opens (creating if needed) the file and applies the
    /// migrations; a file that cannot be used is an error. PostgreSQL: builds the pool and
    /// applies the migrations if the server answers; if it does not, the store is returned
    /// anyway, not ready, and keeps trying in the background (see [`Store::ready`]).
    pub async fn open(database: &Database, options: StoreOptions) -> Result<Store, StoreError> {
        let health = Arc::new(Health::default());
        let engine = match database {
            Database::Memory | Database::Path(_) => {
                let size = match database {
                    Database::Memory => 1,
                    _ => options.pool_size.unwrap_or(DEFAULT_SQLITE_POOL_SIZE),
                };
                let database = database.clone();
                let store =
                    tokio::task::spawn_blocking(move || sqlite::SqliteStore::open(&database, size))
                        .await
                        .map_err(|e| {
                            StoreError::Internal(format!("database task failed: {e}"))
                        })??;
                Engine::Sqlite(store)
            }
            Database::Postgres(url) => {
                let size = options.pool_size.unwrap_or(DEFAULT_POSTGRES_POOL_SIZE);
                Engine::Postgres(postgres::PgStore::open(url, size, health.clone()).await?)
            }
        };
        Ok(Store {
            engine,
            seen: Arc::new(Mutex::new(HashSet::new())),
            sample_data: options.sample_data,
            health,
        })
    }

    /// `sqlite` or `postgresql`.
    pub fn engine(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite(_) => "sqlite",
            Engine::Postgres(_) => "postgresql",
        }
    }

    /// The DPoP replay cache this store can keep for every instance that shares it: with
    /// PostgreSQL, a table; with SQLite (one machine), none: the caller keeps one in memory.
    pub fn shared_replay_cache(&self) -> Option<Arc<dyn JtiCache>> {
        match &self.engine {
            Engine::Sqlite(_) => None,
            Engine::Postgres(pg) => Some(Arc::new(pg.replay_cache())),
        }
    }

    /// Whether the database answers now (and, for PostgreSQL, its schema is set up).
    pub async fn ready(&self) -> Result<(), StoreError> {
        let result = match &self.engine {
            Engine::Sqlite(s) => s.ping().await,
            Engine::Postgres(p) => p.ping().await,
        };
        self.health.observe(&result);
        result
    }

    fn is_seen(&self, owner: &str) -> bool {
        lock(&self.seen).contains(owner)
    }

    fn mark_seen(&self, owner: &str) {
        lock(&self.seen).insert(owner.to_string());
    }

    /// The owner's appointments sorted by start, then id (seeding a first-time user).
    pub async fn list(&self, owner: &str) -> Result<Vec<Appointment>, StoreError> {
        let result = async {
            if !self.is_seen(owner) {
                match &self.engine {
                    Engine::Sqlite(s) => s.ensure_user(owner, self.sample_data).await?,
                    Engine::Postgres(p) => p.ensure_user(owner, self.sample_data).await?,
                }
                self.mark_seen(owner);
            }
            match &self.engine {
                Engine::Sqlite(s) => s.list(owner).await,
                Engine::Postgres(p) => p.list(owner).await,
            }
        }
        .await;
        self.health.observe(&result);
        result
    }

    /// Stores a new appointment for `owner` (seeding a first-time user first). With `key`,
    /// a request this user sent before with the same key gets that request's appointment
    /// back ([`Created::Replayed`]), and another request with it gets
    /// [`StoreError::IdempotencyKeyReused`].
    pub async fn create(
        &self,
        owner: &str,
        new: NewAppointment,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let idempotency = key.map(|k| (k.as_str().to_string(), fingerprint(&new)));
        let result = match &self.engine {
            Engine::Sqlite(s) => s.create(owner, new, idempotency, self.sample_data).await,
            Engine::Postgres(p) => p.create(owner, new, idempotency, self.sample_data).await,
        };
        self.health.observe(&result);
        if result.is_ok() {
            self.mark_seen(owner);
        }
        result
    }
}

/// Whether the database was last seen answering: one log line when it stops, one when it
/// comes back, however many requests fail in between.
#[derive(Default)]
pub(crate) struct Health {
    down: AtomicBool,
}

impl Health {
    /// Logs the first failure of an outage and the first success after it.
    pub(crate) fn observe<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Err(StoreError::Unavailable(why)) => {
                if self.went_down() {
                    println!(
                        "database unavailable: {why}; requests that need it get 503 until it \
                         answers again"
                    );
                }
            }
            Ok(_) | Err(StoreError::IdempotencyKeyReused) => {
                if self.came_back() {
                    println!("database available again");
                }
            }
            Err(StoreError::Internal(_)) => {}
        }
    }

    /// Marks the database down; `true` if it was up (the caller logs the outage).
    pub(crate) fn went_down(&self) -> bool {
        !self.down.swap(true, Ordering::SeqCst)
    }

    /// Marks the database up; `true` if it was down.
    pub(crate) fn came_back(&self) -> bool {
        self.down.swap(false, Ordering::SeqCst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The request an `Idempotency-Key` was first used for, as a digest: a retry must send the
/// same appointment (after validation: the same title, instants and location).
fn fingerprint(new: &NewAppointment) -> String {
    let canonical = serde_json::json!([
        new.title,
        new.start.unix_timestamp_nanos().to_string(),
        new.end.unix_timestamp_nanos().to_string(),
        new.location,
    ])
    .to_string();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    hex(digest.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An appointment's row: everything but its owner.
struct Row {
    appointment: Appointment,
    start_ns: i64,
}

impl Row {
    fn new(new: &NewAppointment) -> Result<Row, StoreError> {
        let start_ns = i64::try_from(new.start.unix_timestamp_nanos())
            .map_err(|_| StoreError::Internal("start out of range".into()))?;
        Ok(Row {
            appointment: Appointment {
                id: new_id()?,
                title: new.title.clone(),
                start: rfc3339(new.start)?,
                end: rfc3339(new.end)?,
                location: new.location.clone(),
            },
            start_ns,
        })
    }
}

/// Three near-future appointments relative to `now`.
fn samples(now: OffsetDateTime) -> Vec<NewAppointment> {
    let at = |days: i64, hour: u8, minute: u8| {
        let date = (now + Duration::days(days)).date();
        date.with_time(Time::from_hms(hour, minute, 0).expect("valid time"))
            .assume_utc()
    };
    vec![
        NewAppointment {
            title: "Dental check-up".into(),
            start: at(2, 9, 30),
            end: at(2, 10, 0),
            location: Some("Bright Smile Dental, 12 High Street".into()),
        },
        NewAppointment {
            title: "Physiotherapy session".into(),
            start: at(5, 14, 0),
            end: at(5, 14, 45),
            location: Some("City Physio Clinic".into()),
        },
        NewAppointment {
            title: "Video call with Dr. Patel".into(),
            start: at(9, 11, 0),
            end: at(9, 11, 20),
            location: None,
        },
    ]
}

fn rfc3339(t: OffsetDateTime) -> Result<String, StoreError> {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| StoreError::Internal(format!("cannot format a date: {e}")))
}

fn now_rfc3339() -> Result<String, StoreError> {
    rfc3339(OffsetDateTime::now_utc())
}

/// 16 random bytes, hex.
fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Internal("no randomness".into()))?;
    Ok(hex(&bytes))
}

/// An error and its sources, one after another: `error connecting to server: Connection
/// refused (os error 111)`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        for (value, key) in [
            (
                "8e03978e-40d5-43e8-bc93-6894a57f9324",
                "8e03978e-40d5-43e8-bc93-6894a57f9324",
            ),
            ("\"abc\"", "abc"),
            (" k1 ", "k1"),
        ] {
            assert_eq!(
                IdempotencyKey::parse(value.as_bytes()).unwrap().as_str(),
                key
            );
        }
        let long = "k".repeat(256);
        for bad in [
            "",
            "\"\"",
            "a b",
            "\"abc",
            "caf\u{e9}",
            long.as_str(),
            "a\"b",
        ] {
            assert!(IdempotencyKey::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&[0xff, 0x41]).is_err());
        assert!(IdempotencyKey::parse("k".repeat(255).as_bytes()).is_ok());
    }

    #[test]
    fn the_fingerprint_is_the_validated_request() {
        let at = |s: &str| OffsetDateTime::parse(s, &Rfc3339).unwrap();
        let new = |title: &str, start: &str, location: Option<&str>| NewAppointment {
            title: title.into(),
            start: at(start),
            end: at("2030-01-01T12:00:00Z"),
            location: location.map(str::to_string),
        };
        let a = fingerprint(&new("Vet", "2030-01-01T10:00:00Z", None));
        // The same instant written with another offset is the same request.
        assert_eq!(
            a,
            fingerprint(&new("Vet", "2030-01-01T11:00:00+01:00", None))
        );
        assert_ne!(a, fingerprint(&new("Vet!", "2030-01-01T10:00:00Z", None)));
        assert_ne!(a, fingerprint(&new("Vet", "2030-01-01T10:00:01Z", None)));
        assert_ne!(
            a,
            fingerprint(&new("Vet", "2030-01-01T10:00:00Z", Some("")))
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn health_logs_once_per_outage() {
        let health = Health::default();
        assert!(!health.came_back(), "up at first");
        assert!(health.went_down());
        assert!(!health.went_down(), "still the same outage");
        assert!(health.came_back());
        assert!(!health.came_back());
        assert!(health.went_down(), "a new outage");
    }
}
