//! The file I/O of done markers that differs between platforms: positioned reads and writes
//! (so one open chunk can be shared between threads) and atomic replacement of a file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `target` atomically with `bytes`: written to `tmp` (in the same directory),
/// flushed, renamed into place, and the rename flushed where directories can be.
///
/// On failure the temporary file is removed (best effort).
///
/// # Errors
///
/// The io error of the create, write, flush or rename that failed.
pub(super) fn write_atomically(target: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let write = || -> io::Result<()> {
        let mut file = File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(tmp, target)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(tmp);
    })?;
    if let Some(dir) = target.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Makes a rename in `dir` durable where directories can be flushed (best effort).
pub(super) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
/// Reads at `offset` without moving a shared cursor; returns the bytes read (0 at the end).
#[cfg(unix)]
pub(super) fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buffer, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// Writes all of `bytes` at `offset` without moving a shared cursor.
#[cfg(unix)]
pub(super) fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, offset)
}

/// Reads at `offset` (the cursor moves, but every access is positioned).
#[cfg(windows)]
pub(super) fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    file.seek_read(buffer, offset)
}

/// Writes all of `bytes` at `offset` (the cursor moves, but every access is positioned).
#[cfg(windows)]
pub(super) fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        match file.seek_write(bytes, offset)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => {
                bytes = &bytes[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positioned_io_and_atomic_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(8).unwrap();
        write_all_at(&file, &[7, 9], 3).unwrap();
        let mut buffer = [0u8; 8];
        assert_eq!(read_at(&file, &mut buffer, 0).unwrap(), 8);
        assert_eq!(buffer, [0, 0, 0, 7, 9, 0, 0, 0]);
        // Past the end: nothing read.
        assert_eq!(read_at(&file, &mut buffer, 8).unwrap(), 0);
        let target = dir.path().join("target");
        write_atomically(&target, &dir.path().join("tmp"), b"one").unwrap();
        write_atomically(&target, &dir.path().join("tmp"), b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert!(!dir.path().join("tmp").exists());
        // A missing directory fails, and leaves no temporary file behind.
        let missing = dir.path().join("missing");
        let err = write_atomically(&missing.join("t"), &missing.join("tmp"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
