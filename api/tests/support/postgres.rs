//! A PostgreSQL server of the test's own: `initdb` into a temporary folder, `postgres` on a
//! free port of 127.0.0.1 (and a Unix socket in that folder), stopped and removed on drop.
//! Nothing else on the machine is touched: no service, no cluster of the distribution's.
//!
//! The binaries: `PG_BIN` (a folder), else the newest `/usr/lib/postgresql/<version>/bin`
//! (Debian's `postgresql` package, which `cargo xtask test` installs), else `initdb` on
//! `PATH`. `initdb` and `postgres` refuse to run as root: as root they run as the `postgres`
//! account (or `nobody`), which then owns the folder.
//!
//! Standard library only, so that the bench can include this file too.

#![allow(dead_code)] // each test binary uses part of it

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the server may take to start or stop.
const WAIT: Duration = Duration::from_secs(30);

/// The superuser `initdb` creates; the tests connect as it, without a password (`trust`,
/// on 127.0.0.1 only).
pub const SUPERUSER: &str = "postgres";

pub struct PgServer {
    /// The temporary folder: `data/`, the socket, `postgres.log`.
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The account the server runs as, when the tests run as root.
    account: Option<(u32, u32)>,
    process: Option<Child>,
    durable: bool,
}

impl PgServer {
    /// A fresh cluster, running, tuned for tests (no fsync).
    pub fn start() -> PgServer {
        let mut server = PgServer::init(false);
        server.run();
        server
    }

    /// A fresh cluster on a free port, not started yet ([`PgServer::run`] starts it).
    /// `durable`: PostgreSQL's defaults (fsync and synchronous commits on), as in
    /// production; otherwise both off, for speed.
    pub fn init(durable: bool) -> PgServer {
        let bin = binaries();
        let account = if running_as_root() {
            Some(unprivileged_account())
        } else {
            None
        };
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "appointments-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a temporary folder for PostgreSQL");
        let server = PgServer {
            dir,
            bin,
            port: free_port(),
            account,
            process: None,
            durable,
        };
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(&server.dir, Some(uid), Some(gid))
                .expect("give the folder to the server's account");
        }
        let output = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        server
    }

    /// Starts the server (again, after [`PgServer::stop`]) on its port and waits until it
    /// accepts connections.
    pub fn run(&mut self) {
        assert!(self.process.is_none(), "already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .expect("the server's log");
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "max_connections=200"]);
        if !self.durable {
            for setting in [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                command.args(["-c", setting]);
            }
        }
        let process = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}"));
        self.process = Some(process);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(Ok(Some(status))) = self.process.as_mut().map(Child::try_wait) {
                self.process = None;
                panic!(
                    "postgres stopped at start ({status}); its log:\n{}",
                    self.log()
                );
            }
            let ready = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", SUPERUSER, "-d", "postgres", "-t", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections within {WAIT:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server as an operator's `pg_ctl stop -m fast` does (SIGINT: sessions are
    /// ended, the data is kept) and waits for it to exit.
    pub fn stop(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &process.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = process.kill();
        let _ = process.wait();
    }

    /// The temporary folder (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Listen on `port` instead (before [`PgServer::run`]).
    pub fn set_port(&mut self, port: u16) {
        assert!(self.process.is_none(), "the server is running");
        self.port = port;
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of database `name` on this server.
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url_for(name)
    }

    /// Runs `sql` with psql in database `name`; its output, unaligned, without headers.
    pub fn psql(&self, name: &str, sql: &str) -> String {
        let output = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .args([
                "-d",
                name,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            output.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// One of the server's programs, run as its account, in its folder.
    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(&self.dir);
        if let Some((uid, gid)) = self.account {
            command.uid(uid).gid(gid);
        }
        command
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The folder of `initdb`, `postgres`, `pg_isready` and `psql`.
fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").is_file())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (looked at PG_BIN, /usr/lib/postgresql/*/bin and \
                 PATH for initdb). `cargo xtask test` installs Debian's package (apt-get \
                 install postgresql) when it runs as root; otherwise install it, or set PG_BIN \
                 to the folder of its programs"
            )
        })
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// `postgres` (Debian's package creates it), else `nobody`: uid and gid.
fn unprivileged_account() -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    for name in ["postgres", "nobody"] {
        let found = passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == name)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        });
        if let Some(ids) = found {
            return ids;
        }
    }
    panic!("running as root, and no postgres or nobody account to run PostgreSQL as")
}
