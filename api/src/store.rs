//! Appointments in SQLite: one table of appointments, one of users already seen.

use std::fmt;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};

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

/// The appointment store; cheap to clone. All SQLite work runs on the blocking pool.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    sample_data: bool,
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

impl Store {
    /// Opens (creating if needed) the database and its tables. Blocking.
    pub fn open(database: &Database, sample_data: bool) -> Result<Store, StoreError> {
        let conn = match database {
            Database::Memory => Connection::open_in_memory(),
            Database::Path(path) => Connection::open(path),
        }
        .map_err(|e| StoreError(format!("cannot open database {database}: {e}")))?;
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            if matches!(database, Database::Path(_)) {
                let _mode: String =
                    conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
            }
            conn.execute_batch(SCHEMA)
        };
        setup(&conn).map_err(|e| StoreError(format!("cannot use database {database}: {e}")))?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            sample_data,
        })
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError(format!("database task failed: {e}")))?
    }

    /// The owner's appointments sorted by start (seeding a first-time user).
    pub async fn list(&self, owner: &str) -> Result<Vec<Appointment>, StoreError> {
        let owner = owner.to_string();
        let sample_data = self.sample_data;
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            ensure_user(&tx, &owner, sample_data)?;
            let list = {
                let mut stmt = tx.prepare(
                    "SELECT id, title, start, end, location FROM appointments
                     WHERE owner = ?1 ORDER BY start_ns, id",
                )?;
                let rows = stmt.query_map([&owner], |row| {
                    Ok(Appointment {
                        id: row.get(0)?,
                        title: row.get(1)?,
                        start: row.get(2)?,
                        end: row.get(3)?,
                        location: row.get(4)?,
                    })
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(list)
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
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            ensure_user(&tx, &owner, sample_data)?;
            let appointment = insert(&tx, &owner, &new)?;
            tx.commit()?;
            Ok(appointment)
        })
        .await
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
}
