//! Developer commands, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! Only the standard library is used, so that this compiles in seconds on a fresh clone
//! before anything else is installed.

mod bench;
mod dev;
mod tools;

use std::env;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use tools::Toolchain;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  dev     install what is missing, then run dev-tenant (:7002), appointments-api (:7001)
          and `trunk serve` (:8080); Ctrl-C stops all three. With --domain and --client-id,
          against a real tenant instead (`cargo xtask dev --help`)
  test    install what is missing (Chromium, chromedriver, Firefox ESR, geckodriver, nginx
          and PostgreSQL too),
          then run every check and test: fmt, clippy on both targets, native tests, browser
          tests, end-to-end tests (sign-in, session, code flow, tabs and cross-site also
          in Firefox)
  setup   only install what is missing
  dist    build the release site: [--public-url /sub/path/] [--out DIR] (default dist/)
  bench   build the release site and measure it: first-load sizes (raw, gzip -9, brotli -q 11),
          load timings in headless Chromium, the API under load (wrk); a report, not a test
";

pub type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("dev") => dev::run_command(&args[1..]),
        Some("test") => test(),
        Some("setup") => Toolchain::ensure(false).map(|_| ()),
        Some("dist") => dist_command(&args[1..]),
        Some("bench") => bench::run(),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}

pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command to completion, failing with the command line when it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let program = Path::new(command.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
    let shown = format!("{} {}", program.to_string_lossy(), args.join(" "));
    println!("\n$ {shown}");
    let status = command
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn dist_command(args: &[String]) -> Result<()> {
    let mut public_url = "/".to_string();
    let mut out = project_root().join("dist");
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--public-url" => public_url = value.clone(),
            "--out" => out = PathBuf::from(value),
            other => return Err(format!("unknown flag {other}\n\n{USAGE}")),
        }
    }
    let tools = Toolchain::ensure(false)?;
    dist(&tools, &out, &public_url)
}

/// The release site, as deployed: trunk's build, then its inline loader script moved to a
/// file of its own so that the Content-Security-Policy needs no `'unsafe-inline'`, and the
/// JS glue minified.
fn dist(tools: &Toolchain, out: &Path, public_url: &str) -> Result<()> {
    release_site(tools, out, public_url, |_| {})
}

/// The pipeline of [`dist`] for any trunk project: `configure` adds to trunk's command
/// (another `index.html`, another target directory), as the bench does for the Yew floor.
pub(crate) fn release_site(
    tools: &Toolchain,
    out: &Path,
    public_url: &str,
    configure: impl FnOnce(&mut Command),
) -> Result<()> {
    let mut trunk = tools.command("trunk");
    trunk
        .args(["build", "--release", "--public-url", public_url, "--dist"])
        .arg(out)
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            build_paths_remapped(),
        );
    configure(&mut trunk);
    run(&mut trunk)?;
    externalize_loader(out)?;
    minify_glue(tools, out)
}

/// Panic locations keep their source paths in the wasm: without this, the build machine's
/// (`/home/you/.cargo/registry/src/index.crates.io-…/yew-0.23.0/src/…`, this checkout's)
/// would be shipped in every copy of the site, and weigh 0.3 KB gzip. Crate-relative paths
/// remain.
fn build_paths_remapped() -> String {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    let mut prefixes: Vec<PathBuf> = cargo_home
        .and_then(|home| fs::read_dir(home.join("registry/src")).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    prefixes.push(project_root());
    prefixes
        .iter()
        .map(|prefix| format!("--remap-path-prefix={}/=", prefix.display()))
        // The variable is split at spaces.
        .filter(|flag| !flag.contains(char::is_whitespace))
        .collect::<Vec<_>>()
        .join(" ")
}

/// wasm-bindgen's JS glue, which trunk copies as written (comments, long names), minified
/// by esbuild in place: same file name, and the `integrity` trunk wrote for it in
/// `index.html` recomputed, so that the browser still checks what it loads.
fn minify_glue(tools: &Toolchain, out: &Path) -> Result<()> {
    let index_path = out.join("index.html");
    let index =
        fs::read_to_string(&index_path).map_err(|e| format!("cannot read {index_path:?}: {e}"))?;
    let Some(tag) = index
        .split("<link rel=\"modulepreload\"")
        .nth(1)
        .and_then(|rest| rest.split_once('>'))
        .map(|(tag, _)| tag)
    else {
        return Ok(());
    };
    let attribute = |name: &str| {
        tag.split_once(&format!("{name}=\""))
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(value, _)| value.to_string())
            .ok_or_else(|| format!("index.html's modulepreload has no {name}"))
    };
    let (href, old_integrity) = (attribute("href")?, attribute("integrity")?);
    let file_name = href.rsplit('/').next().unwrap_or(&href);
    let glue = out.join(file_name);
    run(tools
        .command("esbuild")
        .arg(&glue)
        .args([
            "--minify",
            "--format=esm",
            "--log-level=warning",
            "--allow-overwrite",
        ])
        .arg(format!("--outfile={}", glue.display())))?;
    let digest = tools
        .command("node")
        .args([
            "-e",
            "const [file] = process.argv.slice(1);\
             process.stdout.write(require('crypto').createHash('sha384')\
               .update(require('fs').readFileSync(file)).digest('base64'))",
        ])
        .arg(&glue)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let digest = String::from_utf8(digest.stdout).map_err(|_| "node printed no hash")?;
    if digest.is_empty() {
        return Err("node printed no hash of the glue".into());
    }
    let index = index.replace(&old_integrity, &format!("sha384-{digest}"));
    fs::write(&index_path, index).map_err(|e| format!("cannot write {index_path:?}: {e}"))
}

