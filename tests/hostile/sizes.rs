//! Sizes that would take the machine's memory: refused where the file is read, with the key
//! and the line, before anything is allocated.

use crate::support::{assert_refused, command, fixture, run, run_measured, scenario};

/// Peak memory a refused scenario may take (the binary itself takes most of it).
const REFUSAL_RSS_MIB: u64 = 200;

#[test]
fn every_memory_hungry_size_is_refused_with_its_key_and_line() {
    let f = fixture();
    for (name, text, needle) in [
        (
            "batch.toml",
            "kind = \"classifier\"\nmodel = \"mlp\"\nbatch_size = 1000000000\n",
            "batch.toml:3: batch_size = 1000000000",
        ),
        (
            "score.toml",
            "kind = \"gan\"\nscore_samples = 1000000000\n",
            "score.toml:2: score_samples = 1000000000",
        ),
        (
            "envs.toml",
            "kind = \"rl\"\nagent = \"ppo\"\n\n[ppo]\nnum_envs = 100000000\n",
            "envs.toml:5: ppo.num_envs = 100000000",
        ),
        (
            "buffer.toml",
            "kind = \"rl\"\nagent = \"dqn\"\n[dqn]\nbuffer_size = 100000000000\n",
            "buffer.toml:4: dqn.buffer_size = 100000000000",
        ),
        (
            "hidden.toml",
            "kind = \"rl\"\nagent = \"dqn\"\n[dqn]\nhidden = [100000, 100000]\n",
            "hidden.toml:4: dqn.hidden = [100000, 100000]",
        ),
    ] {
        let path = scenario(&f, name, text);
        let path = path.to_str().expect("a UTF-8 temp path");
        let (out, rss) = run_measured(&mut command(&f, &["train", path, "--headless"]));
        assert_refused(&out, 2, &[needle]);
        assert!(rss < REFUSAL_RSS_MIB, "{name}: {rss} MiB");
    }
}

#[test]
fn a_batch_larger_than_the_training_set_is_refused_with_the_set_size() {
    let f = fixture();
    for scenario in ["scenarios/mnist-mlp.toml", "scenarios/gan-mlp.toml"] {
        let out = run(&mut command(
            &f,
            &[
                "train",
                scenario,
                "--headless",
                "--set",
                "dataset=mnist",
                "--set",
                "batch_size=1000",
            ],
        ));
        assert_refused(
            &out,
            1,
            &["batch_size = 1000 is larger than the training set (600 images"],
        );
    }
}
