//! `dev-tenant`: runs the local authorization server. See `dev_tenant::config` for flags.

use std::process::ExitCode;

use dev_tenant::config::{parse_args, Command, Flags, TenantConfig, USAGE};
use dev_tenant::keys::SigningKey;
use dev_tenant::Settings;

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("dev-tenant: {message}");
    ExitCode::from(code)
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Run(flags)) => flags,
        Err(e) => return fail(2, &e.to_string()),
    };
    run(flags).await
}

async fn run(flags: Flags) -> ExitCode {
    let tenant = match &flags.config {
        Some(path) => match TenantConfig::load(path) {
            Ok(t) => t,
            Err(e) => return fail(2, &format!("--config {}: {e}", path.display())),
        },
        None => TenantConfig::default(),
    };
    let key = match &flags.key {
        Some(path) => match SigningKey::load(path) {
            Ok(k) => k,
            Err(e) => return fail(2, &format!("--key: {e}")),
        },
        None => match SigningKey::generate() {
            Ok(k) => k,
            Err(e) => return fail(1, &e.to_string()),
        },
    };
    let listener = match tokio::net::TcpListener::bind(flags.bind).await {
        Ok(l) => l,
        Err(e) => return fail(1, &format!("--bind {}: cannot listen: {e}", flags.bind)),
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => return fail(1, &format!("--bind {}: {e}", flags.bind)),
    };
    let issuer = flags
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{port}/"));
    let mut settings = match Settings::new(&issuer, tenant, key) {
        Ok(s) => s,
        Err(e) => return fail(2, &e.to_string()),
    };
    settings.token_lifetime = flags.token_lifetime;
    settings.refresh_token_lifetime = flags.refresh_token_lifetime;
    settings.refresh_token_idle = flags.refresh_token_idle;
    settings.code_lifetime = flags.code_lifetime;
    settings.fault_injection_endpoint = flags.enable_fault_injection;
    settings.require_dpop_nonce = flags.require_dpop_nonce;

    let ip = flags.bind.ip();
    let host = if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    println!(
        "dev-tenant listening on http://{host}:{port}/ (issuer {})",
        settings.issuer
    );
    println!(
        "  discovery: {}.well-known/openid-configuration",
        settings.issuer
    );
    println!("  signing key id: {}", settings.key.kid());
    println!(
        "  DPoP: proofs accepted at {}oauth/token and {}userinfo (algs {}){}",
        settings.issuer,
        settings.issuer,
        dev_tenant::dpop::ALGS,
        if settings.require_dpop_nonce {
            ", server nonce required"
        } else {
            ""
        }
    );
    if settings.fault_injection_endpoint {
        println!(
            "  FAULT INJECTION ENABLED (tests only): POST {}test/next-fault",
            settings.issuer
        );
    }
    for c in &settings.tenant.clients {
        println!("client {} ({})", c.client_id, c.name);
        for cb in &c.callbacks {
            println!("  callback:   {cb}");
        }
        for u in &c.logout_urls {
            println!("  logout URL: {u}");
        }
        for o in &c.web_origins {
            println!("  web origin: {o}");
        }
        println!("  grant types: {}", c.grant_types.join(" "));
    }
    for a in &settings.tenant.apis {
        let scopes: Vec<&str> = a.scopes.iter().map(|s| s.value.as_str()).collect();
        let offline = if a.allow_offline_access {
            " (offline access allowed)"
        } else {
            ""
        };
        println!("API {} scopes: {}{offline}", a.identifier, scopes.join(" "));
    }
    for u in &settings.tenant.users {
        println!(
            "user {} / {} ({}, {}) permissions: {}",
            u.email,
            u.password,
            u.name,
            u.sub,
            u.permissions.join(" ")
        );
    }
    println!("Ready. Press Ctrl-C to stop.");
    match dev_tenant::serve(listener, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, &format!("server error: {e}")),
    }
}
