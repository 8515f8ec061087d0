//! The machine's topology as the kernel describes it, and where a run's workers go.
//!
//! [`Topology::read`] takes, for every CPU this process may use, its package and core
//! (`/sys/devices/system/cpu/cpuN/topology/physical_package_id` and `core_id`), its SMT
//! siblings (the allowed CPUs of the same package and core), and the caches
//! (`cpuN/cache/index*/`: level, type, size, the CPUs sharing it). Nothing is guessed: a
//! missing file is said in [`Topology::notes`], and a CPU without topology counts as its
//! own core in its own package.
//!
//! [`plan`] is the placement of `--pin`: for P workers of T BLAS threads, the CPUs each
//! worker (and the threads it starts) may run on. A pure function of the topology, so it
//! is tested on made-up machines.

use crate::machine::parse_cpu_list;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The kernel's CPU folder.
pub const SYSFS_CPU: &str = "/sys/devices/system/cpu";

/// How a run places its workers (`run --pin`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// No affinity is set: the kernel places every thread.
    #[default]
    None,
    /// Packed: worker i gets the next T physical cores (one logical CPU of each; SMT
    /// siblings only once every core has a worker thread).
    Cores,
    /// Workers spread over packages, and over each package's cores with gaps between them;
    /// a worker's T CPUs stay together.
    Spread,
}

impl PinMode {
    pub const NAMES: &'static str = "none, cores, spread";
}

impl std::fmt::Display for PinMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PinMode::None => "none",
            PinMode::Cores => "cores",
            PinMode::Spread => "spread",
        })
    }
}

impl std::str::FromStr for PinMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "none" => Ok(PinMode::None),
            "cores" => Ok(PinMode::Cores),
            "spread" => Ok(PinMode::Spread),
            other => Err(format!(
                "unknown placement '{other}' (expected one of: {})",
                PinMode::NAMES
            )),
        }
    }
}

/// One logical CPU this process may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// Logical CPU id (as in the affinity mask).
    pub cpu: usize,
    /// `physical_package_id` (socket); `null` when sysfs does not say.
    pub package: Option<usize>,
    /// `core_id`, unique within its package only; `null` when sysfs does not say (the CPU
    /// then counts as a core of its own).
    pub core: Option<usize>,
    /// Allowed CPUs on the same physical core, this one included (SMT siblings), ascending.
    pub siblings: Vec<usize>,
}

/// One cache, as the CPUs that share it see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// 1, 2, 3, ...
    pub level: u32,
    /// `Data`, `Instruction` or `Unified`.
    pub kind: String,
    /// Size in bytes.
    pub bytes: u64,
    /// CPUs sharing it (`shared_cpu_list`), ascending.
    pub shared_by: Vec<usize>,
}

/// The allowed CPUs with their cores and packages, and their caches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Allowed CPUs, ascending.
    pub cpus: Vec<Cpu>,
    /// Distinct caches of the allowed CPUs, by level and type.
    pub caches: Vec<Cache>,
    /// What could not be read and what was assumed instead (empty: all read).
    pub notes: Vec<String>,
}

