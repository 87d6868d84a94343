//! Watching a run: events for progress bars, status lines and dashboards (docs/semantics.md#progress-and-the-execution-summary).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use daisy_core::TaskState;

use crate::{BlockFailure, RunReport};

/// Something that happened in a run.
#[derive(Debug, Clone, Copy)]
pub enum RunEvent<'a> {
    /// A task got its first ready blocks and its workers are being started.
    TaskStart {
        /// The task.
        task_id: &'a str,
        /// Its counters.
        state: &'a TaskState,
    },
    /// Blocks of a task were handed out or came back.
    Progress {
        /// The task.
        task_id: &'a str,
        /// Its counters.
        state: &'a TaskState,
    },
    /// A task is done (every block completed, failed or orphaned).
    TaskDone {
        /// The task.
        task_id: &'a str,
        /// Its final counters.
        state: &'a TaskState,
    },
    /// A task was given up: no worker is left and its restart budget is used up
    /// (docs/semantics.md#worker-restarts); its remaining blocks count as orphaned.
    TaskAbandoned {
        /// The task.
        task_id: &'a str,
        /// Its counters after abandoning.
        state: &'a TaskState,
        /// Why.
        reason: &'a str,
    },
    /// A block attempt failed (the block may still be retried).
    BlockFailure {
        /// What failed.
        failure: &'a BlockFailure,
    },
    /// A worker was started (replacements included).
    WorkerStarted {
        /// The task.
        task_id: &'a str,
        /// The worker.
        worker_id: u64,
    },
    /// The run ended.
    Exit {
        /// The final report.
        report: &'a RunReport,
    },
}

/// Receives the events of a run, in order, on the server's thread: keep it quick, or wrap it
/// in an [`ObserverThread`] to get the events on a thread of its own.
pub trait Observer: Send {
    /// Called for every event.
    fn on_event(&mut self, event: &RunEvent<'_>);
}

/// An owned copy of a [`RunEvent`], to deliver on another thread.
enum OwnedEvent {
    TaskStart {
        task_id: String,
        state: TaskState,
    },
    Progress {
        task_id: String,
        state: TaskState,
    },
    TaskDone {
        task_id: String,
        state: TaskState,
    },
    TaskAbandoned {
        task_id: String,
        state: TaskState,
        reason: String,
    },
    BlockFailure {
        failure: BlockFailure,
    },
    WorkerStarted {
        task_id: String,
        worker_id: u64,
    },
    Exit {
        report: RunReport,
    },
}

impl OwnedEvent {
    fn new(event: &RunEvent<'_>) -> Self {
        match *event {
            RunEvent::TaskStart { task_id, state } => Self::TaskStart {
                task_id: task_id.to_owned(),
                state: *state,
            },
            RunEvent::Progress { task_id, state } => Self::Progress {
                task_id: task_id.to_owned(),
                state: *state,
            },
            RunEvent::TaskDone { task_id, state } => Self::TaskDone {
                task_id: task_id.to_owned(),
                state: *state,
            },
            RunEvent::TaskAbandoned {
                task_id,
                state,
                reason,
            } => Self::TaskAbandoned {
                task_id: task_id.to_owned(),
                state: *state,
                reason: reason.to_owned(),
            },
            RunEvent::BlockFailure { failure } => Self::BlockFailure {
                failure: failure.clone(),
            },
            RunEvent::WorkerStarted { task_id, worker_id } => Self::WorkerStarted {
                task_id: task_id.to_owned(),
                worker_id,
            },
            RunEvent::Exit { report } => Self::Exit {
                report: report.clone(),
            },
        }
    }

    fn event(&self) -> RunEvent<'_> {
        match self {
            Self::TaskStart { task_id, state } => RunEvent::TaskStart { task_id, state },
            Self::Progress { task_id, state } => RunEvent::Progress { task_id, state },
            Self::TaskDone { task_id, state } => RunEvent::TaskDone { task_id, state },
            Self::TaskAbandoned {
                task_id,
                state,
                reason,
            } => RunEvent::TaskAbandoned {
                task_id,
                state,
                reason,
            },
            Self::BlockFailure { failure } => RunEvent::BlockFailure { failure },
            Self::WorkerStarted { task_id, worker_id } => RunEvent::WorkerStarted {
                task_id,
                worker_id: *worker_id,
            },
            Self::Exit { report } => RunEvent::Exit { report },
        }
    }
}

