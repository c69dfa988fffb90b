//! The store in PostgreSQL, shared by every instance of the API: tokio-postgres behind a
//! deadpool pool.
//!
//! Written for PostgreSQL-compatible distributed engines too (CockroachDB, YugabyteDB),
//! though tested on PostgreSQL only: no advisory locks, no `LISTEN`, no sequences; every
//! transaction is retried from the start on a serialization failure (SQLSTATE 40001) or a
//! deadlock (40P01), which those engines, running `SERIALIZABLE`, report where PostgreSQL
//! would wait.
//!
//! A database that cannot be had (down, unreachable, starting, out of connections, no
//! answer within [`OPERATION_TIMEOUT`]) is a [`StoreError::Unavailable`]: the request gets
//! 503, and the pool reconnects by itself once the server is back. One that is unreachable
//! at start-up does not stop the process: the migrations are retried every
//! [`SETUP_RETRY_INTERVAL`] in the background, and until they are applied the store is not
//! ready.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use time::OffsetDateTime;
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;

use super::schema::{latest_version, CLAIM_POSTGRES, CREATE_MIGRATIONS_TABLE, MIGRATIONS};
use super::{chain, now_rfc3339, rfc3339, samples, Appointment, Created, Health, NewAppointment};
use super::{Row, StoreError};
use crate::auth::replay::{FirstUse, JtiCache, JtiCacheError};
use crate::config::PostgresUrl;

/// How long a connection attempt may take (unless the URL sets `connect_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one attempt at an operation may take, waiting for a connection included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a free connection of a busy pool.
pub const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(4);
/// Attempts at a transaction that keeps meeting serialization failures.
pub const MAX_ATTEMPTS: u32 = 5;
/// While the schema could not be set up, another try this often.
pub const SETUP_RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// Expired DPoP proofs are deleted this often, by every instance.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// The PostgreSQL store; cheap to clone.
#[derive(Clone)]
pub(crate) struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The URL as shown in the log (no password).
    shown: String,
    /// The migrations are applied: until then every operation is `Unavailable`.
    ready: AtomicBool,
    health: Arc<Health>,
}

/// Why one attempt failed.
enum Failure {
    /// From the server or the connection: classified by [`classify`].
    Pg(tokio_postgres::Error),
    /// Decided already.
    Store(StoreError),
    /// A concurrent transaction took what this one needed: run it again.
    Retry(&'static str),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

enum Class {
    Retry(String),
    Final(StoreError),
}

/// Serialization failures and deadlocks are retried; what says the server cannot be had
/// (connection exceptions, shutdown, too many connections, a standby refusing writes,
/// authentication, a missing database) is `Unavailable`; any other answer of the server is
/// `Internal`. An error without SQLSTATE never reached the server or lost it on the way
/// (connection refused or closed, I/O, timeout): `Unavailable`.
fn classify(failure: Failure) -> Class {
    let error = match failure {
        Failure::Store(e) => return Class::Final(e),
        Failure::Retry(why) => return Class::Retry(why.to_string()),
        Failure::Pg(e) => e,
    };
    let text = describe(&error);
    let Some(code) = error.code() else {
        return Class::Final(StoreError::Unavailable(text));
    };
    let code = code.code();
    if matches!(code, "40001" | "40P01") {
        return Class::Retry(text);
    }
    let unavailable = ["08", "53", "57", "58", "28"]
        .iter()
        .any(|class| code.starts_with(class))
        || matches!(code, "3D000" | "25006");
    if unavailable {
        Class::Final(StoreError::Unavailable(text))
    } else {
        Class::Final(StoreError::Internal(text))
    }
}

/// The error, its SQLSTATE and the server's message.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => chain(error),
    }
}

fn pool_failure(e: PoolError) -> Failure {
    match e {
        PoolError::Backend(e) => Failure::Pg(e),
        PoolError::Timeout(_) => Failure::Store(StoreError::Unavailable(format!(
            "no database connection within {} s (the server does not answer, or every \
             connection of the pool is busy)",
            POOL_WAIT_TIMEOUT.as_secs()
        ))),
        other => Failure::Store(StoreError::Unavailable(chain(&other))),
    }
}

