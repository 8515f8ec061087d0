//! What this process may use: CPU model, logical and physical cores, the CPUs in its
//! affinity mask, the cgroup CPU quota, and available memory. Default P and T come from here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;

/// The machine as this process sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// Logical CPUs online.
    pub logical_cpus: usize,
    /// Physical cores online (distinct package/core pairs).
    pub physical_cores: usize,
    /// CPU ids in this process's affinity mask (sched_getaffinity).
    pub cpus_allowed: Vec<usize>,
    /// Physical cores among the allowed CPUs.
    pub physical_cores_allowed: usize,
    /// cgroup CPU quota in CPUs (`cpu.max`), when one is set.
    pub cgroup_cpu_quota: Option<f64>,
    /// Default worker / thread count: physical cores allowed, capped by the quota.
    pub default_parallelism: usize,
    /// Vector instruction sets the CPU reports that matter for f64 GEMM.
    pub simd: Vec<String>,
    /// Kernel hostname.
    pub hostname: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo_field(&cpuinfo, &["model name", "Model", "Hardware", "cpu model"])
            .unwrap_or_else(|| "unknown CPU".to_string());
        let flags: BTreeSet<&str> = cpuinfo_field_ref(&cpuinfo, &["flags", "Features"])
            .map(|f| f.split_whitespace().collect())
            .unwrap_or_default();
        let simd = ["sse2", "avx", "fma", "avx2", "avx512f", "asimd", "sve"]
            .iter()
            .filter(|f| flags.contains(**f))
            .map(|f| f.to_string())
            .collect();
        let online = fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| parse_cpu_list(s.trim()))
            .unwrap_or_else(|| {
                (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
            });
        let cpus_allowed = affinity().unwrap_or_else(|| online.clone());
        let core_of = |cpu: usize| -> (String, String) {
            let topo = format!("/sys/devices/system/cpu/cpu{cpu}/topology");
            let read =
                |f: &str| fs::read_to_string(format!("{topo}/{f}")).map(|s| s.trim().to_string());
            match (read("physical_package_id"), read("core_id")) {
                (Ok(p), Ok(c)) => (p, c),
                // No topology: count each CPU as its own core.
                _ => ("?".to_string(), cpu.to_string()),
            }
        };
        let physical_cores = online
            .iter()
            .map(|&c| core_of(c))
            .collect::<BTreeSet<_>>()
            .len();
        let physical_cores_allowed = cpus_allowed
            .iter()
            .map(|&c| core_of(c))
            .collect::<BTreeSet<_>>()
            .len();
        let cgroup_cpu_quota = fs::read_to_string("/sys/fs/cgroup/cpu.max")
            .ok()
            .and_then(|s| parse_cpu_max(&s));
        let default_parallelism = default_parallelism(physical_cores_allowed, cgroup_cpu_quota);
        let hostname = fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpu_model,
            logical_cpus: online.len(),
            physical_cores,
            cpus_allowed,
            physical_cores_allowed,
            cgroup_cpu_quota,
            default_parallelism,
            simd,
            hostname,
        }
    }
}

/// Physical cores allowed, capped by a cgroup quota (rounded down, at least 1).
pub fn default_parallelism(physical_allowed: usize, quota: Option<f64>) -> usize {
    let cap = quota.map_or(usize::MAX, |q| (q.floor() as usize).max(1));
    physical_allowed.min(cap).max(1)
}

fn cpuinfo_field_ref<'a>(cpuinfo: &'a str, keys: &[&str]) -> Option<&'a str> {
    cpuinfo.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        keys.contains(&k.trim()).then_some(v.trim())
    })
}

fn cpuinfo_field(cpuinfo: &str, keys: &[&str]) -> Option<String> {
    cpuinfo_field_ref(cpuinfo, keys).map(str::to_string)
}

/// Parses a kernel CPU list such as `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                out.extend(a.trim().parse::<usize>().ok()?..=b.trim().parse::<usize>().ok()?)
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Parses cgroup v2 `cpu.max` (`max 100000` or `200000 100000`) into CPUs.
pub fn parse_cpu_max(s: &str) -> Option<f64> {
    let mut it = s.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next()?.parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    Some(quota.parse::<f64>().ok()? / period)
}

fn affinity() -> Option<Vec<usize>> {
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>() bytes into `set`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    Some(
        (0..max)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect(),
    )
}

/// Bytes of memory available to this process: the smaller of MemAvailable and the cgroup
/// limit's headroom, with a description of which one it was.
pub fn available_memory() -> (u64, String) {
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024);
    let cgroup = (|| {
        let max: u64 = fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cur: u64 = fs::read_to_string("/sys/fs/cgroup/memory.current")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(max.saturating_sub(cur))
    })();
    match (mem_available, cgroup) {
        (Some(m), Some(c)) if c < m => (c, "cgroup memory.max headroom".to_string()),
        (Some(m), _) => (m, "MemAvailable".to_string()),
        (None, Some(c)) => (c, "cgroup memory.max headroom".to_string()),
        (None, None) => (u64::MAX, "no memory information".to_string()),
    }
}

/// Every environment variable that can change what a BLAS library does.
pub fn blas_env() -> std::collections::BTreeMap<String, String> {
    const PREFIXES: [&str; 7] = [
        "OPENBLAS_",
        "MKL_",
        "BLIS_",
        "OMP_",
        "GOMP_",
        "KMP_",
        "MATMUL_",
    ];
    std::env::vars()
        .filter(|(k, _)| PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_and_quota() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
    }

    #[test]
    fn default_parallelism_prefers_physical_and_respects_quota() {
        assert_eq!(default_parallelism(8, None), 8);
        assert_eq!(default_parallelism(8, Some(2.5)), 2);
        assert_eq!(default_parallelism(8, Some(0.5)), 1);
        assert_eq!(default_parallelism(0, None), 1);
    }

    #[test]
    fn detect_sees_this_process() {
        let m = Machine::detect();
        assert!(m.logical_cpus >= 1);
        assert!(!m.cpus_allowed.is_empty());
        assert!(m.physical_cores_allowed <= m.cpus_allowed.len());
        assert!(m.default_parallelism >= 1 && m.default_parallelism <= m.cpus_allowed.len());
    }
}
