//! The result store: every task's product, in one shared-memory file (`memfd_create`)
//! mapped by the parent and, for process strategies, by every worker process.
//!
//! A worker writes its product straight into its task's slot, so a product crosses no pipe
//! and is never copied: the parent reads it where the worker wrote it. Thread strategies
//! use the same store, so threads and processes keep their results in the same kind of
//! memory and compare fairly. The file has no name: it disappears with the last process
//! that maps it or holds its descriptor, even when the run is killed.
//!
//! Every page is ready before the timed run: [`ResultStore::new`] maps the file with
//! `MAP_POPULATE`, which allocates (zeroes) every page and maps it writable, and a worker
//! process populates its own mapping the same way when it maps the store
//! ([`ResultStore::from_inherited_fd`]): its pages are already in memory, but each mapping
//! takes its own page faults unless populated. Without this, writing a product took a
//! first-touch fault per 4 KiB page inside the timed run (2000 products of 200 x 200 kept:
//! 156 250 faults, multiply-phase time 1.75x that of products checked and dropped). The
//! time it takes is [`ResultStore::ready_seconds`], reported as the store's setup.
//!
//! Who may write where: a worker gets write access to one slot only, the slot of the task
//! it just took from the queue ([`ResultStore::claims`]). Each task index is handed out
//! once per run by an atomic counter ([`TaskSource`]), whether the workers are threads of
//! this process or other processes mapping the same file, so no two writers ever share a
//! slot; the owner of the run reads a slot ([`ResultStore::product`]) only once the worker
//! that took it reported the task done.

use blaspar_core::schedule::TaskQueue;
use memmap2::{MmapMut, MmapOptions};
use ndarray::{ArrayView2, ArrayViewMut2};
use nix::sys::memfd::{MFdFlags, memfd_create};
use std::fs::File;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Every task's n x n product, row-major, task after task.
pub struct ResultStore {
    file: File,
    map: MmapMut,
    tasks: usize,
    size: usize,
    /// Seconds from creating (or receiving) the file to every page mapped.
    ready_seconds: f64,
}

/// Why the store could not be created or mapped.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the shared result store ({bytes} bytes): {source}")]
    Create { bytes: u64, source: std::io::Error },
    #[error("cannot create the shared task queue: {source}")]
    CreateQueue { source: std::io::Error },
    #[error("cannot map the shared result store (descriptor {fd}): {source}")]
    Map { fd: RawFd, source: std::io::Error },
    #[error("the shared result store (descriptor {fd}) holds {actual} bytes, expected {expected}")]
    Size {
        fd: RawFd,
        actual: u64,
        expected: u64,
    },
}

fn bytes_for(tasks: usize, size: usize) -> u64 {
    (tasks as u64) * (size as u64) * (size as u64) * 8
}

impl ResultStore {
    /// A zero-filled store for `tasks` products of `size` x `size`, every page allocated
    /// and mapped (see the module's notes).
    pub fn new(tasks: usize, size: usize) -> Result<ResultStore, StoreError> {
        let started = Instant::now();
        let bytes = bytes_for(tasks, size);
        let create = |source| StoreError::Create { bytes, source };
        let file = File::from(
            memfd_create(c"blaspar-results", MFdFlags::MFD_CLOEXEC)
                .map_err(|e| create(e.into()))?,
        );
        file.set_len(bytes).map_err(create)?;
        Self::map(file, tasks, size, started)
    }

    /// Maps the store a parent created, from a descriptor this process inherited, every
    /// page mapped.
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a store created by [`ResultStore::new`] with the
    /// same `tasks` and `size`, owned by nothing else in this process.
    pub unsafe fn from_inherited_fd(
        fd: RawFd,
        tasks: usize,
        size: usize,
    ) -> Result<ResultStore, StoreError> {
        let started = Instant::now();
        // SAFETY: the caller hands over ownership of an open descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        let actual = file
            .metadata()
            .map_err(|source| StoreError::Map { fd, source })?
            .len();
        let expected = bytes_for(tasks, size);
        if actual != expected {
            return Err(StoreError::Size {
                fd,
                actual,
                expected,
            });
        }
        Self::map(file, tasks, size, started)
    }

