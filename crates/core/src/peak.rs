//! The machine's f64 limit, measured: a microkernel of independent fused multiply-add chains
//! in the widest vector instructions the CPU has (chosen at run time: AVX-512, AVX2+FMA,
//! SSE2 on x86-64; NEON on aarch64; plain scalar code elsewhere), run on one core and on
//! every allowed core at once. No table value is ever used: the figure is what this machine
//! does now, with the instruction set recorded next to it.
//!
//! Each chain is `x = x * m + a` on a full vector register; 12 chains hide the FMA latency
//! (4 cycles on 2 ports needs at least 8). One FMA is 2 FLOPs per lane.
//!
//! A limit is the best the FMA units do: each measurement is cut into [`WINDOWS`] windows and
//! the fastest counts (per thread; the all-core figure sums the threads' fastest windows).

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Independent accumulator chains per kernel call.
const CHAINS: usize = 12;
/// Inner iterations per kernel call (each: one FMA per chain).
const ITERS: u64 = 1 << 16;

/// The measured limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// Instruction set of the kernel (`avx512f`, `avx2+fma`, `sse2`, `neon`, `scalar`).
    pub isa: String,
    /// f64 lanes per vector register.
    pub lanes: usize,
    /// GFLOP/s of the kernel on one core.
    pub one_core_gflops: f64,
    /// GFLOP/s with one kernel thread per allowed CPU, all at once.
    pub all_cores_gflops: f64,
    /// Threads used for `all_cores_gflops`.
    pub threads: usize,
    /// Wall seconds each measurement ran.
    pub seconds: f64,
}

/// One kernel: runs `ITERS` iterations of `CHAINS` FMA chains; returns a value that depends
/// on every chain (so nothing can be optimised away) and the FLOPs done.
type Kernel = fn() -> (f64, u64);

/// The widest kernel this CPU runs, with its name and lanes.
pub fn widest_kernel() -> (&'static str, usize, Kernel) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return ("avx512f", 8, x86::avx512);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return ("avx2+fma", 4, x86::avx2);
        }
        ("sse2", 2, x86::sse2)
    }
    #[cfg(target_arch = "aarch64")]
    {
        ("neon", 2, arm::neon)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        ("scalar", 1, scalar)
    }
}

/// Windows each measurement is cut into: a limit is the best the FMA units do, and whatever
/// else runs on the CPU (another process, a VM's neighbour, an interrupt) can only lower a
/// window's rate, so the fastest window is the figure, not the average over all of them.
const WINDOWS: u32 = 10;

/// Runs `kernel` repeatedly for about `duration`, in [`WINDOWS`] windows; returns the GFLOP/s
/// of the fastest window.
fn rate(kernel: Kernel, duration: Duration) -> f64 {
    // Warm up (clocks, page faults of the stack): a tenth of the time, not counted.
    let warm = Instant::now();
    while warm.elapsed() < duration / 10 {
        std::hint::black_box(kernel());
    }
    let window = duration / WINDOWS;
    let mut sink = 0.0;
    let mut best = 0.0f64;
    for _ in 0..WINDOWS {
        let start = Instant::now();
        let mut flops = 0u64;
        while start.elapsed() < window {
            let (v, f) = kernel();
            sink += v;
            flops += f;
        }
        best = best.max(flops as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(sink);
    best
}

/// Measures one core, then `threads` cores at once, each for `duration`.
pub fn measure(threads: usize, duration: Duration) -> Peak {
    let (isa, lanes, kernel) = widest_kernel();
    let one = rate(kernel, duration);
    let threads = threads.max(1);
    let all = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(move || rate(kernel, duration)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("kernel threads do not panic"))
            .sum()
    });
    Peak {
        isa: isa.to_string(),
        lanes,
        one_core_gflops: one,
        all_cores_gflops: all,
        threads,
        seconds: duration.as_secs_f64(),
    }
}

