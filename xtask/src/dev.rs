//! `cargo xtask dev`: the demo on this machine, against the dev tenant (the default) or
//! against a real tenant (`--domain` and `--client-id`).
//!
//! Against a real tenant, no dev tenant is started; the API is started with that tenant's
//! issuer and the audience, and `trunk serve` answers `/config.json` from a file under
//! `target/xtask-dev/` instead of the repository's `assets/config.json`, which stays as it
//! is. That file is served by a small server in this process, to which `trunk serve`
//! proxies the one path (`--proxy-backend`, `--proxy-rewrite /config.json`).

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use crate::tools::Toolchain;
use crate::{cargo, project_root, run, Result};

pub const USAGE: &str = "\
usage: cargo xtask dev [--domain DOMAIN --client-id ID [--audience ID] [--scope SCOPES]
                        [--issuer URL]]

Without flags: dev-tenant (:7002), appointments-api (:7001) and `trunk serve` (:8080).

With --domain and --client-id: a real tenant instead of dev-tenant. No dev-tenant is
started; appointments-api is started with --issuer and --audience of that tenant, and
`trunk serve` answers /config.json from target/xtask-dev/config.json, which this command
writes (assets/config.json is not touched; edit the written file and reload to try
other settings until the next start).

  --domain DOMAIN    config.json's `domain`: an Auth0 domain (dev-abc.us.auth0.com), an
                     origin URL or an issuer URL with a path
  --client-id ID     config.json's `client_id`: the application's Client ID
  --audience ID      the API identifier [default: appointments:api]
  --scope SCOPES     [default: openid profile email read:appointments create:appointments]
  --issuer URL       appointments-api's --issuer [default: https://DOMAIN/ for an Auth0
                     domain; for a URL, the URL (with a `/` added when it has no path)]

The tenant must allow http://localhost:8080 (README.md, \"Pointing at a real Auth0 tenant\").
";

const DEFAULT_AUDIENCE: &str = "appointments:api";
const DEFAULT_SCOPE: &str = "openid profile email read:appointments create:appointments";
const API_ORIGIN: &str = "http://localhost:7001";

/// A real tenant to run against, from the flags.
#[derive(Debug, PartialEq)]
struct RealTenant {
    domain: String,
    client_id: String,
    audience: String,
    scope: String,
    issuer: String,
}

/// `None`: the dev tenant; `Some`: a real one.
fn parse(args: &[String]) -> Result<Option<RealTenant>> {
    let (mut domain, mut client_id, mut audience, mut scope, mut issuer) =
        (None, None, None, None, None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "--domain" => &mut domain,
            "--client-id" => &mut client_id,
            "--audience" => &mut audience,
            "--scope" => &mut scope,
            "--issuer" => &mut issuer,
            other => return Err(format!("unknown flag {other}\n\n{USAGE}")),
        };
        let value = args
            .next()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        *slot = Some(value.trim().to_string());
    }
    let Some(domain) = domain else {
        if client_id.is_some() || audience.is_some() || scope.is_some() || issuer.is_some() {
            return Err(format!(
                "--client-id, --audience, --scope and --issuer need --domain\n\n{USAGE}"
            ));
        }
        return Ok(None);
    };
    let client_id = client_id.ok_or_else(|| format!("--domain needs --client-id\n\n{USAGE}"))?;
    let issuer = match issuer {
        Some(issuer) => issuer,
        None => issuer_of(&domain),
    };
    Ok(Some(RealTenant {
        domain,
        client_id,
        audience: audience.unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
        scope: scope.unwrap_or_else(|| DEFAULT_SCOPE.into()),
        issuer,
    }))
}

/// The issuer the API expects for `domain`: Auth0 writes `iss` as `https://<domain>/`.
/// A URL is taken as the issuer; one that is only an origin gets Auth0's trailing `/`.
fn issuer_of(domain: &str) -> String {
    let Some((scheme, rest)) = domain.split_once("://") else {
        return format!("https://{}/", domain.trim_end_matches('/'));
    };
    if rest.contains('/') {
        domain.to_string()
    } else {
        format!("{scheme}://{rest}/")
    }
}

/// A JSON string literal.
fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl RealTenant {
    fn config_json(&self) -> String {
        let fields = [
            ("domain", self.domain.as_str()),
            ("client_id", &self.client_id),
            ("audience", &self.audience),
            ("api_base_url", API_ORIGIN),
            ("scope", &self.scope),
            ("response_type", "id_token token"),
            ("token_storage", "session"),
        ];
        let body: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("  {}: {}", json_string(name), json_string(value)))
            .collect();
        format!("{{\n{}\n}}\n", body.join(",\n"))
    }
}

pub fn run_command(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return Ok(());
    }
    let tenant = parse(args)?;
    let tools = Toolchain::ensure(false)?;
    match tenant {
        None => dev_tenant(&tools),
        Some(tenant) => real_tenant(&tools, &tenant),
    }
}

fn dev_tenant(tools: &Toolchain) -> Result<()> {
    run(cargo().args(["build", "-p", "dev-tenant", "-p", "appointments-api"]))?;
    let bin = project_root().join("target/debug");
    let mut servers = Servers::default();
    servers.start("dev-tenant", Command::new(bin.join("dev-tenant")))?;
    servers.start(
        "appointments-api",
        Command::new(bin.join("appointments-api")),
    )?;
    servers.start("trunk serve", {
        let mut trunk = tools.command("trunk");
        trunk.arg("serve");
        trunk
    })?;

    for (name, port, timeout) in [
        ("dev-tenant", 7002, 60),
        ("appointments-api", 7001, 60),
        // The first `trunk serve` compiles the whole app for wasm32.
        ("trunk serve", 8080, 900),
    ] {
        servers.wait_for_port(name, port, Duration::from_secs(timeout))?;
    }
    println!(
        "\n  The demo is running: open http://localhost:8080/\n\
         \n  Sign in as alice@example.com / alice-password-1 (may read and create appointments)\
         \n          or bob@example.com / bob-password-1 (may only read).\
         \n\n  dev-tenant        http://localhost:7002/\
         \n  appointments-api  http://localhost:7001/api/appointments\
         \n\n  Press Ctrl-C to stop all three.\n"
    );
    servers.wait_any()
}

