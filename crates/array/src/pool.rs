//! The per-process thread pool that decodes and encodes chunks.
//!
//! rayon's global pool does not survive `fork`: a forked child inherits the pool's bookkeeping but
//! not its threads, so the first parallel call in the child waits forever. Python workers are
//! forked from an interpreter that may already have read an array, so every parallel call of this
//! crate (and every zarrs call, whose codecs use rayon internally) runs inside a pool created
//! lazily by the process that uses it, and created anew when [`std::process::id`] changes. The
//! stale pool of the parent is leaked, never dropped: its threads do not exist in the child, so
//! there is nothing to join.

use std::sync::{Arc, Mutex, PoisonError};

use rayon::ThreadPool;

/// The pool of the current process and that process's id.
static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

/// The number of threads of pools created from now on (0: one per available core).
static THREADS: Mutex<usize> = Mutex::new(0);

/// Sets the number of I/O threads per process (0: one per available core, the default).
///
/// Takes effect for the pool of this process at once (the next call builds a new pool). With as
/// many worker processes as cores, one thread per process avoids oversubscription; a single
/// process reading large regions gains from one per core. The environment variable
/// `DAISY_ARRAY_THREADS` sets the initial value.
pub fn set_io_threads(threads: usize) {
    *THREADS.lock().unwrap_or_else(PoisonError::into_inner) = threads;
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, old)) = pool.take() {
        // Dropping a pool with idle threads is fine in the process that made it.
        drop(old);
    }
}

/// The number of threads the pool of this process uses.
#[must_use]
pub fn io_threads() -> usize {
    let configured = *THREADS.lock().unwrap_or_else(PoisonError::into_inner);
    if configured > 0 {
        return configured;
    }
    if let Some(threads) = std::env::var("DAISY_ARRAY_THREADS")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|&threads| threads > 0)
    {
        return threads;
    }
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The pool of this process, created on first use and after a fork.
fn pool() -> Option<Arc<ThreadPool>> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, pool)) = slot.as_ref()
        && *owner == pid
    {
        return Some(Arc::clone(pool));
    }
    if let Some((_, inherited)) = slot.take() {
        // Forked: the threads of this pool belong to the parent. Dropping it would signal
        // threads that do not exist; leak it instead (one allocation per fork).
        std::mem::forget(inherited);
    }
    let threads = io_threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("daisy-array-{index}"))
        .build()
        .map(Arc::new);
    match pool {
        Ok(pool) => {
            *slot = Some((pid, Arc::clone(&pool)));
            Some(pool)
        }
        // Spawning threads failed (resource limits): the caller runs the work on its own thread.
        Err(_) => None,
    }
}

/// Runs `work` inside this process's pool (parallel iterators inside use it, not the global pool).
///
/// If the pool cannot be built (no threads can be spawned), `work` runs on the calling thread.
pub(crate) fn install<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::*;

    #[test]
    fn work_runs_on_the_crate_pool_not_the_global_one() {
        let names: Vec<String> = install(|| {
            (0..64)
                .into_par_iter()
                .map(|_| std::thread::current().name().unwrap_or("").to_string())
                .collect()
        });
        assert!(
            names.iter().all(|name| name.starts_with("daisy-array-")),
            "{names:?}"
        );
    }
}
