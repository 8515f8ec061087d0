//! `blaspar advise [DIR] --lang sh|rust|python`: the sweep's answer
//! (`DIR/recommendation.json`) as something to paste into a program: the library thread
//! settings of each library of the "as fast" set as shell variables, a Rust module (a thread
//! pool or worker processes, and the library's own thread call), or a Python module
//! (threadpoolctl limits with a thread or process pool, or joblib with
//! `inner_max_num_threads`).
//!
//! Each library of the configurations not surely slower gets its fastest one there: the "as
//! fast" set (`tie_set`: surely within the margin of the fastest) first, then the undecided
//! configurations, those the measurements cannot tell from the fastest ([`Answer::advised`]);
//! the header names both sets, and a library whose pick is undecided says so. The thread
//! settings come from the registry's `set-threads` phrase (`BLIS_NUM_THREADS={t} (or
//! bli_thread_set_num_threads({t}) in that thread)`): the variable is the leading
//! `NAME={t}`, the call the first `name({t})` ([`ThreadControl`]); a test holds every
//! registry entry to that form. The Rust output needs nothing but std (and the library it
//! names, at link time), so it can be type-checked on its own.

use crate::answer::{Answer, Choice, Recommendation, SCHEMA_VERSION, Standing};
use anyhow::Context;
use blaspar_core::Strategy;
use blaspar_core::kind::Kind;
use blaspar_core::registry::Engine;
use blaspar_core::strategy::{Placement, label};
use blaspar_core::workload::Generation;
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where sweeps go by default (`blaspar sweep` without `--out`).
pub const SWEEPS: &str = "target/blaspar-sweeps";

#[derive(Debug, Args, Clone)]
pub struct AdviseArgs {
    /// Sweep folder holding recommendation.json (default: the one written last under
    /// target/blaspar-sweeps).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// What to print: sh (the library thread variables), rust (a module), python (a module).
    #[arg(long, value_enum, default_value = "sh")]
    pub lang: Lang,
    /// The workload to advise on, TASKSxSIZE (default: the largest measured).
    #[arg(long, value_name = "TASKSxSIZE", value_parser = workload)]
    pub workload: Option<(usize, usize)>,
}

/// The language of the advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Sh,
    Rust,
    Python,
}

/// A bad request that reading the file revealed (exit status 2, like a bad command line).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(String);

/// The exit status of an advise that failed: 2 for a workload the file does not hold, 1
/// for anything else (no file, not readable, not a recommendation).
pub fn error_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<InputError>().is_some() {
        2
    } else {
        1
    }
}

pub(crate) fn workload(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{text}' is not TASKSxSIZE (e.g. 16x1000)");
    let (t, n) = text.split_once('x').ok_or_else(bad)?;
    match (t.parse(), n.parse()) {
        (Ok(t), Ok(n)) if t > 0 && n > 0 => Ok((t, n)),
        _ => Err(bad()),
    }
}

/// The advice for `args`, as text for stdout; which file it read goes to stderr.
pub fn advise(args: &AdviseArgs) -> anyhow::Result<String> {
    let path = match &args.dir {
        Some(dir) => dir.join("recommendation.json"),
        None => newest(Path::new(SWEEPS))?,
    };
    let rec = read(&path)?;
    let answer = pick(&rec, args.workload, &path)?;
    eprintln!("advise: from {}", path.display());
    let others: Vec<String> = rec
        .workloads
        .iter()
        .filter(|a| !std::ptr::eq(*a, answer))
        .map(|a| format!("{}x{}", a.tasks, a.size))
        .collect();
    let advice = Advice::of(answer, &path, &others);
    Ok(match args.lang {
        Lang::Sh => advice.sh(),
        Lang::Rust => advice.rust(),
        Lang::Python => advice.python(),
    })
}

