//! Locks on single chunks across threads and processes, held while a write of part of a chunk
//! reads, changes and stores it, so that two workers writing different parts of one chunk at
//! the same time both land (without the lock, the later store would undo the earlier one).
//!
//! One lock file per array (`.daisy-chunk-locks` in its directory), one byte of it per chunk,
//! locked with an open-file-description lock (`F_OFD_SETLKW`): each lock opens the file anew,
//! so threads of one process exclude each other as processes do, and closing the file (a
//! crash included) releases the lock. Writes of whole chunks take no lock. Elsewhere than
//! Linux no lock is taken.

use std::fs::File;
use std::path::Path;

/// The lock file in an array's directory.
pub(crate) const LOCK_FILE: &str = ".daisy-chunk-locks";

/// A held lock on one chunk; released when dropped.
#[derive(Debug)]
pub(crate) struct ChunkLock {
    _file: File,
}

/// Waits for and takes the lock of the chunk whose linear index (row-major over the chunk
/// grid) is `index`, in the array at `dir`.
///
/// # Errors
/// The lock file cannot be opened or created, or the lock cannot be taken.
pub(crate) fn lock_chunk(dir: &Path, index: u64) -> std::io::Result<ChunkLock> {
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))?;
    #[cfg(target_os = "linux")]
    lock_byte(&file, index)?;
    #[cfg(not(target_os = "linux"))]
    let _ = index;
    Ok(ChunkLock { _file: file })
}

#[cfg(target_os = "linux")]
fn lock_byte(file: &File, index: u64) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;
    use std::os::fd::AsRawFd;

    let range = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        // Offsets are signed: indices past i64::MAX (never reached) share bytes.
        l_start: (index & (i64::MAX as u64)) as libc::off_t,
        l_len: 1,
        l_pid: 0,
    };
    loop {
        match fcntl(file.as_raw_fd(), FcntlArg::F_OFD_SETLKW(&range)) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(std::io::Error::from(errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    #[test]
    fn a_chunk_is_locked_by_one_holder_at_a_time_and_other_chunks_are_free() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_chunk(dir.path(), 7).unwrap();
        // Another chunk: free at once.
        drop(lock_chunk(dir.path(), 8).unwrap());
        let released = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(2));
        let waiter = {
            let (path, released, barrier) =
                (dir.path().to_path_buf(), released.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let _lock = lock_chunk(&path, 7).unwrap();
                // Only after the holder let go.
                assert!(released.load(Ordering::SeqCst));
            })
        };
        barrier.wait();
        std::thread::sleep(Duration::from_millis(100));
        released.store(true, Ordering::SeqCst);
        drop(held);
        waiter.join().unwrap();
    }
}
