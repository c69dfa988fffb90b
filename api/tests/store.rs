//! The store's one behaviour on both engines: SQLite (a temporary file) and PostgreSQL (a
//! server of the test's own, see `support::postgres`). Seeding exactly once under
//! concurrency from two stores on one database (two instances), isolation and order,
//! `Idempotency-Key`, migrations applied once when instances start together, the DPoP replay
//! cache shared through the database, and PostgreSQL going away and coming back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appointments_api::auth::replay::{JtiCache, MemoryJtiCache};
use appointments_api::config::PostgresUrl;
use appointments_api::store::{
    Created, IdempotencyKey, NewAppointment, Store, StoreError, StoreOptions, MIGRATIONS,
};
use appointments_api::Database;
use support::postgres::{free_port, PgServer};
use support::Engine;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[macro_use]
mod support;

/// A fresh, empty database of one engine, removed on drop.
struct Db {
    database: Database,
    pg: Option<PgServer>,
    dir: Option<PathBuf>,
}

impl Db {
    async fn fresh(engine: Engine) -> Db {
        match engine {
            Engine::Sqlite => {
                use std::sync::atomic::{AtomicU64, Ordering};
                static N: AtomicU64 = AtomicU64::new(0);
                let dir = std::env::temp_dir().join(format!(
                    "appointments-store-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                Db {
                    database: Database::Path(dir.join("store.sqlite3")),
                    pg: None,
                    dir: Some(dir),
                }
            }
            Engine::Postgres => {
                let pg = tokio::task::spawn_blocking(PgServer::start).await.unwrap();
                Db {
                    database: Database::Postgres(PostgresUrl::parse(&pg.url()).unwrap()),
                    pg: Some(pg),
                    dir: None,
                }
            }
        }
    }

    async fn open(&self) -> Store {
        self.open_with(true).await
    }

    async fn open_with(&self, sample_data: bool) -> Store {
        let options = StoreOptions {
            sample_data,
            pool_size: None,
        };
        Store::open(&self.database, options)
            .await
            .expect("the store opens")
    }

    fn pg(&mut self) -> &mut PgServer {
        self.pg.as_mut().expect("a PostgreSQL database")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

on_both_engines!(
    seeds_once_sorts_and_isolates,
    concurrent_first_visits_at_two_instances_seed_once_and_lose_no_create,
    an_idempotency_key_returns_the_first_result,
    migrations_are_applied_once_when_instances_start_together,
);

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

fn new(title: &str, start: &str, end: &str) -> NewAppointment {
    NewAppointment {
        title: title.into(),
        start: at(start),
        end: at(end),
        location: None,
    }
}

fn key(value: &str) -> IdempotencyKey {
    IdempotencyKey::parse(value.as_bytes()).unwrap()
}

fn created(result: Result<Created, StoreError>) -> appointments_api::store::Appointment {
    match result {
        Ok(Created::New(a)) => a,
        other => panic!("expected a new appointment, got {other:?}"),
    }
}

async fn seeds_once_sorts_and_isolates(engine: Engine) {
    let db = Db::fresh(engine).await;
    let store = db.open().await;
    let alice = store.list("alice").await.unwrap();
    assert_eq!(alice.len(), 3, "{alice:?}");
    assert!(alice.windows(2).all(|w| w[0].start <= w[1].start));
    assert_eq!(store.list("alice").await.unwrap(), alice, "seeded once");

    // Far apart in time (start in nanoseconds beyond 32 bits, and beyond 2^62) and two
    // at the same instant, ordered by id.
    let late = created(
        store
            .create(
                "bob",
                new("Late", "2200-01-01T10:00:00Z", "2200-01-01T11:00:00Z"),
                None,
            )
            .await,
    );
    let early = created(
        store
            .create(
                "bob",
                new("Early", "1970-01-02T00:00:00Z", "1970-01-02T01:00:00Z"),
                None,
            )
            .await,
    );
    let twins: Vec<_> = {
        let mut twins = Vec::new();
        for title in ["Twin A", "Twin B"] {
            twins.push(created(
                store
                    .create(
                        "bob",
                        new(title, "2030-06-01T08:00:00+02:00", "2030-06-01T09:00:00Z"),
                        None,
                    )
                    .await,
            ));
        }
        twins.sort_by(|a, b| a.id.cmp(&b.id));
        twins
    };
    assert_eq!(late.start, "2200-01-01T10:00:00Z");
    assert_eq!(twins[0].start, "2030-06-01T06:00:00Z", "stored in UTC");
    assert_eq!(early.id.len(), 32);
    let bob = store.list("bob").await.unwrap();
    assert_eq!(bob.len(), 3 + 4, "{bob:?}");
    assert_eq!(bob.first(), Some(&early));
    assert_eq!(bob.last(), Some(&late));
    let at_twins: Vec<_> = bob.iter().filter(|a| a.title.starts_with("Twin")).collect();
    assert_eq!(
        at_twins,
        twins.iter().collect::<Vec<_>>(),
        "same start: by id"
    );
    for a in &bob {
        assert!(!alice.contains(a), "alice's {a:?} in bob's list");
    }
    assert_eq!(
        store.list("alice").await.unwrap(),
        alice,
        "alice's list unchanged"
    );

    // Without sample data, another store on the same database seeds nobody.
    let bare = db.open_with(false).await;
    assert_eq!(bare.list("carol").await.unwrap(), vec![]);
    // ... and a user seeded elsewhere keeps what she has.
    assert_eq!(bare.list("alice").await.unwrap(), alice);
}

async fn concurrent_first_visits_at_two_instances_seed_once_and_lose_no_create(engine: Engine) {
    let db = Db::fresh(engine).await;
    let instances = [db.open().await, db.open().await];
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = instances[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let made = store
                    .create(
                        "carol",
                        new(
                            &format!("Mine {i}"),
                            "2031-01-01T10:00:00Z",
                            "2031-01-01T11:00:00Z",
                        ),
                        None,
                    )
                    .await;
                created(made);
            } else {
                let list = store.list("carol").await.unwrap();
                assert!(list.len() >= 3, "a first visit sees the samples: {list:?}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for store in &instances {
        let list = store.list("carol").await.unwrap();
        let samples = list.iter().filter(|a| !a.title.starts_with("Mine")).count();
        assert_eq!(samples, 3, "seeded exactly once: {list:?}");
        assert_eq!(list.len(), 3 + 8, "every create kept: {list:?}");
    }
}

async fn an_idempotency_key_returns_the_first_result(engine: Engine) {
    let db = Db::fresh(engine).await;
    let [one, two] = [db.open().await, db.open().await];
    let visit = || new("Vet", "2030-05-01T10:00:00Z", "2030-05-01T11:00:00Z");

    let first = created(one.create("dave", visit(), Some(&key("k-1"))).await);
    // The retry, at the other instance: the same appointment, nothing new.
    assert_eq!(
        two.create("dave", visit(), Some(&key("k-1"))).await,
        Ok(Created::Replayed(first.clone()))
    );
    // The same instant written with another offset is the same request.
    let same = new("Vet", "2030-05-01T12:00:00+02:00", "2030-05-01T11:00:00Z");
    assert_eq!(
        one.create("dave", same, Some(&key("k-1"))).await,
        Ok(Created::Replayed(first.clone()))
    );
    // Another request with that key is refused; another user's key is hers alone.
    let other = new("Dentist", "2030-05-01T10:00:00Z", "2030-05-01T11:00:00Z");
    assert_eq!(
        two.create("dave", other.clone(), Some(&key("k-1"))).await,
        Err(StoreError::IdempotencyKeyReused)
    );
    let erins = created(two.create("erin", visit(), Some(&key("k-1"))).await);
    assert_ne!(erins.id, first.id);
    // Without a key, or with a new one, a second appointment.
    created(one.create("dave", visit(), None).await);
    created(one.create("dave", visit(), Some(&key("k-2"))).await);
    assert_eq!(one.list("dave").await.unwrap().len(), 3 + 3);

    // The same key at both instances at once: one appointment, every answer the same.
    // Several rounds, each of 16 requests let go together, so that some meet in the
    // window between looking the key up and recording it.
    const ROUNDS: usize = 6;
    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = if i % 2 == 0 { one.clone() } else { two.clone() };
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store
                    .create("frank", visit(), Some(&key(&format!("same-key-{round}"))))
                    .await
                    .unwrap()
            }));
        }
        let mut ids = Vec::new();
        let mut new_ones = 0;
        for task in tasks {
            let outcome = task.await.unwrap();
            new_ones += usize::from(matches!(outcome, Created::New(_)));
            ids.push(outcome.appointment().id.clone());
        }
        assert_eq!(new_ones, 1, "round {round}: exactly one request created it");
        ids.dedup();
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
    let frank = two.list("frank").await.unwrap();
    assert_eq!(frank.len(), 3 + ROUNDS, "{frank:?}");
}