/// The recommendation.json written last under `sweeps`.
pub(crate) fn newest(sweeps: &Path) -> anyhow::Result<PathBuf> {
    let none = || {
        anyhow::anyhow!(
            "no sweep under {} has a recommendation.json: run blaspar sweep first, or name its folder",
            sweeps.display()
        )
    };
    let entries = std::fs::read_dir(sweeps).map_err(|_| none())?;
    entries
        .filter_map(|e| {
            let path = e.ok()?.path().join("recommendation.json");
            let written = std::fs::metadata(&path).ok()?.modified().ok()?;
            Some((written, path))
        })
        .max()
        .map(|(_, path)| path)
        .ok_or_else(none)
}

/// Reads and checks a recommendation.json.
pub fn read(path: &Path) -> anyhow::Result<Recommendation> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {} (a sweep writes it: blaspar sweep --out DIR)",
            path.display()
        )
    })?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema_version")?.as_u64());
    if let Some(v) = version.filter(|&v| v > u64::from(SCHEMA_VERSION)) {
        anyhow::bail!(
            "{} is of a newer layout (schema_version {v}; this blaspar reads {SCHEMA_VERSION}): use a newer blaspar",
            path.display()
        );
    }
    let rec: Recommendation = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a sweep's recommendation (run the sweep again to rewrite it)",
            path.display()
        )
    })?;
    anyhow::ensure!(
        !rec.workloads.is_empty(),
        "{} holds no measured workload",
        path.display()
    );
    Ok(rec)
}

/// The workload asked for, or the largest.
pub(crate) fn pick<'a>(
    rec: &'a Recommendation,
    wanted: Option<(usize, usize)>,
    path: &Path,
) -> anyhow::Result<&'a Answer> {
    let largest = rec
        .workloads
        .iter()
        .max_by_key(|a| (a.size, a.tasks))
        .context("no workload")?;
    let Some((tasks, size)) = wanted else {
        return Ok(largest);
    };
    rec.workloads
        .iter()
        .find(|a| (a.tasks, a.size) == (tasks, size))
        .ok_or_else(|| {
            let have: Vec<String> = rec
                .workloads
                .iter()
                .map(|a| format!("{}x{}", a.tasks, a.size))
                .collect();
            InputError(format!(
                "no workload {tasks}x{size} in {} (it has: {})",
                path.display(),
                have.join(", ")
            ))
            .into()
        })
}

/// How a program sets a library's threads: the registry's `threads-env` and `threads-call`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadControl {
    /// The environment variable the library reads (`BLIS_NUM_THREADS`).
    pub env: Option<String>,
    /// The call that sets it (`bli_thread_set_num_threads`, `Par::rayon`).
    pub call: Option<String>,
}

impl ThreadControl {
    /// The control of `backend`; `None` when the library is single-threaded as built (or
    /// not in this version's registry).
    pub fn of(backend: &str) -> Option<ThreadControl> {
        let e = Engine::named(backend)?;
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let control = ThreadControl {
            env: some(e.threads_env),
            call: some(e.threads_call),
        };
        (control.env.is_some() || control.call.is_some()).then_some(control)
    }
}

/// The Rust declaration of a library's thread call, for the calls the registry names.
fn extern_decl(call: &str) -> Option<&'static str> {
    match call {
        "bli_thread_set_num_threads" => Some("fn bli_thread_set_num_threads(n_threads: i64);"),
        "openblas_set_num_threads" => {
            Some("fn openblas_set_num_threads(num_threads: std::ffi::c_int);")
        }
        "scipy_openblas_set_num_threads" => {
            Some("fn scipy_openblas_set_num_threads(num_threads: std::ffi::c_int);")
        }
        "mkl_set_num_threads_local" => {
            Some("fn mkl_set_num_threads_local(nt: std::ffi::c_int) -> std::ffi::c_int;")
        }
        _ => None,
    }
}

/// One library's pick: its fastest configuration in the advised set.
struct Pick<'a> {
    choice: &'a Choice,
    /// Its set: "as fast" or "undecided".
    standing: Standing,
    strategy: Option<Strategy>,
    control: Option<ThreadControl>,
}

/// What to say where a library has no thread control: single-threaded as built, or a
/// library of another version of blaspar.
fn nothing_to_set(backend: &str) -> &'static str {
    if Engine::named(backend).is_some() {
        "single-threaded as built: nothing to set"
    } else {
        "a library this version of blaspar does not know: nothing to set"
    }
}

