//! Appointments in SQLite: one table of appointments, one of users already seen.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Database;

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

/// A database failure.
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// The appointment store; cheap to clone. All SQLite work runs on the blocking pool, on
/// a small pool of connections (WAL lets readers run beside a writer), and users already
/// seeded are remembered so that reading needs no write transaction.
#[derive(Clone)]
pub struct Store {
    pool: Arc<Pool>,
    seen: Arc<Mutex<HashSet<String>>>,
    sample_data: bool,
}

/// Connections for a file database; an in-memory database is one connection's own, so it
/// gets exactly one.
const FILE_POOL_SIZE: usize = 4;

struct Pool {
    idle: Mutex<Vec<Connection>>,
    available: Arc<Semaphore>,
}

/// A connection taken from the pool, given back when dropped (even if the work panicked).
struct Lease {
    pool: Arc<Pool>,
    conn: Option<Connection>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError("no idle database connection".into()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.pool.idle).push(conn);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    sub        TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS appointments (
    id        TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    title     TEXT NOT NULL,
    start     TEXT NOT NULL,
    end       TEXT NOT NULL,
    start_ns  INTEGER NOT NULL,
    location  TEXT
);
CREATE INDEX IF NOT EXISTS appointments_by_owner ON appointments (owner, start_ns);
";

const LIST: &str = "SELECT id, title, start, end, location FROM appointments
                    WHERE owner = ?1 ORDER BY start_ns, id";

impl Store {
    /// Opens (creating if needed) the database and its tables. Blocking.
    pub fn open(database: &Database, sample_data: bool) -> Result<Store, StoreError> {
        let open = || {
            let conn = match database {
                Database::Memory => Connection::open_in_memory(),
                Database::Path(path) => Connection::open(path),
            }?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            if matches!(database, Database::Path(_)) {
                let _mode: String =
                    conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
                // Durable at checkpoints; a crash loses at most the last commits, not the file.
                conn.execute_batch("PRAGMA synchronous=NORMAL")?;
            }
            conn.execute_batch(SCHEMA)?;
            Ok::<_, rusqlite::Error>(conn)
        };
        let size = match database {
            Database::Memory => 1,
            Database::Path(_) => FILE_POOL_SIZE,
        };
        let connections = (0..size)
            .map(|_| open())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError(format!("cannot use database {database}: {e}")))?;
        Ok(Store {
            pool: Arc::new(Pool {
                idle: Mutex::new(connections),
                available: Arc::new(Semaphore::new(size)),
            }),
            seen: Arc::new(Mutex::new(HashSet::new())),
            sample_data,
        })
    }

