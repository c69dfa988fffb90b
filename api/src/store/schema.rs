//! The one schema of both engines, as versioned migrations applied at start-up.
//!
//! Each migration's SQL runs unchanged on SQLite and on PostgreSQL (and is written for
//! PostgreSQL-compatible distributed engines too): `TEXT` and `BIGINT` columns only (SQLite
//! gives `BIGINT` its 64-bit integer affinity; PostgreSQL's `INTEGER` would be 32 bits, too
//! small for a nanosecond timestamp), no column named with a reserved word (`end` is one in
//! PostgreSQL: the columns are `starts_at` and `ends_at`), and every statement
//! `IF NOT EXISTS`, so that running one again is harmless: engines whose DDL is not
//! transactional (YugabyteDB by default) may have applied it without recording its version.
//!
//! A migration is applied in one transaction that first claims its version in
//! `schema_migrations` (`INSERT … ON CONFLICT DO NOTHING`): when several instances start at
//! once, the row's uniqueness lets exactly one apply it, and the others, waiting on that
//! row, find it taken. No advisory lock, which CockroachDB and YugabyteDB lack.

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in increasing order; recorded in `schema_migrations`.
    pub version: i64,
    pub name: &'static str,
    /// One or more statements, separated by `;`.
    pub sql: &'static str,
}

/// The table of applied versions (created before the first migration).
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Claims a version: one row changed means this connection applies it.
pub(crate) const CLAIM_SQLITE: &str = "INSERT INTO schema_migrations (version, name, applied_at)
     VALUES (?1, ?2, ?3) ON CONFLICT (version) DO NOTHING";
pub(crate) const CLAIM_POSTGRES: &str = "INSERT INTO schema_migrations (version, name, applied_at)
     VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING";

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users and appointments",
        sql: "
CREATE TABLE IF NOT EXISTS users (
    sub        TEXT NOT NULL PRIMARY KEY,
    first_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS appointments (
    id        TEXT NOT NULL PRIMARY KEY,
    owner     TEXT NOT NULL,
    title     TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at   TEXT NOT NULL,
    start_ns  BIGINT NOT NULL,
    location  TEXT
);
CREATE INDEX IF NOT EXISTS appointments_by_owner_and_start
    ON appointments (owner, start_ns, id)",
    },
    Migration {
        version: 2,
        name: "idempotency keys",
        sql: "
CREATE TABLE IF NOT EXISTS idempotency_keys (
    owner           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    appointment_id  TEXT NOT NULL REFERENCES appointments (id),
    created_at      TEXT NOT NULL,
    PRIMARY KEY (owner, idempotency_key)
)",
    },
    Migration {
        version: 3,
        name: "DPoP proofs used",
        sql: "
CREATE TABLE IF NOT EXISTS dpop_proofs_used (
    jkt        TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (jkt, jti)
);
CREATE INDEX IF NOT EXISTS dpop_proofs_used_by_expiry ON dpop_proofs_used (expires_at)",
    },
];

/// The newest version.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_nothing_reserved_or_32_bit() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "{}", m.name);
            last = m.version;
            let sql = m.sql.to_ascii_lowercase();
            assert!(
                !sql.contains(" integer"),
                "{}: INTEGER is 32-bit in PostgreSQL",
                m.name
            );
            // A column named `end`, `start` or `user`, quoted or not.
            for word in ["\"end\"", " end ", " user ", " start "] {
                assert!(!sql.contains(word), "{}: {word}", m.name);
            }
            for statement in sql.split(';') {
                assert!(
                    statement.contains("if not exists"),
                    "{}: every statement may run twice: {statement}",
                    m.name
                );
            }
        }
        assert_eq!(latest_version(), 3);
    }
}
