//! `--key`, `--config` and flag errors, in-process and through the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use dev_tenant::config::{parse_args, Command as Cli, TenantConfig};
use dev_tenant::keys::{generate_pem, SigningKey};
use dev_tenant::Settings;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey};

const BIN: &str = env!("CARGO_BIN_EXE_dev-tenant");

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    let unique: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let path =
        std::env::temp_dir().join(format!("dev-tenant-{}-{unique}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// The modulus of a PEM, computed without the tenant's key code.
fn modulus_of(pem: &str) -> String {
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    match Jwk::from_encoding_key(&key, Algorithm::RS256)
        .unwrap()
        .algorithm
    {
        AlgorithmParameters::RSA(rsa) => rsa.n,
        _ => panic!("not RSA"),
    }
}

#[tokio::test]
async fn key_flag_loads_the_pem_into_the_jwks() {
    let pem = generate_pem().unwrap();
    let path = temp_file("key.pem", &pem);
    let Cli::Run(flags) = parse_args(["--key".to_string(), path.display().to_string()]).unwrap()
    else {
        panic!("expected run");
    };
    let key = SigningKey::load(flags.key.as_deref().unwrap()).unwrap();
    let t = start_with(|issuer| Settings::new(issuer, TenantConfig::default(), key).unwrap()).await;
    let jwks = t.jwks().await;
    let AlgorithmParameters::RSA(rsa) = &jwks.keys[0].algorithm else {
        panic!("not RSA");
    };
    assert_eq!(rsa.n, modulus_of(&pem));
    // Tokens are signed with it.
    let f = t
        .sign_in(&params(&[]), "alice@example.com", "alice-password-1")
        .await;
    let dk = jsonwebtoken::DecodingKey::from_rsa_components(&rsa.n, &rsa.e).unwrap();
    let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
    v.set_audience(&[AUDIENCE]);
    jsonwebtoken::decode::<serde_json::Value>(&f["access_token"], &dk, &v).unwrap();
    std::fs::remove_file(path).ok();
}

#[tokio::test]
async fn binary_serves_with_the_given_key() {
    let pem = generate_pem().unwrap();
    let path = temp_file("key.pem", &pem);
    let (child, base, banner) =
        spawn_bin(&["--bind", "127.0.0.1:0", "--key", path.to_str().unwrap()]);
    for needle in [
        "appointments-spa",
        "http://localhost:8080/callback",
        "alice@example.com / alice-password-1",
        "bob@example.com / bob-password-1",
    ] {
        assert!(banner.contains(needle), "{needle} missing from {banner}");
    }
    let jwks: serde_json::Value = reqwest::get(format!("{base}.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(child);
    std::fs::remove_file(path).ok();
    assert_eq!(jwks["keys"][0]["n"], modulus_of(&pem).as_str());
}

/// Starts the binary; returns it, its base URL and the banner up to `Ready.`.
fn spawn_bin(args: &[&str]) -> (KillOnDrop, String, String) {
    let child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut printed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("Ready.");
        printed.push(line);
        if done {
            break;
        }
    }
    let banner = printed.join("\n");
    let base = banner
        .lines()
        .find_map(|l| l.strip_prefix("dev-tenant listening on "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the binary prints its URL")
        .to_string();
    (child, base, banner)
}

#[tokio::test]
async fn binary_fault_injection_endpoint_only_with_the_flag() {
    let http = reqwest::Client::new();
    let post = |base: &str| {
        http.post(format!("{base}test/next-fault"))
            .header("content-type", "application/json")
            .body(r#"{"fault":"alg_none"}"#)
            .send()
    };
    let (child, base, banner) = spawn_bin(&["--bind", "127.0.0.1:0"]);
    assert!(!banner.contains("FAULT INJECTION"), "{banner}");
    assert_eq!(post(&base).await.unwrap().status(), 404);
    drop(child);

    let (child, base, banner) = spawn_bin(&["--bind", "127.0.0.1:0", "--enable-fault-injection"]);
    assert!(banner.contains("FAULT INJECTION ENABLED"), "{banner}");
    assert!(banner.contains("test/next-fault"), "{banner}");
    assert_eq!(post(&base).await.unwrap().status(), 204);
    drop(child);

    let (code, stderr) = run_bin(&["--enable-fault-injection=1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--enable-fault-injection"), "{stderr}");
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--enable-fault-injection"), "{help}");
    assert!(help.contains("/test/next-fault"), "{help}");
}

#[tokio::test]
async fn binary_requires_a_dpop_nonce_only_with_the_flag() {
    let http = reqwest::Client::new();
    let signer = dpop::Signer::generate();
    // The issuer the banner names (localhost), which the proof's htu must use.
    let issuer = |banner: &str| {
        banner
            .split("(issuer ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .expect("the banner names the issuer")
            .to_string()
    };
    // A refresh with a made-up token: the proof is checked first.
    let post = |base: String, issuer: String| {
        let proof = signer.proof(
            "POST",
            &format!("{issuer}oauth/token"),
            dpop::now(),
            None,
            None,
        );
        http.post(format!("{base}oauth/token"))
            .header("dpop", proof)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "made-up"),
                ("client_id", CLIENT),
            ])
            .send()
    };
    let (child, base, banner) = spawn_bin(&["--bind", "127.0.0.1:0"]);
    assert!(banner.contains("DPoP"), "{banner}");
    assert!(!banner.contains("nonce required"), "{banner}");
    let resp = post(base, issuer(&banner)).await.unwrap();
    assert_eq!(resp.status(), 403, "the proof passed; the token did not");
    assert!(resp.headers().get("dpop-nonce").is_none());
    drop(child);

    let (child, base, banner) = spawn_bin(&["--bind", "127.0.0.1:0", "--require-dpop-nonce"]);
    assert!(banner.contains("nonce required"), "{banner}");
    let resp = post(base, issuer(&banner)).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().contains_key("dpop-nonce"));
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "use_dpop_nonce");
    drop(child);

    let (code, stderr) = run_bin(&["--require-dpop-nonce=yes"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--require-dpop-nonce"), "{stderr}");
}

/// Kills the spawned binary even when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn run_bin(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_config_entry_is_rejected_by_name() {
    let mut config = TenantConfig::default();
    config.users[1].permissions.push("delete:everything".into());
    let text = serde_json::to_string(&config).unwrap();
    let err = TenantConfig::from_json(&text).unwrap_err();
    assert_eq!(err.entry, "users[1] (\"bob@example.com\")");
    assert!(err.problem.contains("delete:everything"));

    let mut config = TenantConfig::default();
    config.clients[0].callbacks.push("not a url".into());
    let path = temp_file("config.json", &serde_json::to_string(&config).unwrap());
    let (code, stderr) = run_bin(&["--config", path.to_str().unwrap(), "--bind", "127.0.0.1:0"]);
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 2);
    assert!(stderr.contains("--config"), "{stderr}");
    assert!(
        stderr.contains("clients[0] (\"appointments-spa\")"),
        "{stderr}"
    );
    assert!(stderr.contains("not a url"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    let path = temp_file("config.json", "{\"clients\": [");
    let (code, stderr) = run_bin(&["--config", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 2);
    assert!(stderr.contains("not a valid tenant config"), "{stderr}");
}

#[test]
fn custom_config_replaces_the_demo_tenant() {
    let text = r#"{"clients":[{"client_id":"my-spa","name":"My SPA",
        "callbacks":["http://localhost:3000/callback"],"logout_urls":["http://localhost:3000/"],
        "web_origins":["http://localhost:3000"]}],
      "apis":[{"identifier":"my:api","scopes":[{"value":"read:things","description":"Read things"}]}],
      "users":[{"sub":"auth0|carol","email":"carol@example.com","password":"pw","name":"Carol",
        "permissions":["read:things"]}]}"#;
    let c = TenantConfig::from_json(text).unwrap();
    assert_eq!(c.clients[0].client_id, "my-spa");
    assert!(c.user_by_email("alice@example.com").is_none());
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, flag) in [
        (vec!["--bind", "nowhere"], "--bind"),
        (vec!["--issuer", "ftp://x/"], "--issuer"),
        (vec!["--token-lifetime", "-5"], "--token-lifetime"),
        (
            vec!["--refresh-token-lifetime", "0"],
            "--refresh-token-lifetime",
        ),
        (
            vec![
                "--refresh-token-lifetime",
                "10",
                "--refresh-token-idle",
                "20",
            ],
            "--refresh-token-idle",
        ),
        (vec!["--code-lifetime", "601"], "--code-lifetime"),
        (vec!["--key", "/nonexistent/key.pem"], "--key"),
        (vec!["--config", "/nonexistent/config.json"], "--config"),
        (vec!["--wat"], "--wat"),
    ] {
        let (code, stderr) = run_bin(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    let pem = temp_file(
        "notkey.pem",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    );
    let (code, stderr) = run_bin(&["--key", pem.to_str().unwrap()]);
    std::fs::remove_file(&pem).ok();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--key"));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--token-lifetime",
        "--refresh-token-lifetime",
        "--refresh-token-idle",
        "--code-lifetime",
        "--require-dpop-nonce",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}
