//! Connections that have not completed the handshake: how many may wait at once, which one
//! goes when too many do, and one warning line per interval about those closed.
//!
//! Every accepted connection gets a [`Ticket`] until its handshake is done. When the cap is
//! reached, the next connection is still accepted, and the oldest waiting connection of the
//! address with the most waiting connections is closed to make room: a worker says `Hello`
//! the moment it connects, so it is never the one that has waited longest, while a flood of
//! idle connections evicts itself. Refusing new connections instead would refuse workers for
//! as long as a flood lasts, and pausing `accept` would leave them queued behind the flood in
//! the listener's backlog. Connections that passed the handshake hold no ticket: they are
//! never refused or closed because of the ones that did not.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::connection::ConnId;

/// The most often a warning about connections closed before their handshake is logged.
pub(crate) const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Why a connection was closed before it completed the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too many connections were waiting: it was the oldest of the busiest address.
    OverCap,
    /// It did not complete the handshake within the deadline.
    Deadline,
    /// Its first frame was not a valid `Hello` with the run's token.
    BadHandshake,
}

/// The connections waiting for their handshake, and the counts for the next warning.
pub(crate) struct Admission {
    /// The most connections that may wait at once.
    cap: usize,
    /// How long a connection may take to complete the handshake.
    deadline: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per peer address, its waiting connections, oldest first (ids grow).
    waiting: HashMap<IpAddr, BTreeMap<ConnId, Waiting>>,
    /// How many connections are waiting in all.
    count: usize,
    /// Closed since the last warning.
    closed: Closed,
    /// When the last warning was logged.
    warned: Option<Instant>,
}

/// A waiting connection: its peer, and the sender whose drop closes it.
struct Waiting {
    address: SocketAddr,
    _evict: oneshot::Sender<()>,
}

/// Connections closed before their handshake since the last warning.
#[derive(Default)]
struct Closed {
    over_cap: u64,
    deadline: u64,
    bad: u64,
    /// The last one's peer and why.
    last: Option<String>,
}

impl Closed {
    fn total(&self) -> u64 {
        self.over_cap + self.deadline + self.bad
    }
}

impl Admission {
    /// At most `cap` connections waiting at once, for at most `deadline` each.
    pub fn new(cap: usize, deadline: Duration) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            deadline,
            state: Mutex::new(State::default()),
        })
    }

    /// How many connections are waiting for their handshake.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().count
    }

    /// A connection was accepted: it waits for its handshake with the returned ticket. If the
    /// cap is reached, the oldest waiting connection of the address with the most waiting
    /// connections is closed first.
    pub fn admit(self: &Arc<Self>, conn: ConnId, address: SocketAddr) -> Ticket {
        let (evict, evicted) = oneshot::channel();
        let mut warning = None;
        {
            let mut state = self.lock();
            if state.count >= self.cap
                && let Some(gone) = state.evict_one()
            {
                warning = self.closed(
                    &mut state,
                    Refusal::OverCap,
                    &format!("{gone}: the oldest waiting of the busiest address"),
                );
            }
            state.waiting.entry(address.ip()).or_default().insert(
                conn,
                Waiting {
                    address,
                    _evict: evict,
                },
            );
            state.count += 1;
        }
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
        Ticket {
            admission: Arc::clone(self),
            ip: address.ip(),
            conn,
            evicted,
        }
    }

    /// Logs what was closed since the last warning, if anything (called every
    /// [`WARNING_INTERVAL`], so the last counts of a flood are not kept back).
    pub fn flush(&self) {
        let warning = {
            let mut state = self.lock();
            (state.closed.total() > 0).then(|| self.warning(&mut state))
        };
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
    }

    /// Counts a connection closed before its handshake; the warning to log, if it is time.
    fn closed(&self, state: &mut State, why: Refusal, detail: &str) -> Option<String> {
        tracing::debug!("closing connection from {detail}");
        let closed = &mut state.closed;
        match why {
            Refusal::OverCap => closed.over_cap += 1,
            Refusal::Deadline => closed.deadline += 1,
            Refusal::BadHandshake => closed.bad += 1,
        }
        closed.last = Some(detail.to_owned());
        let due = state.warned.is_none_or(|w| w.elapsed() >= WARNING_INTERVAL);
        due.then(|| self.warning(state))
    }

    /// The warning line for what was closed since the last one; starts counting anew.
    fn warning(&self, state: &mut State) -> String {
        let closed = std::mem::take(&mut state.closed);
        let span = match state.warned {
            Some(_) => format!(" in the last {} s", WARNING_INTERVAL.as_secs()),
            None => String::new(),
        };
        state.warned = Some(Instant::now());
        let mut parts = Vec::new();
        if closed.over_cap > 0 {
            parts.push(format!(
                "{} over the cap of {} waiting",
                closed.over_cap, self.cap
            ));
        }
        if closed.deadline > 0 {
            parts.push(format!(
                "{} silent past the deadline of {} s",
                closed.deadline,
                self.deadline.as_secs_f64()
            ));
        }
        if closed.bad > 0 {
            parts.push(format!("{} with a bad handshake", closed.bad));
        }
        let total = closed.total();
        format!(
            "closed {total} connection{} that had not completed the handshake{span}: {}; the \
             last: {}; {} waiting now (counted, and logged at most every {} s)",
            if total == 1 { "" } else { "s" },
            parts.join(", "),
            closed.last.unwrap_or_default(),
            state.count,
            WARNING_INTERVAL.as_secs()
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Closes the oldest waiting connection of the address with the most; its peer.
    fn evict_one(&mut self) -> Option<SocketAddr> {
        let (&ip, _) = self.waiting.iter().max_by_key(|(_, w)| w.len())?;
        let of_ip = self.waiting.get_mut(&ip)?;
        let (_, gone) = of_ip.pop_first()?;
        if of_ip.is_empty() {
            self.waiting.remove(&ip);
        }
        self.count -= 1;
        Some(gone.address)
    }
}

/// A connection's place among those waiting for their handshake; dropping it (the handshake
/// is done, or the connection closed) frees the place.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    conn: ConnId,
    evicted: oneshot::Receiver<()>,
}

