//! The store in SQLite: a file in WAL mode (or `:memory:`), for one machine.

use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::schema::{CLAIM_SQLITE, CREATE_MIGRATIONS_TABLE, MIGRATIONS};
use super::StoreError;
use super::{lock, now_rfc3339, rfc3339, samples, Appointment, Created, NewAppointment, Row};
use crate::config::Database;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            // Another process holds the write lock beyond the busy timeout: try again later.
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

/// All SQLite work runs on a small pool of connections (WAL lets readers run beside a
/// writer); writes run on the blocking pool, reads in place.
#[derive(Clone)]
pub(crate) struct SqliteStore {
    pool: Arc<Pool>,
}

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
            .ok_or_else(|| StoreError::Internal("no idle database connection".into()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.pool.idle).push(conn);
        }
    }
}

const LIST: &str = "SELECT id, title, starts_at, ends_at, location FROM appointments
                    WHERE owner = ?1 ORDER BY start_ns, id";

impl SqliteStore {
    /// Opens (creating if needed) the database and applies the migrations; `size`
    /// connections (an in-memory database is one connection's own: give it 1). Blocking.
    pub(crate) fn open(database: &Database, size: usize) -> Result<SqliteStore, StoreError> {
        let cannot = |e: &dyn std::fmt::Display| {
            StoreError::Internal(format!("cannot use database {database}: {e}"))
        };
        let open = || {
            let conn = match database {
                Database::Path(path) => Connection::open(path),
                _ => Connection::open_in_memory(),
            }?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            if matches!(database, Database::Path(_)) {
                let _mode: String =
                    conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
                // Durable at checkpoints; a crash loses at most the last commits, not the file.
                conn.execute_batch("PRAGMA synchronous=NORMAL")?;
            }
            conn.execute_batch("PRAGMA foreign_keys=ON")?;
            Ok::<_, rusqlite::Error>(conn)
        };
        let mut first = open().map_err(|e| cannot(&e))?;
        migrate(&mut first).map_err(|e| cannot(&e))?;
        let mut connections = vec![first];
        for _ in 1..size.max(1) {
            connections.push(open().map_err(|e| cannot(&e))?);
        }
        let size = connections.len();
        Ok(SqliteStore {
            pool: Arc::new(Pool {
                idle: Mutex::new(connections),
                available: Arc::new(Semaphore::new(size)),
            }),
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
            .map_err(|e| StoreError::Internal(format!("database task failed: {e}")))?
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
            .map_err(|e| StoreError::Internal(format!("database pool closed: {e}")))?;
        let conn = lock(&self.pool.idle).pop();
        Ok(Lease {
            pool: self.pool.clone(),
            conn,
            _permit: permit,
        })
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }

    /// Records the user, seeding a first-time one.
    pub(crate) async fn ensure_user(
        &self,
        owner: &str,
        sample_data: bool,
    ) -> Result<(), StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_user(&tx, &owner, sample_data)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn list(&self, owner: &str) -> Result<Vec<Appointment>, StoreError> {
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

    /// One write transaction: the user, then the key's earlier answer or the new row.
    /// `BEGIN IMMEDIATE` takes the write lock first, so nothing can come in between.
    pub(crate) async fn create(
        &self,
        owner: &str,
        new: NewAppointment,
        idempotency: Option<(String, String)>,
        sample_data: bool,
    ) -> Result<Created, StoreError> {
        let owner = owner.to_string();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_user(&tx, &owner, sample_data)?;
            if let Some((key, hash)) = &idempotency {
                if let Some((appointment, first_hash)) = earlier(&tx, &owner, key)? {
                    return if &first_hash == hash {
                        Ok(Created::Replayed(appointment))
                    } else {
                        Err(StoreError::IdempotencyKeyReused)
                    };
                }
            }
            let appointment = insert(&tx, &owner, &new)?;
            if let Some((key, hash)) = &idempotency {
                tx.execute(
                    "INSERT INTO idempotency_keys
                         (owner, idempotency_key, request_hash, appointment_id, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![owner, key, hash, appointment.id, now_rfc3339()?],
                )?;
            }
            tx.commit()?;
            Ok(Created::New(appointment))
        })
        .await
    }
}

/// Applies the migrations not applied yet, each in a write transaction of its own.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    adopt_unversioned(conn)?;
    conn.execute_batch(CREATE_MIGRATIONS_TABLE)?;
    for migration in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = tx.execute(
            CLAIM_SQLITE,
            params![migration.version, migration.name, now_rfc3339()?],
        )?;
        if claimed == 1 {
            tx.execute_batch(migration.sql)?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// A file made before the migrations (no `schema_migrations`, columns `start` and `end`)
/// gets the columns' new names; migration 1 then finds its tables there.
fn adopt_unversioned(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has_table = |name: &str| -> Result<bool, rusqlite::Error> {
        tx.query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
    };
    let old_columns = tx
        .query_row(
            "SELECT 1 FROM pragma_table_info('appointments') WHERE name = 'end'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !has_table("schema_migrations")? && old_columns {
        tx.execute_batch(
            "ALTER TABLE appointments RENAME COLUMN start TO starts_at;
             ALTER TABLE appointments RENAME COLUMN \"end\" TO ends_at;
             DROP INDEX IF EXISTS appointments_by_owner;",
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Records the user; a user not seen before gets the sample appointments. The primary
/// key decides who is first.
fn ensure_user(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    sample_data: bool,
) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    let inserted = tx.execute(
        "INSERT INTO users (sub, first_seen) VALUES (?1, ?2) ON CONFLICT (sub) DO NOTHING",
        params![owner, rfc3339(now)?],
    )?;
    if inserted == 1 && sample_data {
        for sample in samples(now) {
            insert(tx, owner, &sample)?;
        }
    }
    Ok(())
}

/// The appointment an `Idempotency-Key` of this user created, and its request's digest.
fn earlier(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    key: &str,
) -> Result<Option<(Appointment, String)>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT a.id, a.title, a.starts_at, a.ends_at, a.location, k.request_hash
             FROM idempotency_keys k JOIN appointments a ON a.id = k.appointment_id
             WHERE k.owner = ?1 AND k.idempotency_key = ?2",
            params![owner, key],
            |row| {
                Ok((
                    Appointment {
                        id: row.get(0)?,
                        title: row.get(1)?,
                        start: row.get(2)?,
                        end: row.get(3)?,
                        location: row.get(4)?,
                    },
                    row.get(5)?,
                ))
            },
        )
        .optional()?)
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    new: &NewAppointment,
) -> Result<Appointment, StoreError> {
    let Row {
        appointment,
        start_ns,
    } = Row::new(new)?;
    tx.execute(
        "INSERT INTO appointments (id, owner, title, starts_at, ends_at, start_ns, location)
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
