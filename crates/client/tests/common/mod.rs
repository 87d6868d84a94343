//! A fake daisy server on loopback: speaks the protocol, hands out a fixed list of blocks,
//! parks nothing, and records everything the client sends.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use daisy_core::{Block, BlockStatus};
use daisy_geometry::Roi;
use daisy_protocol::{
    ClientMessage, Context, DEFAULT_MAX_FRAME, PROTOCOL_VERSION, ServerMessage, check_hello,
    decode_frame, encode_frame,
};

/// The token the fake server expects unless told otherwise.
pub const TOKEN: &str = "s3cret";

/// The task of the fake server's blocks.
pub const TASK: &str = "A";

/// How the fake server answers one `AcquireBlocks`.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send up to `max` of the remaining blocks, or `RequestShutdown` when none are left.
    Serve,
    /// Close the connection without answering.
    Close,
    /// Send these raw bytes as the answer.
    Raw(Vec<u8>),
}

/// Everything the fake server saw.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Accepted handshakes: task id and worker id.
    pub hellos: Vec<(String, Option<u64>)>,
    /// Refused handshakes: the reason sent.
    pub refused: Vec<String>,
    /// The `max` of every `AcquireBlocks`, in order.
    pub acquires: Vec<u32>,
    /// The spatial ids of every batch sent.
    pub batches: Vec<Vec<u64>>,
    /// Every `ReleaseBlock`: spatial id and status.
    pub releases: Vec<(u64, BlockStatus)>,
    /// Every `BlockFailed`: spatial id, status and error text.
    pub failures: Vec<(u64, BlockStatus, String)>,
    /// Every `ClientException` text.
    pub exceptions: Vec<String>,
    /// How many `Goodbye`s arrived.
    pub goodbyes: usize,
    /// The kinds of the messages that arrived in each read (`release`, `failed`, `acquire`,
    /// `exception`, `goodbye`, `hello`), one entry per read that completed a frame.
    pub reads: Vec<Vec<&'static str>>,
}

impl Record {
    /// Every block the client returned, as (spatial id, status), in arrival order.
    pub fn returned(&self) -> Vec<(u64, BlockStatus)> {
        let mut all: Vec<_> = self.releases.clone();
        all.extend(self.failures.iter().map(|(id, status, _)| (*id, *status)));
        all.sort_by_key(|(id, _)| *id);
        all
    }

    /// The error text of a failed block.
    pub fn failure_text(&self, spatial_id: u64) -> &str {
        self.failures
            .iter()
            .find(|(id, _, _)| *id == spatial_id)
            .map(|(_, _, text)| text.as_str())
            .unwrap_or_else(|| panic!("block {spatial_id} did not fail: {self:?}"))
    }
}

/// A running fake server.
pub struct FakeServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    record: Arc<Mutex<Record>>,
    ended: Receiver<()>,
}

/// What the connection handlers share.
struct Shared {
    token: String,
    blocks: Mutex<VecDeque<Block>>,
    script: Mutex<VecDeque<Action>>,
    record: Arc<Mutex<Record>>,
}

impl FakeServer {
    /// Starts a server handing out `blocks`, answering the i-th acquire with `script[i]`
    /// (then [`Action::Serve`]).
    pub fn start(blocks: Vec<Block>, script: Vec<Action>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let record = Arc::new(Mutex::new(Record::default()));
        let shared = Arc::new(Shared {
            token: TOKEN.to_owned(),
            blocks: Mutex::new(blocks.into()),
            script: Mutex::new(script.into()),
            record: Arc::clone(&record),
        });
        let (ended_tx, ended) = channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let shared = Arc::clone(&shared);
                let ended_tx = ended_tx.clone();
                thread::spawn(move || serve(stream, &shared, &ended_tx));
            }
        });
        Self {
            port,
            record,
            ended,
        }
    }

    /// A worker context for this server with the right token.
    pub fn context(&self) -> Context {
        self.context_with_token(TOKEN)
    }

    /// A worker context for this server with any token.
    pub fn context_with_token(&self, token: &str) -> Context {
        Context::for_worker(None, "127.0.0.1", self.port, TASK, 3, token)
    }

    /// Waits until a connection has ended, then returns the record.
    pub fn wait_connection_end(&self) -> Record {
        self.ended
            .recv_timeout(Duration::from_secs(20))
            .expect("the connection did not end");
        self.record()
    }

    /// What the server has seen so far.
    pub fn record(&self) -> Record {
        self.record.lock().unwrap().clone()
    }
}