/// Plain code for CPUs without a known vector unit (the compiler may still vectorise it).
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
fn scalar() -> (f64, u64) {
    let (m, a) = (std::hint::black_box(0.999_999), std::hint::black_box(1e-6));
    let mut x = [1.0f64; CHAINS];
    for _ in 0..ITERS {
        for v in &mut x {
            *v = v.mul_add(m, a);
        }
    }
    (x.iter().sum(), ITERS * CHAINS as u64 * 2)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHAINS, ITERS};
    use std::arch::x86_64::*;

    pub fn avx512() -> (f64, u64) {
        // SAFETY: chosen only when the CPU reports avx512f.
        unsafe { avx512_inner() }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn avx512_inner() -> (f64, u64) {
        let m = _mm512_set1_pd(std::hint::black_box(0.999_999));
        let a = _mm512_set1_pd(std::hint::black_box(1e-6));
        let mut x = [_mm512_set1_pd(1.0); CHAINS];
        for _ in 0..ITERS {
            for v in &mut x {
                *v = _mm512_fmadd_pd(*v, m, a);
            }
        }
        let mut sum = _mm512_setzero_pd();
        for v in x {
            sum = _mm512_add_pd(sum, v);
        }
        (_mm512_reduce_add_pd(sum), ITERS * CHAINS as u64 * 8 * 2)
    }

    pub fn avx2() -> (f64, u64) {
        // SAFETY: chosen only when the CPU reports avx2 and fma.
        unsafe { avx2_inner() }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2_inner() -> (f64, u64) {
        let m = _mm256_set1_pd(std::hint::black_box(0.999_999));
        let a = _mm256_set1_pd(std::hint::black_box(1e-6));
        let mut x = [_mm256_set1_pd(1.0); CHAINS];
        for _ in 0..ITERS {
            for v in &mut x {
                *v = _mm256_fmadd_pd(*v, m, a);
            }
        }
        let mut out = [0.0f64; 4];
        let mut sum = _mm256_setzero_pd();
        for v in x {
            sum = _mm256_add_pd(sum, v);
        }
        // SAFETY: out holds 4 f64.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), sum) };
        (out.iter().sum(), ITERS * CHAINS as u64 * 4 * 2)
    }

    /// No FMA before AVX2-era CPUs: a multiply and an add per lane (2 FLOPs).
    pub fn sse2() -> (f64, u64) {
        // SAFETY: SSE2 is part of x86-64.
        unsafe {
            let m = _mm_set1_pd(std::hint::black_box(0.999_999));
            let a = _mm_set1_pd(std::hint::black_box(1e-6));
            let mut x = [_mm_set1_pd(1.0); CHAINS];
            for _ in 0..ITERS {
                for v in &mut x {
                    *v = _mm_add_pd(_mm_mul_pd(*v, m), a);
                }
            }
            let mut out = [0.0f64; 2];
            let mut sum = _mm_setzero_pd();
            for v in x {
                sum = _mm_add_pd(sum, v);
            }
            _mm_storeu_pd(out.as_mut_ptr(), sum);
            (out.iter().sum(), ITERS * CHAINS as u64 * 2 * 2)
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{CHAINS, ITERS};
    use std::arch::aarch64::*;

    pub fn neon() -> (f64, u64) {
        // SAFETY: NEON is part of aarch64.
        unsafe {
            let m = vdupq_n_f64(std::hint::black_box(0.999_999));
            let a = vdupq_n_f64(std::hint::black_box(1e-6));
            let mut x = [vdupq_n_f64(1.0); CHAINS];
            for _ in 0..ITERS {
                for v in &mut x {
                    *v = vfmaq_f64(a, *v, m);
                }
            }
            let mut sum = vdupq_n_f64(0.0);
            for v in x {
                sum = vaddq_f64(sum, v);
            }
            (vaddvq_f64(sum), ITERS * CHAINS as u64 * 2 * 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_in_some_windows_does_not_lower_the_rate() {
        // A "kernel" of a fixed 1000 FLOPs a call, 10 us of spinning each, that stalls for
        // 60 ms once, at its 3000th call (about 20 ms into the 100 ms measured, after 10 ms
        // of warm-up): the average over the whole run falls to about 0.6 of the steady
        // kernel's, the fastest window does not (tests running beside this one on the same
        // CPUs move both figures by a few percent: hence 0.75).
        use std::sync::atomic::{AtomicU32, Ordering};
        static CALLS: AtomicU32 = AtomicU32::new(0);
        fn spin(d: Duration) {
            let t = Instant::now();
            while t.elapsed() < d {
                std::hint::spin_loop();
            }
        }
        fn stalling() -> (f64, u64) {
            if CALLS.fetch_add(1, Ordering::Relaxed) == 3000 {
                spin(Duration::from_millis(60));
            }
            spin(Duration::from_micros(10));
            (1.0, 1000)
        }
        fn steady() -> (f64, u64) {
            spin(Duration::from_micros(10));
            (1.0, 1000)
        }
        let duration = Duration::from_millis(100);
        let (with_stall, without) = (rate(stalling, duration), rate(steady, duration));
        assert!(
            with_stall > 0.75 * without,
            "with a stall {with_stall:.6} GFLOP/s, without {without:.6}"
        );
    }

    #[test]
    fn every_kernel_this_cpu_runs_computes_the_recurrence() {
        // x_{k+1} = x_k m + a from x_0 = 1, the same in every lane and chain.
        let (m, a) = (0.999_999f64, 1e-6f64);
        let mut x = 1.0f64;
        for _ in 0..ITERS {
            x = x.mul_add(m, a);
        }
        let mut kernels: Vec<(&str, usize, Kernel)> = vec![("scalar", 1, scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            kernels.push(("sse2", 2, x86::sse2));
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                kernels.push(("avx2+fma", 4, x86::avx2));
            }
            if std::is_x86_feature_detected!("avx512f") {
                kernels.push(("avx512f", 8, x86::avx512));
            }
        }
        #[cfg(target_arch = "aarch64")]
        kernels.push(("neon", 2, arm::neon));
        for (name, lanes, k) in kernels {
            let (v, flops) = k();
            let expected = x * (lanes * CHAINS) as f64;
            assert!(
                ((v - expected) / expected).abs() < 1e-9,
                "{name}: {v} vs {expected}"
            );
            assert_eq!(flops, ITERS * (CHAINS * lanes * 2) as u64, "{name}");
        }
    }

    #[test]
    fn the_widest_kernel_matches_the_cpu_flags() {
        let (isa, lanes, _) = widest_kernel();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            assert_eq!((isa, lanes), ("avx512f", 8));
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            assert_eq!((isa, lanes), ("avx2+fma", 4));
        }
        assert!(lanes >= 1, "{isa}");
        let p = measure(2, Duration::from_millis(30));
        assert_eq!(p.isa, isa);
        assert_eq!(p.threads, 2);
        assert!(p.one_core_gflops.is_finite() && p.one_core_gflops > 0.0);
        assert!(p.all_cores_gflops.is_finite() && p.all_cores_gflops > 0.0);
    }
}
