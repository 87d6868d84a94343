//! Handing out blocks: parked requests, the blocks that are out, their deadlines
//! (docs/semantics.md#scheduling, #lost-blocks-and-timeouts).
//!
//! A request for blocks is parked until its task has a ready block; then it is answered with
//! as many blocks as are ready, up to what it asked for (the worker's prefetch). A request
//! that can never be answered (nothing ready, nothing pending, nothing out or being checked)
//! is told to stop. Every block handed out is remembered with its connection and deadline,
//! so that a release can be matched, and a dropped or timed-out connection loses its blocks.
//!
//! Each connection asks in a lane of its own ([`Scheduler::acquire_block_in`]: the lowest
//! lane of its task no other connection holds), so a worker's consecutive blocks are
//! neighbours and re-use the chunks it read for the last one, even when every worker fetches
//! one block at a time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use daisy_core::{Block, Scheduler, Task, TaskState};
use daisy_protocol::ServerMessage;

use crate::checks::Checks;
use crate::connection::{ConnId, Connections};

/// The most blocks sent in one reply: far below the frame limit even for 8-D blocks with long
/// task ids (a 3-D block takes ~100 bytes on the wire).
pub(crate) const MAX_BLOCKS_PER_REPLY: u32 = 4096;

/// A block that is out.
pub(crate) struct Out {
    /// The connection it went to.
    pub conn: ConnId,
    /// The worker behind that connection, if the server started it.
    pub worker_id: Option<u64>,
    /// When it times out, if its task has a timeout.
    pub deadline: Option<Instant>,
    /// The server's own copy: releases only say which block and how it went.
    pub block: Block,
}

/// A block whose deadline passed.
pub(crate) struct Expired {
    /// Its task.
    pub t: usize,
    /// The block.
    pub spatial_id: u64,
    /// The connection that holds it.
    pub conn: ConnId,
    /// The worker behind that connection.
    pub worker_id: Option<u64>,
}

/// Parked requests and blocks out, for every task of a run.
pub(crate) struct Dispatch {
    /// Per task: connections waiting for blocks, and how many they want, oldest first.
    parked: Vec<VecDeque<(ConnId, u32)>>,
    /// Every block out, by task and spatial id.
    out: HashMap<(usize, u64), Out>,
    /// The deadlines of the blocks out, earliest first.
    deadlines: BTreeSet<(Instant, usize, u64)>,
    /// Per task: the connection holding each lane (`None`: free for the next connection).
    lanes: Vec<Vec<Option<ConnId>>>,
    /// The task and lane of each connection that asked for blocks.
    lane_of: HashMap<ConnId, (usize, u32)>,
}

impl Dispatch {
    /// Nothing parked and nothing out, for a run of `tasks` tasks.
    pub fn new(tasks: usize) -> Self {
        Self {
            parked: vec![VecDeque::new(); tasks],
            out: HashMap::new(),
            deadlines: BTreeSet::new(),
            lanes: vec![Vec::new(); tasks],
            lane_of: HashMap::new(),
        }
    }

    /// The lane of `conn` in task `t`: the one it holds, else the lowest free one.
    fn lane(&mut self, t: usize, conn: ConnId) -> u32 {
        if let Some(&(task, lane)) = self.lane_of.get(&conn) {
            if task == t {
                return lane;
            }
            self.free_lane(conn);
        }
        let lanes = &mut self.lanes[t];
        let i = lanes.iter().position(Option::is_none).unwrap_or_else(|| {
            lanes.push(None);
            lanes.len() - 1
        });
        lanes[i] = Some(conn);
        // Lanes are bounded by the connections of one task, far below u32::MAX.
        let lane = u32::try_from(i).unwrap_or(u32::MAX);
        self.lane_of.insert(conn, (t, lane));
        lane
    }

    /// Gives up the lane of `conn` (it went away): the next connection of its task takes it
    /// over, with the blocks still queued in it.
    fn free_lane(&mut self, conn: ConnId) {
        if let Some((t, lane)) = self.lane_of.remove(&conn)
            && let Some(holder) = self.lanes[t].get_mut(lane as usize)
        {
            *holder = None;
        }
    }

