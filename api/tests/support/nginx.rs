//! An nginx of the test's own (the API's tests, the bench and `tests/e2e_deploy.rs`): Debian's binary (`NGINX`,
//! else /usr/sbin/nginx, else `nginx` on `PATH`), one process (`master_process off`), its
//! configuration, logs and temp files in a temporary folder, listening on a free port of
//! 127.0.0.1; killed and removed on drop. It never touches the system's nginx.
//!
//! Standard library only, so that the bench can include this file too.

#![allow(dead_code)] // each test binary uses part of it

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Nginx {
    dir: PathBuf,
    port: u16,
    process: Option<Child>,
}

impl Nginx {
    /// A folder and a free port; nothing runs yet.
    pub fn prepare() -> Nginx {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "appointments-nginx-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            fs::create_dir_all(dir.join("temp").join(temp)).expect("nginx's temp folders");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Nginx {
            dir,
            port,
            process: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts nginx with `server` (server blocks, upstreams, formats: what goes in
    /// `http { }`) and waits until it listens.
    pub fn start(&mut self, server: &str) {
        fs::write(self.dir.join("site.conf"), server).expect("the site's configuration");
        let dir = self.dir.display();
        let main = format!(
            "master_process off;\n\
             pid {dir}/nginx.pid;\n\
             error_log {dir}/error.log info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
             \x20   access_log {dir}/access.log;\n\
             \x20   client_body_temp_path {dir}/temp/client_body;\n\
             \x20   proxy_temp_path {dir}/temp/proxy;\n\
             \x20   fastcgi_temp_path {dir}/temp/fastcgi;\n\
             \x20   uwsgi_temp_path {dir}/temp/uwsgi;\n\
             \x20   scgi_temp_path {dir}/temp/scgi;\n\
             \x20   include {dir}/site.conf;\n\
             }}\n"
        );
        fs::write(self.dir.join("nginx.conf"), main).expect("nginx.conf");
        let program = program();
        let process = Command::new(&program)
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .arg("-e")
            .arg(self.dir.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = self.process.as_mut().map(Child::try_wait) {
                self.process = None;
                panic!(
                    "nginx stopped at start ({status}); its error log:\n{}",
                    self.error_log()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on port {}; its error log:\n{}",
                self.port,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A file in nginx's folder (for an `access_log` line, say).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// nginx: `NGINX`, else Debian's /usr/sbin/nginx, else `nginx` on `PATH`.
pub fn program() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("NGINX")
        .filter(|program| !program.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(PathBuf::from("/usr/sbin/nginx"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("nginx")));
    }
    candidates
        .into_iter()
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nginx is not installed (looked for NGINX, /usr/sbin/nginx and PATH). \
                 `cargo xtask test` installs Debian's package (apt-get install nginx) when it \
                 runs as root; otherwise install it, or set NGINX to its binary"
            )
        })
}

/// `template` with each placeholder replaced; none may be left.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut rendered = template.to_string();
    for (placeholder, value) in values {
        rendered = rendered.replace(placeholder, value);
    }
    assert!(
        !rendered.contains("__"),
        "a placeholder is left: {}",
        rendered
            .lines()
            .find(|line| line.contains("__"))
            .unwrap_or_default()
    );
    rendered
}