async fn migrations_are_applied_once_when_instances_start_together(engine: Engine) {
    let db = Db::fresh(engine).await;
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let database = db.database.clone();
            tokio::spawn(async move { Store::open(&database, StoreOptions::default()).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        let store = open.await.unwrap().expect("every instance starts");
        store.ready().await.expect("and is ready");
        stores.push(store);
    }
    let versions: Vec<String> = MIGRATIONS.iter().map(|m| m.version.to_string()).collect();
    let recorded = match engine {
        Engine::Postgres => db.pg.as_ref().unwrap().psql(
            "postgres",
            "SELECT version FROM schema_migrations ORDER BY version",
        ),
        Engine::Sqlite => {
            let Database::Path(path) = &db.database else {
                unreachable!()
            };
            sqlite_query(
                path,
                "SELECT version FROM schema_migrations ORDER BY version",
            )
        }
    };
    assert_eq!(
        recorded.lines().collect::<Vec<_>>(),
        versions,
        "each version once"
    );
    // Every instance works on the one schema.
    created(
        stores[5]
            .create(
                "gina",
                new("t", "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
                None,
            )
            .await,
    );
    assert_eq!(stores[0].list("gina").await.unwrap().len(), 4);
}

/// One column of a query's rows, a line each.
fn sqlite_query(path: &std::path::Path, sql: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn.prepare(sql).unwrap();
    let rows = statement
        .query_map([], |row| row.get::<_, rusqlite::types::Value>(0))
        .unwrap();
    rows.map(|v| match v.unwrap() {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    })
    .collect::<Vec<_>>()
    .join("\n")
}

#[tokio::test]
async fn a_sqlite_file_from_before_the_migrations_is_adopted() {
    let db = Db::fresh(Engine::Sqlite).await;
    let Database::Path(path) = &db.database else {
        unreachable!()
    };
    // The schema as it was, with a user and her appointment.
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE users (sub TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
         CREATE TABLE appointments (id TEXT PRIMARY KEY, owner TEXT NOT NULL,
             title TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
             start_ns INTEGER NOT NULL, location TEXT);
         CREATE INDEX appointments_by_owner ON appointments (owner, start_ns);
         INSERT INTO users VALUES ('old', '2024-01-01T00:00:00Z');
         INSERT INTO appointments VALUES ('00000000000000000000000000000001', 'old', 'Kept',
             '2030-01-01T10:00:00Z', '2030-01-01T11:00:00Z', 1893492000000000000, 'Here');",
    )
    .unwrap();
    drop(conn);

    let store = db.open().await;
    let list = store.list("old").await.unwrap();
    assert_eq!(list.len(), 1, "known already: no samples; {list:?}");
    assert_eq!(list[0].title, "Kept");
    assert_eq!(list[0].end, "2030-01-01T11:00:00Z");
    assert_eq!(list[0].location.as_deref(), Some("Here"));
    created(
        store
            .create(
                "old",
                new("New", "2029-01-01T10:00:00Z", "2029-01-01T11:00:00Z"),
                None,
            )
            .await,
    );
    assert_eq!(store.list("old").await.unwrap()[0].title, "New");
    assert_eq!(
        sqlite_query(
            path,
            "SELECT version FROM schema_migrations ORDER BY version"
        ),
        "1\n2\n3"
    );
    assert_eq!(
        sqlite_query(
            path,
            "SELECT name FROM pragma_table_info('appointments') ORDER BY cid"
        ),
        "id\nowner\ntitle\nstarts_at\nends_at\nstart_ns\nlocation"
    );
    // Opened again: nothing to do.
    drop(store);
    assert_eq!(db.open().await.list("old").await.unwrap().len(), 2);
}

/// The contract of the DPoP replay cache, for any implementation.
async fn replay_cache_contract(name: &str, cache: &dyn JtiCache, other: &dyn JtiCache) {
    assert_eq!(
        cache.first_use("key-a", "j1", 100, 200).await,
        Ok(true),
        "{name}"
    );
    assert_eq!(
        other.first_use("key-a", "j1", 150, 250).await,
        Ok(false),
        "{name}: replay"
    );
    assert_eq!(
        cache.first_use("key-a", "j1", 199, 299).await,
        Ok(false),
        "{name}"
    );
    assert_eq!(
        other.first_use("key-b", "j1", 150, 250).await,
        Ok(true),
        "{name}: per key"
    );
    assert_eq!(
        cache.first_use("key-a", "j2", 150, 250).await,
        Ok(true),
        "{name}"
    );
    // Expired: the proof can no longer be accepted, so its jti may come again.
    assert_eq!(
        other.first_use("key-a", "j1", 200, 300).await,
        Ok(true),
        "{name}: expired"
    );
    assert_eq!(
        cache.first_use("key-a", "j1", 201, 301).await,
        Ok(false),
        "{name}"
    );
}

#[tokio::test]
async fn the_replay_cache_is_shared_through_postgresql_and_kept_in_memory_with_sqlite() {
    let memory = MemoryJtiCache::new(100);
    replay_cache_contract("memory", &memory, &memory).await;

    let db = Db::fresh(Engine::Postgres).await;
    let (one, two) = (db.open().await, db.open().await);
    let (a, b) = (
        one.shared_replay_cache()
            .expect("PostgreSQL keeps the proofs"),
        two.shared_replay_cache()
            .expect("PostgreSQL keeps the proofs"),
    );
    replay_cache_contract("two instances on PostgreSQL", a.as_ref(), b.as_ref()).await;
    // Concurrent first uses of one proof at both instances: exactly one wins.
    let (a, b) = (Arc::clone(&a), Arc::clone(&b));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { cache.first_use("key-c", "once", 100, 400).await.unwrap() })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += usize::from(task.await.unwrap());
    }
    assert_eq!(firsts, 1);

    let sqlite = Db::fresh(Engine::Sqlite).await;
    assert!(sqlite.open().await.shared_replay_cache().is_none());
}

