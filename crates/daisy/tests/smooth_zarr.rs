//! The `smooth_zarr` example's job, small, in real worker processes: this test binary starts
//! itself again as each worker (`--exact` this test, with `DAISY_CONTEXT` set), as the example
//! binary does.

#[path = "../examples/smooth_zarr/smooth.rs"]
mod smooth;

use daisy::ProcessLauncher;
use daisy::array::ndarray::Array3;

/// The name of the test that doubles as the worker program.
const WORKER_TEST: &str = "smooth_zarr_in_two_worker_processes";

#[test]
fn smooth_zarr_in_two_worker_processes() {
    if std::env::var_os(daisy::ENV_VARIABLE).is_some() {
        // This process is a worker of the run the test below started.
        smooth::worker().unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = smooth::Options {
        size: 128,
        block: 64,
        workers: 2,
        out: dir.path().to_path_buf(),
        seed: 3,
        progress: false,
    };
    let exe = std::env::current_exe().unwrap();
    let launcher = ProcessLauncher::new(exe, ["--exact", WORKER_TEST, "--nocapture"]);
    let outcome = smooth::run(&options, launcher).unwrap();
    eprintln!("{outcome}");
    // 112³ voxels written (128 less 8 on each side) in 2 × 2 × 2 blocks (64 and 48 wide).
    assert_eq!(outcome.blocks, 8, "{outcome}");
    assert!(outcome.succeeded, "{outcome}");
    assert_eq!(outcome.compared, 112 * 112 * 112, "{outcome}");
    assert_eq!(outcome.differing, 0, "{outcome}");
    assert_eq!(outcome.workers.blocks, 8, "{outcome}");
    assert!((1..=2).contains(&outcome.workers.processes), "{outcome}");
    // Each block's read ROI covers 2 chunks of raw.zarr along an axis for the first block
    // ([0, 80)) and 1 for the second ([64, 128)): 3³ chunk reads in all, each one decoded or
    // found in a worker's cache, and every one of the 8 chunks decoded at least once.
    let w = outcome.workers;
    assert_eq!(w.chunks_decoded + w.cache_hits, 27, "{outcome}");
    assert!(w.chunks_decoded >= 8, "{outcome}");
    assert!(outcome.ok());
    assert!(
        outcome
            .to_string()
            .starts_with("OK: block-wise result equals"),
        "{outcome}"
    );
}

#[test]
fn a_worker_without_its_directory_says_which_variable_is_missing() {
    assert!(std::env::var_os(smooth::OUT_ENV).is_none());
    let error = smooth::worker().unwrap_err().to_string();
    assert!(error.contains(smooth::OUT_ENV), "{error}");
}

/// The 3³ mean, voxel by voxel: the sum of the 27 neighbours, rounded half up.
fn naive_mean3(input: &Array3<u8>) -> Array3<u32> {
    let (a, b, c) = input.dim();
    Array3::from_shape_fn((a - 2, b - 2, c - 2), |(z, y, x)| {
        let sum: u32 = smooth::crop(input.view(), [z, y, x], [3, 3, 3])
            .iter()
            .map(|&v| u32::from(v))
            .sum();
        (sum + 13) / 27
    })
}

#[test]
fn mean3_valid_is_the_rounded_mean_of_27_voxels() {
    let volume = smooth::synthetic_volume(21, 5);
    let block = smooth::crop(volume.view(), [2, 0, 4], [17, 21, 8]).to_owned();
    assert_eq!(
        smooth::mean3_valid(block.view()).mapv(u32::from),
        naive_mean3(&block)
    );
    let bright = Array3::from_elem((3, 3, 3), 255u8);
    assert_eq!(
        smooth::mean3_valid(bright.view()),
        Array3::from_elem((1, 1, 1), 255)
    );
    // 13 ones of 27: 13/27 < 0.5 rounds down; 14 ones: 14/27 > 0.5 rounds up.
    for (ones, mean) in [(13, 0), (14, 1)] {
        let mut cube = Array3::<u8>::zeros((3, 3, 3));
        cube.iter_mut().take(ones).for_each(|v| *v = 1);
        assert_eq!(
            smooth::mean3_valid(cube.view())[[0, 0, 0]],
            mean,
            "{ones} ones"
        );
    }
    assert_eq!(
        smooth::mean3_valid(Array3::<u8>::zeros((2, 5, 5)).view()).dim(),
        (0, 3, 3)
    );
}

#[test]
fn the_synthetic_volume_is_reproducible_and_not_flat() {
    let a = smooth::synthetic_volume(32, 1);
    assert_eq!(a, smooth::synthetic_volume(32, 1));
    assert_ne!(a, smooth::synthetic_volume(32, 2));
    let (min, max) = a
        .iter()
        .fold((255, 0), |(lo, hi), &v| (v.min(lo), v.max(hi)));
    assert!(max - min > 100, "{min}..{max}");
}