fn real_tenant(tools: &Toolchain, tenant: &RealTenant) -> Result<()> {
    let dir = project_root().join("target/xtask-dev");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let config_path = dir.join("config.json");
    fs::write(&config_path, tenant.config_json())
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    let config_port = serve_config(config_path.clone())?;

    run(cargo().args(["build", "-p", "appointments-api"]))?;
    let bin = project_root().join("target/debug");
    let mut servers = Servers::default();
    servers.start("appointments-api", {
        let mut api = Command::new(bin.join("appointments-api"));
        api.args(["--issuer", &tenant.issuer, "--audience", &tenant.audience]);
        api
    })?;
    servers.start("trunk serve", {
        let mut trunk = tools.command("trunk");
        trunk.args([
            "serve",
            "--proxy-backend",
            &format!("http://127.0.0.1:{config_port}/"),
            "--proxy-rewrite",
            "/config.json",
            "--proxy-no-system-proxy",
        ]);
        trunk
    })?;

    for (name, port, timeout) in [("appointments-api", 7001, 60), ("trunk serve", 8080, 900)] {
        servers.wait_for_port(name, port, Duration::from_secs(timeout))?;
    }
    println!(
        "\n  The demo is running against {domain}: open http://localhost:8080/\n\
         \n  config.json       {config} (served as http://localhost:8080/config.json)\
         \n  appointments-api  http://localhost:7001/api/appointments\
         \n                    --issuer {issuer} --audience {audience}\
         \n\n  The application {client_id} must list http://localhost:8080/callback and\
         \n  http://localhost:8080/silent-callback.html as Allowed Callback URLs, and\
         \n  http://localhost:8080/ as an Allowed Logout URL.\
         \n\n  Press Ctrl-C to stop both.\n",
        domain = tenant.domain,
        config = config_path.display(),
        issuer = tenant.issuer,
        audience = tenant.audience,
        client_id = tenant.client_id,
    );
    servers.wait_any()
}

/// Serves the file at `path` (read again for each request) on a free loopback port, for
/// `trunk serve` to proxy `/config.json` to. Runs until this process ends.
fn serve_config(path: PathBuf) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot open a port for config.json: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot read the config.json server's port: {e}"))?
        .port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = answer_config(stream, &path);
        }
    });
    Ok(port)
}

fn answer_config(mut stream: TcpStream, path: &PathBuf) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Read the request head; whatever it asks, the answer is the file.
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let (status, body) = match fs::read(path) {
        Ok(body) => ("200 OK", body),
        Err(e) => ("500 Internal Server Error", e.to_string().into_bytes()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncache-control: no-cache\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

/// The demo's child processes; dropping this stops every one still running.
#[derive(Default)]
struct Servers(Vec<(&'static str, Child)>);

impl Servers {
    fn start(&mut self, name: &'static str, mut command: Command) -> Result<()> {
        let child = command
            .current_dir(project_root())
            .spawn()
            .map_err(|e| format!("could not start {name}: {e}"))?;
        self.0.push((name, child));
        Ok(())
    }

    fn wait_for_port(&mut self, name: &str, port: u16, timeout: Duration) -> Result<()> {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + timeout;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            self.fail_if_any_exited()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "{name} did not listen on port {port} within {timeout:?}"
                ));
            }
            thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    fn fail_if_any_exited(&mut self) -> Result<()> {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{name} stopped ({status}); is its port already in use?"
                ));
            }
        }
        Ok(())
    }

    /// Returns when one of the servers stops; Ctrl-C reaches all of them through the
    /// terminal's process group, and `Drop` stops whichever are left.
    fn wait_any(&mut self) -> Result<()> {
        loop {
            self.fail_if_any_exited()?;
            thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_flags_is_the_dev_tenant() {
        assert_eq!(parse(&[]).unwrap(), None);
    }

    #[test]
    fn an_auth0_domain_gives_auth0_issuer_and_defaults() {
        let tenant = parse(&args(&[
            "--domain",
            "dev-abc.us.auth0.com",
            "--client-id",
            "X1",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(tenant.issuer, "https://dev-abc.us.auth0.com/");
        assert_eq!(tenant.audience, "appointments:api");
        assert_eq!(tenant.scope, DEFAULT_SCOPE);
    }

    #[test]
    fn issuers_of_urls() {
        assert_eq!(issuer_of("http://localhost:7012"), "http://localhost:7012/");
        assert_eq!(issuer_of("https://x.example/"), "https://x.example/");
        assert_eq!(
            issuer_of("https://x.okta.com/oauth2/default"),
            "https://x.okta.com/oauth2/default"
        );
    }

    #[test]
    fn flags_are_checked() {
        assert!(parse(&args(&["--domain", "x.example"])).is_err());
        assert!(parse(&args(&["--client-id", "X1"])).is_err());
        assert!(parse(&args(&["--domain"])).is_err());
        assert!(parse(&args(&["--bogus", "1"])).is_err());
    }

    #[test]
    fn config_json_escapes_values() {
        let tenant = parse(&args(&["--domain", "a.example", "--client-id", "q\"\\"]))
            .unwrap()
            .unwrap();
        assert!(tenant.config_json().contains(r#""client_id": "q\"\\","#));
    }
}
