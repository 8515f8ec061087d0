//! Who makes each task's A and B for a worker (`--generation`): the worker's own thread
//! just before it multiplies (`serial`; `parallel` with as many helper threads as it has
//! BLAS threads), or a generator thread of the worker's own that makes the next task's
//! data while the worker multiplies the current one (`overlapped`). The data come from the
//! pinned generator ([`Workload::generate_on`]; a workload file's task by its id,
//! [`TaskSet::input`]) either way, so verification regenerates them. Thread workers and
//! worker processes feed their tasks through [`feed`].
//!
//! Tasks from `.npy` files (`--input`) are loaded here in place of being generated
//! ([`TaskSet::load`]): by the worker's thread, or by its generator thread one task ahead
//! with `--generation overlapped`; a file that cannot be read ends the feed with an error
//! naming it and the task. The `generated` interval is then the task's load time.

use blaspar_core::Backend;
use blaspar_core::folder::LoadError;
use blaspar_core::mix::TaskSet;
use blaspar_core::operation::Operation;
use blaspar_core::task::{Failed, Input, Output, Passed, verify};
use blaspar_core::workload::Generation;
#[cfg(doc)]
use blaspar_core::workload::Workload;
use ndarray::ArrayViewMut2;
use std::sync::mpsc::sync_channel;

/// One task's inputs, ready to compute.
pub struct Inputs<T, C> {
    pub task: usize,
    /// What came with the task from the queue (where its product goes).
    pub with: T,
    /// What the task computes (a workload file's tasks differ).
    pub op: Operation,
    /// The operation's operands (A and B for gemm).
    pub input: Input,
    /// When its generation started and ended, on the caller's clock.
    pub generated: (C, C),
}

/// Takes tasks from `next` until it has none (or `work` fails) and hands each, with its A
/// and B, to `work` on the calling thread, in the order taken. `blas_threads` is the
/// worker's, read in its own thread (parallel generation uses as many threads); `clock`
/// stamps the generation.
///
/// With overlapped generation, `next` and the generation run on a scoped thread that hands
/// each task over through a rendezvous channel: it makes the next task's data while `work`
/// runs and waits until `work` asks for them, so it takes at most one task ahead of its
/// worker (which keeps the queue's dynamic balance and two tasks' inputs in memory).
pub fn feed<T: Send, C: Send, E: From<LoadError>>(
    tasks: TaskSet<'_>,
    blas_threads: usize,
    mut next: impl FnMut() -> Option<(usize, T)> + Send,
    clock: impl Fn() -> C + Sync,
    mut work: impl FnMut(Inputs<T, C>) -> Result<(), E>,
) -> Result<(), E> {
    let generators = tasks.workload.generation.threads(blas_threads);
    let generate = |(task, with): (usize, T)| -> Result<Inputs<T, C>, LoadError> {
        let start = clock();
        let input = tasks.load(task, generators)?;
        Ok(Inputs {
            task,
            with,
            op: tasks.shape(task).op,
            input,
            generated: (start, clock()),
        })
    };
    match tasks.workload.generation {
        Generation::Serial | Generation::Parallel => {
            while let Some(taken) = next() {
                work(generate(taken)?)?;
            }
            Ok(())
        }
        Generation::Overlapped => std::thread::scope(|s| {
            let (handover, ready) = sync_channel(0);
            s.spawn(move || {
                while let Some(taken) = next() {
                    let made = generate(taken);
                    let failed = made.is_err();
                    // The worker stopped (its `work` failed): take nothing more; nor after
                    // a file that could not be loaded (the worker ends with its error).
                    if handover.send(made).is_err() || failed {
                        break;
                    }
                }
            });
            // On an error `ready` is dropped here, which ends the generator.
            ready
                .into_iter()
                .try_for_each(|made| work(made.map_err(E::from)?))
        }),
    }
}

/// What one task's result becomes: a product written into its slot of the result store
/// (gemm with kept products), or a result the worker checks ([`check`]) and drops.
pub enum Sink<'s> {
    Slot(ArrayViewMut2<'s, f64>),
    Check,
}