    /// Parks a request of `conn` for up to `max` blocks of task `t`.
    pub fn park(&mut self, t: usize, conn: ConnId, max: u32) {
        self.parked[t].push_back((conn, max.clamp(1, MAX_BLOCKS_PER_REPLY)));
    }

    /// Whether task `t` has parked requests.
    pub fn has_parked(&self, t: usize) -> bool {
        !self.parked[t].is_empty()
    }

    /// How many blocks the parked requests of task `t` want in all.
    pub fn demand(&self, t: usize) -> u64 {
        self.parked[t].iter().map(|&(_, max)| u64::from(max)).sum()
    }

    /// Tells every request parked for task `t` to stop (the task is done, or the run over).
    pub fn dismiss_parked(&mut self, t: usize, conns: &Connections) {
        while let Some((conn, _)) = self.parked[t].pop_front() {
            conns.send(conn, ServerMessage::RequestShutdown);
        }
    }

    /// Answers the parked requests of task `t` that can be answered, in order: with blocks
    /// (checked ones if the task has a pre-check), or with a request to stop if the task has
    /// nothing left for them. Whether any block was handed out.
    pub fn serve_parked(
        &mut self,
        t: usize,
        task: &Arc<Task>,
        scheduler: &mut Scheduler,
        checks: &mut Checks,
        conns: &Connections,
    ) -> bool {
        let checked = task.check_function().is_some();
        if checked {
            checks.start_pre_checks(t, task, scheduler, self.demand(t));
        }
        let mut handed_out = false;
        while let Some(&(conn, max)) = self.parked[t].front() {
            if !conns.contains(conn) {
                self.parked[t].pop_front();
                continue;
            }
            let lane = self.lane(t, conn);
            let mut blocks = Vec::new();
            while blocks.len() < max as usize {
                let next = if checked {
                    checks.next_checked(t)
                } else {
                    // The task is the scheduler's own, so it is never unknown.
                    scheduler
                        .acquire_block_unchecked_in(task.task_id(), lane)
                        .ok()
                        .flatten()
                };
                match next {
                    Some(block) => blocks.push(block),
                    None => break,
                }
            }
            if blocks.is_empty() {
                let state = scheduler.task_state(task.task_id());
                if state.is_none_or(exhausted) && checks.idle(t) {
                    self.parked[t].pop_front();
                    conns.send(conn, ServerMessage::RequestShutdown);
                    continue;
                }
                break;
            }
            self.parked[t].pop_front();
            self.hand_out(t, task, conn, blocks, conns);
            handed_out = true;
        }
        handed_out
    }

    /// Sends `blocks` of task `t` to `conn` and remembers them as out.
    fn hand_out(
        &mut self,
        t: usize,
        task: &Task,
        conn: ConnId,
        mut blocks: Vec<Block>,
        conns: &Connections,
    ) {
        let now = Instant::now();
        // A deadline beyond the clock's range is none (the engine clamps timeouts far below it).
        let deadline = task.timeout().and_then(|d| now.checked_add(d));
        let sent = now_seconds();
        let worker_id = conns.peer(conn).and_then(|(_, w)| w);
        for block in &mut blocks {
            block.started_processing = Some(sent);
            let key = (t, block.spatial_id());
            self.out.insert(
                key,
                Out {
                    conn,
                    worker_id,
                    deadline,
                    block: block.clone(),
                },
            );
            if let Some(d) = deadline {
                self.deadlines.insert((d, t, key.1));
            }
        }
        conns.send(conn, ServerMessage::SendBlocks { blocks });
    }

    /// Takes back block `spatial_id` of task `t` that `conn` returned; `None` if `conn` does
    /// not hold it (a stale release: the block was lost and handed out again).
    pub fn take_back(&mut self, t: usize, spatial_id: u64, conn: ConnId) -> Option<Out> {
        let key = (t, spatial_id);
        if self.out.get(&key).is_none_or(|out| out.conn != conn) {
            return None;
        }
        let out = self.out.remove(&key)?;
        if let Some(d) = out.deadline {
            self.deadlines.remove(&(d, t, spatial_id));
        }
        Some(out)
    }

