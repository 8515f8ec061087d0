//! CPU time from getrusage: the proof that threads really ran.

/// CPU seconds (user + system) consumed so far by the whole process (all threads).
pub fn process_cpu_seconds() -> f64 {
    rusage(libc::RUSAGE_SELF)
}

/// CPU seconds (user + system) consumed so far by the calling thread alone.
pub fn thread_cpu_seconds() -> f64 {
    rusage(libc::RUSAGE_THREAD)
}

/// Nanoseconds on CLOCK_MONOTONIC: one clock for every process on the machine, so a worker
/// process's timestamps and its parent's share a time line.
pub fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime only writes the struct it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_MONOTONIC is always available on Linux");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn rusage(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    if rc != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_thread_accumulates_cpu_time() {
        let before = thread_cpu_seconds();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 60 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let used = thread_cpu_seconds() - before;
        assert!(used > 0.02, "{used}");
        assert!(process_cpu_seconds() >= used);
    }

    #[test]
    fn monotonic_clock_advances_with_instant() {
        let (i0, m0) = (std::time::Instant::now(), monotonic_ns());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (di, dm) = (
            i0.elapsed().as_nanos() as i128,
            (monotonic_ns() - m0) as i128,
        );
        assert!(dm >= 20_000_000, "{dm}");
        assert!(
            (di - dm).abs() < 5_000_000,
            "Instant {di} ns, CLOCK_MONOTONIC {dm} ns"
        );
    }
}
