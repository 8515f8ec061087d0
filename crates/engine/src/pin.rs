//! Thread placement (`run --pin none|cores|spread`) and where threads really ran.
//!
//! **Pinning.** [`Plan`] reads the topology of the CPUs this process may use
//! ([`blaspar_core::topology`]) and gives each worker its CPU set. A worker's set is in
//! place before its BLAS library starts threads for it, so the library's threads inherit
//! it (a new thread starts with its creator's affinity mask):
//!
//! - a thread worker sets its own mask when the rayon pool starts it (`start_handler`),
//!   before it first calls the library: BLIS's per-call threads, a worker's MKL/Intel
//!   OpenMP team, faer's per-worker rayon pool are all created by it;
//! - a worker process gets its set between fork and exec, so the whole process, and every
//!   thread a library starts when it is loaded (OpenBLAS's pthreads pool, created by its
//!   constructor before `main`), runs there;
//! - a strategy run by the calling thread (sequential, blas-T, batched-T) pins every thread
//!   of the process for the timed run (a pool started at load time included) and restores
//!   each thread's mask afterwards, so that verification runs unpinned.
//!
//! Intel OpenMP names its threads `openmp_worker` (no inherited worker name): in one
//! process they are told apart by their mask only (see [`Placement::in_process`]).
//!
//! OpenMP runtimes bind threads on their own only when asked: GNU OpenMP with
//! `OMP_PROC_BIND`/`OMP_PLACES`/`GOMP_CPU_AFFINITY`, Intel OpenMP with `KMP_AFFINITY` (or
//! `OMP_PROC_BIND`). With none of them set, their threads inherit the creating thread's
//! mask; the record's `blas_env` says what was set, and `seen` shows what happened.
//!
//! **Watching.** A [`Watch`] thread samples, every [`SAMPLE_EVERY`], field 39 (`processor`,
//! the CPU a thread last ran on) of `/proc/self/task/<tid>/stat` for every thread of the
//! process, and each thread's `Cpus_allowed_list` when first seen. A thread that lives
//! shorter than one sample (a BLAS thread of one short call) can be missed.

use blaspar_core::machine::Machine;
use blaspar_core::record::{Pinning, ThreadsSeen, WorkerPinning};
use blaspar_core::topology::{PinMode, SYSFS_CPU, Topology, cpu_list, plan};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// How often a [`Watch`] samples the process's threads.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// The name of thread worker `i` (at most 15 bytes, the kernel's limit, so that it stays
/// whole in `/proc`; threads a worker starts inherit it).
pub fn worker_thread_name(i: usize) -> String {
    format!("bp-worker-{i}")
}

/// An affinity could not be set.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("CPU {cpu} does not fit in a CPU set (at most {max})")]
    TooLarge { cpu: usize, max: usize },
    #[error("cannot pin {who} to CPUs {cpus}: {source}")]
    Set {
        who: String,
        cpus: String,
        source: nix::Error,
    },
}

/// The placement of one run: the mode, the topology it was made from, each worker's CPUs.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub mode: PinMode,
    /// [`Topology::summary`] of the allowed CPUs.
    pub topology: String,
    /// Worker i's CPUs (empty with `none`).
    pub sets: Vec<Vec<usize>>,
}

impl Plan {
    /// The plan for `workers` workers of `threads` BLAS threads on the CPUs this process
    /// may use now.
    pub fn new(mode: PinMode, workers: usize, threads: usize) -> Plan {
        let allowed = Machine::detect().cpus_allowed;
        let topology = Topology::read(Path::new(SYSFS_CPU), &allowed);
        Plan {
            mode,
            topology: topology.summary(),
            sets: plan(&topology, mode, workers, threads),
        }
    }

    /// Worker `i`'s CPUs, when it is pinned.
    pub fn set(&self, worker: usize) -> Option<&[usize]> {
        self.sets.get(worker).map(Vec::as_slice)
    }
}

/// A CPU set of `cpus`.
pub fn cpu_set(cpus: &[usize]) -> Result<CpuSet, PinError> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(|_| PinError::TooLarge {
            cpu,
            max: CpuSet::count() - 1,
        })?;
    }
    Ok(set)
}

