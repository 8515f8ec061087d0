//! Dynamic task hand-out: a worker takes the next task when it finishes one, so uneven
//! tasks balance. Shared by thread workers now and by the process runner later.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Hands out task indices 0..tasks, each exactly once, to any number of workers.
#[derive(Debug)]
pub struct TaskQueue {
    next: AtomicUsize,
    tasks: usize,
}

impl TaskQueue {
    pub fn new(tasks: usize) -> Self {
        TaskQueue {
            next: AtomicUsize::new(0),
            tasks,
        }
    }

    /// The next task, or `None` when all were handed out.
    pub fn next(&self) -> Option<usize> {
        // fetch_add may run past `tasks` once per worker; those values are simply dropped.
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.tasks).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_task_once_across_threads() {
        let q = TaskQueue::new(10_000);
        let seen = Mutex::new(vec![0u32; 10_000]);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    while let Some(i) = q.next() {
                        seen.lock().unwrap()[i] += 1;
                    }
                });
            }
        });
        assert!(seen.into_inner().unwrap().iter().all(|&c| c == 1));
        assert_eq!(q.next(), None);
    }

    #[test]
    fn a_slow_worker_takes_fewer_tasks() {
        let q = TaskQueue::new(40);
        let counts = std::thread::scope(|s| {
            let slow = s.spawn(|| {
                let mut n = 0;
                while q.next().is_some() {
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                n
            });
            let fast = s.spawn(|| {
                let mut n = 0;
                while q.next().is_some() {
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                n
            });
            (slow.join().unwrap(), fast.join().unwrap())
        });
        assert_eq!(counts.0 + counts.1, 40);
        assert!(counts.0 < counts.1, "{counts:?}");
    }
}
