//! The BLAS-free front end. It validates the command line (bad input fails here, fast,
//! before anything is allocated) and hands a run to the chosen backend's engine binary,
//! `blaspar-engine-<backend>`, found next to this executable or in `$BLASPAR_ENGINE_DIR`.

use blaspar_runner::cli::{Command, parse_or_exit};
use blaspar_runner::{BACKENDS, engine_path};
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

fn not_built(backend: &str, path: &std::path::Path) -> String {
    format!(
        "the {backend} engine is not built (looked for {}): run scripts/build.sh",
        path.display()
    )
}

fn main() -> ExitCode {
    let cli = parse_or_exit();
    match cli.command {
        Command::Run(args) => {
            if let Err(e) = args.validate() {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
            let path = engine_path(&args.backend);
            if !path.exists() {
                eprintln!("error: {}", not_built(&args.backend, &path));
                return ExitCode::from(1);
            }
            // Same arguments, same process: signals and the exit status pass straight through.
            let err = std::process::Command::new(&path)
                .args(std::env::args_os().skip(1))
                .exec();
            eprintln!("error: cannot start {}: {err}", path.display());
            ExitCode::from(1)
        }
        Command::Backends => {
            let mut code = ExitCode::SUCCESS;
            for backend in BACKENDS {
                let path = engine_path(backend);
                if !path.exists() {
                    println!("{backend:<15} {}", not_built(backend, &path));
                    continue;
                }
                match std::process::Command::new(&path).arg("backends").status() {
                    Ok(s) if s.success() => {}
                    Ok(s) => {
                        eprintln!("error: {} backends failed ({s})", path.display());
                        code = ExitCode::from(1);
                    }
                    Err(e) => {
                        eprintln!("error: cannot start {}: {e}", path.display());
                        code = ExitCode::from(1);
                    }
                }
            }
            code
        }
        Command::Machine => {
            let m = blaspar_core::machine::Machine::detect();
            println!("{}", serde_json::to_string_pretty(&m).expect("json"));
            ExitCode::SUCCESS
        }
        Command::Sweep(args) => match blaspar_runner::sweep::main(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Compare(args) => match blaspar_runner::compare::main(&args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(blaspar_runner::compare::error_code(&e))
            }
        },
        Command::History(args) => match blaspar_runner::history::main(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Peak(args) => match args.run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}
