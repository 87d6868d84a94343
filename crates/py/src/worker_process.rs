//! `_become_worker`: what a forked Python worker does first, so that it never outlives its
//! scheduler and holds none of its descriptors (docs/semantics.md#workers-and-daisy_context).
//!
//! A worker forked from the scheduler process inherits all of its descriptors: the listening
//! socket, every worker connection, the event loop's epoll and eventfd. While a worker holds
//! them, a killed scheduler's port keeps listening and its connections never close, so no
//! worker notices that the scheduler is gone. `_become_worker`
//! - asks the kernel to send `SIGHUP` when the forking thread ends (`PR_SET_PDEATHSIG`; the
//!   server never sends `SIGHUP` itself, so the worker's handler knows what it means), then
//!   checks that the scheduler is still the parent (it may have died before the `prctl`);
//! - starts a watchdog thread that kills the worker's process group if the parent changes
//!   (the backstop when the signal is not delivered, not handled, or was not asked for);
//! - replaces every inherited socket and anonymous-inode descriptor (epoll, eventfd,
//!   timerfd, signalfd, pidfd) above 2 by a harmless one, keeping its number: `/dev/null`,
//!   or for tokio's inherited signal pipe a fresh socket of the worker's own, so that a
//!   runtime the worker builds later works. Regular files, pipes and terminals stay: they may
//!   belong to the user's code, as with daisy 1.x's forked workers.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::thread;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::stat::{SFlag, fstat};
use nix::unistd::{Pid, dup3, getpgrp, getpid, getppid};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// How often the watchdog looks at the parent.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// The descriptors this process has open above stderr, by number.
fn open_descriptors() -> io::Result<Vec<RawFd>> {
    let mut fds: Vec<RawFd> = fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    fds.sort_unstable();
    // The directory's own descriptor is closed now and fails the checks below.
    Ok(fds)
}

/// What an open descriptor is, for the decision to keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A socket, with its inode.
    Socket(u64),
    /// epoll, eventfd, timerfd, signalfd, pidfd, ...
    AnonInode,
    /// A regular file, pipe, terminal, directory, ...: the user's, kept.
    Other,
}

/// The kind of descriptor `fd`, or None if it is not open.
fn kind(fd: RawFd) -> Option<Kind> {
    let stat = fstat(fd).ok()?;
    let format = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
    if format == SFlag::S_IFSOCK {
        return Some(Kind::Socket(stat.st_ino));
    }
    let target = fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    if target.to_string_lossy().starts_with("anon_inode:") {
        Some(Kind::AnonInode)
    } else {
        Some(Kind::Other)
    }
}

/// The socket inodes of tokio's process-wide signal pipe, learnt by building a throwaway
/// runtime: its signal driver duplicates the pipe's receiving end.
fn tokio_signal_pipe(before: &[RawFd]) -> io::Result<HashSet<u64>> {
    let before: HashSet<RawFd> = before.iter().copied().collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let inodes = open_descriptors()?
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .filter_map(|fd| match kind(fd) {
            Some(Kind::Socket(inode)) => Some(inode),
            _ => None,
        })
        .collect();
    drop(runtime);
    Ok(inodes)
}

/// Replaces the scheduler's descriptors of this process by harmless ones; returns how many.
fn release_scheduler_descriptors() -> io::Result<usize> {
    let inherited = open_descriptors()?;
    let signal_pipe = tokio_signal_pipe(&inherited)?;
    let null = File::options().read(true).write(true).open("/dev/null")?;
    // A pipe of the worker's own for tokio: never readable (its peer stays open, unused).
    let (own_pipe, own_peer): (OwnedFd, OwnedFd) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let keep = [null.as_raw_fd(), own_pipe.as_raw_fd(), own_peer.as_raw_fd()];
    let mut replaced = 0;
    for fd in inherited.into_iter().filter(|fd| !keep.contains(fd)) {
        let source = match kind(fd) {
            Some(Kind::Socket(inode)) if signal_pipe.contains(&inode) => own_pipe.as_raw_fd(),
            Some(Kind::Socket(_) | Kind::AnonInode) => null.as_raw_fd(),
            Some(Kind::Other) | None => continue,
        };
        dup3(source, fd, OFlag::O_CLOEXEC).map_err(io::Error::from)?;
        replaced += 1;
    }
    // The peer must outlive every copy of the pipe: it lives as long as the process.
    std::mem::forget(own_peer);
    Ok(replaced)
}

/// Kills this worker and what it started: its process group if it leads one, else itself.
fn kill_worker() {
    let me = getpid();
    if getpgrp() == me {
        let _ = killpg(me, Signal::SIGKILL);
    }
    let _ = kill(me, Signal::SIGKILL);
}

/// Watches the parent from a thread of its own; kills the worker when it is no longer
/// `server_pid`, with a line on stderr saying so.
fn start_watchdog(server_pid: Pid, what: String) -> io::Result<()> {
    thread::Builder::new()
        .name("daisy-worker-watchdog".into())
        .spawn(move || {
            loop {
                thread::sleep(WATCH_INTERVAL);
                if getppid() != server_pid {
                    eprintln!(
                        "daisy: {what}: the scheduler process {server_pid} is gone; stopping \
                         this worker"
                    );
                    kill_worker();
                }
            }
        })
        .map(drop)
}

/// Makes this freshly forked process a worker that does not outlive its scheduler; see the
/// stub. Returns False if the scheduler `server_pid` is already gone (nothing else done).
#[pyfunction]
#[pyo3(name = "_become_worker", signature = (server_pid, what, *, death_signal = true))]
pub(crate) fn become_worker(server_pid: i32, what: String, death_signal: bool) -> PyResult<bool> {
    let server = Pid::from_raw(server_pid);
    if death_signal {
        prctl::set_pdeathsig(Signal::SIGHUP)
            .map_err(|e| PyOSError::new_err(format!("cannot set the parent-death signal: {e}")))?;
    }
    // The scheduler may have died before the prctl: then nobody sends the signal.
    if getppid() != server {
        return Ok(false);
    }
    start_watchdog(server, what)
        .map_err(|e| PyOSError::new_err(format!("cannot start the worker's watchdog: {e}")))?;
    release_scheduler_descriptors().map_err(|e| {
        PyOSError::new_err(format!(
            "cannot release the scheduler's descriptors in the worker: {e}"
        ))
    })?;
    Ok(true)
}