/// Pins the calling thread (and the threads it starts from now on) to `cpus`.
pub fn pin_this_thread(cpus: &[usize]) -> Result<(), PinError> {
    sched_setaffinity(Pid::from_raw(0), &cpu_set(cpus)?).map_err(|source| PinError::Set {
        who: "this thread".to_string(),
        cpus: cpu_list(cpus),
        source,
    })
}

/// In a forked child before exec (one thread, no allocation): pins the process to `set`.
pub fn pin_child(set: Option<&CpuSet>) -> std::io::Result<()> {
    match set {
        Some(set) => Ok(sched_setaffinity(Pid::from_raw(0), set)?),
        None => Ok(()),
    }
}

/// Every thread of this process pinned to one set until dropped, when each gets its own
/// mask back.
pub struct ProcessPinned {
    saved: Vec<(Pid, CpuSet)>,
}

impl ProcessPinned {
    /// Pins every thread of this process to `cpus` (threads started later inherit it from
    /// their creator).
    pub fn pin(cpus: &[usize]) -> Result<ProcessPinned, PinError> {
        let set = cpu_set(cpus)?;
        let mut pinned = ProcessPinned { saved: Vec::new() };
        for tid in threads() {
            let pid = Pid::from_raw(tid);
            // A thread that ended meanwhile has nothing to pin.
            let Ok(old) = sched_getaffinity(pid) else {
                continue;
            };
            match sched_setaffinity(pid, &set) {
                Ok(()) => pinned.saved.push((pid, old)),
                Err(nix::Error::ESRCH) => {}
                Err(source) => {
                    return Err(PinError::Set {
                        who: format!("thread {tid}"),
                        cpus: cpu_list(cpus),
                        source,
                    });
                }
            }
        }
        Ok(pinned)
    }
}

impl Drop for ProcessPinned {
    fn drop(&mut self) {
        for (pid, old) in &self.saved {
            // A thread that ended needs nothing back.
            let _ = sched_setaffinity(*pid, old);
        }
    }
}

/// Thread ids of this process.
fn threads() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The calling thread's id.
fn this_tid() -> i32 {
    nix::unistd::gettid().as_raw()
}

/// A thread's name (`comm`) and the CPU it last ran on, from a `stat` line.
fn parse_stat(line: &str) -> Option<(String, usize)> {
    // The name is in parentheses and may hold spaces and parentheses itself.
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?.to_string();
    // Fields after the name start with field 3 (state); `processor` is field 39.
    let processor = line.get(close + 1..)?.split_whitespace().nth(39 - 3)?;
    Some((name, processor.parse().ok()?))
}

/// `Cpus_allowed_list` of a `status` file.
fn parse_allowed(status: &str) -> Option<Vec<usize>> {
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
    blaspar_core::machine::parse_cpu_list(list.trim())
}

/// One thread as the watch saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    pub tid: i32,
    pub name: String,
    /// CPUs it was seen on.
    pub cpus: BTreeSet<usize>,
    /// Its affinity mask when first seen.
    pub allowed: Option<Vec<usize>>,
}

/// Threads, and the CPUs they were seen on (a worker's, or the rest of a process's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub threads: usize,
    pub cpus: BTreeSet<usize>,
}

impl Seen {
    fn add(&mut self, track: &Track) {
        self.threads += 1;
        self.cpus.extend(&track.cpus);
    }

    /// Every track in one.
    pub fn of(tracks: &[Track]) -> Seen {
        let mut seen = Seen::default();
        tracks.iter().for_each(|t| seen.add(t));
        seen
    }

    fn record(&self) -> ThreadsSeen {
        ThreadsSeen {
            threads: self.threads,
            cpus: cpu_list(&self.cpus.iter().copied().collect::<Vec<_>>()),
        }
    }
}

/// Samples this process's threads until [`Watch::finish`]; only for pinned runs, so that
/// an unpinned run (every sweep's and bench's) has no extra thread waking every
/// [`SAMPLE_EVERY`] beside the workers.
pub struct Watch(Option<Sampler>);

struct Sampler {
    stop: mpsc::Sender<()>,
    handle: std::thread::JoinHandle<Vec<Track>>,
}

impl Watch {
    /// Starts sampling (the first sample at once) when `pinned`; else watches nothing.
    pub fn start(pinned: bool) -> Watch {
        Watch(pinned.then(Sampler::start))
    }

