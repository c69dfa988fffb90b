use std::process::ExitCode;

use appointments_api::{ConfigError, Settings, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let settings = match Settings::from_args_and_env(std::env::args().skip(1), env) {
        Ok(s) => s,
        Err(ConfigError::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("appointments-api: {e}\n(run appointments-api --help for the options)");
            return ExitCode::from(2);
        }
    };

    let listener = match tokio::net::TcpListener::bind(settings.bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("appointments-api: cannot listen on {}: {e}", settings.bind);
            return ExitCode::FAILURE;
        }
    };
    let router = match appointments_api::app(settings.clone()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("appointments-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!(
        "appointments-api listening on http://{addr} (issuer {}, audience {}, database {})",
        settings.issuer, settings.audience, settings.database
    );
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("appointments-api: {e}");
        return ExitCode::FAILURE;
    }
    println!("appointments-api stopped");
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