impl Ticket {
    /// How long the handshake may take.
    pub fn deadline(&self) -> Duration {
        self.admission.deadline
    }

    /// Resolves when the connection is closed to make room for another.
    pub async fn evicted(&mut self) {
        let _ = (&mut self.evicted).await;
    }

    /// The connection is closed before completing the handshake, for `why`; `detail` names
    /// the peer and what it did.
    pub fn refuse(self, why: Refusal, detail: &str) {
        let warning = {
            let mut state = self.admission.lock();
            self.admission.closed(&mut state, why, detail)
        };
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        let Some(of_ip) = state.waiting.get_mut(&self.ip) else {
            return;
        };
        if of_ip.remove(&self.conn).is_none() {
            return; // evicted: no longer counted
        }
        if of_ip.is_empty() {
            state.waiting.remove(&self.ip);
        }
        state.count -= 1;
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use super::*;

    fn address(ip: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, ip], port))
    }

    fn is_evicted(ticket: &mut Ticket) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(ticket.evicted()).poll(&mut cx).is_ready()
    }

    #[test]
    fn over_the_cap_the_busiest_address_loses_its_oldest() {
        let admission = Admission::new(3, Duration::from_secs(5));
        let mut flood1 = admission.admit(1, address(1, 1));
        let mut worker = admission.admit(2, address(2, 1));
        let mut flood2 = admission.admit(3, address(1, 2));
        assert_eq!(admission.waiting(), 3);
        // Full: the flooding address has two waiting, its oldest goes, not the worker.
        let mut flood3 = admission.admit(4, address(1, 3));
        assert!(is_evicted(&mut flood1));
        assert!(!is_evicted(&mut worker) && !is_evicted(&mut flood2));
        assert_eq!(admission.waiting(), 3);
        // Dropping an evicted ticket does not count it twice; the worker's handshake is done.
        drop(flood1);
        drop(worker);
        assert_eq!(admission.waiting(), 2);
        assert!(!is_evicted(&mut flood3));
        drop((flood2, flood3));
        assert_eq!(admission.waiting(), 0);
        assert!(admission.lock().waiting.is_empty());
    }

    #[test]
    fn closures_are_counted_into_one_line() {
        let admission = Admission::new(1, Duration::from_secs(5));
        let first = admission.admit(1, address(1, 1));
        let second = admission.admit(2, address(1, 2));
        let state = admission.lock();
        // The eviction was the first closure: logged at once, so nothing is counted now.
        assert_eq!(state.closed.total(), 0);
        assert!(state.warned.is_some());
        drop(state);
        second.refuse(Refusal::Deadline, "10.0.0.1:2: no handshake within 5 s");
        let mut state = admission.lock();
        assert_eq!((state.closed.deadline, state.closed.total()), (1, 1));
        let line = admission.warning(&mut state);
        assert_eq!(
            line,
            "closed 1 connection that had not completed the handshake in the last 10 s: 1 \
             silent past the deadline of 5 s; the last: 10.0.0.1:2: no handshake within 5 s; \
             0 waiting now (counted, and logged at most every 10 s)"
        );
        assert_eq!(state.closed.total(), 0);
        drop(state);
        drop(first);
    }
}