/// `n` blocks of task [`TASK`] with spatial ids `0..n`.
pub fn blocks(n: u64) -> Vec<Block> {
    (0..n)
        .map(|i| {
            let roi = Roi::from_values(&[i as i64 * 10, 0, 0], &[10, 10, 10]).unwrap();
            Block::new(TASK.into(), i, roi, roi)
        })
        .collect()
}

/// One framed message.
pub fn frame(message: &ServerMessage) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(message, DEFAULT_MAX_FRAME, &mut out).unwrap();
    out
}

/// Serves one connection until it closes, then signals `ended`.
fn serve(mut stream: TcpStream, shared: &Shared, ended: &Sender<()>) {
    let _ = handle(&mut stream, shared);
    drop(stream);
    let _ = ended.send(());
}

fn handle(stream: &mut TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut input = Vec::new();
    let mut chunk = vec![0_u8; 64 * 1024];
    let mut welcomed = false;
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&chunk[..n]);
        let mut messages = Vec::new();
        while let Some((message, used)) =
            decode_frame::<ClientMessage>(&input, DEFAULT_MAX_FRAME).unwrap()
        {
            input.drain(..used);
            messages.push(message);
        }
        if messages.is_empty() {
            continue;
        }
        shared
            .record
            .lock()
            .unwrap()
            .reads
            .push(messages.iter().map(kind).collect());
        for message in messages {
            if !welcomed {
                match check_hello(message, &shared.token) {
                    Ok(peer) => {
                        shared
                            .record
                            .lock()
                            .unwrap()
                            .hellos
                            .push((peer.task_id, peer.worker_id));
                        stream.write_all(&frame(&ServerMessage::Welcome {
                            version: PROTOCOL_VERSION,
                        }))?;
                        welcomed = true;
                        continue;
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        shared.record.lock().unwrap().refused.push(reason.clone());
                        stream.write_all(&frame(&ServerMessage::Refused { reason }))?;
                        return Ok(());
                    }
                }
            }
            let mut record = shared.record.lock().unwrap();
            match message {
                ClientMessage::AcquireBlocks { max, .. } => {
                    record.acquires.push(max);
                    let action = shared
                        .script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or(Action::Serve);
                    match action {
                        Action::Serve => {
                            let mut blocks = shared.blocks.lock().unwrap();
                            let take = (max as usize).min(blocks.len());
                            let batch: Vec<Block> = blocks
                                .drain(..take)
                                .map(|mut b| {
                                    b.status = BlockStatus::Processing;
                                    b
                                })
                                .collect();
                            drop(blocks);
                            if batch.is_empty() {
                                stream.write_all(&frame(&ServerMessage::RequestShutdown))?;
                            } else {
                                record
                                    .batches
                                    .push(batch.iter().map(Block::spatial_id).collect());
                                stream.write_all(&frame(&ServerMessage::SendBlocks {
                                    blocks: batch,
                                }))?;
                            }
                        }
                        Action::Close => return Ok(()),
                        Action::Raw(bytes) => stream.write_all(&bytes)?,
                    }
                }
                ClientMessage::ReleaseBlock { block } => {
                    record.releases.push((block.spatial_id(), block.status));
                }
                ClientMessage::BlockFailed { block, error } => {
                    record
                        .failures
                        .push((block.spatial_id(), block.status, error));
                }
                ClientMessage::ReleaseBlocks { released, .. } => {
                    for r in released {
                        match r.error {
                            None => record.releases.push((r.spatial_id, BlockStatus::Success)),
                            Some(e) if e == daisy_protocol::RELEASED_AS_FAILED => {
                                record.releases.push((r.spatial_id, BlockStatus::Failed));
                            }
                            Some(e) => record.failures.push((r.spatial_id, BlockStatus::Failed, e)),
                        }
                    }
                }
                ClientMessage::ClientException { error } => record.exceptions.push(error),
                ClientMessage::Goodbye => record.goodbyes += 1,
                ClientMessage::Hello { .. } => panic!("a second Hello"),
            }
        }
    }
}

/// A message's kind for [`Record::reads`].
fn kind(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello { .. } => "hello",
        ClientMessage::AcquireBlocks { .. } => "acquire",
        ClientMessage::ReleaseBlock { .. } => "release",
        ClientMessage::BlockFailed { .. } => "failed",
        ClientMessage::ClientException { .. } => "exception",
        ClientMessage::Goodbye => "goodbye",
        ClientMessage::ReleaseBlocks { .. } => "release",
    }
}