/// Waits a little longer after each failed attempt, with jitter so that competing
/// transactions do not meet again.
async fn back_off(attempt: u32) {
    let mut byte = [0u8; 1];
    let jitter = aws_lc_rs::rand::fill(&mut byte).map_or(0, |_| u64::from(byte[0]) % 10);
    let millis = (5u64 << attempt.min(5)) + jitter;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

impl PgStore {
    /// Builds the pool and applies the migrations, or, when the server cannot be had, starts
    /// without them and keeps trying in the background. A URL this build cannot use, or a
    /// server that refuses the schema (permissions, say), is an error.
    pub(crate) async fn open(
        url: &PostgresUrl,
        size: usize,
        health: Arc<Health>,
    ) -> Result<PgStore, StoreError> {
        let shown = url.to_string();
        let mut config: tokio_postgres::Config = url
            .expose()
            .parse()
            .map_err(|e| StoreError::Internal(format!("{shown}: {}", chain(&e))))?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Internal(format!(
                "{shown}: sslmode=require, but this build speaks to PostgreSQL without TLS; \
                 reach the database over a private network (sslmode=disable or prefer), or \
                 through a local TLS tunnel"
            )));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("appointments-api");
        }
        // A server that vanished without closing the connection is noticed.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // `is_closed` only: a connection the server closed is never handed out, and
                // a check query per request would double the round trips.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(Duration::from_secs(1)))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the pool: {e}")))?;
        let store = PgStore {
            inner: Arc::new(Inner {
                pool,
                shown,
                ready: AtomicBool::new(false),
                health,
            }),
        };
        match store.set_up().await {
            Ok(()) => {}
            Err(StoreError::Unavailable(why)) => {
                store.inner.health.went_down();
                println!(
                    "database {}: not reachable at start-up ({why}); starting without it: \
                     not ready (/readyz answers 503, and so does every request that needs \
                     the database) until it answers; trying again every {} s",
                    store.inner.shown,
                    SETUP_RETRY_INTERVAL.as_secs()
                );
                tokio::spawn(keep_setting_up(Arc::downgrade(&store.inner)));
            }
            Err(other) => return Err(other),
        }
        tokio::spawn(purge_expired_proofs(Arc::downgrade(&store.inner)));
        Ok(store)
    }

    /// Applies the migrations not applied yet; then the store is ready.
    async fn set_up(&self) -> Result<(), StoreError> {
        let applied = self.attempts(true, migrate).await?;
        self.inner.ready.store(true, Ordering::SeqCst);
        let applied = if applied.is_empty() {
            "none needed".to_string()
        } else {
            format!(
                "applied {}",
                applied
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        println!(
            "database {}: schema at version {} (migrations: {applied}); ready",
            self.inner.shown,
            latest_version()
        );
        Ok(())
    }

    /// Runs `attempt` on a pooled connection, within [`OPERATION_TIMEOUT`], again while it
    /// meets serialization failures (at most [`MAX_ATTEMPTS`] times).
    async fn attempts<T, F, Fut>(&self, during_setup: bool, mut attempt: F) -> Result<T, StoreError>
    where
        F: FnMut(Object) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        if !during_setup && !self.inner.ready.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "its schema is not set up yet (the database did not answer at start-up)".into(),
            ));
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = tokio::time::timeout(OPERATION_TIMEOUT, async {
                let client = self.inner.pool.get().await.map_err(pool_failure)?;
                attempt(client).await
            })
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Store(StoreError::Unavailable(format!(
                    "no answer within {} s",
                    OPERATION_TIMEOUT.as_secs()
                ))))
            });
            match outcome.map_err(classify) {
                Ok(value) => return Ok(value),
                Err(Class::Retry(_)) if tries < MAX_ATTEMPTS => back_off(tries).await,
                Err(Class::Retry(why)) => {
                    return Err(StoreError::Unavailable(format!(
                        "{why} ({MAX_ATTEMPTS} attempts)"
                    )))
                }
                Err(Class::Final(e)) => return Err(e),
            }
        }
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.attempts(false, |client| async move {
            client.query_one("SELECT 1", &[]).await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn ensure_user(
        &self,
        owner: &str,
        sample_data: bool,
    ) -> Result<(), StoreError> {
        self.attempts(false, |mut client| async move {
            let tx = client.transaction().await?;
            ensure_user(&tx, owner, sample_data).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn list(&self, owner: &str) -> Result<Vec<Appointment>, StoreError> {
        self.attempts(false, |client| async move {
            let statement = client
                .prepare_cached(
                    "SELECT id, title, starts_at, ends_at, location FROM appointments
                     WHERE owner = $1 ORDER BY start_ns, id",
                )
                .await?;
            let rows = client.query(&statement, &[&owner]).await?;
            rows.iter().map(appointment).collect()
        })
        .await
    }

    /// One transaction: the user, then the key's earlier answer or the new row and its key.
    /// Two requests with one key at once: both insert an appointment, the second's key row
    /// waits for the first to commit and then conflicts, so the second rolls back and, run
    /// again, finds the first's answer.
    pub(crate) async fn create(
        &self,
        owner: &str,
        new: NewAppointment,
        idempotency: Option<(String, String)>,
        sample_data: bool,
    ) -> Result<Created, StoreError> {
        let (new, idempotency) = (&new, &idempotency);
        self.attempts(false, |mut client| async move {
            let tx = client.transaction().await?;
            ensure_user(&tx, owner, sample_data).await?;
            if let Some((key, hash)) = idempotency {
                let found = tx
                    .query_opt(
                        "SELECT a.id, a.title, a.starts_at, a.ends_at, a.location, k.request_hash
                         FROM idempotency_keys k JOIN appointments a ON a.id = k.appointment_id
                         WHERE k.owner = $1 AND k.idempotency_key = $2",
                        &[&owner, key],
                    )
                    .await?;
                if let Some(row) = found {
                    let first_hash: String = row
                        .try_get(5)
                        .map_err(|e| StoreError::Internal(chain(&e)))?;
                    let first = appointment(&row)?;
                    tx.rollback().await?;
                    return if &first_hash == hash {
                        Ok(Created::Replayed(first))
                    } else {
                        Err(StoreError::IdempotencyKeyReused.into())
                    };
                }
            }
            let created = insert(&tx, owner, new).await?;
            if let Some((key, hash)) = idempotency {
                let recorded = tx
                    .execute(
                        "INSERT INTO idempotency_keys
                             (owner, idempotency_key, request_hash, appointment_id, created_at)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (owner, idempotency_key) DO NOTHING",
                        &[&owner, key, hash, &created.id, &now_rfc3339()?],
                    )
                    .await?;
                if recorded == 0 {
                    tx.rollback().await?;
                    return Err(Failure::Retry(
                        "a concurrent request with the same Idempotency-Key",
                    ));
                }
            }
            tx.commit().await?;
            Ok(Created::New(created))
        })
        .await
    }

    /// The DPoP replay cache in this database, shared by every instance.
    pub(crate) fn replay_cache(&self) -> PgReplayCache {
        PgReplayCache(self.clone())
    }

    async fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let (now, expires_at) = (seconds(now), seconds(expires_at));
        self.attempts(false, |client| async move {
            // A row that has expired is taken over; a live one is a replay (0 rows).
            let statement = client
                .prepare_cached(
                    "INSERT INTO dpop_proofs_used (jkt, jti, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT (jkt, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
                     WHERE dpop_proofs_used.expires_at <= $4",
                )
                .await?;
            let changed = client
                .execute(&statement, &[&jkt, &jti, &expires_at, &now])
                .await?;
            Ok(changed == 1)
        })
        .await
    }
}

/// The migrations not applied yet, each in a transaction that first claims its version.
/// Returns the versions this call applied.
async fn migrate(mut client: Object) -> Result<Vec<i64>, Failure> {
    // Two sessions creating the same table at once can both pass `IF NOT EXISTS` and one
    // then fails on the catalog's unique index (23505), or finds the table (42P07) or its
    // row type (42710) made: the table exists either way, so try again.
    let mut tries = 0;
    loop {
        tries += 1;
        match client.batch_execute(CREATE_MIGRATIONS_TABLE).await {
            Ok(()) => break,
            Err(e)
                if tries < MAX_ATTEMPTS
                    && e.code().is_some_and(|c| {
                        matches!(c.code(), "23505" | "42P07" | "42710" | "40001")
                    }) =>
            {
                back_off(tries).await
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let tx = client.transaction().await?;
        let claimed = tx
            .execute(
                CLAIM_POSTGRES,
                &[&migration.version, &migration.name, &now_rfc3339()?],
            )
            .await?;
        if claimed == 0 {
            // Applied before, or by another instance that held the claim until it committed.
            tx.rollback().await?;
            continue;
        }
        tx.batch_execute(migration.sql).await?;
        tx.commit().await?;
        applied.push(migration.version);
    }
    Ok(applied)
}

/// Tries the migrations again until they are applied, or the store is gone.
async fn keep_setting_up(store: Weak<Inner>) {
    let mut last_error = None;
    loop {
        tokio::time::sleep(SETUP_RETRY_INTERVAL).await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        let store = PgStore { inner };
        match store.set_up().await {
            Ok(()) => {
                store.inner.health.came_back();
                return;
            }
            Err(StoreError::Unavailable(_)) => {}
            // Reachable but refusing (permissions, say): said once, tried again.
            Err(other) => {
                let text = other.to_string();
                if last_error.as_ref() != Some(&text) {
                    println!(
                        "database {}: cannot set up the schema: {text}",
                        store.inner.shown
                    );
                    last_error = Some(text);
                }
            }
        }
    }
}

/// Deletes the proofs that can no longer be accepted, every [`PURGE_INTERVAL`].
async fn purge_expired_proofs(store: Weak<Inner>) {
    loop {
        tokio::time::sleep(PURGE_INTERVAL).await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        let store = PgStore { inner };
        if !store.inner.ready.load(Ordering::SeqCst) {
            continue;
        }
        let now = seconds(dpop::now());
        let result = store
            .attempts(false, |client| async move {
                client
                    .execute(
                        "DELETE FROM dpop_proofs_used WHERE expires_at <= $1",
                        &[&now],
                    )
                    .await?;
                Ok(())
            })
            .await;
        store.inner.health.observe(&result);
        if let Err(StoreError::Internal(why)) = result {
            println!(
                "database {}: cannot delete expired DPoP proofs: {why}",
                store.inner.shown
            );
        }
    }
}

/// Seconds since the epoch as PostgreSQL's `BIGINT`.
fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn appointment(row: &tokio_postgres::Row) -> Result<Appointment, Failure> {
    let read = || {
        Ok::<_, tokio_postgres::Error>(Appointment {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            start: row.try_get(2)?,
            end: row.try_get(3)?,
            location: row.try_get(4)?,
        })
    };
    read().map_err(|e| Failure::Store(StoreError::Internal(chain(&e))))
}

/// Records the user; a user not seen before gets the sample appointments. The primary key
/// decides who is first: a second transaction inserting the same user waits for the first
/// and then inserts nothing.
async fn ensure_user(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: &str,
    sample_data: bool,
) -> Result<(), Failure> {
    let now = OffsetDateTime::now_utc();
    let statement = tx
        .prepare_cached(
            "INSERT INTO users (sub, first_seen) VALUES ($1, $2) ON CONFLICT (sub) DO NOTHING",
        )
        .await?;
    let inserted = tx.execute(&statement, &[&owner, &rfc3339(now)?]).await?;
    if inserted == 1 && sample_data {
        for sample in samples(now) {
            insert(tx, owner, &sample).await?;
        }
    }
    Ok(())
}

async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: &str,
    new: &NewAppointment,
) -> Result<Appointment, Failure> {
    let Row {
        appointment,
        start_ns,
    } = Row::new(new)?;
    let statement = tx
        .prepare_cached(
            "INSERT INTO appointments (id, owner, title, starts_at, ends_at, start_ns, location)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &appointment.id,
            &owner,
            &appointment.title,
            &appointment.start,
            &appointment.end,
            &start_ns,
            &appointment.location,
        ],
    )
    .await?;
    Ok(appointment)
}

/// [`JtiCache`] in the `dpop_proofs_used` table: a proof used at one instance is refused by
/// every other within its window. Costs one `INSERT … ON CONFLICT` round trip per DPoP
/// request; expired rows are deleted every [`PURGE_INTERVAL`].
pub struct PgReplayCache(PgStore);

impl JtiCache for PgReplayCache {
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: u64,
        expires_at: u64,
    ) -> FirstUse<'a> {
        Box::pin(async move {
            let result = self.0.first_use(jkt, jti, now, expires_at).await;
            self.0.inner.health.observe(&result);
            result.map_err(|e| JtiCacheError(e.to_string()))
        })
    }
}
