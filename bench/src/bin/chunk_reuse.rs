//! Chunks decoded per block: replays the scheduler with simulated workers, each reading its
//! blocks through a chunk cache of its own, and counts the chunks each worker had to decode.
//!
//! ```text
//! cargo run --release -p daisy-bench --bin chunk_reuse -- [--table] [--workers 2,8]
//!     [--cache-mib 0,8,16,32,64,128,256] [--prefetch 1] [--size 512] [--block 64]
//!     [--context 8] [--chunk 64] [--trace N]
//! ```
//!
//! The task writes 64³ blocks over a `size³` volume (`[0, size)` per axis) and reads each with
//! `context` voxels around it, from a uint8 array of the same extent in `chunk³` chunks (one
//! byte per voxel, so a chunk takes `chunk³` bytes in a cache); reads past the array are not
//! decoded. Workers take blocks as the server hands them out, `prefetch` per request (1: the
//! adaptive prefetch of workers whose blocks take longer than a few milliseconds), in one of
//! two orders:
//!
//! - `shared`: every worker asks in lane 0, one queue for all (daisy's order, and the server's
//!   before lanes);
//! - `lanes`: worker `i` asks in lane `i` (`Scheduler::acquire_block_in`), as the server does
//!   now.
//!
//! A block takes 800 to 1200 time units (a fixed function of its id), workers start 50 apart,
//! and a worker whose request finds nothing ready waits for the next release, as a parked
//! request does. Each worker's cache is an LRU of `cache_mib` MiB. For every order, worker
//! count, conflict setting and cache size, one JSON line: `chunks_per_block` (chunks decoded
//! per block, summed over workers), `adjacent` (the fraction of a worker's consecutive blocks
//! that are face neighbours), `idle` (the fraction of worker time spent waiting) and the
//! totals. `--table` prints a Markdown table instead; `--trace N` prints each worker's first N
//! grid positions.
//!
//! Everything is deterministic: the same arguments print the same figures.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::process::ExitCode;
use std::sync::Arc;

use daisy_core::{Block, BlockStatus, Scheduler, Task};
use daisy_geometry::Roi;

const USAGE: &str = "usage: chunk_reuse [--table] [--workers 2,8] [--cache-mib 0,8,16,32,64,128,256] \
                     [--prefetch P] [--size S] [--block B] [--context C] [--chunk K] [--trace N]";

/// The volume, blocks and chunks simulated.
#[derive(Debug, Clone, Copy)]
struct Setup {
    size: i64,
    block: i64,
    context: i64,
    chunk: i64,
    prefetch: usize,
}

/// Who gets which ready block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Shared,
    Lanes,
}

impl Order {
    fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Lanes => "lanes",
        }
    }
}

/// The figures of one simulated run.
#[derive(Debug, Clone, Default)]
struct Outcome {
    blocks: u64,
    decoded: u64,
    adjacent: u64,
    pairs: u64,
    busy: u64,
    span: u64,
    workers: u64,
    /// Per worker, the grid positions of its blocks in the order it got them.
    trace: Vec<Vec<[i64; 3]>>,
}

/// A least-recently-used set of chunks, bounded by a number of chunks.
#[derive(Debug, Default)]
struct Lru {
    capacity: usize,
    tick: u64,
    last_use: HashMap<u64, u64>,
    by_age: BTreeMap<u64, u64>,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// Reads chunk `key`: whether it had to be decoded (it was not cached).
    fn read(&mut self, key: u64) -> bool {
        self.tick += 1;
        if self.capacity == 0 {
            return true;
        }
        let missed = match self.last_use.insert(key, self.tick) {
            Some(old) => {
                self.by_age.remove(&old);
                false
            }
            None => true,
        };
        self.by_age.insert(self.tick, key);
        while self.last_use.len() > self.capacity {
            if let Some((_, oldest)) = self.by_age.pop_first() {
                self.last_use.remove(&oldest);
            }
        }
        missed
    }
}