    /// Maps `file` with every page populated: allocated on first use of the file (zeroed
    /// by the kernel), and in this process's page tables, writable (a shared memfd mapping
    /// needs no dirty tracking, so the populating read fault maps it writable).
    fn map(
        file: File,
        tasks: usize,
        size: usize,
        started: Instant,
    ) -> Result<ResultStore, StoreError> {
        let fd = file.as_raw_fd();
        let map = if bytes_for(tasks, size) == 0 {
            MmapOptions::new().len(0).map_anon()
        } else {
            // SAFETY: mapping a file is unsound only if the file changes under a reference to
            // it. This memfd has no name, so only processes of this run reach it, and they
            // write it only through the disjoint slots that `claims` hands out.
            unsafe { MmapOptions::new().populate().map_mut(&file) }
        }
        .map_err(|source| StoreError::Map { fd, source })?;
        Ok(ResultStore {
            file,
            map,
            tasks,
            size,
            ready_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Seconds it took to make the store ready: creating the file (or receiving it) and
    /// populating this process's mapping. Before the timed run, reported apart from it.
    pub fn ready_seconds(&self) -> f64 {
        self.ready_seconds
    }

    /// The descriptor a worker process inherits (see the worker processes, `procs.rs`).
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub fn tasks(&self) -> usize {
        self.tasks
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Task `task`'s product. Read it only after the worker that took the task reported it
    /// done: until then another thread or process may be writing it.
    pub fn product(&self, task: usize) -> ArrayView2<'_, f64> {
        let n = self.size;
        let floats: &[f64] = bytemuck::cast_slice(&self.map);
        ArrayView2::from_shape((n, n), &floats[task * n * n..(task + 1) * n * n])
            .expect("a slot holds n x n values")
    }

    /// Task `task`'s slot, writable, for the run's owner when no worker is running (the
    /// batched call's products are copied in after the call).
    pub fn slot_mut(&mut self, task: usize) -> ArrayViewMut2<'_, f64> {
        let n = self.size;
        let floats: &mut [f64] = bytemuck::cast_slice_mut(&mut self.map);
        ArrayViewMut2::from_shape((n, n), &mut floats[task * n * n..(task + 1) * n * n])
            .expect("a slot holds n x n values")
    }

    /// Hands out the tasks of `queue`, each with write access to its own slot and no
    /// other: the way workers (threads here, or a worker process on its own mapping) take
    /// their next task. The store stays borrowed while any slot is held.
    pub fn claims<'s, Q: TaskSource + ?Sized>(&'s mut self, queue: &'s Q) -> SlotClaims<'s, Q> {
        let floats: &mut [f64] = bytemuck::cast_slice_mut(&mut self.map);
        SlotClaims {
            base: NonNull::new(floats.as_mut_ptr()).expect("a slice pointer is never null"),
            size: self.size,
            tasks: self.tasks,
            queue,
            _store: PhantomData,
        }
    }
}

/// A source of task indices that hands out each index at most once for as long as it is
/// borrowed: the guarantee [`SlotClaims`] rests on.
///
/// # Safety
/// `next_task` must never return the same index twice while any shared borrow of the
/// source lives, in this process or (for a shared queue) in any process mapping it.
pub unsafe trait TaskSource: Sync {
    fn next_task(&self) -> Option<usize>;
}

// SAFETY: `TaskQueue::next` is one `fetch_add` on a counter that only ever grows (there is
// no reset).
unsafe impl TaskSource for TaskQueue {
    fn next_task(&self) -> Option<usize> {
        self.next()
    }
}

// SAFETY: every process takes indices with one `fetch_add` on the shared counter; only the
// parent resets it (`reset` takes `&mut self`), between runs, after every worker said
// `drained` and so dropped the claims of the run.
unsafe impl TaskSource for SharedQueue {
    fn next_task(&self) -> Option<usize> {
        self.next()
    }
}

/// Tasks with their slots, each handed out once ([`ResultStore::claims`]).
pub struct SlotClaims<'s, Q: ?Sized> {
    base: NonNull<f64>,
    size: usize,
    tasks: usize,
    queue: &'s Q,
    /// The slots are borrowed from the store's mapping, exclusively for this process.
    _store: PhantomData<&'s mut [f64]>,
}

// SAFETY: sharing the claims between threads shares only the queue (Sync by `TaskSource`)
// and hands out disjoint slots, each to the one thread whose `next` took its index.
unsafe impl<Q: TaskSource + ?Sized> Sync for SlotClaims<'_, Q> {}
// SAFETY: the pointer is into a mapping that lives for 's, wherever the claims move.
unsafe impl<Q: TaskSource + ?Sized> Send for SlotClaims<'_, Q> {}

impl<'s, Q: TaskSource + ?Sized> SlotClaims<'s, Q> {
    /// The next task and its slot, or `None` when every task was taken.
    pub fn next(&self) -> Option<(usize, ArrayViewMut2<'s, f64>)> {
        let task = self.queue.next_task()?;
        assert!(
            task < self.tasks,
            "the queue handed out task {task} of a store of {} tasks",
            self.tasks
        );
        let len = self.size * self.size;
        // SAFETY: `task < tasks`, so the slot lies inside the mapping, which
        // the store keeps alive and this process does not otherwise touch for 's (borrowed
        // mutably by `claims`). The queue hands `task` out once, so this is the only view of
        // this slot in any thread or process of the run; the owner of the run reads it only
        // after the task is reported done, when this view is gone.
        let slot =
            unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(task * len), len) };
        let view = ArrayViewMut2::from_shape((self.size, self.size), slot)
            .expect("a slot holds n x n values");
        Some((task, view))
    }
}

