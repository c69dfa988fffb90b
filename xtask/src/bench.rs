//! `cargo xtask bench`: the numbers behind the README's performance section.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::tools::{self, Toolchain};
use crate::{dist, project_root, Result};

/// The files a first visit downloads, in the order the browser asks for them.
const FIRST_LOAD: [&str; 6] = [
    "index.html",
    "loader-",
    ".js",
    "_bg.wasm",
    ".css",
    "config.json",
];

pub fn run() -> Result<()> {
    let tools = Toolchain::ensure(true)?;
    tools::ensure_program("wrk", &["wrk"], "the API load test")?;
    tools::ensure_program("nginx", &["nginx"], "the API load test behind nginx")?;
    tools::ensure_postgresql()?;
    tools::ensure_program("brotli", &["brotli"], "the size table")?;
    let out = project_root().join("target/bench");
    let site = out.join("dist");
    let _ = fs::remove_dir_all(&site);
    dist(&tools, &site, "/")?;

    println!("\nFirst load (bytes)");
    let first_load = size_table(&first_load_sizes(&site)?);

    // The same pipeline on the smallest Yew app with a router: the floor under any app.
    let floor_site = out.join("yew-floor-dist");
    let _ = fs::remove_dir_all(&floor_site);
    crate::release_site(&tools, &floor_site, "/", |trunk| {
        trunk
            .arg(project_root().join("benches/yew-floor/index.html"))
            .env("CARGO_TARGET_DIR", out.join("yew-floor-target"));
    })?;
    println!("\nThe same for benches/yew-floor: yew + yew-router, one routed page, nothing else");
    let floor = size_table(&first_load_sizes(&floor_site)?);

    println!("\nbenches/react-reference: app.jsx does the same job in React with Auth0's SPA SDK;");
    println!("floor.jsx is React and React Router with one page (each a minified bundle)");
    let react = match react_reference(&out) {
        Ok(rows) => {
            let tables: Vec<String> = rows
                .into_iter()
                .map(|row| {
                    let name = row.0.trim_end_matches(".js").to_string();
                    format!(r#""{name}":{}"#, size_table(&[row]))
                })
                .collect();
            format!("{{{}}}", tables.join(","))
        }
        Err(why) => {
            // A comparison, not a measurement of this app: the bench goes on without it.
            println!("skipped: {why}");
            "null".to_string()
        }
    };

    let runtime_report = out.join("runtime.json");
    let log = fs::File::create(out.join("bench-servers.log"))
        .map_err(|e| format!("cannot create the log: {e}"))?;
    println!(
        "\nLoad timings ({} fresh loads each) and the API under load, on SQLite and on \
         PostgreSQL (one instance, two behind nginx): about five minutes",
        20
    );
    crate::run(
        tools
            .command("cargo")
            .args(["bench", "-p", "appointments-spa", "--bench", "performance"])
            .env("SPA_DIST_DIR", &site)
            .env("BENCH_REPORT", &runtime_report)
            .stdout(Stdio::from(log)),
    )?;
    let runtime =
        fs::read_to_string(&runtime_report).map_err(|e| format!("no runtime report: {e}"))?;
    println!("{runtime}");

    let report = format!(
        r#"{{"first_load":{first_load},"yew_floor":{floor},"react_reference":{react},"runtime":{}}}"#,
        runtime.trim()
    );
    let report_path = out.join("report.json");
    fs::write(&report_path, report).map_err(|e| format!("cannot write {report_path:?}: {e}"))?;
    println!("\nxtask: the report is in {}", report_path.display());
    Ok(())
}

/// Installs the pinned npm packages of `benches/react-reference` in a copy under `out` and
/// bundles both of its apps as a production build would.
fn react_reference(out: &Path) -> Result<Vec<(String, u64, u64, u64)>> {
    let source = project_root().join("benches/react-reference");
    let dir = out.join("react-reference");
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    for file in ["package.json", "package-lock.json", "app.jsx", "floor.jsx"] {
        fs::copy(source.join(file), dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    crate::run(
        Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--prefix",
            ])
            .arg(&dir)
            .stdout(Stdio::null()),
    )?;
    let mut rows = Vec::new();
    for app in ["app", "floor"] {
        let bundle = dir.join(format!("{app}.js"));
        crate::run(
            Command::new(dir.join("node_modules/.bin/esbuild"))
                .arg(dir.join(format!("{app}.jsx")))
                .args(["--bundle", "--minify", "--format=esm", "--jsx=automatic"])
                .arg("--define:process.env.NODE_ENV=\"production\"")
                .arg(format!("--outfile={}", bundle.display())),
        )?;
        let raw = fs::metadata(&bundle)
            .map_err(|e| format!("{bundle:?}: {e}"))?
            .len();
        let gzip = compressed_size("gzip", &["-9", "-c"], &bundle)?;
        let brotli = compressed_size("brotli", &["-q", "11", "-c"], &bundle)?;
        rows.push((format!("{app}.js"), raw, gzip, brotli));
    }
    Ok(rows)
}

/// Prints the rows and their totals; returns them as JSON.
fn size_table(sizes: &[(String, u64, u64, u64)]) -> String {
    println!(
        "{:<48} {:>9} {:>9} {:>9}",
        "file", "raw", "gzip -9", "brotli 11"
    );
    let mut totals = [0u64; 3];
    let mut json_rows = Vec::new();
    for (name, raw, gzip, brotli) in sizes {
        println!("{name:<48} {raw:>9} {gzip:>9} {brotli:>9}");
        for (total, value) in totals.iter_mut().zip([raw, gzip, brotli]) {
            *total += value;
        }
        json_rows.push(format!(
            r#"{{"file":"{name}","raw":{raw},"gzip":{gzip},"brotli":{brotli}}}"#
        ));
    }
    println!(
        "{:<48} {:>9} {:>9} {:>9}",
        "total", totals[0], totals[1], totals[2]
    );
    format!(
        r#"{{"files":[{}],"total":{{"raw":{},"gzip":{},"brotli":{}}}}}"#,
        json_rows.join(","),
        totals[0],
        totals[1],
        totals[2]
    )
}

/// `(file, raw, gzip -9, brotli -q 11)` for each first-load file of the site.
fn first_load_sizes(site: &Path) -> Result<Vec<(String, u64, u64, u64)>> {
    let mut names: Vec<String> = fs::read_dir(site)
        .map_err(|e| format!("cannot read {site:?}: {e}"))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut rows = Vec::new();
    for pattern in FIRST_LOAD {
        let Some(name) = names.iter().find(|n| {
            let picked = rows.iter().any(|(r, ..): &(String, u64, u64, u64)| r == *n);
            !picked && matches(n, pattern)
        }) else {
            continue;
        };
        let path = site.join(name);
        let raw = fs::metadata(&path)
            .map_err(|e| format!("{name}: {e}"))?
            .len();
        let gzip = compressed_size("gzip", &["-9", "-c"], &path)?;
        let brotli = compressed_size("brotli", &["-q", "11", "-c"], &path)?;
        rows.push((name.clone(), raw, gzip, brotli));
    }
    Ok(rows)
}

fn matches(name: &str, pattern: &str) -> bool {
    match pattern {
        "loader-" => name.starts_with("loader-"),
        ".js" => name.ends_with(".js") && !name.starts_with("loader-"),
        ".css" | "_bg.wasm" => name.ends_with(pattern),
        exact => name == exact,
    }
}

fn compressed_size(program: &str, args: &[&str], path: &Path) -> Result<u64> {
    let output = Command::new(program)
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{program} failed on {}", path.display()));
    }
    Ok(output.stdout.len() as u64)
}