impl Topology {
    /// The topology of `allowed` CPUs from the sysfs CPU folder `root` (normally
    /// [`SYSFS_CPU`]).
    pub fn read(root: &Path, allowed: &[usize]) -> Topology {
        let mut allowed = allowed.to_vec();
        allowed.sort_unstable();
        allowed.dedup();
        let mut notes = Vec::new();
        let read = |cpu: usize, file: &str| {
            std::fs::read_to_string(root.join(format!("cpu{cpu}/{file}")))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let mut placed = Vec::new();
        let mut missing = Vec::new();
        for &cpu in &allowed {
            let number = |file: &str| read(cpu, file)?.parse::<usize>().ok();
            match (
                number("topology/physical_package_id"),
                number("topology/core_id"),
            ) {
                (Some(package), Some(core)) => placed.push((cpu, Some(package), Some(core))),
                _ => {
                    missing.push(cpu);
                    placed.push((cpu, None, None));
                }
            }
        }
        if !missing.is_empty() {
            notes.push(format!(
                "no topology in {} for CPU(s) {}: each counted as its own core",
                root.display(),
                cpu_list(&missing)
            ));
        }
        let cpus = placed
            .iter()
            .map(|&(cpu, package, core)| Cpu {
                cpu,
                package,
                core,
                siblings: placed
                    .iter()
                    .filter(|&&(other, p, c)| match core {
                        Some(_) => (p, c) == (package, core),
                        None => other == cpu,
                    })
                    .map(|&(c, _, _)| c)
                    .collect(),
            })
            .collect();
        let mut caches: Vec<Cache> = Vec::new();
        let mut without_caches = Vec::new();
        for &cpu in &allowed {
            let mut found = false;
            for index in 0.. {
                let field = |f: &str| read(cpu, &format!("cache/index{index}/{f}"));
                let Some(level) = field("level").and_then(|l| l.parse().ok()) else {
                    break;
                };
                found = true;
                let cache = Cache {
                    level,
                    kind: field("type").unwrap_or_else(|| "Unknown".to_string()),
                    bytes: field("size").and_then(|s| parse_size(&s)).unwrap_or(0),
                    shared_by: field("shared_cpu_list")
                        .and_then(|s| parse_cpu_list(&s))
                        .unwrap_or_else(|| vec![cpu]),
                };
                if !caches.contains(&cache) {
                    caches.push(cache);
                }
            }
            if !found {
                without_caches.push(cpu);
            }
        }
        if !without_caches.is_empty() {
            notes.push(format!(
                "no caches in {} for CPU(s) {}",
                root.display(),
                cpu_list(&without_caches)
            ));
        }
        caches.sort_by(|a, b| {
            (a.level, &a.kind, &a.shared_by).cmp(&(b.level, &b.kind, &b.shared_by))
        });
        Topology {
            cpus,
            caches,
            notes,
        }
    }

    /// The physical cores, each as its allowed CPUs (ascending), by package, then by the
    /// lowest CPU id.
    pub fn cores(&self) -> Vec<Vec<usize>> {
        let mut by_core: BTreeMap<(Option<usize>, usize, Option<usize>), Vec<usize>> =
            BTreeMap::new();
        for c in &self.cpus {
            // A CPU without topology is a core of its own.
            let own = c.core.is_none().then_some(c.cpu);
            by_core
                .entry((c.package, c.core.unwrap_or(0), own))
                .or_default()
                .push(c.cpu);
        }
        let mut cores: Vec<(Option<usize>, Vec<usize>)> = by_core
            .into_iter()
            .map(|((package, _, _), cpus)| (package, cpus))
            .collect();
        cores.sort_by_key(|(package, cpus)| (*package, cpus[0]));
        cores.into_iter().map(|(_, cpus)| cpus).collect()
    }

    /// Packages, each as its cores ([`Topology::cores`] order).
    fn packages(&self) -> Vec<Vec<Vec<usize>>> {
        let package_of = |cpu: usize| {
            self.cpus
                .iter()
                .find(|c| c.cpu == cpu)
                .and_then(|c| c.package)
        };
        let mut out: Vec<(Option<usize>, Vec<Vec<usize>>)> = Vec::new();
        for core in self.cores() {
            let p = package_of(core[0]);
            match out.last_mut() {
                Some((last, cores)) if *last == p => cores.push(core),
                _ => out.push((p, vec![core])),
            }
        }
        out.into_iter().map(|(_, cores)| cores).collect()
    }

    /// One line: packages, cores, CPUs, SMT, caches (and what could not be read).
    pub fn summary(&self) -> String {
        let packages = self.packages().len();
        let cores = self.cores();
        let smt = cores.iter().map(Vec::len).max().unwrap_or(1);
        let caches: Vec<String> = self
            .caches
            .iter()
            .fold(BTreeMap::<(u32, &str), (u64, usize)>::new(), |mut m, c| {
                let e = m.entry((c.level, c.kind.as_str())).or_insert((c.bytes, 0));
                e.1 += 1;
                m
            })
            .into_iter()
            .map(|((level, kind), (bytes, count))| {
                let kind = match kind {
                    "Data" => "d",
                    "Instruction" => "i",
                    _ => "",
                };
                format!("L{level}{kind} {} x{count}", human_bytes(bytes))
            })
            .collect();
        let mut line = format!(
            "{packages} package(s), {} core(s), {} CPU(s) allowed, {}",
            cores.len(),
            self.cpus.len(),
            if smt > 1 {
                format!("{smt}-way SMT")
            } else {
                "no SMT".to_string()
            }
        );
        if !caches.is_empty() {
            line.push_str(&format!("; caches {}", caches.join(", ")));
        }
        for note in &self.notes {
            line.push_str(&format!("; {note}"));
        }
        line
    }
}

/// The CPUs each of `workers` workers of `threads` BLAS threads may run on (`mode` none:
/// no set at all, an empty list). With more worker threads than CPUs the slots wrap
/// around: workers then share CPUs (oversubscription is a strategy's choice, not an error).
///
/// - `cores`: the slots are the first CPU of every core in order, then every core's
///   second SMT sibling, and so on; worker i takes slots `i T .. (i + 1) T`.
/// - `spread`: worker i goes to package `i mod packages`; the k workers of a package start
///   `max(T, cores / k)` cores apart in that package's slots (ordered as for `cores`).
pub fn plan(topology: &Topology, mode: PinMode, workers: usize, threads: usize) -> Vec<Vec<usize>> {
    let threads = threads.max(1);
    let take = |slots: &[usize], from: usize| -> Vec<usize> {
        let mut set: Vec<usize> = (from..from + threads)
            .map(|s| slots[s % slots.len()])
            .collect();
        set.sort_unstable();
        set.dedup();
        set
    };
    match mode {
        PinMode::None => Vec::new(),
        _ if topology.cpus.is_empty() => Vec::new(),
        PinMode::Cores => {
            let slots = slots(&topology.cores());
            (0..workers).map(|i| take(&slots, i * threads)).collect()
        }
        PinMode::Spread => {
            let packages = topology.packages();
            let mut sets = vec![Vec::new(); workers];
            for (p, cores) in packages.iter().enumerate() {
                let mine: Vec<usize> = (p..workers).step_by(packages.len()).collect();
                if mine.is_empty() {
                    continue;
                }
                let stride = threads.max(cores.len() / mine.len());
                let slots = slots(cores);
                for (k, &worker) in mine.iter().enumerate() {
                    sets[worker] = take(&slots, k * stride);
                }
            }
            sets
        }
    }
}

/// Slots in packing order: the first CPU of every core, then the second, ...
fn slots(cores: &[Vec<usize>]) -> Vec<usize> {
    let depth = cores.iter().map(Vec::len).max().unwrap_or(0);
    (0..depth)
        .flat_map(|d| cores.iter().filter_map(move |c| c.get(d).copied()))
        .collect()
}

/// A kernel-style CPU list: `0-3,8`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// A sysfs cache size (`48K`, `1280K`, `32M`) in bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit.trim() {
        "" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return None,
    };
    Some(n * scale)
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}M", b >> 20),
        b if b >= 1 << 10 => format!("{}K", b >> 10),
        b => format!("{b}B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up machine: `packages` x `cores` x `smt`, numbered as Linux does on x86
    /// (first thread of every core first, then the second threads).
    fn machine(packages: usize, cores: usize, smt: usize) -> Topology {
        let n = packages * cores;
        let cpus = (0..n * smt)
            .map(|cpu| {
                let core = cpu % n;
                Cpu {
                    cpu,
                    package: Some(core / cores),
                    core: Some(core % cores),
                    siblings: (0..smt).map(|t| core + t * n).collect(),
                }
            })
            .collect();
        Topology {
            cpus,
            caches: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn cores_packs_one_cpu_per_core_and_smt_siblings_last() {
        let t = machine(2, 4, 2);
        assert_eq!(plan(&t, PinMode::Cores, 2, 2), [vec![0, 1], vec![2, 3]]);
        assert_eq!(
            plan(&t, PinMode::Cores, 4, 2),
            [vec![0, 1], vec![2, 3], vec![4, 5], vec![6, 7]]
        );
        // Past the 8 cores: the SMT siblings.
        assert_eq!(plan(&t, PinMode::Cores, 5, 2)[4], [8, 9]);
        assert_eq!(
            plan(&t, PinMode::Cores, 1, 10),
            [vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]
        );
        assert_eq!(plan(&t, PinMode::Cores, 3, 1), [vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn more_threads_than_cpus_wrap_around_and_share() {
        let t = machine(1, 2, 1);
        assert_eq!(plan(&t, PinMode::Cores, 3, 1), [vec![0], vec![1], vec![0]]);
        assert_eq!(plan(&t, PinMode::Cores, 2, 2), [vec![0, 1], vec![0, 1]]);
        // A worker never gets a CPU twice.
        assert_eq!(plan(&t, PinMode::Cores, 1, 5), [vec![0, 1]]);
        assert_eq!(
            plan(&t, PinMode::Spread, 4, 1),
            [vec![0], vec![1], vec![0], vec![1]]
        );
    }

    #[test]
    fn spread_alternates_packages_and_leaves_gaps() {
        let t = machine(2, 4, 2);
        assert_eq!(plan(&t, PinMode::Spread, 2, 2), [vec![0, 1], vec![4, 5]]);
        assert_eq!(
            plan(&t, PinMode::Spread, 4, 1),
            [vec![0], vec![4], vec![2], vec![6]]
        );
        assert_eq!(plan(&t, PinMode::Spread, 2, 1), [vec![0], vec![4]]);
        // 3 workers of 2 threads in one package of 4 cores: the third uses SMT siblings.
        let one = machine(1, 4, 2);
        assert_eq!(
            plan(&one, PinMode::Spread, 3, 2),
            [vec![0, 1], vec![2, 3], vec![4, 5]]
        );
        assert_eq!(plan(&one, PinMode::Spread, 2, 1), [vec![0], vec![2]]);
    }

    #[test]
    fn none_sets_nothing() {
        assert!(plan(&machine(1, 2, 1), PinMode::None, 2, 1).is_empty());
        assert!(plan(&machine(0, 0, 1), PinMode::Cores, 2, 1).is_empty());
    }

    #[test]
    fn pin_modes_round_trip_and_refuse_others() {
        for m in [PinMode::None, PinMode::Cores, PinMode::Spread] {
            assert_eq!(m.to_string().parse::<PinMode>(), Ok(m));
        }
        let err = "sockets".parse::<PinMode>().unwrap_err();
        assert!(err.contains("none, cores, spread"), "{err}");
    }

    fn write(root: &Path, file: &str, text: &str) {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{text}\n")).unwrap();
    }

    /// A fake sysfs: 1 package, 2 cores x 2 SMT (CPUs 0,2 and 1,3), private L1d/L2, one L3.
    fn fake_sysfs(root: &Path) {
        for cpu in 0..4 {
            let core = cpu % 2;
            write(root, &format!("cpu{cpu}/topology/physical_package_id"), "0");
            write(
                root,
                &format!("cpu{cpu}/topology/core_id"),
                &core.to_string(),
            );
            let caches = [
                (1, "Data", "48K", format!("{core},{}", core + 2)),
                (2, "Unified", "1280K", format!("{core},{}", core + 2)),
                (3, "Unified", "32M", "0-3".to_string()),
            ];
            for (i, (level, kind, size, shared)) in caches.iter().enumerate() {
                let dir = format!("cpu{cpu}/cache/index{i}");
                write(root, &format!("{dir}/level"), &level.to_string());
                write(root, &format!("{dir}/type"), kind);
                write(root, &format!("{dir}/size"), size);
                write(root, &format!("{dir}/shared_cpu_list"), shared);
            }
        }
    }

    #[test]
    fn reads_cores_siblings_and_caches_from_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        fake_sysfs(dir.path());
        let t = Topology::read(dir.path(), &[3, 0, 1, 2]);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        assert_eq!(t.cpus.len(), 4);
        assert_eq!(t.cpus[0].siblings, [0, 2]);
        assert_eq!(t.cpus[3].siblings, [1, 3]);
        assert_eq!(t.cores(), [vec![0, 2], vec![1, 3]]);
        assert_eq!(t.caches.len(), 5, "{:?}", t.caches);
        let l3: Vec<&Cache> = t.caches.iter().filter(|c| c.level == 3).collect();
        assert_eq!((l3.len(), l3[0].bytes), (1, 32 << 20));
        assert_eq!(t.caches[0].bytes, 48 << 10);
        assert_eq!(
            t.summary(),
            "1 package(s), 2 core(s), 4 CPU(s) allowed, 2-way SMT; caches L1d 48K x2, \
             L2 1280K x2, L3 32M x1"
        );
        // Packed: one CPU per core before any sibling.
        assert_eq!(plan(&t, PinMode::Cores, 2, 1), [vec![0], vec![1]]);
        assert_eq!(plan(&t, PinMode::Cores, 3, 1)[2], [2]);
        // Only the allowed CPUs: a sibling outside the mask is no sibling.
        let some = Topology::read(dir.path(), &[0, 1]);
        assert_eq!(some.cores(), [vec![0], vec![1]]);
    }

    #[test]
    fn missing_sysfs_falls_back_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let t = Topology::read(dir.path(), &[0, 1, 5]);
        assert_eq!(t.cores(), [vec![0], vec![1], vec![5]]);
        assert!(t.caches.is_empty());
        assert_eq!(t.notes.len(), 2);
        assert!(
            t.notes[0].contains("CPU(s) 0-1,5: each counted as its own core"),
            "{}",
            t.notes[0]
        );
        assert!(t.summary().contains("no caches in"), "{}", t.summary());
        assert_eq!(plan(&t, PinMode::Cores, 2, 1), [vec![0], vec![1]]);
    }

    #[test]
    fn sizes_and_lists() {
        assert_eq!(parse_size("48K"), Some(48 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(cpu_list(&[5, 0, 1, 2, 8, 9]), "0-2,5,8-9");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn this_machine_reads() {
        let allowed = crate::machine::Machine::detect().cpus_allowed;
        let t = Topology::read(Path::new(SYSFS_CPU), &allowed);
        assert_eq!(t.cpus.len(), allowed.len());
        let sets = plan(&t, PinMode::Cores, allowed.len(), 1);
        assert_eq!(sets.len(), allowed.len());
        assert!(sets.iter().all(|s| s.len() == 1 && allowed.contains(&s[0])));
    }
}