    /// Stops sampling: every thread seen (but the watch's own); none when not pinned.
    pub fn finish(self) -> Vec<Track> {
        self.0.map(Sampler::finish).unwrap_or_default()
    }
}

impl Sampler {
    fn start() -> Sampler {
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("bp-pin-watch".to_string())
            .spawn(move || {
                let me = this_tid();
                let mut tracks: BTreeMap<i32, Track> = BTreeMap::new();
                loop {
                    sample(me, &mut tracks);
                    match stopped.recv_timeout(SAMPLE_EVERY) {
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        // Told to stop: one last look.
                        _ => {
                            sample(me, &mut tracks);
                            return tracks.into_values().collect();
                        }
                    }
                }
            })
            .expect("a thread starts");
        Sampler { stop, handle }
    }

    fn finish(self) -> Vec<Track> {
        let _ = self.stop.send(());
        self.handle.join().expect("the watch does not panic")
    }
}

fn sample(me: i32, tracks: &mut BTreeMap<i32, Track>) {
    for tid in threads() {
        if tid == me {
            continue;
        }
        let dir = format!("/proc/self/task/{tid}");
        let Some((name, cpu)) = std::fs::read_to_string(format!("{dir}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        else {
            continue; // it ended meanwhile
        };
        let track = tracks.entry(tid).or_insert_with(|| Track {
            tid,
            name,
            cpus: BTreeSet::new(),
            allowed: std::fs::read_to_string(format!("{dir}/status"))
                .ok()
                .and_then(|s| parse_allowed(&s)),
        });
        track.cpus.insert(cpu);
    }
}

/// What the record says of a run's placement: the plan, and where each worker's threads
/// (and the rest of the run's process) were seen.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    pub plan: Plan,
    /// Indexed by worker.
    pub workers: Vec<Seen>,
    pub other: Seen,
}

impl Placement {
    /// Threads of one process of in-process workers: thread worker i's are those named
    /// [`worker_thread_name`]`(i)` (the threads it starts inherit its name) or, failing
    /// that, those whose mask is worker i's set and no other's; the rest are other threads.
    /// With one worker every thread of the run is the worker's.
    pub fn in_process(plan: Plan, workers: usize, tracks: &[Track]) -> Placement {
        let mut seen = vec![Seen::default(); workers];
        let mut other = Seen::default();
        for t in tracks {
            let by_name = (0..workers).find(|&i| t.name == worker_thread_name(i));
            let by_mask = || {
                let allowed = t.allowed.as_deref()?;
                let mut owners = (0..workers).filter(|&i| plan.set(i) == Some(allowed));
                match (owners.next(), owners.next()) {
                    (Some(i), None) => Some(i),
                    _ => None,
                }
            };
            let owner = if workers == 1 {
                Some(0)
            } else {
                by_name.or_else(by_mask)
            };
            match owner {
                Some(i) => seen[i].add(t),
                None => other.add(t),
            }
        }
        Placement {
            plan,
            workers: seen,
            other,
        }
    }