/// The task queue of worker processes: one counter in a shared page that every worker
/// takes its next task from (`fetch_add`), as thread workers do with
/// [`blaspar_core::schedule::TaskQueue`]. Workers never wait for the parent to hand out work.
pub struct SharedQueue {
    file: File,
    map: MmapMut,
    tasks: usize,
}

impl SharedQueue {
    /// A queue of `tasks` tasks, all still to be taken.
    pub fn new(tasks: usize) -> Result<SharedQueue, StoreError> {
        let create = |source| StoreError::CreateQueue { source };
        let file = File::from(
            memfd_create(c"blaspar-queue", MFdFlags::MFD_CLOEXEC).map_err(|e| create(e.into()))?,
        );
        file.set_len(64).map_err(create)?;
        Self::map(file, tasks)
    }

    /// Maps the queue a parent created, from an inherited descriptor.
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a queue created by [`SharedQueue::new`], owned by
    /// nothing else in this process.
    pub unsafe fn from_inherited_fd(fd: RawFd, tasks: usize) -> Result<SharedQueue, StoreError> {
        // SAFETY: the caller hands over ownership of an open descriptor.
        let file = unsafe { File::from_raw_fd(fd) };
        let actual = file
            .metadata()
            .map_err(|source| StoreError::Map { fd, source })?
            .len();
        if actual != 64 {
            return Err(StoreError::Size {
                fd,
                actual,
                expected: 64,
            });
        }
        Self::map(file, tasks)
    }

    fn map(file: File, tasks: usize) -> Result<SharedQueue, StoreError> {
        let fd = file.as_raw_fd();
        // SAFETY: a 64-byte memfd, only accessed through the atomic below.
        let map =
            unsafe { MmapMut::map_mut(&file) }.map_err(|source| StoreError::Map { fd, source })?;
        Ok(SharedQueue { file, map, tasks })
    }

    fn counter(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned and 64 bytes long; AtomicU64 has the layout of
        // u64, and every process touches this word only atomically.
        unsafe { &*self.map.as_ptr().cast::<AtomicU64>() }
    }

    /// The descriptor a worker process inherits.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Makes every task available again: before a run, while no worker takes tasks.
    /// `&mut`: no claim of this process may outlive it (see [`TaskSource`]).
    pub fn reset(&mut self) {
        self.counter().store(0, Ordering::SeqCst);
    }

