//! Data folders and files that are not what they claim: named, with what is wrong, before any
//! training starts, and never passed over for another copy in silence.

use crate::support::{assert_refused, command, fixture, run};

#[test]
fn an_incomplete_data_dir_is_refused_naming_the_missing_files() {
    let f = fixture();
    let fashion = f.data.join("fashion-mnist");
    std::fs::create_dir_all(&fashion).expect("a dataset folder");
    std::fs::copy(
        f.data.join("mnist/train-images-idx3-ubyte.gz"),
        fashion.join("train-images-idx3-ubyte.gz"),
    )
    .expect("one of the four files");
    let out = run(&mut command(
        &f,
        &["train", "scenarios/gan-mlp.toml", "--headless"],
    ));
    assert_refused(
        &out,
        2,
        &[
            "fashion-mnist is incomplete, missing train-labels-idx1-ubyte, \
             t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
        ],
    );
}

/// Replaces the fixture's training images with an IDX header for `dims` followed by `zeros`
/// bytes of zeros, gzip'd: a few hundred KB on disk.
fn plant_bomb(f: &crate::support::Fixture, dims: [u32; 3], zeros: usize) -> std::path::PathBuf {
    let path = f.data.join("mnist/train-images-idx3-ubyte.gz");
    let mut bytes = gradtop::data::idx::IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend(std::iter::repeat_n(0, zeros));
    gradtop::data::idx::write_idx(&path, &bytes).expect("writing the bomb");
    path
}

#[test]
fn a_gzip_bomb_is_refused_without_inflating_it() {
    let f = fixture();
    for (dims, needle) in [
        ([1 << 31, 28, 28], "2147483648×28×28, more than the 512 MiB"),
        ([600, 28, 28], "more than 1048576 trailing bytes"),
    ] {
        plant_bomb(&f, dims, 64 << 20);
        let (out, rss) = crate::support::run_measured(&mut command(
            &f,
            &["train", "scenarios/mnist-mlp.toml", "--headless"],
        ));
        assert_refused(&out, 1, &["train-images-idx3-ubyte.gz", needle]);
        assert!(rss < 200, "{needle}: {rss} MiB");
    }
}