    /// The record's account.
    pub fn record(&self) -> Pinning {
        Pinning {
            mode: self.plan.mode,
            topology: self.plan.topology.clone(),
            workers: self
                .workers
                .iter()
                .enumerate()
                .map(|(worker, seen)| WorkerPinning {
                    worker,
                    cpus: self.plan.set(worker).map(cpu_list).unwrap_or_default(),
                    seen: seen.record(),
                })
                .collect(),
            other_threads: self.other.record(),
            method: format!(
                "every thread's last CPU (/proc/<pid>/task/<tid>/stat field 39) sampled every \
                 {} ms through the timed run, in each process; a thread that lived shorter \
                 can be missed",
                SAMPLE_EVERY.as_millis()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests that change affinities take turns (pinning the process re-pins every thread).
    static AFFINITY: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn stat_lines_give_name_and_processor() {
        // Field 39 is 3 from the end of a 52-field line.
        let mut fields: Vec<String> = (3..=52).map(|f| f.to_string()).collect();
        fields[39 - 3] = "7".to_string();
        let line = format!("1234 (bp worker) (x)) {}", fields.join(" "));
        assert_eq!(parse_stat(&line), Some(("bp worker) (x)".to_string(), 7)));
        assert_eq!(parse_stat("1 (short) R 1"), None);
        let status = "Name:\tx\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n";
        assert_eq!(parse_allowed(status), Some(vec![0, 1]));
    }

    #[test]
    fn the_watch_sees_this_thread_where_it_runs() {
        let watch = Watch::start(true);
        let me = this_tid();
        std::thread::sleep(SAMPLE_EVERY * 2);
        let tracks = watch.finish();
        let mine = tracks
            .iter()
            .find(|t| t.tid == me)
            .expect("this thread seen");
        let allowed = Machine::detect().cpus_allowed;
        assert!(mine.cpus.iter().all(|c| allowed.contains(c)), "{mine:?}");
        assert!(!mine.cpus.is_empty());
    }

    #[test]
    fn a_pinned_thread_runs_on_its_cpu_and_its_children_inherit() {
        let _turn = AFFINITY.lock().unwrap();
        let allowed = Machine::detect().cpus_allowed;
        let cpu = *allowed.last().unwrap();
        let (tid, child_mask) = std::thread::spawn(move || {
            pin_this_thread(&[cpu]).unwrap();
            let child = std::thread::spawn(|| sched_getaffinity(Pid::from_raw(0)).unwrap())
                .join()
                .unwrap();
            (this_tid(), child)
        })
        .join()
        .unwrap();
        assert!(tid > 0);
        assert!(child_mask.is_set(cpu).unwrap());
        let others = allowed.iter().filter(|&&c| c != cpu);
        assert!(others.clone().all(|&c| !child_mask.is_set(c).unwrap()));
    }

    #[test]
    fn pinning_the_process_is_undone_on_drop() {
        let _turn = AFFINITY.lock().unwrap();
        let allowed = Machine::detect().cpus_allowed;
        let before = sched_getaffinity(Pid::from_raw(0)).unwrap();
        {
            let _pinned = ProcessPinned::pin(&allowed[..1]).unwrap();
            let now = sched_getaffinity(Pid::from_raw(0)).unwrap();
            assert!(now.is_set(allowed[0]).unwrap());
            assert_eq!(
                allowed.iter().filter(|&&c| now.is_set(c).unwrap()).count(),
                1
            );
        }
        assert_eq!(sched_getaffinity(Pid::from_raw(0)).unwrap(), before);
    }

    #[test]
    fn cpus_beyond_a_cpu_set_are_refused() {
        let err = cpu_set(&[1 << 20]).unwrap_err().to_string();
        assert!(err.contains("does not fit"), "{err}");
    }

    fn track(tid: i32, name: &str, cpus: &[usize], allowed: Option<Vec<usize>>) -> Track {
        Track {
            tid,
            name: name.to_string(),
            cpus: cpus.iter().copied().collect(),
            allowed,
        }
    }

    #[test]
    fn threads_go_to_their_worker_by_name_then_by_mask() {
        let plan = Plan {
            mode: PinMode::Cores,
            topology: String::new(),
            sets: vec![vec![0], vec![1]],
        };
        let tracks = [
            track(10, "blaspar-engine-", &[0, 1], Some(vec![0, 1])),
            track(11, &worker_thread_name(0), &[0], Some(vec![0])),
            track(12, &worker_thread_name(1), &[1], Some(vec![1])),
            // A library thread that renamed itself, pinned with worker 1.
            track(13, "omp", &[1], Some(vec![1])),
        ];
        let p = Placement::in_process(plan.clone(), 2, &tracks);
        assert_eq!(p.workers[0].cpus, BTreeSet::from([0]));
        assert_eq!((p.workers[1].threads, p.workers[1].cpus.len()), (2, 1));
        assert_eq!((p.other.threads, p.other.cpus.len()), (1, 2));
        let r = p.record();
        assert_eq!(
            (r.workers[0].cpus.as_str(), r.workers[1].seen.cpus.as_str()),
            ("0", "1")
        );
        assert_eq!(r.other_threads.cpus, "0-1");
        // One worker: every thread is its.
        let one = Placement::in_process(Plan::default(), 1, &tracks);
        assert_eq!((one.workers[0].threads, one.other.threads), (4, 0));
        assert_eq!(one.record().workers[0].cpus, "");
    }
}