    /// Runs `f` on a pooled connection on the blocking pool: for writes, which may wait for
    /// SQLite's write lock.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let mut lease = self.lease().await?;
        tokio::task::spawn_blocking(move || f(lease.connection()?))
            .await
            .map_err(|e| StoreError(format!("database task failed: {e}")))?
    }

    /// Runs `f` on a pooled connection right here: for reads of a file database in WAL
    /// mode, which never wait for a lock and take microseconds, so that handing them to
    /// another thread would cost more than the query itself.
    async fn read<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut lease = self.lease().await?;
        f(lease.connection()?)
    }

    async fn lease(&self) -> Result<Lease, StoreError> {
        let permit = self
            .pool
            .available
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError(format!("database pool closed: {e}")))?;
        let conn = lock(&self.pool.idle).pop();
        Ok(Lease {
            pool: self.pool.clone(),
            conn,
            _permit: permit,
        })
    }

    fn is_seen(&self, owner: &str) -> bool {
        lock(&self.seen).contains(owner)
    }

    /// The owner's appointments sorted by start (seeding a first-time user).
    pub async fn list(&self, owner: &str) -> Result<Vec<Appointment>, StoreError> {
        if !self.is_seen(owner) {
            let (owner, sample_data) = (owner.to_string(), self.sample_data);
            let owner = self
                .with_conn(move |conn| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    ensure_user(&tx, &owner, sample_data)?;
                    tx.commit()?;
                    Ok(owner)
                })
                .await?;
            lock(&self.seen).insert(owner);
        }
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(LIST)?;
            let rows = stmt.query_map([owner], |row| {
                Ok(Appointment {
                    id: row.get(0)?,
                    title: row.get(1)?,
                    start: row.get(2)?,
                    end: row.get(3)?,
                    location: row.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Stores a new appointment for `owner` (seeding a first-time user first).
    pub async fn create(
        &self,
        owner: &str,
        new: NewAppointment,
    ) -> Result<Appointment, StoreError> {
        let owner = owner.to_string();
        let sample_data = self.sample_data;
        let (owner, appointment) = self
            .with_conn(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                ensure_user(&tx, &owner, sample_data)?;
                let appointment = insert(&tx, &owner, &new)?;
                tx.commit()?;
                Ok((owner, appointment))
            })
            .await?;
        lock(&self.seen).insert(owner);
        Ok(appointment)
    }
}

/// Records the user; a user not seen before gets the sample appointments.
fn ensure_user(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    sample_data: bool,
) -> Result<(), StoreError> {
    let known: Option<i64> = tx
        .query_row("SELECT 1 FROM users WHERE sub = ?1", [owner], |row| {
            row.get(0)
        })
        .optional()?;
    if known.is_some() {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    tx.execute(
        "INSERT INTO users (sub, first_seen) VALUES (?1, ?2)",
        params![owner, rfc3339(now)?],
    )?;
    if sample_data {
        for sample in samples(now) {
            insert(tx, owner, &sample)?;
        }
    }
    Ok(())
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

fn insert(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    new: &NewAppointment,
) -> Result<Appointment, StoreError> {
    let start_ns = i64::try_from(new.start.unix_timestamp_nanos())
        .map_err(|_| StoreError("start out of range".into()))?;
    let appointment = Appointment {
        id: new_id()?,
        title: new.title.clone(),
        start: rfc3339(new.start)?,
        end: rfc3339(new.end)?,
        location: new.location.clone(),
    };
    tx.execute(
        "INSERT INTO appointments (id, owner, title, start, end, start_ns, location)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            appointment.id,
            owner,
            appointment.title,
            appointment.start,
            appointment.end,
            start_ns,
            appointment.location
        ],
    )?;
    Ok(appointment)
}

fn rfc3339(t: OffsetDateTime) -> Result<String, StoreError> {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| StoreError(format!("cannot format a date: {e}")))
}

/// 16 random bytes, hex.
fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError("no randomness".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seeds_once_and_isolates_users() {
        let store = Store::open(&Database::Memory, true).unwrap();
        let alice = store.list("alice").await.unwrap();
        assert_eq!(alice.len(), 3);
        assert!(alice.windows(2).all(|w| w[0].start <= w[1].start));
        assert_eq!(store.list("alice").await.unwrap(), alice);
        let new = NewAppointment {
            title: "Mine".into(),
            start: OffsetDateTime::now_utc(),
            end: OffsetDateTime::now_utc() + Duration::hours(1),
            location: None,
        };
        let created = store.create("bob", new).await.unwrap();
        assert_eq!(created.id.len(), 32);
        let bob = store.list("bob").await.unwrap();
        assert_eq!(bob.len(), 4);
        assert_eq!(bob[0], created);
        assert!(!store.list("alice").await.unwrap().contains(&created));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_visits_on_a_file_database_seed_once() {
        let dir =
            std::env::temp_dir().join(format!("appointments-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pool.sqlite3");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&Database::Path(path.clone()), true).unwrap();
        let visits: Vec<_> = (0..24)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.list("carol").await })
            })
            .collect();
        for visit in visits {
            assert_eq!(
                visit.await.unwrap().unwrap().len(),
                3,
                "seeded exactly once"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