    /// Takes back every block `conn` holds (it went away), and frees its lane: `(task, block)`
    /// pairs.
    pub fn take_held(&mut self, conn: ConnId) -> Vec<(usize, Out)> {
        self.free_lane(conn);
        // Rare enough to scan: the blocks out are at most workers × prefetch.
        let held: Vec<(usize, u64)> = self
            .out
            .iter()
            .filter(|(_, o)| o.conn == conn)
            .map(|(k, _)| *k)
            .collect();
        held.into_iter()
            .filter_map(|(t, spatial_id)| self.take_back(t, spatial_id, conn).map(|out| (t, out)))
            .collect()
    }

    /// The earliest deadline of a block out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|d| d.0)
    }

    /// The next block whose deadline is before `now`, still out (its deadline is forgotten;
    /// the caller closes its connection, which loses it).
    pub fn next_expired(&mut self, now: Instant) -> Option<Expired> {
        while let Some(&(deadline, t, spatial_id)) = self.deadlines.first() {
            if deadline > now {
                return None;
            }
            self.deadlines.pop_first();
            if let Some(out) = self.out.get(&(t, spatial_id)) {
                return Some(Expired {
                    t,
                    spatial_id,
                    conn: out.conn,
                    worker_id: out.worker_id,
                });
            }
        }
        None
    }
}

/// Nothing ready, nothing waiting on upstream blocks, nothing out: a waiting worker will get
/// nothing more (unless a pre-check is still running). daisy 1.x also stops workers while
/// blocks are still out; one of those may fail and be retried, and then no worker is left to
/// take it.
fn exhausted(state: &TaskState) -> bool {
    state.ready_count == 0 && state.pending_count() == 0 && state.processing_count == 0
}