impl Pick<'_> {
    /// The configuration's label, marked when the sweep could not tell it from the best.
    fn name(&self) -> String {
        let l = label(&self.choice.strategy, self.choice.generation);
        match self.standing {
            Standing::Undecided => format!("{l} (undecided against the best)"),
            _ => l,
        }
    }

    /// Workers P and BLAS threads T (None: the library's default; 1 for a library that is
    /// single-threaded as built, whatever was asked).
    fn counts(&self) -> (usize, Option<usize>) {
        let (workers, threads) = self
            .strategy
            .map_or((1, None), |s| (s.workers(), s.blas_threads().requested()));
        match (&self.control, threads) {
            (None, Some(_)) => (workers, Some(1)),
            _ => (workers, threads),
        }
    }

    /// The recipe sentence (the registry's phrase for the library's threads).
    fn recipe(&self) -> String {
        match &self.strategy {
            Some(s) => crate::report::how_to(&self.choice.backend, s, self.choice.generation),
            None => format!(
                "{} (not a strategy this version knows)",
                self.choice.strategy
            ),
        }
    }
}

/// What advise prints from: one workload's answer.
struct Advice<'a> {
    answer: &'a Answer,
    source: String,
    others: Vec<String>,
    picks: Vec<Pick<'a>>,
}

