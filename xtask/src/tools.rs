//! Finds, and where missing installs, the tools the build and the tests need.
//!
//! Trunk is run offline (`Trunk.toml`), so it never downloads a tool itself: every tool it
//! uses must be found here, on the `PATH` this module builds.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{project_root, run, Result};

/// trunk 0.22 needs a newer rustc than the 1.95 these machines have.
const TRUNK_VERSION: &str = "0.21.14";
/// Debian's binaryen is too old for current rustc output; npm's package works.
const BINARYEN_VERSION: &str = "132";
/// Minifies wasm-bindgen's JS glue, which trunk leaves as written (the same version the
/// bench's React reference is bundled with).
const ESBUILD_VERSION: &str = "0.28.2";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Firefox ESR, which the sign-in and session end-to-end tests also run in.
const FIREFOX: &str = "/usr/bin/firefox-esr";
/// Built from crates.io: npm's `geckodriver` package downloads Mozilla's release at install
/// time, which a closed network refuses.
const GECKODRIVER_VERSION: &str = "0.37.1";
const AXE_CORE_VERSION: &str = "4";
const AXE_CORE_FILE: &str = ".tools/node_modules/axe-core/axe.min.js";
/// node-oidc-provider for the interoperability test, pinned by its package-lock.json.
const INTEROP_DIR: &str = "tests/interop";

pub struct Toolchain {
    path: OsString,
    chromedriver: Option<PathBuf>,
    /// geckodriver, found on `path` (`~/.cargo/bin`), once the browsers are ensured.
    geckodriver: Option<PathBuf>,
}

