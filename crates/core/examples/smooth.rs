//! A block-wise 3³ mean filter over a synthetic volume, checked against the whole-volume result.
//!
//! ```text
//! cargo run --release -p daisy-core --example smooth [-- SIZE]
//! ```
//!
//! The volume is tiled into 64³ write blocks that read 8 voxels of context on each side
//! (80³); boundary blocks are shrunk to the volume (`fit = shrink`). Every block is smoothed in
//! process by `run_serial`, and the output is compared voxel by voxel with the filter applied to
//! the whole volume at once.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use daisy_core::{Fit, Task, run_serial};
use daisy_geometry::Roi;

fn main() -> ExitCode {
    let size: i64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    match run(size) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("smooth: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A volume of `n³` voxels, x fastest.
struct Volume {
    n: i64,
    data: Vec<u8>,
}

impl Volume {
    fn index(&self, z: i64, y: i64, x: i64) -> usize {
        ((z * self.n + y) * self.n + x) as usize
    }
    /// The 3³ mean at a voxel whose neighbourhood lies inside the volume.
    fn mean(&self, z: i64, y: i64, x: i64) -> u8 {
        let mut sum = 0u32;
        for dz in -1..=1 {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    sum += u32::from(self.data[self.index(z + dz, y + dy, x + dx)]);
                }
            }
        }
        (sum / 27) as u8
    }
}

fn run(n: i64) -> Result<(), String> {
    // A deterministic pseudo-random volume.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let data = (0..n * n * n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    let input = Arc::new(Volume { n, data });
    let output = Arc::new(Mutex::new(vec![0u8; (n * n * n) as usize]));

    let (context, write) = (8, 64);
    let roi = |o: i64, s: i64| Roi::from_values(&[o; 3], &[s; 3]).map_err(|e| e.to_string());
    let (source, target) = (Arc::clone(&input), Arc::clone(&output));
    let task = Task::builder(
        "smooth",
        roi(0, n)?,
        roi(0, write + 2 * context)?,
        roi(context, write)?,
    )
    .fit(Fit::Shrink)
    .read_write_conflict(false)
    .process_function(move |block| {
        // Read the block's read ROI (here: straight from memory), write its write ROI.
        let (begin, end) = (block.write_roi.begin(), block.write_roi.end());
        let (b, e) = (
            begin.bounded_values().unwrap_or(&[]),
            end.bounded_values().unwrap_or(&[]),
        );
        let mut smoothed = Vec::new();
        for z in b[0]..e[0] {
            for y in b[1]..e[1] {
                for x in b[2]..e[2] {
                    smoothed.push((source.index(z, y, x), source.mean(z, y, x)));
                }
            }
        }
        let mut out = target.lock().map_err(|_| "output lock poisoned")?;
        for (i, v) in smoothed {
            out[i] = v;
        }
        Ok(())
    })
    .build()
    .map_err(|e| e.to_string())?;

    let start = Instant::now();
    let states = run_serial(&[task]).map_err(|e| e.to_string())?;
    let blockwise = start.elapsed();
    for (task_id, state) in &states {
        println!("Task {task_id}:\n{state}");
    }

    let start = Instant::now();
    let out = output.lock().map_err(|_| "output lock poisoned")?;
    let mut mismatches = 0u64;
    for z in context..n - context {
        for y in context..n - context {
            for x in context..n - context {
                if out[input.index(z, y, x)] != input.mean(z, y, x) {
                    mismatches += 1;
                }
            }
        }
    }
    let whole = start.elapsed();
    println!(
        "{n}³ voxels: block-wise {:.2} s, whole volume {:.2} s, {mismatches} mismatching voxels",
        blockwise.as_secs_f64(),
        whole.as_secs_f64()
    );
    if mismatches > 0
        || states
            .iter()
            .any(|(_, s)| s.completed_count != s.total_block_count)
    {
        return Err("the block-wise result differs from the whole-volume result".into());
    }
    println!("block-wise result equals the whole-volume result");
    Ok(())
}