/// The events not delivered yet. A `Progress` of a task replaces the one still queued for
/// it (its counters are newer), so a slow observer falls behind by at most one progress
/// event per task, plus the other events.
#[derive(Default)]
struct Queue {
    /// Oldest first; `None` where a replaced progress event was.
    events: VecDeque<Option<OwnedEvent>>,
    /// The position of `events[0]` since the start.
    front: u64,
    /// Per task: the position of its queued `Progress`.
    progress: HashMap<String, u64>,
    /// No more events come.
    closed: bool,
}

impl Queue {
    fn push(&mut self, event: OwnedEvent) {
        let at = self.front + self.events.len() as u64;
        if let OwnedEvent::Progress { task_id, .. } = &event
            && let Some(old) = self.progress.insert(task_id.clone(), at)
            && let Some(slot) = usize::try_from(old - self.front)
                .ok()
                .and_then(|i| self.events.get_mut(i))
        {
            *slot = None;
        }
        self.events.push_back(Some(event));
    }

    fn pop(&mut self) -> Option<Option<OwnedEvent>> {
        let event = self.events.pop_front()?;
        if let Some(OwnedEvent::Progress { task_id, .. }) = &event
            && self.progress.get(task_id) == Some(&self.front)
        {
            self.progress.remove(task_id);
        }
        self.front += 1;
        Some(event)
    }
}

/// The queue and its signal.
type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// An observer that gets its events on a thread of its own, in order, so that a slow
/// observer (a Python callback, a blocked pipe) never stalls the run.
///
/// A `Progress` event replaces one of the same task that is still waiting (the counters are
/// newer); every other event is delivered. The `Exit` event is delivered before the run
/// returns: passing it on waits for the thread to deliver everything queued.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use daisy_server::{Observer, ObserverThread, RunEvent, RunReport};
///
/// struct Count(Arc<Mutex<u32>>);
/// impl Observer for Count {
///     fn on_event(&mut self, _: &RunEvent<'_>) {
///         *self.0.lock().unwrap() += 1;
///     }
/// }
///
/// let count = Arc::new(Mutex::new(0));
/// let mut observer = ObserverThread::spawn(Box::new(Count(Arc::clone(&count)))).unwrap();
/// observer.on_event(&RunEvent::WorkerStarted { task_id: "t", worker_id: 1 });
/// observer.on_event(&RunEvent::Exit { report: &RunReport::default() });
/// assert_eq!(*count.lock().unwrap(), 2);
/// ```
pub struct ObserverThread {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl ObserverThread {
    /// Starts the thread (named `daisy-observer`) that delivers events to `observer`.
    ///
    /// # Errors
    ///
    /// The operating system's error if the thread cannot be created.
    pub fn spawn(mut observer: Box<dyn Observer>) -> io::Result<Self> {
        let shared: Shared = Arc::default();
        let queue = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("daisy-observer".into())
            .spawn(move || deliver(&queue, observer.as_mut()))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Closes the queue and waits until everything queued was delivered.
    fn finish(&mut self) {
        let (queue, signal) = &*self.shared;
        if let Ok(mut queue) = queue.lock() {
            queue.closed = true;
        }
        signal.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("a run observer panicked; its later events were dropped");
        }
    }
}

/// Delivers the queued events until the queue is closed and empty.
fn deliver(shared: &Shared, observer: &mut dyn Observer) {
    let (queue, signal) = &**shared;
    loop {
        let event = {
            let Ok(mut queue) = queue.lock() else {
                return;
            };
            loop {
                match queue.pop() {
                    Some(event) => break event,
                    None if queue.closed => return,
                    None => match signal.wait(queue) {
                        Ok(q) => queue = q,
                        Err(_) => return,
                    },
                }
            }
        };
        if let Some(event) = event {
            observer.on_event(&event.event());
        }
    }
}

impl Observer for ObserverThread {
    fn on_event(&mut self, event: &RunEvent<'_>) {
        if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
            return; // the observer panicked (or the run is over): nobody to deliver to
        }
        let exit = matches!(event, RunEvent::Exit { .. });
        let (queue, signal) = &*self.shared;
        // The delivery thread waits only on an empty queue: wake it only then.
        let was_empty = queue.lock().is_ok_and(|mut queue| {
            let was_empty = queue.events.is_empty();
            queue.push(OwnedEvent::new(event));
            was_empty
        });
        if was_empty {
            signal.notify_one();
        }
        if exit {
            self.finish();
        }
    }
}