/// Seconds since the epoch, as blocks carry their processing times.
pub(crate) fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use daisy_core::BlockStatus;
    use tokio::sync::mpsc;

    use super::*;
    use crate::connection::Outgoing;
    use crate::test_values::independent_blocks;

    /// A task of `n` independent blocks, with a timeout of 5 s.
    fn task(n: i64) -> Arc<Task> {
        independent_blocks(n)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    /// What a fake connection received.
    fn received(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<ServerMessage> {
        let mut messages = Vec::new();
        while let Ok(Outgoing::Message(m)) = rx.try_recv() {
            messages.push(m);
        }
        messages
    }

    fn ids(message: &ServerMessage) -> Vec<u64> {
        match message {
            ServerMessage::SendBlocks { blocks } => blocks.iter().map(Block::spatial_id).collect(),
            _ => panic!("expected blocks"),
        }
    }

    struct Fixture {
        task: Arc<Task>,
        scheduler: Scheduler,
        checks: Checks,
        conns: Connections,
        dispatch: Dispatch,
    }

    fn fixture(n: i64) -> Fixture {
        let task = task(n);
        let scheduler = Scheduler::new(&[Arc::clone(&task)], true).unwrap();
        Fixture {
            task,
            scheduler,
            checks: Checks::new(1).0,
            conns: Connections::new(1),
            dispatch: Dispatch::new(1),
        }
    }

    impl Fixture {
        fn serve(&mut self) -> bool {
            self.dispatch.serve_parked(
                0,
                &self.task,
                &mut self.scheduler,
                &mut self.checks,
                &self.conns,
            )
        }

        fn release(&mut self, conn: ConnId, spatial_id: u64) {
            let mut out = self.dispatch.take_back(0, spatial_id, conn).unwrap();
            out.block.status = BlockStatus::Success;
            self.scheduler.release_block(&out.block).unwrap();
        }
    }

    #[test]
    fn parked_requests_are_served_in_order_then_told_to_stop() {
        let mut f = fixture(3);
        let (tx1, mut rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        f.conns.open(1, Some(0), Some(11), tx1);
        f.conns.open(2, Some(0), None, tx2);
        f.dispatch.park(0, 1, 2);
        f.dispatch.park(0, 2, 2);
        assert_eq!(f.dispatch.demand(0), 4);
        assert!(f.serve());
        let (first, second) = (received(&mut rx1), received(&mut rx2));
        assert_eq!(ids(&first[0]).len(), 2);
        assert_eq!(ids(&second[0]).len(), 1);
        // Nothing ready, but blocks are out: a new request waits.
        f.dispatch.park(0, 2, 1);
        assert!(!f.serve());
        assert!(received(&mut rx2).is_empty());
        assert!(f.dispatch.has_parked(0));
        for id in ids(&first[0]) {
            f.release(1, id);
        }
        f.release(2, ids(&second[0])[0]);
        assert!(!f.serve());
        assert!(matches!(
            received(&mut rx2)[..],
            [ServerMessage::RequestShutdown]
        ));
        assert!(!f.dispatch.has_parked(0));
    }

    #[test]
    fn each_connection_keeps_to_its_own_run_of_neighbours() {
        let mut f = fixture(8);
        let mut rx = Vec::new();
        for conn in 1..=3 {
            let (tx, r) = mpsc::unbounded_channel();
            f.conns.open(conn, Some(0), None, tx);
            rx.push(r);
        }
        let mut got: [Vec<u64>; 3] = Default::default();
        let mut round = |f: &mut Fixture, conns: &[ConnId]| {
            for &conn in conns {
                f.dispatch.park(0, conn, 1);
            }
            f.serve();
            for &conn in conns {
                let i = conn as usize - 1;
                for id in ids(&received(&mut rx[i])[0]) {
                    got[i].push(id);
                    f.release(conn, id);
                }
            }
        };
        // One block per request, yet each connection's blocks are consecutive: the second
        // took the back half of what the first had left.
        round(&mut f, &[1, 2]);
        round(&mut f, &[1, 2]);
        // A connection that goes away leaves its lane, with its blocks, to the next one.
        assert!(f.dispatch.take_held(2).is_empty());
        round(&mut f, &[1, 3]);
        round(&mut f, &[1, 3]);
        assert_eq!(got, [vec![0, 1, 2, 3], vec![5, 6], vec![7, 4]]);
    }

    #[test]
    fn a_release_from_another_connection_is_stale() {
        let mut f = fixture(1);
        let (tx, mut rx) = mpsc::unbounded_channel();
        f.conns.open(1, Some(0), Some(11), tx);
        f.dispatch.park(0, 1, 1);
        f.serve();
        let id = ids(&received(&mut rx)[0])[0];
        assert!(f.dispatch.take_back(0, id, 2).is_none());
        let out = f.dispatch.take_back(0, id, 1).unwrap();
        assert_eq!((out.conn, out.worker_id), (1, Some(11)));
        assert!(out.block.started_processing.is_some());
        assert!(f.dispatch.next_deadline().is_none());
    }

    #[test]
    fn deadlines_expire_in_order_and_held_blocks_come_back() {
        let mut f = fixture(2);
        let (tx, _rx) = mpsc::unbounded_channel();
        f.conns.open(1, Some(0), Some(11), tx);
        f.dispatch.park(0, 1, 2);
        f.serve();
        let deadline = f.dispatch.next_deadline().unwrap();
        assert!(f.dispatch.next_expired(Instant::now()).is_none());
        let expired = f.dispatch.next_expired(deadline).unwrap();
        assert_eq!(
            (expired.t, expired.conn, expired.worker_id),
            (0, 1, Some(11))
        );
        let mut held: Vec<u64> = f
            .dispatch
            .take_held(1)
            .into_iter()
            .map(|(_, o)| o.block.spatial_id())
            .collect();
        held.sort_unstable();
        assert_eq!(held.len(), 2);
        assert!(held.contains(&expired.spatial_id));
        assert!(f.dispatch.next_expired(deadline).is_none());
        assert!(f.dispatch.take_held(1).is_empty());
    }

    #[test]
    fn requests_of_closed_connections_are_dropped() {
        let mut f = fixture(2);
        let (tx, mut rx) = mpsc::unbounded_channel();
        f.conns.open(1, Some(0), None, tx.clone());
        f.conns.open(2, Some(0), None, tx);
        f.dispatch.park(0, 1, 5);
        f.dispatch.park(0, 2, 5);
        f.conns.remove(1, false);
        assert!(f.serve());
        assert_eq!(ids(&received(&mut rx)[0]).len(), 2);
        f.dispatch.park(0, 2, 1);
        f.dispatch.dismiss_parked(0, &f.conns);
        assert!(matches!(
            received(&mut rx)[..],
            [ServerMessage::RequestShutdown]
        ));
    }
}