    /// The next task, or `None` when all were taken.
    pub fn next(&self) -> Option<usize> {
        let i = self.counter().fetch_add(1, Ordering::Relaxed);
        (i < self.tasks as u64).then_some(i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{BorrowedFd, IntoRawFd};

    /// A second descriptor of the same file, as a worker process inherits it.
    fn dup(fd: RawFd) -> RawFd {
        // SAFETY: `fd` belongs to a store or queue alive for this call.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        nix::unistd::dup(fd).expect("dup").into_raw_fd()
    }

    #[test]
    fn claims_give_each_task_its_own_slot_across_threads() {
        let mut store = ResultStore::new(64, 3).unwrap();
        let queue = TaskQueue::new(64);
        let claims = store.claims(&queue);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    while let Some((task, mut slot)) = claims.next() {
                        slot.fill(task as f64 + 0.5);
                    }
                });
            }
        });
        assert!(claims.next().is_none());
        for task in 0..64 {
            assert!(store.product(task).iter().all(|&v| v == task as f64 + 0.5));
        }
    }

    #[test]
    fn workers_on_two_mappings_write_disjoint_slots() {
        let mut store = ResultStore::new(5, 2).unwrap();
        let mut other = unsafe { ResultStore::from_inherited_fd(dup(store.fd()), 5, 2) }.unwrap();
        let queue = SharedQueue::new(5).unwrap();
        let other_queue = unsafe { SharedQueue::from_inherited_fd(dup(queue.fd()), 5) }.unwrap();
        {
            let (mine, theirs) = (store.claims(&queue), other.claims(&other_queue));
            for round in 0.. {
                let claims = if round % 2 == 0 { &mine } else { &theirs };
                let Some((task, mut slot)) = claims.next() else {
                    break;
                };
                slot.fill(if round % 2 == 0 { 1.0 } else { 2.0 } + task as f64 * 10.0);
            }
            assert!(theirs.next().is_none());
        }
        let seen: Vec<f64> = (0..5).map(|t| store.product(t)[[1, 1]]).collect();
        assert_eq!(seen, vec![1.0, 12.0, 21.0, 32.0, 41.0]);
        assert_eq!(other.product(3)[[0, 1]], 32.0);
    }

    /// Minor page faults of this thread while it writes every page of every slot through
    /// `claims`, and the number of pages written.
    fn faults_writing_every_page(store: &mut ResultStore) -> (u64, u64) {
        let pages = (store.tasks() * store.size() * store.size() * 8).div_ceil(4096) as u64;
        let queue = TaskQueue::new(store.tasks());
        let claims = store.claims(&queue);
        let before = crate::execution::thread_minor_faults();
        while let Some((task, mut slot)) = claims.next() {
            slot.fill(task as f64);
        }
        (crate::execution::thread_minor_faults() - before, pages)
    }

    #[test]
    fn a_new_store_is_written_without_page_faults() {
        // 32 slots of 128 x 128: 1024 fresh pages, one fault each were they not populated.
        let mut store = ResultStore::new(32, 128).unwrap();
        let (faults, pages) = faults_writing_every_page(&mut store);
        assert_eq!(pages, 1024);
        assert!(faults < pages / 20, "{faults} faults writing {pages} pages");
        assert!(store.ready_seconds() > 0.0);
        assert!(store.product(31).iter().all(|&v| v == 31.0));
    }

    #[test]
    fn a_worker_mapping_is_written_without_page_faults() {
        let store = ResultStore::new(32, 128).unwrap();
        // A worker's own mapping of the same pages (already allocated by the parent).
        let mut other =
            unsafe { ResultStore::from_inherited_fd(dup(store.fd()), 32, 128) }.unwrap();
        let (faults, pages) = faults_writing_every_page(&mut other);
        assert!(faults < pages / 20, "{faults} faults writing {pages} pages");
        assert!(store.product(7).iter().all(|&v| v == 7.0));
    }

    #[test]
    fn the_owner_writes_a_slot_when_no_worker_runs() {
        let mut store = ResultStore::new(3, 4).unwrap();
        store.slot_mut(2)[[3, 0]] = -1.0;
        assert_eq!(store.product(2)[[3, 0]], -1.0);
        assert_eq!(store.product(1).sum(), 0.0);
    }

    #[test]
    fn a_shared_queue_hands_out_each_task_once_across_mappings() {
        let mut q = SharedQueue::new(5).unwrap();
        let other = unsafe { SharedQueue::from_inherited_fd(dup(q.fd()), 5) }.unwrap();
        let mut seen: Vec<usize> = (0..12)
            .filter_map(|i| if i % 2 == 0 { q.next() } else { other.next() })
            .collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert_eq!(other.next(), None);
        q.reset();
        assert_eq!(other.next(), Some(0));
    }

    #[test]
    fn a_store_of_the_wrong_size_is_refused() {
        let store = ResultStore::new(2, 3).unwrap();
        let err = unsafe { ResultStore::from_inherited_fd(dup(store.fd()), 2, 4) }
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected 256"), "{err}");
    }
}
