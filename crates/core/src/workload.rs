//! The workload: N independent tasks, each generating two n x n f64 matrices with entries
//! uniform in [0, 1) and multiplying them.
//!
//! The generator is named and version-stable so that figures compare across commits:
//! task `t` of a workload with seed `s` draws A then B, row-major, from Xoshiro256++
//! (`rand_xoshiro`) seeded with `seed_from_u64(s * 2^32 + t)` (its SplitMix64 expansion),
//! turning each 64-bit output into `(x >> 11) * 2^-53`. Neither `SmallRng` nor rand's
//! `Uniform` is used: both may change between rand versions.

use ndarray::Array2;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator's name, as recorded in results.
pub const GENERATOR: &str =
    "xoshiro256++ (rand_xoshiro, seed_from_u64(seed<<32 | task)), 53-bit uniform [0,1)";

/// Named workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// The tutorial's workload: 100 tasks of 2000 x 2000.
    Seed,
    /// Every strategy once in about 3 s on 2 cores: 1000 x 1000 tasks, at least 16 and at
    /// least 2 per usable CPU (so that each worker of a P-way strategy gets 2 tasks or more).
    Quick,
}

impl Preset {
    pub const NAMES: &'static str = "seed, quick";

    pub fn name(&self) -> &'static str {
        match self {
            Preset::Seed => "seed",
            Preset::Quick => "quick",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        match name {
            "seed" => Some(Preset::Seed),
            "quick" => Some(Preset::Quick),
            _ => None,
        }
    }

    /// The workload this preset stands for on a machine with `cpus` usable CPUs.
    pub fn workload(&self, cpus: usize) -> Workload {
        match self {
            Preset::Seed => Workload {
                tasks: 100,
                size: 2000,
                seed: 0,
            },
            Preset::Quick => Workload {
                tasks: (2 * cpus).max(16),
                size: 1000,
                seed: 0,
            },
        }
    }
}

/// N tasks of n x n.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Workload {
    pub tasks: usize,
    pub size: usize,
    pub seed: u64,
}

/// Why a workload cannot run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WorkloadError {
    #[error("the number of tasks must be at least 1")]
    NoTasks,
    #[error("the matrix size must be at least 1")]
    NoSize,
    #[error(
        "{tasks} tasks of {size}x{size} need {need} ({plan}) but only {available} is available \
         ({what}): lower --tasks or --size{hint}",
        hint = if plan.keep_products { ", or return fingerprints only (--results fingerprints)" } else { "" }
    )]
    TooBig {
        tasks: usize,
        size: usize,
        need: Bytes,
        plan: MemoryPlan,
        available: Bytes,
        what: String,
    },
    #[error(
        "the workload is too large to count in bytes ({tasks} tasks of {size}x{size}): lower --tasks or --size"
    )]
    Overflow { tasks: usize, size: usize },
}

/// What a run holds in memory: every product (the default, as the tutorial's lists and
/// Pool results hold them) or none, plus A, B and C of each task in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Every task's product is kept until the run ends.
    pub keep_products: bool,
    /// Tasks whose A, B and C exist at once (workers, or verification threads).
    pub in_flight: usize,
}

impl std::fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.keep_products {
            write!(f, "every product is kept, ")?;
        }
        write!(f, "A, B and C of {} task(s) at once", self.in_flight.max(1))
    }
}

/// A byte count that prints in binary units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0 as f64;
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = b;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{v:.1} {}", UNITS[u])
        }
    }
}

impl Workload {
    /// Floating-point operations of all products (2 n^3 per task, the usual GEMM count).
    pub fn flops(&self) -> f64 {
        2.0 * (self.size as f64).powi(3) * self.tasks as f64
    }

    /// Bytes a run holds at its peak under `plan`, plus the verifier's vectors. `None`
    /// when the count overflows a u64.
    pub fn memory_bytes(&self, plan: MemoryPlan) -> Option<u64> {
        let n = self.size as u64;
        let per_matrix = n.checked_mul(n)?.checked_mul(8)?;
        let products = if plan.keep_products {
            per_matrix.checked_mul(self.tasks as u64)?
        } else {
            0
        };
        let working = per_matrix
            .checked_mul(3)?
            .checked_mul(plan.in_flight.max(1) as u64)?;
        products
            .checked_add(working)?
            .checked_add(n.checked_mul(8 * 8)?)
    }

    /// Checks counts and that the memory the run needs under `plan` fits in `available`
    /// bytes (described by `source`, e.g. "MemAvailable"). Nothing is allocated.
    pub fn check(
        &self,
        plan: MemoryPlan,
        available: u64,
        source: &str,
    ) -> Result<(), WorkloadError> {
        if self.tasks == 0 {
            return Err(WorkloadError::NoTasks);
        }
        if self.size == 0 {
            return Err(WorkloadError::NoSize);
        }
        let need = self.memory_bytes(plan).ok_or(WorkloadError::Overflow {
            tasks: self.tasks,
            size: self.size,
        })?;
        // Keep a tenth of what is available for everything else (allocator, BLAS buffers).
        if need > available / 10 * 9 {
            return Err(WorkloadError::TooBig {
                tasks: self.tasks,
                size: self.size,
                need: Bytes(need),
                plan,
                available: Bytes(available),
                what: source.to_string(),
            });
        }
        Ok(())
    }

