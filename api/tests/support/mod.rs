//! Shared by the API's integration tests: RSA test keys and token signing, the binary,
//! a test issuer ([`issuer`]), a PostgreSQL server of their own ([`postgres`]) and an nginx
//! ([`nginx`]).

#![allow(dead_code, unused_macros)] // each test binary uses part of it

pub mod issuer;
pub mod nginx;
pub mod postgres;

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The two stores the API can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file or `:memory:`.
    Sqlite,
    /// A PostgreSQL server of the test's own ([`postgres::PgServer`]).
    Postgres,
}

/// Each named `async fn(Engine)` as two tests: `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::support::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::support::Engine::Postgres).await
            }
        }
    )*};
}

pub struct TestKey {
    pub encoding: EncodingKey,
    pub public_pem: String,
    n: String,
    e: String,
}

impl TestKey {
    pub fn generate() -> TestKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let pkcs8: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8");
        let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes())
            .expect("encoding key");
        let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().expect("SPKI");
        let jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap())
                .unwrap();
        TestKey {
            encoding,
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
            n: jwk["n"].as_str().unwrap().to_string(),
            e: jwk["e"].as_str().unwrap().to_string(),
        }
    }

    pub fn jwk(&self, kid: &str) -> Value {
        json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": self.n, "e": self.e })
    }
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The issuer's signing key (kid `key-1`, published from the start).
pub static KEY: LazyLock<TestKey> = LazyLock::new(TestKey::generate);
/// A second key: published later (rotation) or never (unknown key).
pub static OTHER_KEY: LazyLock<TestKey> = LazyLock::new(TestKey::generate);

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn sign(key: &TestKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// The `appointments-api` binary, started with `args`, its stdout read line by line;
/// killed when dropped (even if an assertion fails).
pub struct Binary {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line read so far.
    pub output: Vec<String>,
}

impl Binary {
    pub fn start(args: &[&str]) -> Binary {
        Binary::start_with_env(args, &[])
    }

    /// The same, with these environment variables set.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Binary {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_appointments-api"))
            .args(args)
            .env_remove("ALLOWED_ORIGINS")
            .env_remove("AUTH0_ISSUER")
            .env_remove("AUTH0_JWKS_URI")
            .env_remove("DATABASE_URL")
            .env_remove("DB_POOL_SIZE")
            .env_remove("PUBLIC_URL")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = lines_tx.send(line);
            }
        });
        Binary {
            child,
            lines,
            output: Vec::new(),
        }
    }

    /// The next line containing `needle` (waits up to 20 s for each line). Blocks the
    /// thread: call it only once the lines it waits for are due.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no line containing {needle:?}; got {:?}", self.output));
            self.output.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// A line read already that contains `needle`, else the next one (see [`Binary::wait_for`]).
    pub fn seen_or_wait_for(&mut self, needle: &str) -> String {
        match self.output.iter().find(|l| l.contains(needle)) {
            Some(line) => line.clone(),
            None => self.wait_for(needle),
        }
    }

    /// Waits until `n` lines read so far contain `needle` (each line waited for up to 20 s).
    pub fn wait_for_count(&mut self, needle: &str, n: usize) {
        while self.count(needle) < n {
            self.wait_for(needle);
        }
    }

    /// The lines read so far that contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.output.iter().filter(|l| l.contains(needle)).count()
    }

    /// `http://127.0.0.1:<port>` from the start-up banner.
    pub fn wait_for_base_url(&mut self) -> String {
        let banner = self.wait_for("listening on");
        banner
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no URL in {banner:?}"))
            .to_string()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