/// Polls `condition` every 50 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CockroachDB and YugabyteDB run transactions `SERIALIZABLE`, where a conflict is a
/// serialization failure (SQLSTATE 40001) to retry rather than a wait. PostgreSQL does the
/// same once its default isolation is `serializable`: two instances then seed a new user
/// once, keep every create, give one appointment per key and refuse a replayed proof, with
/// the conflicts retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_serializable_isolation_as_distributed_engines_run_conflicts_are_retried() {
    let db = Db::fresh(Engine::Postgres).await;
    let pg = db.pg.as_ref().unwrap();
    pg.psql(
        "postgres",
        "ALTER DATABASE postgres SET default_transaction_isolation TO 'serializable'",
    );
    let [one, two] = [db.open().await, db.open().await];
    assert_eq!(
        pg.psql("postgres", "SHOW default_transaction_isolation"),
        "serializable"
    );
    for round in 0..4 {
        let user = format!("user-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { one.clone() } else { two.clone() };
                let (barrier, user) = (barrier.clone(), user.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let visit = new(
                        &format!("Mine {i}"),
                        "2031-01-01T10:00:00Z",
                        "2031-01-01T11:00:00Z",
                    );
                    match i % 4 {
                        0 => store.list(&user).await.map(|_| ()),
                        1 => store.create(&user, visit, None).await.map(|_| ()),
                        _ => {
                            let same = new("Same", "2031-01-01T10:00:00Z", "2031-01-01T11:00:00Z");
                            store.create(&user, same, Some(&key("k"))).await.map(|_| ())
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap()
                .expect("every request succeeds, conflicts retried");
        }
        let list = one.list(&user).await.unwrap();
        let count = |prefix: &str| list.iter().filter(|a| a.title.starts_with(prefix)).count();
        assert_eq!(
            list.len() - count("Mine") - count("Same"),
            3,
            "seeded once: {list:?}"
        );
        assert_eq!(count("Mine"), 4, "every create kept");
        assert_eq!(count("Same"), 1, "one appointment for the key");
    }
    let (a, b) = (
        one.shared_replay_cache().unwrap(),
        two.shared_replay_cache().unwrap(),
    );
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { cache.first_use("key", "once", 100, 400).await })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += usize::from(task.await.unwrap().expect("answered"));
    }
    assert_eq!(firsts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_stopping_is_unavailable_not_an_error_and_its_return_needs_no_restart() {
    let mut db = Db::fresh(Engine::Postgres).await;
    let store = db.open().await;
    let kept = created(
        store
            .create(
                "hana",
                new("Kept", "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
                Some(&key("k")),
            )
            .await,
    );
    let cache = store.shared_replay_cache().unwrap();
    store.ready().await.unwrap();

    tokio::task::block_in_place(|| db.pg().stop());
    for _ in 0..3 {
        assert!(
            matches!(store.list("hana").await, Err(StoreError::Unavailable(_))),
            "a stopped server is Unavailable (503), not Internal (500)"
        );
    }
    assert!(matches!(
        store
            .create(
                "hana",
                new("Lost?", "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
                None
            )
            .await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.ready().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(cache.first_use("k", "j", 1, 2).await.is_err());

    tokio::task::block_in_place(|| db.pg().run());
    eventually(
        "the store answers again",
        Duration::from_secs(10),
        || async { store.ready().await.is_ok() },
    )
    .await;
    let list = store.list("hana").await.unwrap();
    assert_eq!(list.len(), 3 + 1, "nothing lost: {list:?}");
    assert_eq!(
        store
            .create(
                "hana",
                new("Kept", "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
                Some(&key("k"))
            )
            .await,
        Ok(Created::Replayed(kept))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_unreachable_at_start_up_opens_not_ready_and_sets_up_when_it_answers() {
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let database = Database::Postgres(PostgresUrl::parse(&url).unwrap());
    let started = Instant::now();
    let store = Store::open(&database, StoreOptions::default())
        .await
        .expect("no server is no start-up error");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.ready().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.list("ida").await,
        Err(StoreError::Unavailable(_))
    ));

    // The server appears on that port: the store sets the schema up by itself.
    let mut pg = tokio::task::spawn_blocking(move || {
        let mut pg = PgServer::init(false);
        pg.set_port(port);
        pg.run();
        pg
    })
    .await
    .unwrap();
    eventually(
        "ready once the server answers",
        Duration::from_secs(15),
        || async { store.ready().await.is_ok() },
    )
    .await;
    assert_eq!(store.list("ida").await.unwrap().len(), 3);
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM schema_migrations"),
        "3"
    );
    tokio::task::block_in_place(|| pg.stop());
}

#[tokio::test]
async fn a_bad_postgresql_url_or_a_refused_schema_is_a_start_up_error() {
    // TLS required of a build without it: said at once, not retried for ever.
    let url = PostgresUrl::parse("postgres://u@127.0.0.1:1/db?sslmode=require").unwrap();
    match Store::open(&Database::Postgres(url), StoreOptions::default()).await {
        Err(StoreError::Internal(message)) => assert!(message.contains("TLS"), "{message}"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("opened"),
    }

    // A role that may not create tables: the server answers, and refuses.
    let db = Db::fresh(Engine::Postgres).await;
    let pg = db.pg.as_ref().unwrap();
    pg.psql(
        "postgres",
        "CREATE ROLE reader LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    );
    let url = PostgresUrl::parse(&format!(
        "postgres://reader@127.0.0.1:{}/postgres",
        pg.port()
    ))
    .unwrap();
    match Store::open(&Database::Postgres(url), StoreOptions::default()).await {
        Err(StoreError::Internal(message)) => {
            assert!(message.contains("42501"), "permission denied: {message}")
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("opened"),
    }
}