impl Toolchain {
    pub fn ensure(with_browser: bool) -> Result<Self> {
        let root = project_root();
        let cargo_bin = cargo_home().join("bin");
        let npm_bin = root.join(".tools/node_modules/.bin");
        let mut paths = vec![npm_bin.clone(), cargo_bin];
        for path in env::split_paths(&env::var_os("PATH").unwrap_or_default()) {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        let path = env::join_paths(paths).map_err(|e| format!("bad PATH: {e}"))?;
        let tools = Toolchain {
            path,
            chromedriver: None,
            geckodriver: None,
        };

        tools.ensure_wasm_target()?;
        // Everything the offline builds need, for every target, fetched once.
        run(tools.command("cargo").arg("fetch"))?;
        tools.ensure_trunk()?;
        tools.ensure_wasm_bindgen()?;
        tools.ensure_wasm_opt(&npm_bin)?;
        tools.ensure_esbuild(&npm_bin)?;
        if with_browser {
            let chromedriver = ensure_chromium()?;
            ensure_firefox()?;
            let geckodriver = tools.ensure_geckodriver()?;
            return Ok(Toolchain {
                chromedriver: Some(chromedriver),
                geckodriver: Some(geckodriver),
                ..tools
            });
        }
        Ok(tools)
    }

    /// A command that sees the installed tools first on its `PATH`.
    pub fn command(&self, program: &str) -> Command {
        let program = match program {
            "cargo" => env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            other => other.to_string(),
        };
        let mut command = Command::new(program);
        command.env("PATH", &self.path);
        if let Some(chromedriver) = &self.chromedriver {
            command.env("CHROMEDRIVER", chromedriver);
        }
        if let Some(geckodriver) = &self.geckodriver {
            command.env("GECKODRIVER", geckodriver);
        }
        command
    }

    /// The first line a tool prints for `--version`, if it runs at all.
    fn version_of(&self, program: &str) -> Option<String> {
        let output = self
            .command(program)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines().next().map(|line| line.trim().to_string())
    }

    fn ensure_wasm_target(&self) -> Result<()> {
        let installed = self
            .command("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map_err(|e| format!("rustup is needed to add the wasm32 target: {e}"))?;
        if String::from_utf8_lossy(&installed.stdout)
            .lines()
            .any(|t| t.trim() == "wasm32-unknown-unknown")
        {
            return Ok(());
        }
        run(self
            .command("rustup")
            .args(["target", "add", "wasm32-unknown-unknown"]))
    }

    fn ensure_trunk(&self) -> Result<()> {
        let wanted = format!("trunk {TRUNK_VERSION}");
        if self.version_of("trunk").as_deref() == Some(wanted.as_str()) {
            return Ok(());
        }
        println!("xtask: installing {wanted} (a few minutes, once)");
        run(self.command("cargo").args([
            "install",
            "trunk",
            "--version",
            TRUNK_VERSION,
            "--locked",
            "--force",
        ]))
    }

    /// geckodriver into `~/.cargo/bin`, like trunk, unless that version is already there.
    fn ensure_geckodriver(&self) -> Result<PathBuf> {
        let installed = cargo_home().join("bin/geckodriver");
        let wanted = format!("geckodriver {GECKODRIVER_VERSION}");
        // It prints `geckodriver 0.37.1` and, when built from a git checkout, a commit.
        let has = self
            .version_of(&installed.to_string_lossy())
            .is_some_and(|v| v == wanted || v.starts_with(&format!("{wanted} ")));
        if !has {
            println!("xtask: installing {wanted} (about 4 minutes, once)");
            run(self.command("cargo").args([
                "install",
                "geckodriver",
                "--version",
                GECKODRIVER_VERSION,
                "--locked",
                "--force",
            ]))?;
        }
        Ok(installed)
    }

    /// wasm-bindgen's CLI must be exactly the version of the library in Cargo.lock.
    fn ensure_wasm_bindgen(&self) -> Result<()> {
        let version = locked_version("wasm-bindgen")?;
        // Each prints `<its name> <version>`.
        let has = |program: &str| self.version_of(program) == Some(format!("{program} {version}"));
        if has("wasm-bindgen") && has("wasm-bindgen-test-runner") {
            return Ok(());
        }
        println!("xtask: installing wasm-bindgen-cli {version} (a few minutes, once)");
        // Not --locked: its lock file pins a crate version the registry no longer has.
        run(self.command("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &version,
            "--force",
        ]))
    }

    fn ensure_wasm_opt(&self, npm_bin: &Path) -> Result<()> {
        let wasm_opt = npm_bin.join("wasm-opt");
        let has = self
            .version_of(&wasm_opt.to_string_lossy())
            .is_some_and(|v| v.contains(&format!("version {BINARYEN_VERSION}")));
        if has {
            return Ok(());
        }
        self.npm_install(&format!("binaryen@{BINARYEN_VERSION}"))
    }

    fn ensure_esbuild(&self, npm_bin: &Path) -> Result<()> {
        let has = self
            .version_of(&npm_bin.join("esbuild").to_string_lossy())
            .is_some_and(|v| v.trim() == ESBUILD_VERSION);
        if has {
            return Ok(());
        }
        self.npm_install(&format!("esbuild@{ESBUILD_VERSION}"))
    }

    /// axe-core, which the end-to-end tests inject into every screen.
    pub fn ensure_axe_core(&self) -> Result<()> {
        if project_root().join(AXE_CORE_FILE).exists() {
            return Ok(());
        }
        self.npm_install(&format!("axe-core@{AXE_CORE_VERSION}"))
    }

    /// node-oidc-provider and its dependencies for `tests/e2e_interop.rs`, exactly as
    /// `tests/interop/package-lock.json` pins them (`npm ci`). Skipped while the lock file is
    /// the one the installed `node_modules` was made from.
    pub fn ensure_interop_provider(&self) -> Result<()> {
        let dir = project_root().join(INTEROP_DIR);
        let lock_path = dir.join("package-lock.json");
        let lock = fs::read(&lock_path)
            .map_err(|e| format!("cannot read {}: {e}", lock_path.display()))?;
        let stamp = dir.join("node_modules/.installed-from-package-lock.json");
        let installed = dir.join("node_modules/oidc-provider/package.json").exists()
            && fs::read(&stamp).is_ok_and(|s| s == lock);
        if installed {
            return Ok(());
        }
        println!("xtask: installing {INTEROP_DIR}'s npm packages (npm ci)");
        // `run` starts every command in the project root: the folder goes in `--prefix`.
        run(self
            .command("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir))?;
        fs::write(&stamp, &lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
    }

    /// Installs an npm package into `.tools/`, out of the way of the repository.
    fn npm_install(&self, package: &str) -> Result<()> {
        println!("xtask: installing {package} from npm into .tools/");
        let prefix = project_root().join(".tools");
        fs::create_dir_all(&prefix).map_err(|e| format!("cannot create {prefix:?}: {e}"))?;
        run(self
            .command("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(package))
    }
}

fn cargo_home() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// The version of `package` recorded in Cargo.lock.
fn locked_version(package: &str) -> Result<String> {
    let lock_path = project_root().join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path)
        .map_err(|e| format!("cannot read {}: {e}", lock_path.display()))?;
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name_line {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

/// Debian's Chromium and its driver, installed with apt when missing and running as root.
fn ensure_chromium() -> Result<PathBuf> {
    let chromedriver = env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMEDRIVER));
    if !(chromedriver.exists() && Path::new("/usr/bin/chromium").exists()) {
        apt_install(&["chromium", "chromium-driver"], "the browser tests")?;
    }
    Ok(chromedriver)
}

/// Debian's Firefox ESR, installed with apt when missing and running as root.
fn ensure_firefox() -> Result<()> {
    if Path::new(FIREFOX).exists() {
        return Ok(());
    }
    apt_install(&["firefox-esr"], "the Firefox end-to-end tests")
}

/// PostgreSQL's programs (`initdb`, `postgres`, `pg_isready`, `psql`) for the API's
/// PostgreSQL tests, which start a server of their own in a temporary folder: Debian's
/// `postgresql`, installed with apt when missing and running as root. `PG_BIN` names another
/// folder of those programs. (Debian's package also makes its own `main` cluster, on port
/// 5432; the tests never use it.)
pub fn ensure_postgresql() -> Result<()> {
    if let Some(dir) = env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(())
        } else {
            Err(format!("PG_BIN is {}, which has no initdb", dir.display()))
        };
    }
    let installed = fs::read_dir("/usr/lib/postgresql")
        .map(|versions| {
            versions
                .filter_map(|v| v.ok())
                .any(|v| v.path().join("bin/initdb").is_file())
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    apt_install(&["postgresql"], "the API's PostgreSQL tests")
}

/// Makes sure `program` is on the machine, installing Debian `packages` with apt when it is
/// missing and this runs as root; otherwise says what to install.
pub fn ensure_program(program: &str, packages: &[&str], needed_by: &str) -> Result<()> {
    let found = Command::new("sh")
        .args([
            "-c",
            &format!("command -v {program} || test -x /usr/sbin/{program}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    apt_install(packages, needed_by)
}

fn apt_install(packages: &[&str], needed_by: &str) -> Result<()> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let list = packages.join(" ");
    if !is_root {
        return Err(format!(
            "{needed_by} need {list}: install with\n\n    sudo apt-get install {list}\n\nthen run again"
        ));
    }
    println!("xtask: installing {list} with apt-get");
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        run(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    Ok(())
}