/// One task's operation `op` through `backend` with the calling thread's thread setting,
/// into `sink`: `None` when the product went into its slot (checked after the run), else
/// the result or the library's error, for [`check`].
pub fn compute<B: Backend + ?Sized>(
    backend: &B,
    op: Operation,
    input: &Input,
    sink: Sink<'_>,
) -> Option<Result<Output, String>> {
    match (sink, input) {
        (Sink::Slot(slot), Input::Pair(a, b)) => {
            backend.multiply_into(a.view(), b.view(), slot);
            None
        }
        (Sink::Slot(_), _) => Some(Err(format!(
            "{op}: the result store keeps products only (--results fingerprints)"
        ))),
        (Sink::Check, _) => Some(backend.compute(op, input)),
    }
}

/// The worker's check of a result [`compute`] returned (a library error fails the task).
/// `corrupt`: the testing aid of [`Workload::corrupt`], true for the task it names.
pub fn check(
    op: Operation,
    input: &Input,
    result: Result<Output, String>,
    corrupt: bool,
) -> Result<Passed, Failed> {
    result
        .map(|mut out| {
            if corrupt {
                out.corrupt_one_entry();
            }
            out
        })
        .map_err(Failed::no_result)
        .and_then(|out| verify(op, input, &out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blaspar_core::workload::Workload;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A test's failure: a task id, or a file that could not be loaded.
    #[derive(Debug, PartialEq)]
    struct Fail(usize);

    impl From<LoadError> for Fail {
        fn from(e: LoadError) -> Self {
            Fail(e.task)
        }
    }

    fn workload(tasks: usize, generation: Generation) -> Workload {
        Workload {
            tasks,
            size: 9,
            seed: 3,
            generation,
            operation: Default::default(),
            corrupt: None,
        }
    }

    /// Every task in order with the generator's own data, whoever generates.
    #[test]
    fn every_generation_feeds_the_pinned_data_in_order() {
        for generation in [
            Generation::Serial,
            Generation::Parallel,
            Generation::Overlapped,
        ] {
            let w = workload(5, generation);
            let mut queue = 0..w.tasks;
            let mut seen = Vec::new();
            feed(
                (&w).into(),
                2,
                || queue.next().map(|t| (t, t * 10)),
                std::time::Instant::now,
                |i| -> Result<(), Fail> {
                    assert_eq!(i.with, i.task * 10);
                    let (a, b) = w.generate(i.task);
                    assert_eq!(i.input, Input::Pair(a, b));
                    assert!(i.generated.0 <= i.generated.1);
                    seen.push(i.task);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, vec![0, 1, 2, 3, 4], "{generation}");
        }
    }

    /// A workload file's tasks come with their own operation and shaped operands, in the
    /// order the queue hands them out.
    #[test]
    fn a_workload_files_tasks_come_with_their_operation_and_shape() {
        use blaspar_core::mix::Mix;
        let mix = Mix::parse(
            "w.toml",
            "[[tasks]]\nop = \"gemm\"\nshape = [6, 4, 9]\ncount = 2\n\
             [[tasks]]\nop = \"qr\"\nsize = 12\ncount = 1\n",
        )
        .unwrap();
        let w = mix.workload(1, Generation::Overlapped);
        let set = TaskSet {
            workload: &w,
            mix: Some(&mix),
            loaded: None,
        };
        let mut queue = 0..set.count();
        let mut seen = Vec::new();
        feed(
            set,
            1,
            || queue.next().map(|i| (set.task_at(i), ())),
            std::time::Instant::now,
            |i| -> Result<(), Fail> {
                assert_eq!(i.input, set.input(i.task, 1));
                seen.push((i.task, i.op, i.input.a().dim()));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (2, Operation::Qr, (12, 12)),
                (0, Operation::Gemm, (6, 4)),
                (1, Operation::Gemm, (6, 4)),
            ]
        );
    }

    /// Tasks from `.npy` files are loaded in place of generated, whoever loads; a file gone
    /// since the check ends the feed with an error naming it and its task.
    #[test]
    fn files_are_loaded_in_place_of_generated_and_a_missing_one_ends_the_feed() {
        use blaspar_core::folder::{Files, Folder, Loading};
        use blaspar_core::mix::Mix;
        use ndarray_npy::WriteNpyExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, n) in [("a.npy", 5), ("b.npy", 7), ("c.npy", 3)] {
            let m = ndarray::Array2::from_shape_fn((n, n), |(i, j)| (i * n + j) as f64);
            m.write_npy(std::fs::File::create(dir.path().join(name)).unwrap())
                .unwrap();
        }
        let files = Files::plan(
            Folder::scan(dir.path()).unwrap(),
            Operation::Qr,
            Loading::Workers,
        )
        .unwrap();
        let mix = Mix::from_files(files);
        for generation in [Generation::Serial, Generation::Overlapped] {
            let w = mix.workload(0, generation);
            let set = TaskSet {
                workload: &w,
                mix: Some(&mix),
                loaded: None,
            };
            let mut queue = 0..set.count();
            let mut seen = Vec::new();
            feed(
                set,
                1,
                || queue.next().map(|i| (set.task_at(i), ())),
                std::time::Instant::now,
                |i| -> Result<(), Fail> {
                    seen.push((i.task, i.input.a().dim()));
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(
                seen,
                [(1, (7, 7)), (0, (5, 5)), (2, (3, 3))],
                "{generation}"
            );
        }
        std::fs::remove_file(dir.path().join("a.npy")).unwrap();
        for generation in [Generation::Serial, Generation::Overlapped] {
            let w = mix.workload(0, generation);
            let set = TaskSet {
                workload: &w,
                mix: Some(&mix),
                loaded: None,
            };
            let mut queue = 0..set.count();
            let mut done = Vec::new();
            let result = feed(
                set,
                1,
                || queue.next().map(|i| (set.task_at(i), ())),
                std::time::Instant::now,
                |i| -> Result<(), LoadError> {
                    done.push(i.task);
                    Ok(())
                },
            );
            let err = result.unwrap_err();
            assert_eq!(err.task, 0, "{generation}");
            assert!(err.file.ends_with("a.npy"), "{err}");
            // Task c, after a in the queue, never ran.
            assert_eq!(done, [1], "{generation}");
        }
    }

    /// The generator takes at most one task ahead of its worker, and makes it on a thread
    /// other than the worker's.
    #[test]
    fn overlapped_generation_runs_one_task_ahead_on_its_own_thread() {
        let w = workload(6, Generation::Overlapped);
        let taken = AtomicUsize::new(0);
        let worker = std::thread::current().id();
        let mut ahead = Vec::new();
        feed(
            (&w).into(),
            1,
            || {
                assert_ne!(std::thread::current().id(), worker);
                let t = taken.fetch_add(1, Ordering::SeqCst);
                (t < w.tasks).then_some((t, ()))
            },
            std::time::Instant::now,
            |i| -> Result<(), Fail> {
                // Give the generator time to run ahead as far as it can.
                std::thread::sleep(std::time::Duration::from_millis(20));
                ahead.push(taken.load(Ordering::SeqCst).min(w.tasks) - (i.task + 1));
                Ok(())
            },
        )
        .unwrap();
        assert!(ahead.iter().all(|&a| a <= 1), "{ahead:?}");
        assert!(ahead[..4].iter().all(|&a| a == 1), "{ahead:?}");
    }

    /// A failing worker stops the feed: nothing more is taken than the one task ahead.
    #[test]
    fn a_failure_ends_the_feed_with_the_error() {
        let w = workload(100, Generation::Overlapped);
        let taken = AtomicUsize::new(0);
        let result = feed(
            (&w).into(),
            1,
            || {
                let t = taken.fetch_add(1, Ordering::SeqCst);
                (t < w.tasks).then_some((t, ()))
            },
            std::time::Instant::now,
            |i| {
                if i.task == 2 {
                    Err(Fail(i.task))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(result, Err(Fail(2)));
        assert!(taken.load(Ordering::SeqCst) <= 5, "{taken:?}");
    }
}
