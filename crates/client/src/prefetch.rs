//! How many blocks a worker asks for at a time.

use std::time::{Duration, Instant};

/// Blocks quicker than this (on average, round trip included) are fetched in batches.
const QUICK: Duration = Duration::from_millis(2);

/// Adaptive prefetch: one block per request while blocks take long (so no worker hoards blocks
/// that others could run), up to `max` while they are quick (so the round trip hides behind
/// the work). A quick block waits in the worker's buffer at most `max × 2 ms`, so per-block
/// timeouts keep their meaning.
#[derive(Debug, Clone)]
pub struct Prefetch {
    max: u32,
    last: Option<Instant>,
    /// Exponential moving average of the time between blocks, once one was measured.
    mean: Option<Duration>,
}

impl Prefetch {
    /// At most `max` blocks per request (0 counts as 1).
    #[must_use]
    pub fn new(max: u32) -> Self {
        Self {
            max: max.max(1),
            last: None,
            mean: None,
        }
    }

    /// The most blocks per request.
    #[must_use]
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Notes that the worker is ready for its next block.
    pub fn block_started(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last {
            let dt = now.duration_since(last);
            self.mean = Some(self.mean.map_or(dt, |m| (m * 7 + dt) / 8));
        }
        self.last = Some(now);
    }

    /// How many blocks to ask for now.
    #[must_use]
    pub fn request(&self) -> u32 {
        match self.mean {
            Some(mean) if mean < QUICK => self.max,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_until_blocks_prove_quick() {
        let mut p = Prefetch::new(32);
        p.block_started();
        assert_eq!(p.request(), 1, "nothing measured yet");
        p.block_started();
        assert_eq!(p.request(), 32, "back-to-back blocks are quick");
        std::thread::sleep(Duration::from_millis(30));
        p.block_started();
        assert_eq!(p.request(), 1, "a slow block brings the average up");
        assert_eq!(Prefetch::new(0).max(), 1);
        let mut one = Prefetch::new(1);
        one.block_started();
        one.block_started();
        assert_eq!(one.request(), 1);
    }
}
