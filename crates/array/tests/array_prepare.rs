//! `Array::prepare` carries out the decisions of `prepare::decide` on disk, and a write-then-read
//! proptest against an in-memory model.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init
)]

mod common;

use common::{array_path, roi};
use daisy_array::ndarray::{ArrayD, IxDyn};
use daisy_array::{Array, ArrayError, DType, MetadataOverrides, Mode, PrepareRequest};
use daisy_geometry::Coordinate;
use proptest::prelude::*;

fn request(mode: Mode) -> PrepareRequest {
    let mut request = PrepareRequest::new(vec![20, 30], DType::UInt8);
    request.chunk_shape = Some(vec![10, 10]);
    request.mode = mode;
    request.metadata = MetadataOverrides {
        voxel_size: Some(Coordinate::new(&[2, 3]).unwrap()),
        offset: Some(Coordinate::new(&[10, 30]).unwrap()),
        ..MetadataOverrides::default()
    };
    request
}

#[test]
fn prepare_creates_reopens_rewrites_and_recreates() {
    let (_dir, path) = array_path("out.zarr");
    // Nothing there: r is an error, a creates.
    let error = Array::prepare(&path, &request(Mode::Read)).unwrap_err();
    assert!(
        matches!(error.innermost(), ArrayError::NotFound { .. }),
        "{error}"
    );
    let array = Array::prepare(&path, &request(Mode::Append)).unwrap();
    assert_eq!(array.roi(), roi(&[10, 30], &[40, 90]));
    assert_eq!(array.mode(), Mode::Append);
    array.fill(&array.roi(), 4u8).unwrap();

    // Same request with another offset: reopened, stored offset kept, data kept.
    let mut moved = request(Mode::Append);
    moved.metadata.offset = Some(Coordinate::new(&[0, 0]).unwrap());
    let reopened = Array::prepare(&path, &moved).unwrap();
    assert_eq!(reopened.roi(), roi(&[10, 30], &[40, 90]));
    assert!(
        reopened
            .read::<u8>(&reopened.roi())
            .unwrap()
            .iter()
            .all(|&v| v == 4)
    );

    // Another voxel size: refused in r, rewritten in r+ (data kept).
    let mut resized = request(Mode::Read);
    resized.metadata.voxel_size = Some(Coordinate::new(&[1, 1]).unwrap());
    let error = Array::prepare(&path, &resized).unwrap_err();
    assert!(
        matches!(error.innermost(), ArrayError::IncompatibleMetadata { .. }),
        "{error}"
    );
    resized.mode = Mode::ReadWrite;
    let rewritten = Array::prepare(&path, &resized).unwrap();
    assert_eq!(
        rewritten.metadata().voxel_size,
        Coordinate::new(&[1, 1]).unwrap()
    );
    assert!(
        rewritten
            .read::<u8>(&rewritten.roi())
            .unwrap()
            .iter()
            .all(|&v| v == 4)
    );
    let again = Array::open(&path, &daisy_array::OpenOptions::default()).unwrap();
    assert_eq!(
        again.metadata().voxel_size,
        Coordinate::new(&[1, 1]).unwrap()
    );

    // Another dtype: refused in a, recreated (empty) in w.
    let mut retyped = request(Mode::Append);
    retyped.dtype = DType::Float32;
    let error = Array::prepare(&path, &retyped).unwrap_err();
    assert!(
        matches!(error.innermost(), ArrayError::IncompatibleData { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("out.zarr"), "{error}");
    retyped.mode = Mode::Write;
    let recreated = Array::prepare(&path, &retyped).unwrap();
    assert_eq!(recreated.dtype(), DType::Float32);
    assert!(
        recreated
            .read::<f32>(&recreated.roi())
            .unwrap()
            .iter()
            .all(|&v| v == 0.0)
    );

    // w- with an array there: exists.
    retyped.mode = Mode::WriteNew;
    let error = Array::prepare(&path, &retyped).unwrap_err();
    assert!(
        matches!(error.innermost(), ArrayError::AlreadyExists { .. }),
        "{error}"
    );
}

#[test]
fn prepare_without_a_chunk_shape_uses_the_default() {
    let (_dir, path) = array_path("auto.zarr");
    let request = PrepareRequest::new(vec![300, 300, 300], DType::Float32);
    let array = Array::prepare(&path, &request).unwrap();
    assert_eq!(
        array.chunk_shape(),
        daisy_array::default_chunk_shape(&[300, 300, 300], 4).as_slice()
    );
}

/// A write of random regions, then reads of random regions, against an ndarray model.
/// Writes of a model case: per-dimension `(start, end)` bounds and a base value.
type Writes = Vec<(Vec<(u64, u64)>, u8)>;

/// Shape, chunk shape and writes.
fn model_strategy() -> impl Strategy<Value = (Vec<u64>, Vec<u64>, Writes)> {
    (1usize..=3)
        .prop_flat_map(|dims| {
            (
                proptest::collection::vec(1u64..12, dims),
                proptest::collection::vec(1u64..6, dims),
            )
        })
        .prop_flat_map(|(shape, chunks)| {
            let region = shape
                .iter()
                .map(|&size| (0..size).prop_flat_map(move |start| (Just(start), start + 1..=size)))
                .collect::<Vec<_>>();
            let writes = proptest::collection::vec((region, any::<u8>()), 1..6);
            (Just(shape), Just(chunks), writes)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn writes_then_reads_match_an_in_memory_model((shape, chunks, writes) in model_strategy(), cache in prop_oneof![Just(0usize), Just(1usize << 20)]) {
        let (_dir, path) = array_path("model.zarr");
        let mut options = common::options(&shape, &chunks, DType::UInt8);
        options.cache_bytes = cache;
        let array = Array::create(&path, &options).unwrap();
        let dims: Vec<usize> = shape.iter().map(|&s| s as usize).collect();
        let mut model = ArrayD::<u8>::zeros(IxDyn(&dims));
        for (bounds, value) in &writes {
            let region: Vec<std::ops::Range<u64>> = bounds.iter().map(|&(a, b)| a..b).collect();
            let len: u64 = region.iter().map(|r| r.end - r.start).product();
            // A per-voxel pattern so misplaced voxels show.
            let data: Vec<u8> = (0..len).map(|i| value.wrapping_add(i as u8)).collect();
            array.write_voxels(&region, &data).unwrap();
            let mut i = 0u8;
            let mut index = vec![0usize; dims.len()];
            let sizes: Vec<usize> = region.iter().map(|r| (r.end - r.start) as usize).collect();
            for _ in 0..len {
                let at: Vec<usize> = index.iter().zip(&region).map(|(&k, r)| k + r.start as usize).collect();
                model[IxDyn(&at)] = value.wrapping_add(i);
                i = i.wrapping_add(1);
                for d in (0..dims.len()).rev() {
                    index[d] += 1;
                    if index[d] < sizes[d] { break; }
                    index[d] = 0;
                }
            }
        }
        let whole = array.read_voxels::<u8>(&shape.iter().map(|&s| 0..s).collect::<Vec<_>>()).unwrap();
        prop_assert_eq!(&whole, &model);
        // A fresh handle agrees.
        let reopened = Array::open(&path, &daisy_array::OpenOptions::default()).unwrap();
        let again = reopened.read_voxels::<u8>(&shape.iter().map(|&s| 0..s).collect::<Vec<_>>()).unwrap();
        prop_assert_eq!(&again, &model);
    }
}