    /// Short label used in bench parameters and file names, e.g. `16x1000`.
    pub fn label(&self) -> String {
        format!("{}x{}", self.tasks, self.size)
    }

    /// The generator of task `task`.
    pub fn rng(&self, task: usize) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64((self.seed << 32) ^ task as u64)
    }

    /// Generates task `task`'s two matrices (A then B from one stream).
    pub fn generate(&self, task: usize) -> (Array2<f64>, Array2<f64>) {
        let mut rng = self.rng(task);
        let a = random_matrix(&mut rng, self.size);
        let b = random_matrix(&mut rng, self.size);
        (a, b)
    }
}

/// Uniform [0, 1) from the top 53 bits: stable across rand versions by construction.
pub fn unit_f64(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An n x n row-major matrix of uniform [0, 1) entries.
pub fn random_matrix(rng: &mut impl RngCore, n: usize) -> Array2<f64> {
    let data: Vec<f64> = (0..n * n).map(|_| unit_f64(rng)).collect();
    Array2::from_shape_vec((n, n), data).expect("n*n elements for an n x n shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_stable_and_per_task() {
        let w = Workload {
            tasks: 3,
            size: 4,
            seed: 7,
        };
        let (a0, b0) = w.generate(0);
        let (a0_again, _) = w.generate(0);
        let (a1, _) = w.generate(1);
        assert_eq!(a0, a0_again);
        assert_ne!(a0, a1);
        assert_ne!(a0, b0);
        assert!(a0.iter().all(|&x| (0.0..1.0).contains(&x)));
        // Pinned first value: changes here break comparisons across commits.
        let first = unit_f64(
            &mut Workload {
                tasks: 1,
                size: 1,
                seed: 0,
            }
            .rng(0),
        );
        let expected =
            (Xoshiro256PlusPlus::seed_from_u64(0).next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        assert_eq!(first, expected);
    }

    const KEEP_2: MemoryPlan = MemoryPlan {
        keep_products: true,
        in_flight: 2,
    };

    #[test]
    fn memory_estimate_counts_products_and_tasks_in_flight() {
        let w = Workload {
            tasks: 100,
            size: 2000,
            seed: 0,
        };
        let m = 2000 * 2000 * 8;
        assert_eq!(
            w.memory_bytes(KEEP_2),
            Some(100 * m + 2 * 3 * m + 2000 * 64)
        );
        let drop_4 = MemoryPlan {
            keep_products: false,
            in_flight: 4,
        };
        assert_eq!(w.memory_bytes(drop_4), Some(4 * 3 * m + 2000 * 64));
        assert_eq!(
            Workload {
                tasks: usize::MAX,
                size: usize::MAX,
                seed: 0
            }
            .memory_bytes(KEEP_2),
            None
        );
    }

    #[test]
    fn check_rejects_zero_and_too_big() {
        let gib = 1u64 << 30;
        assert_eq!(
            Workload {
                tasks: 0,
                size: 10,
                seed: 0
            }
            .check(KEEP_2, gib, "test"),
            Err(WorkloadError::NoTasks)
        );
        assert_eq!(
            Workload {
                tasks: 1,
                size: 0,
                seed: 0
            }
            .check(KEEP_2, gib, "test"),
            Err(WorkloadError::NoSize)
        );
        let big = Workload {
            tasks: 100,
            size: 2000,
            seed: 0,
        };
        let err = big.check(KEEP_2, 2 * gib, "MemAvailable").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("lower --tasks or --size"), "{text}");
        assert!(text.contains("3.2 GiB"), "{text}");
        assert!(text.contains("--results fingerprints"), "{text}");
        assert!(big.check(KEEP_2, 4 * gib, "MemAvailable").is_ok());
        let fingerprints = MemoryPlan {
            keep_products: false,
            in_flight: 2,
        };
        assert!(big.check(fingerprints, gib, "MemAvailable").is_ok());
    }

    #[test]
    fn presets() {
        assert_eq!(
            Preset::Seed.workload(2),
            Workload {
                tasks: 100,
                size: 2000,
                seed: 0
            }
        );
        assert_eq!(Preset::Quick.workload(2).tasks, 16);
        assert_eq!(Preset::Quick.workload(16).tasks, 32);
        assert_eq!(Preset::from_name("quick"), Some(Preset::Quick));
        assert_eq!(Preset::from_name("slow"), None);
    }
}