/// A simulated worker.
struct Worker {
    index: usize,
    lane: u32,
    cache: Lru,
    buffer: VecDeque<Block>,
    last: Option<[i64; 3]>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("chunk_reuse: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn list(name: &str, value: Option<&String>) -> Result<Vec<u64>, String> {
    let value = value.ok_or(format!("{name} needs a value"))?;
    value
        .split(',')
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a non-negative integer: {v:?}"))
        })
        .collect()
}

fn one(name: &str, value: Option<&String>) -> Result<u64, String> {
    match list(name, value)?[..] {
        [v] if v > 0 => Ok(v),
        _ => Err(format!("{name} takes one positive integer")),
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let mut workers = vec![2, 8];
    let mut caches = vec![0, 8, 16, 32, 64, 128, 256];
    let mut table = false;
    let mut trace = 0;
    let mut setup = Setup {
        size: 512,
        block: 64,
        context: 8,
        chunk: 64,
        prefetch: 1,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let to_i64 = |v: u64| i64::try_from(v).map_err(|_| format!("{arg}: too large: {v}"));
        match arg.as_str() {
            "--table" => table = true,
            "--workers" => workers = list(arg, rest.next())?,
            "--cache-mib" => caches = list(arg, rest.next())?,
            "--trace" => trace = list(arg, rest.next())?.first().copied().unwrap_or(0),
            "--prefetch" => setup.prefetch = one(arg, rest.next())? as usize,
            "--size" => setup.size = to_i64(one(arg, rest.next())?)?,
            "--block" => setup.block = to_i64(one(arg, rest.next())?)?,
            "--chunk" => setup.chunk = to_i64(one(arg, rest.next())?)?,
            "--context" => setup.context = to_i64(list(arg, rest.next())?[0])?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if workers.contains(&0) {
        return Err("--workers: at least one worker".into());
    }
    let chunk_bytes = (setup.chunk as u64).pow(3);
    let mut out = String::new();
    if table {
        out.push_str(&format!(
            "chunks decoded per block ({}³ volume, {}³ blocks, context {}, {}³ uint8 chunks \
             of {} KiB, prefetch {}); adjacent / idle fractions at the largest cache\n\n",
            setup.size,
            setup.block,
            setup.context,
            setup.chunk,
            chunk_bytes / 1024,
            setup.prefetch
        ));
        out.push_str("| conflict | workers | order |");
        for mib in &caches {
            out.push_str(&format!(" {mib} MiB |"));
        }
        out.push_str(" adjacent | idle |\n|---|---|---|");
        out.push_str(&"---|".repeat(caches.len() + 2));
        out.push('\n');
    }
    for conflict in [false, true] {
        for &n in &workers {
            for order in [Order::Shared, Order::Lanes] {
                let mut row = format!("| {conflict} | {n} | {} |", order.name());
                let mut last = Outcome::default();
                for &mib in &caches {
                    let capacity = usize::try_from(mib * 1024 * 1024 / chunk_bytes)
                        .map_err(|e| e.to_string())?;
                    let outcome = simulate(setup, conflict, n as usize, order, capacity)?;
                    let per_block = outcome.decoded as f64 / outcome.blocks as f64;
                    if table {
                        row.push_str(&format!(" {per_block:.2} |"));
                    } else {
                        out.push_str(&json_line(setup, conflict, order, mib, &outcome));
                        out.push('\n');
                    }
                    last = outcome;
                }
                if table {
                    out.push_str(&format!(
                        "{row} {:.2} | {:.3} |\n",
                        fraction(last.adjacent, last.pairs),
                        1.0 - fraction(last.busy, last.span * last.workers)
                    ));
                }
                if trace > 0 {
                    for (w, positions) in last.trace.iter().enumerate() {
                        let shown: Vec<String> = positions
                            .iter()
                            .take(trace as usize)
                            .map(|p| format!("{},{},{}", p[0], p[1], p[2]))
                            .collect();
                        eprintln!(
                            "conflict={conflict} workers={n} order={} worker {w}: {}",
                            order.name(),
                            shown.join(" ")
                        );
                    }
                }
            }
        }
    }
    Ok(out)
}

fn fraction(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn json_line(setup: Setup, conflict: bool, order: Order, mib: u64, o: &Outcome) -> String {
    serde_json::json!({
        "scenario": "chunk_reuse",
        "size": setup.size,
        "block": setup.block,
        "context": setup.context,
        "chunk": setup.chunk,
        "prefetch": setup.prefetch,
        "conflict": conflict,
        "workers": o.workers,
        "order": order.name(),
        "cache_mib": mib,
        "blocks": o.blocks,
        "chunks_decoded": o.decoded,
        "chunks_per_block": o.decoded as f64 / o.blocks as f64,
        "adjacent": fraction(o.adjacent, o.pairs),
        "idle": 1.0 - fraction(o.busy, o.span * o.workers),
    })
    .to_string()
}

/// The task: `block³` write blocks over `[0, size)³`, read with `context` around them.
fn task(setup: Setup, conflict: bool) -> Result<Arc<Task>, String> {
    let (s, b, c) = (setup.size, setup.block, setup.context);
    Task::builder(
        "chunks",
        Roi::from_values(&[-c; 3], &[s + 2 * c; 3]).map_err(|e| e.to_string())?,
        Roi::from_values(&[-c; 3], &[b + 2 * c; 3]).map_err(|e| e.to_string())?,
        Roi::from_values(&[0; 3], &[b; 3]).map_err(|e| e.to_string())?,
    )
    .read_write_conflict(conflict)
    .build()
    .map_err(|e| e.to_string())
}

/// A block's cost in time units: 800 to 1200, a fixed function of its id.
fn duration(spatial_id: u64) -> u64 {
    let mut x = spatial_id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    800 + (x ^ (x >> 31)) % 401
}

/// The chunks block `block` reads, as packed keys; its grid position.
fn chunks(setup: Setup, block: &Block, keys: &mut Vec<u64>) -> Result<[i64; 3], String> {
    let bad = || format!("block {block} has an unbounded ROI");
    let offset = block.read_roi.offset();
    let shape = block.read_roi.shape();
    let (offset, shape) = (
        offset.bounded_values().ok_or_else(bad)?,
        shape.bounded_values().ok_or_else(bad)?,
    );
    let write = block.write_roi.offset();
    let write = write.bounded_values().ok_or_else(bad)?;
    let mut ranges = [(0, 0); 3];
    for d in 0..3 {
        let lo = offset[d].max(0);
        let hi = (offset[d] + shape[d]).min(setup.size);
        ranges[d] = if hi > lo {
            (lo / setup.chunk, (hi - 1) / setup.chunk + 1)
        } else {
            (0, 0)
        };
    }
    keys.clear();
    for z in ranges[0].0..ranges[0].1 {
        for y in ranges[1].0..ranges[1].1 {
            for x in ranges[2].0..ranges[2].1 {
                keys.push(((z as u64) << 42) | ((y as u64) << 21) | x as u64);
            }
        }
    }
    Ok([0, 1, 2].map(|d| write[d] / setup.block))
}

/// Runs the task with `n` simulated workers taking blocks in `order`, each with an LRU of
/// `capacity` chunks.
fn simulate(
    setup: Setup,
    conflict: bool,
    n: usize,
    order: Order,
    capacity: usize,
) -> Result<Outcome, String> {
    let task = task(setup, conflict)?;
    let total = task.tiling().num_blocks();
    let mut scheduler = Scheduler::new(&[task], true).map_err(|e| e.to_string())?;
    let mut workers: Vec<Worker> = (0..n)
        .map(|i| Worker {
            index: i,
            lane: match order {
                Order::Shared => 0,
                Order::Lanes => i as u32,
            },
            cache: Lru::new(capacity),
            buffer: VecDeque::new(),
            last: None,
        })
        .collect();
    let mut outcome = Outcome {
        workers: n as u64,
        trace: vec![Vec::new(); n],
        ..Outcome::default()
    };
    // (time, worker): a worker finishing its block (or starting, the first time).
    let mut events: BinaryHeap<Reverse<(u64, usize)>> =
        (0..n).map(|w| Reverse((50 * w as u64, w))).collect();
    let mut running: Vec<Option<Block>> = vec![None; n];
    let mut parked: VecDeque<usize> = VecDeque::new();
    let mut keys = Vec::new();
    let mut now = 0;
    while let Some(Reverse((time, w))) = events.pop() {
        now = time;
        if let Some(mut block) = running[w].take() {
            block.status = BlockStatus::Success;
            scheduler.release_block(&block).map_err(|e| e.to_string())?;
        }
        if workers[w].buffer.is_empty() {
            parked.push_back(w);
        } else {
            start(
                setup,
                &mut workers[w],
                &mut running[w],
                &mut outcome,
                &mut keys,
            )?;
            events.push(Reverse((now + busy_time(&running[w]), w)));
        }
        // Serve the parked requests in order, as the server does after every change.
        while let Some(&p) = parked.front() {
            let worker = &mut workers[p];
            while worker.buffer.len() < setup.prefetch {
                match scheduler
                    .acquire_block_in("chunks", worker.lane)
                    .map_err(|e| e.to_string())?
                {
                    Some(block) => worker.buffer.push_back(block),
                    None => break,
                }
            }
            if worker.buffer.is_empty() {
                break;
            }
            parked.pop_front();
            start(setup, worker, &mut running[p], &mut outcome, &mut keys)?;
            events.push(Reverse((now + busy_time(&running[p]), p)));
        }
    }
    if outcome.blocks != total || !scheduler.all_done() {
        return Err(format!(
            "the simulation ran {} of {total} blocks",
            outcome.blocks
        ));
    }
    outcome.span = now;
    Ok(outcome)
}

fn busy_time(block: &Option<Block>) -> u64 {
    block.as_ref().map_or(0, |b| duration(b.spatial_id()))
}

/// Worker `worker` starts the next block of its buffer: reads its chunks through its cache.
fn start(
    setup: Setup,
    worker: &mut Worker,
    slot: &mut Option<Block>,
    outcome: &mut Outcome,
    keys: &mut Vec<u64>,
) -> Result<(), String> {
    let Some(block) = worker.buffer.pop_front() else {
        return Ok(());
    };
    let position = chunks(setup, &block, keys)?;
    for &key in keys.iter() {
        if worker.cache.read(key) {
            outcome.decoded += 1;
        }
    }
    if let Some(last) = worker.last {
        outcome.pairs += 1;
        let distance: i64 = (0..3).map(|d| (position[d] - last[d]).abs()).sum();
        if distance == 1 {
            outcome.adjacent += 1;
        }
    }
    worker.last = Some(position);
    outcome.trace[worker.index].push(position);
    outcome.blocks += 1;
    outcome.busy += duration(block.spatial_id());
    *slot = Some(block);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            size: 256,
            block: 64,
            context: 8,
            chunk: 64,
            prefetch: 1,
        }
    }

    #[test]
    fn one_worker_without_a_cache_decodes_every_chunk_it_reads() {
        // 4³ blocks: per axis, 2 blocks read 2 chunks and 2 read 3 → (2·2 + 2·3)³ = 1000.
        let o = simulate(setup(), false, 1, Order::Shared, 0).unwrap();
        assert_eq!((o.blocks, o.decoded), (64, 1000));
        // With room for every chunk, each is decoded once.
        let o = simulate(setup(), false, 1, Order::Shared, 64).unwrap();
        assert_eq!(o.decoded, 64);
    }

    #[test]
    fn lanes_keep_two_workers_on_neighbours() {
        let shared = simulate(setup(), false, 2, Order::Shared, 32).unwrap();
        let lanes = simulate(setup(), false, 2, Order::Lanes, 32).unwrap();
        assert!(lanes.adjacent * 2 > lanes.pairs, "{lanes:?}");
        assert!(shared.adjacent * 4 < shared.pairs, "{shared:?}");
        assert!(lanes.decoded < shared.decoded);
        for conflict in [false, true] {
            let o = simulate(setup(), conflict, 3, Order::Lanes, 8).unwrap();
            assert_eq!(o.blocks, 64);
        }
    }

    #[test]
    fn the_lru_evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        assert!(lru.read(1) && lru.read(2));
        assert!(!lru.read(1));
        assert!(lru.read(3), "evicts 2");
        assert!(!lru.read(1) && lru.read(2));
    }
}