impl<'a> Advice<'a> {
    fn of(answer: &'a Answer, path: &Path, others: &[String]) -> Advice<'a> {
        let mut picks: Vec<Pick> = Vec::new();
        for (c, standing) in answer.advised() {
            if picks.iter().any(|p| p.choice.backend == c.backend) {
                continue;
            }
            picks.push(Pick {
                choice: c,
                standing,
                strategy: c.strategy.parse().ok(),
                control: ThreadControl::of(&c.backend),
            });
        }
        Advice {
            answer,
            source: path.display().to_string(),
            others: others.to_vec(),
            picks,
        }
    }

    /// The header lines (without comment markers): workload, source, advised set, kinds.
    fn header(&self) -> Vec<String> {
        let a = self.answer;
        let mut lines = vec![format!(
            "blaspar advise: {} tasks of {}x{}, from {}",
            a.tasks, a.size, a.size, self.source
        )];
        if !self.others.is_empty() {
            lines.push(format!(
                "(also measured: {}; choose with --workload)",
                self.others.join(", ")
            ));
        }
        let names = |set: &[Choice]| -> String {
            set.iter()
                .map(|c| format!("{} on {}", label(&c.strategy, c.generation), c.backend))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if a.tie_set.is_empty() {
            lines.push("Nothing is surely as fast as the fastest yet.".to_string());
        } else {
            lines.push(format!(
                "As fast as the fastest (every claim together: confidence {:.0}%): {}; the first is the best.",
                100.0 * a.confidence,
                names(&a.tie_set)
            ));
        }
        if !a.undecided.is_empty() {
            lines.push(format!(
                "Undecided (not told apart from the fastest by these runs), fastest first: {}.",
                names(&a.undecided)
            ));
        }
        for (kinds, which) in [(&a.kinds, "Kind"), (&a.undecided_kinds, "Kind (undecided)")] {
            for k in kinds {
                lines.push(format!(
                    "{which}: {}; libraries: {}",
                    k.description,
                    k.libraries.join(", ")
                ));
            }
        }
        if let Some(worst) = a.avoid.first() {
            lines.push(format!(
                "Avoid most: {} ({:.2}x slower at its fastest); see summary.md for the rest.",
                worst.name, worst.factor
            ));
        }
        lines
    }

    /// Shell: the library thread variables of each library of the advised set, chosen with
    /// BLASPAR_LIBRARY (default: the best's library).
    fn sh(&self) -> String {
        let mut t = String::new();
        for l in self.header() {
            let _ = writeln!(t, "# {l}");
        }
        let _ = writeln!(
            t,
            "#\n# Source this before starting your program (. ./blas-threads.sh). Set BLASPAR_LIBRARY\n\
             # to the library your program links (default: the best's). The variables set the\n\
             # library's threads per task; how many tasks run at once is your program's pool."
        );
        let best = &self.picks[0].choice.backend;
        let _ = writeln!(t, "case \"${{BLASPAR_LIBRARY:-{best}}}\" in");
        for p in &self.picks {
            let _ = writeln!(t, "  {})", sh_word(&p.choice.backend));
            for line in wrap(&format!("{}: {}", p.name(), p.recipe()), 84) {
                let _ = writeln!(t, "    # {line}");
            }
            let (_, threads) = p.counts();
            match (&p.control, threads) {
                (None, _) => {
                    let _ = writeln!(t, "    # {}", nothing_to_set(&p.choice.backend));
                }
                (Some(ThreadControl { env: Some(var), .. }), Some(n)) => {
                    let _ = writeln!(t, "    export {var}={n}");
                }
                (Some(ThreadControl { env: Some(var), .. }), None) => {
                    let _ = writeln!(t, "    unset {var}  # the library's own default");
                }
                (Some(ThreadControl { env: None, call }), _) => {
                    let _ = writeln!(
                        t,
                        "    # no variable: the program sets it ({}); see --lang rust",
                        call.as_deref().unwrap_or("the library's call")
                    );
                }
            }
            let _ = writeln!(t, "    ;;");
        }
        let names: Vec<&str> = self
            .picks
            .iter()
            .map(|p| p.choice.backend.as_str())
            .collect();
        let _ = writeln!(
            t,
            "  *)\n    echo \"blaspar advise: no advice for library '${{BLASPAR_LIBRARY}}' (the advised set has: {})\" >&2\n    ;;\nesac",
            names.join(" ")
        );
        t
    }

    /// Rust: std only. A dynamic thread pool shared by the thread strategies, then one module
    /// per library of the advised set with its thread call and the pool, the calling thread or
    /// the worker processes of its configuration.
    fn rust(&self) -> String {
        let mut t = String::new();
        for l in self.header() {
            let _ = writeln!(t, "//! {l}");
        }
        let _ = writeln!(
            t,
            "//!\n//! One module per library of the advised set; use the one of the library your program links:\n\
             //! `run(&tasks, multiply)` (threads, or one after another), `start_workers` (processes) or\n\
             //! `set_threads` (a batch). The others' extern blocks are never linked unless called.\n"
        );
        if self.picks.iter().any(|p| {
            p.strategy
                .is_some_and(|s| s.placement() == Placement::Threads)
        }) {
            t.push_str(RUST_POOL);
        }
        for p in &self.picks {
            self.rust_module(&mut t, p);
        }
        t
    }

    fn rust_module(&self, t: &mut String, p: &Pick) {
        let module = p.choice.backend.replace(['-', '.'], "_");
        let (workers, threads) = p.counts();
        let _ = writeln!(t);
        let doc = format!("{} on {}: {}.", p.name(), p.choice.backend, p.recipe());
        for line in wrap(&doc, 88) {
            let _ = writeln!(t, "/// {line}");
        }
        let _ = writeln!(t, "pub mod {module} {{");
        let call = p.control.as_ref().and_then(|c| c.call.clone());
        // Declared only where called: the library default sets nothing.
        let decl = call
            .as_deref()
            .and_then(extern_decl)
            .filter(|_| threads.is_some());
        if let Some(decl) = decl {
            let _ = writeln!(t, "    unsafe extern \"C\" {{\n        {decl}\n    }}\n");
        }
        // What each worker does before its first task: the library's own thread call.
        let setup = match (&call, decl, threads) {
            (Some(call), Some(_), Some(n)) => {
                format!("unsafe {{\n            {call}({n});\n        }}")
            }
            (Some(call), None, Some(n)) => {
                format!("// {call}({n}): this library takes its threads per call, not per thread")
            }
            (_, _, None) => "// the library's own default: nothing to set".to_string(),
            (None, _, Some(_)) => format!("// {}", nothing_to_set(&p.choice.backend)),
        };
        let _ = writeln!(
            t,
            "    /// Library threads per task ({}).\n    pub const BLAS_THREADS: Option<usize> = {};\n",
            threads.map_or("the library's default".to_string(), |n| n.to_string()),
            threads.map_or("None".to_string(), |n| format!("Some({n})"))
        );
        let _ = writeln!(
            t,
            "    /// Sets the library's threads in the calling thread (before its first task).\n    pub fn set_threads() {{\n        {setup}\n    }}\n"
        );
        let placement = p.strategy.map(|s| s.placement());
        match placement {
            Some(Placement::Threads) => {
                let _ = writeln!(
                    t,
                    "    /// {workers} threads take the tasks as they finish (the same as\n    \
                     /// rayon::ThreadPoolBuilder::new().num_threads({workers}) with `set_threads` in each).\n    \
                     pub fn run<T: Sync, R: Send>(tasks: &[T], multiply: impl Fn(&T) -> R + Sync) -> Vec<R> {{\n        \
                     super::pool({workers}, tasks, set_threads, multiply)\n    }}"
                );
            }
            Some(Placement::Processes) => {
                let env = p
                    .control
                    .as_ref()
                    .and_then(|c| c.env.clone())
                    .zip(threads)
                    .map_or(String::new(), |(var, n)| {
                        format!("\n                    .env(\"{var}\", \"{n}\")")
                    });
                let _ = writeln!(
                    t,
                    "    /// Environment variable that makes this executable a worker (its value: the index).\n    \
                     pub const WORKER: &str = \"BLASPAR_WORKER\";\n\n    \
                     /// Starts {workers} worker processes: this executable again with `WORKER` set. Each\n    \
                     /// calls `set_threads` before its first task, then takes tasks as they finish (from a\n    \
                     /// shared counter or a pipe) and hands its products back; fork+exec, never a bare fork\n    \
                     /// (a forked BLAS thread pool can deadlock).\n    \
                     pub fn start_workers() -> std::io::Result<Vec<std::process::Child>> {{\n        \
                     let exe = std::env::current_exe()?;\n        \
                     (0..{workers})\n            \
                     .map(|i| {{\n                \
                     std::process::Command::new(&exe)\n                    \
                     .env(WORKER, i.to_string()){env}\n                    \
                     .spawn()\n            \
                     }})\n            \
                     .collect()\n    \
                     }}\n\n    \
                     /// In a worker: its index when `WORKER` says this process is one.\n    \
                     pub fn worker_index() -> Option<usize> {{\n        \
                     std::env::var(WORKER).ok()?.parse().ok()\n    \
                     }}"
                );
            }
            Some(Placement::Batched) => {
                let _ = writeln!(
                    t,
                    "    // Generate every task first, then multiply them all in one cblas_dgemm_batch call\n    \
                     // (MKL, BLIS) after `set_threads`."
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "    // Not a strategy this version of blaspar knows: see the sweep's summary.md."
                );
            }
            Some(Placement::CallingThread) => {
                let _ = writeln!(
                    t,
                    "    /// The tasks one after another in the calling thread.\n    \
                     pub fn run<T, R>(tasks: &[T], multiply: impl Fn(&T) -> R) -> Vec<R> {{\n        \
                     set_threads();\n        \
                     tasks.iter().map(multiply).collect()\n    \
                     }}"
                );
            }
        }
        let _ = writeln!(t, "}}");
    }

    /// Python: one function per configuration of the advised set's picks, with the thread
    /// variables of every library set before NumPy loads its BLAS.
    fn python(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "\"\"\"{}", self.header().join("\n"));
        let _ = writeln!(
            t,
            "\nNumPy calls the BLAS library it was built with (numpy.show_config() names it); set\n\
             BLASPAR_LIBRARY to it before importing this module. `multiply` must be a module-level\n\
             function for the process pools (it is pickled).\n\"\"\"\n\nimport os\n"
        );
        let _ = writeln!(
            t,
            "# Library threads per task, as each library reads them when it loads (worker processes\n\
             # inherit them). Libraries NumPy cannot load (Rust ones) have nothing to set.\n\
             BLAS_THREADS_ENV = {{"
        );
        for p in &self.picks {
            let (_, threads) = p.counts();
            let vars = match (&p.control, threads) {
                (Some(ThreadControl { env: Some(var), .. }), Some(n)) => {
                    format!("{{\"{var}\": \"{n}\"}}")
                }
                _ => "{}".to_string(),
            };
            let _ = writeln!(t, "    \"{}\": {vars},", p.choice.backend);
        }
        let best = &self.picks[0];
        let _ = writeln!(
            t,
            "}}\nLIBRARY = os.environ.get(\"BLASPAR_LIBRARY\", \"{}\")\nos.environ.update(BLAS_THREADS_ENV.get(LIBRARY, {{}}))\n\n\
             from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor  # noqa: E402\n\n\
             from threadpoolctl import threadpool_limits  # noqa: E402\n\n\n\
             def _limit_blas(threads):\n    \
             \"\"\"In a worker process: the BLAS threads of every library loaded.\"\"\"\n    \
             threadpool_limits(limits=threads, user_api=\"blas\")",
            best.choice.backend
        );
        let mut done: Vec<String> = Vec::new();
        for p in &self.picks {
            let name = python_name(&p.choice.strategy, p.choice.generation);
            if done.contains(&name) {
                continue;
            }
            done.push(name.clone());
            let libraries: Vec<&str> = self
                .picks
                .iter()
                .filter(|q| q.name() == p.name())
                .map(|q| q.choice.backend.as_str())
                .collect();
            python_function(&mut t, p, &name, &libraries);
        }
        let _ = writeln!(
            t,
            "\n\n# The best configuration's way.\nrun = {}",
            python_name(&best.choice.strategy, best.choice.generation)
        );
        t
    }
}

/// A module-level Python function name for a configuration (`run_hybrid_procs_2x2`).
fn python_name(strategy: &str, generation: Generation) -> String {
    let mut name: String = label(strategy, generation)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    name.insert_str(0, "run_");
    name
}

/// One Python function for a pick's configuration (the fastest of the advised set on
/// `libraries`).
fn python_function(t: &mut String, p: &Pick, name: &str, libraries: &[&str]) {
    let (workers, threads) = p.counts();
    let limit = threads.map_or("None".to_string(), |n| n.to_string());
    let blas = match threads {
        Some(1) => "the BLAS library at 1 thread".to_string(),
        Some(n) => format!("the BLAS library at {n} threads"),
        None => "the BLAS library at its own default".to_string(),
    };
    let kind = p.strategy.as_ref().map(Kind::of);
    let how = match kind {
        Some(Kind::TaskThreads | Kind::HybridThreads) => {
            format!("{workers} tasks at once in a thread pool, {blas} in each")
        }
        Some(Kind::TaskProcesses | Kind::HybridProcesses) => {
            format!("{workers} worker processes taking tasks as they finish, {blas} in each")
        }
        Some(Kind::Batched) => format!("every task's data first, then the products with {blas}"),
        Some(Kind::Sequential | Kind::BlasThreads) => {
            format!("the tasks one after another, {blas}")
        }
        None => format!("{} (not a strategy this version knows)", p.choice.strategy),
    };
    let _ = writeln!(t, "\n\ndef {name}(tasks, multiply):");
    let mut doc = format!(
        "{} (the fastest of the advised set on {}): {how}.",
        p.name(),
        libraries.join(", ")
    );
    let body = match kind {
        Some(Kind::TaskThreads) => format!(
            "    with threadpool_limits(limits={limit}, user_api=\"blas\"):\n        \
             with ThreadPoolExecutor(max_workers={workers}) as pool:\n            \
             return list(pool.map(multiply, tasks))"
        ),
        Some(Kind::TaskProcesses | Kind::HybridProcesses | Kind::HybridThreads) => {
            if kind == Some(Kind::HybridThreads) {
                doc.push_str(
                    " From Python, BLAS threads cannot differ per thread (threadpoolctl's limits \
                     are process-wide): the same P x T with worker processes.",
                );
            }
            format!(
                "    with ProcessPoolExecutor(\n        \
                 max_workers={workers}, initializer=_limit_blas, initargs=({limit},)\n    \
                 ) as pool:\n        \
                 return list(pool.map(multiply, tasks))\n\n\n\
                 def {name}_joblib(tasks, multiply):\n    \
                 \"\"\"The same with joblib's loky processes.\"\"\"\n    \
                 from joblib import Parallel, delayed, parallel_config\n\n    \
                 with parallel_config(backend=\"loky\", inner_max_num_threads={limit}):\n        \
                 return Parallel(n_jobs={workers})(delayed(multiply)(t) for t in tasks)"
            )
        }
        Some(Kind::Batched) => {
            doc.push_str(
                " NumPy has no batched dgemm call: numpy.matmul on stacked (N, n, n) arrays is the \
                 closest, under the same limit.",
            );
            format!(
                "    with threadpool_limits(limits={limit}, user_api=\"blas\"):\n        \
                 return [multiply(t) for t in tasks]"
            )
        }
        Some(Kind::Sequential | Kind::BlasThreads) | None => match threads {
            Some(n) => format!(
                "    with threadpool_limits(limits={n}, user_api=\"blas\"):\n        \
                 return [multiply(t) for t in tasks]"
            ),
            None => "    return [multiply(t) for t in tasks]".to_string(),
        },
    };
    let _ = writeln!(t, "    \"\"\"{}\"\"\"", wrap(&doc, 84).join("\n    "));
    let _ = writeln!(t, "{body}");
}

/// A library name as a shell case pattern (names are `[a-z0-9-]`; anything else quoted).
fn sh_word(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

/// Words of `text` in lines of at most `width` characters (a longer word on its own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The std-only dynamic pool the thread strategies share.
const RUST_POOL: &str = r#"use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `multiply` on every task with `workers` threads that take the next task as they
/// finish one (uneven tasks balance); `setup` runs once in each thread first.
pub fn pool<T: Sync, R: Send>(
    workers: usize,
    tasks: &[T],
    setup: impl Fn() + Sync,
    multiply: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(tasks.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                setup();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let r = multiply(task);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use blaspar_core::registry::ENGINES;

    #[test]
    fn every_registry_phrase_gives_a_variable_or_a_call() {
        for e in ENGINES {
            match ThreadControl::of(e.name) {
                None => assert!(e.set_threads.is_empty(), "{}", e.name),
                Some(c) => {
                    assert!(!e.set_threads.is_empty(), "{}", e.name);
                    if let Some(call) = &c.call
                        && !call.contains("::")
                    {
                        assert!(
                            extern_decl(call).is_some(),
                            "{}: no declaration for {call}",
                            e.name
                        );
                    }
                }
            }
        }
        let blis = ThreadControl::of("blis").unwrap();
        assert_eq!(blis.env.as_deref(), Some("BLIS_NUM_THREADS"));
        assert_eq!(blis.call.as_deref(), Some("bli_thread_set_num_threads"));
        let omp = ThreadControl::of("openblas-openmp").unwrap();
        assert_eq!(omp.env.as_deref(), Some("OMP_NUM_THREADS"));
        let faer = ThreadControl::of("faer").unwrap();
        assert_eq!((faer.env, faer.call.as_deref()), (None, Some("Par::rayon")));
        assert_eq!(ThreadControl::of("mkl-seq"), None);
        assert_eq!(ThreadControl::of("no-such-library"), None);
    }

    #[test]
    fn workloads_and_names() {
        assert_eq!(workload("16x1000"), Ok((16, 1000)));
        assert!(workload("16").is_err() && workload("0x5").is_err() && workload("ax5").is_err());
        assert_eq!(
            python_name("hybrid-procs-2x2", Generation::Parallel),
            "run_hybrid_procs_2x2_pgen"
        );
        assert_eq!(sh_word("mkl-iomp"), "mkl-iomp");
        assert_eq!(sh_word("a b"), "'a b'");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
    }
}