fn externalize_loader(out: &Path) -> Result<()> {
    let index_path = out.join("index.html");
    let index =
        fs::read_to_string(&index_path).map_err(|e| format!("cannot read {index_path:?}: {e}"))?;
    const OPEN: &str = "<script type=\"module\">";
    let Some(start) = index.find(OPEN) else {
        return Ok(());
    };
    let end = index[start..]
        .find("</script>")
        .map(|i| start + i + "</script>".len())
        .ok_or("index.html has an unterminated inline script")?;
    let script = &index[start + OPEN.len()..end - "</script>".len()];
    let base = index
        .split_once("<base href=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(href, _)| href)
        .unwrap_or("/");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    script.hash(&mut hasher);
    let name = format!("loader-{:016x}.js", hasher.finish());
    fs::write(out.join(&name), script.trim()).map_err(|e| format!("cannot write {name}: {e}"))?;
    let tag = format!("<script type=\"module\" src=\"{base}{name}\"></script>");
    let index = format!("{}{tag}{}", &index[..start], &index[end..]);
    fs::write(&index_path, index).map_err(|e| format!("cannot write {index_path:?}: {e}"))
}

fn test() -> Result<()> {
    let tools = Toolchain::ensure(true)?;
    tools.ensure_axe_core()?;
    tools.ensure_interop_provider()?;
    tools::ensure_program("nginx", &["nginx"], "the deployment tests")?;
    tools::ensure_postgresql()?;
    let root = project_root();
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "-p",
        "appointments-spa",
        "--all-targets",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    // The end-to-end tests load the release build, as it would be deployed: at the root,
    // and under a sub-path behind nginx.
    let e2e_dist = root.join("target/e2e-dist");
    dist(&tools, &e2e_dist, "/")?;
    let e2e_subpath_dist = root.join("target/e2e-dist-subpath");
    dist(&tools, &e2e_subpath_dist, "/appointments-demo/")?;

    run(tools
        .command("cargo")
        .args(["test", "--workspace"])
        .env("SPA_DIST_DIR", &e2e_dist)
        .env("SPA_SUBPATH_DIST_DIR", &e2e_subpath_dist))?;

    // The sign-in, session, code-flow, cross-site, tabs and DPoP end-to-end tests again, in headless
    // Firefox ESR, with the check of the browser's pinned cookie settings (tests/support
    // reads E2E_BROWSER; everything else runs in Chromium only).
    run(tools
        .command("cargo")
        .args([
            "test",
            "-p",
            "appointments-spa",
            "--test",
            "e2e_browser",
            "--test",
            "e2e_sign_in",
            "--test",
            "e2e_session",
            "--test",
            "e2e_code_flow",
            "--test",
            "e2e_cross_site",
            "--test",
            "e2e_tabs",
            "--test",
            "e2e_dpop",
        ])
        .env("SPA_DIST_DIR", &e2e_dist)
        .env("E2E_BROWSER", "firefox"))?;

    // Component tests in headless Chromium (runner and browser flags: .cargo/config.toml
    // and webdriver.json). wasm-bindgen-test-runner prefers geckodriver when GECKODRIVER is
    // set, so it is not set here.
    run(tools
        .command("cargo")
        .args([
            "test",
            "-p",
            "appointments-spa",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .env_remove("GECKODRIVER"))?;
    println!("\nxtask: every check and test passed");
    Ok(())
}
