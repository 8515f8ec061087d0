//! Reads the engine registry: every backend crate declares its engines in its own
//! `Cargo.toml` (`[[package.metadata.blaspar.engines]]`), and the workspace's `members`
//! list says which crates there are. This writes them, in members order, as the table
//! `blaspar_core::registry::ENGINES` (scripts/engines.py reads the same entries for the
//! build and test scripts).

use std::fmt::Write as _;
use std::path::Path;

fn read(path: &Path) -> toml::Table {
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()))
}

fn string(entry: &toml::Table, key: &str, manifest: &Path) -> String {
    match entry.get(key) {
        Some(toml::Value::String(s)) => s.clone(),
        None => String::new(),
        Some(other) => panic!(
            "{}: engine key `{key}` must be a string, got {other}",
            manifest.display()
        ),
    }
}

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let root = Path::new(&manifest_dir).join("../..");
    let workspace = read(&root.join("Cargo.toml"));
    let members = workspace
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .expect("the workspace Cargo.toml lists its members");
    let mut out = String::from("/// Every engine of every backend crate, in workspace order.\n");
    out.push_str("pub const ENGINES: &[Engine] = &[\n");
    let mut names = Vec::new();
    for member in members {
        let member = member.as_str().expect("members are paths");
        let manifest = root.join(member).join("Cargo.toml");
        let crate_toml = read(&manifest);
        let package = crate_toml
            .get("package")
            .and_then(|p| p.as_table())
            .expect("a member has a [package]");
        let Some(engines) = package
            .get("metadata")
            .and_then(|m| m.get("blaspar"))
            .and_then(|b| b.get("engines"))
            .and_then(|e| e.as_array())
        else {
            continue;
        };
        let package_name = package["name"].as_str().expect("package.name");
        for engine in engines {
            let engine = engine
                .as_table()
                .unwrap_or_else(|| panic!("{}: each engine is a table", manifest.display()));
            let name = string(engine, "name", &manifest);
            assert!(
                !name.is_empty() && !names.contains(&name),
                "{}: engine name '{name}' is empty or declared twice",
                manifest.display()
            );
            let features = match engine.get("features") {
                None => Vec::new(),
                Some(v) => v
                    .as_array()
                    .and_then(|a| a.iter().map(|f| f.as_str().map(String::from)).collect())
                    .unwrap_or_else(|| {
                        panic!("{}: `features` is a list of strings", manifest.display())
                    }),
            };
            let set_threads = string(engine, "set-threads", &manifest);
            let env = string(engine, "threads-env", &manifest);
            let call = string(engine, "threads-call", &manifest);
            // The phrase is for people, the variable and the call for programs: they must
            // say the same thing.
            assert!(
                env.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                    && (env.is_empty() || set_threads.contains(&format!("{env}={{t}}")))
                    && (call.is_empty() || set_threads.contains(&format!("{call}({{t}})")))
                    && (set_threads.is_empty() == (env.is_empty() && call.is_empty())),
                "{}: engine '{name}': threads-env '{env}' and threads-call '{call}' must be what \
                 set-threads '{set_threads}' names (NAME={{t}}, call({{t}})), all or none",
                manifest.display()
            );
            let _ = writeln!(
                out,
                "    Engine {{ name: {:?}, package: {:?}, features: {:?}, library: {:?}, \
                 set_threads: {:?}, threads_env: {:?}, threads_call: {:?} }},",
                name,
                package_name,
                features.join(","),
                string(engine, "library", &manifest),
                set_threads,
                env,
                call,
            );
            names.push(name);
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets it")).join("engines.rs");
    std::fs::write(&dest, out).expect("write the registry table");
}