impl Drop for ObserverThread {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Writes down each event as text; the first one waits until `go` says so.
    struct Record {
        seen: Arc<Mutex<Vec<String>>>,
        go: Option<mpsc::Receiver<()>>,
    }

    impl Observer for Record {
        fn on_event(&mut self, event: &RunEvent<'_>) {
            if let Some(go) = self.go.take() {
                go.recv().unwrap();
            }
            let line = match event {
                RunEvent::Progress { task_id, state } => {
                    format!("progress {task_id} {}", state.completed_count)
                }
                RunEvent::WorkerStarted { worker_id, .. } => format!("worker {worker_id}"),
                RunEvent::Exit { .. } => "exit".into(),
                _ => "other".into(),
            };
            self.seen.lock().unwrap().push(line);
        }
    }

    fn progress(task_id: &str, completed: u64) -> OwnedEvent {
        OwnedEvent::Progress {
            task_id: task_id.into(),
            state: TaskState {
                completed_count: completed,
                ..TaskState::default()
            },
        }
    }

    #[test]
    fn a_slow_observer_does_not_hold_up_the_sender_and_gets_the_newest_progress() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (go, wait) = mpsc::channel();
        let mut observer = ObserverThread::spawn(Box::new(Record {
            seen: Arc::clone(&seen),
            go: Some(wait),
        }))
        .unwrap();
        // The observer is stuck in its first event; these return at once.
        observer.on_event(&RunEvent::WorkerStarted {
            task_id: "a",
            worker_id: 1,
        });
        std::thread::sleep(Duration::from_millis(20));
        for completed in 1..=1000 {
            let state = TaskState {
                completed_count: completed,
                ..TaskState::default()
            };
            observer.on_event(&RunEvent::Progress {
                task_id: "a",
                state: &state,
            });
            if completed == 500 {
                observer.on_event(&RunEvent::WorkerStarted {
                    task_id: "a",
                    worker_id: 2,
                });
            }
        }
        go.send(()).unwrap();
        observer.on_event(&RunEvent::Exit {
            report: &RunReport::default(),
        });
        // Exit waited for the delivery of everything.
        assert_eq!(
            *seen.lock().unwrap(),
            ["worker 1", "worker 2", "progress a 1000", "exit"]
        );
    }

    #[test]
    fn the_queue_keeps_order_and_one_progress_per_task() {
        let mut queue = Queue::default();
        queue.push(progress("a", 1));
        queue.push(progress("b", 1));
        queue.push(OwnedEvent::WorkerStarted {
            task_id: "a".into(),
            worker_id: 7,
        });
        queue.push(progress("a", 2));
        let mut order = Vec::new();
        while let Some(event) = queue.pop() {
            order.push(event.map(|e| match e {
                OwnedEvent::Progress { task_id, state } => {
                    format!("{task_id}{}", state.completed_count)
                }
                _ => "worker".into(),
            }));
        }
        assert_eq!(
            order,
            [
                None,
                Some("b1".into()),
                Some("worker".into()),
                Some("a2".into())
            ]
        );
        assert!(queue.progress.is_empty());
        // A progress pushed after its predecessor was delivered is kept.
        queue.push(progress("a", 3));
        assert!(matches!(
            queue.pop(),
            Some(Some(OwnedEvent::Progress { .. }))
        ));
    }
}
